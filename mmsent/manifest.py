"""A folder's manifest: the name, size and SHA-256 of each of its files, written when the folder
is saved and checked when it is read, so that files of different runs, a damaged or truncated
file, or a missing one are found before anything is built from them.

    write_manifest(folder)                    # after writing every file
    verify_manifest(folder)                   # before reading any; raises CheckpointError

The manifest is `MANIFEST_FILE` (JSON) inside the folder. `exclude` names files that change
independently of the rest (e.g. a resumable training state) and are left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from mmsent.errors import CheckpointError

MANIFEST_FILE = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks), as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: str | Path, exclude: Iterable[str] = ()) -> Path:
    """Hash every regular file directly in `folder` (but the manifest and `exclude`) into the manifest."""
    folder = Path(folder)
    skip = {MANIFEST_FILE, *exclude}
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name not in skip and not path.name.startswith(".")
    }
    target = folder / MANIFEST_FILE
    temporary = folder / f".{MANIFEST_FILE}.tmp"
    temporary.write_text(json.dumps({"files": files}, indent=2) + "\n")
    temporary.replace(target)
    return target


def verify_manifest(folder: str | Path, required: Iterable[str] = ()) -> dict[str, dict]:
    """Check every file listed in `folder`'s manifest (and the `required` names) against it.

    Returns the manifest's {name: {"bytes", "sha256"}}. Raises `CheckpointError` naming the file
    when the manifest is missing or unreadable, or a file is missing, of another size or content.
    """
    folder = Path(folder)
    redo = "Train again to write a complete folder (or copy the whole folder, not single files)."
    try:
        files = json.loads((folder / MANIFEST_FILE).read_text())["files"]
    except FileNotFoundError as error:
        raise CheckpointError(
            f"{folder} has no {MANIFEST_FILE}, so its files cannot be checked to belong together "
            f"(a folder from an older version, or an incomplete copy). {redo}"
        ) from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{folder / MANIFEST_FILE} is damaged ({error}). {redo}") from error
    unlisted = sorted(set(required) - set(files))
    if unlisted:
        raise CheckpointError(f"{folder} lacks {unlisted} (not in its {MANIFEST_FILE}). {redo}")
    for name, expected in files.items():
        if Path(name).name != name or name in (".", ".."):
            raise CheckpointError(f"{folder / MANIFEST_FILE} lists {name!r}, not a file name. {redo}")
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing; {MANIFEST_FILE} lists it. {redo}")
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(
                f"{path} has {size:,} bytes, but {expected['bytes']:,} were written (truncated or "
                f"replaced). {redo}"
            )
        if sha256_file(path) != expected["sha256"]:
            raise CheckpointError(
                f"{path} does not match its SHA-256 in {MANIFEST_FILE}: damaged, or from another run. {redo}"
            )
    return files
