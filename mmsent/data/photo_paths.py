"""Where an `image_path` cell points, and whether the kit may open it.

A relative path is resolved against `root` (the CSV's folder); the photo's real path, symbolic
links followed, must stay inside `root` unless `allow_outside` (``--allow-outside-paths``): so
"../../etc/passwd", a link to /etc and an absolute path elsewhere are refused, each reported with
where it leads. `http://` and `https://` URLs are downloaded by `mmsent.data.photo_store` before
this is asked; any other URL (`file:`, `ftp://`, `data:`, `s3://`, ...) is refused with advice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mmsent.data.images import UNREADABLE

# Problem names in `ReviewTable.problems` (image problems proper are named in images.py).
NO_IMAGE_PATH = "no image path"
ESCAPES_ROOT = "path escapes the data folder"
PHOTO_URL = "unsupported photo URL"
# http://, https://, s3://, ftp://, file://, and the schemes written without // (file:/x, data:...).
URL = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|(?:file|data):)")


def resolve_image_path(
    cell: Any, root: Path, allow_outside: bool = False
) -> tuple[str | None, str | None, str]:
    """(absolute path, None, "") for a usable `image_path` cell, else (None, problem, detail)."""
    if cell is None or pd.isna(cell) or not str(cell).strip():
        return None, NO_IMAGE_PATH, "the image_path cell is blank"
    text = str(cell).strip()
    if URL.match(text):
        return None, PHOTO_URL, (
            f"{text[:80]!r}: only http:// and https:// photo URLs are downloaded; fetch this photo "
            "yourself and point image_path at the file"
        )
    if "\x00" in text:
        return None, UNREADABLE, f"{text!r}: the path contains a NUL character"
    text = text.replace("\\", "/")  # a CSV written on Windows
    path = os.path.normpath(os.path.join(root, text))  # an absolute text stays itself
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if not allow_outside and os.path.commonpath([real_root, real]) != real_root:
        via = "" if real == path else f" (through a symbolic link, to {real})"
        return None, ESCAPES_ROOT, (
            f"{text!r} points to {path}{via}, outside the data folder {root}; move the photo inside "
            "it, or pass --allow-outside-paths (load_reviews(allow_outside_paths=True)) if you trust "
            "the table"
        )
    return path, None, ""
