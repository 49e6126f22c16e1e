"""The photo store's own files, read back with care: a stored photo and a ``.failed`` record are believed
only when they are what the store writes (`mmsent.data.photo_store`).
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

from mmsent.files.replace import written_aside

logger = logging.getLogger("mmsent.data.photo_store")

MAX_RECORD_BYTES = 16_384  # a `.failed` record is one URL and one reason: larger is not one the store wrote


def regular_file(path: Path) -> bool:
    """True for a regular file that is no symbolic link: all the store ever writes."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def read_record(record: Path, url: str, prefix: str) -> tuple[str, str] | None:
    """(problem, detail) of a ``.failed`` record, read only when it is a regular file under
    `MAX_RECORD_BYTES` that holds the JSON the store writes for this `url`; a damaged, oversize or foreign
    record is reported (a warning naming it), not trusted, and the URL is asked again. `prefix`: what
    every problem name the store writes starts with."""
    failure: Any = None
    if regular_file(record) and record.stat().st_size <= MAX_RECORD_BYTES:
        try:
            failure = json.loads(record.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            failure = None
    fields = failure if isinstance(failure, dict) else {}
    problem, detail = fields.get("problem"), fields.get("detail")
    if (
        fields.get("url") == url
        and isinstance(problem, str)
        and problem.startswith(prefix)
        and len(problem) <= 200
        and isinstance(detail, str)
    ):
        return problem, detail
    logger.warning(
        "photo store: %s is not a failure record this kit wrote (damaged, over %d bytes, or not a regular "
        "file): ignored, %s is asked again; delete the file to silence this",
        record,
        MAX_RECORD_BYTES,
        url,
    )
    return None


def remember(path: Path, data: bytes) -> None:
    """Write a failure record atomically; when that fails (something else at `path`, a full disk) the
    failure is reported now and simply not remembered."""
    try:
        with written_aside(path) as temporary:
            temporary.write_bytes(data)
    except OSError as error:
        logger.warning("photo store: could not remember a failure in %s (%s)", path, error)
