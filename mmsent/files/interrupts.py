"""Stopping cleanly: SIGTERM is handled like Ctrl-C, and a full disk is one error line.

- `sigterm_as_interrupt()`: while active (in the main thread), SIGTERM raises `Terminated`, a
  `KeyboardInterrupt`, so every clean-up that Ctrl-C runs (the hidden ``.partial-*`` and ``.import-*``
  folders, temporary files) runs too; the command line then exits with 143 (128 + SIGTERM).
- `resource_message(error)`: the one-line message for a disk that is full, a file-size limit
  (``ulimit -f``), a used-up quota or a read-only folder, whichever library raised it (an `OSError`,
  safetensors' `SafetensorError` or sqlite3's `OperationalError` that only carry the OS's text, or not even
  that); None for any other error.
"""

from __future__ import annotations

import errno
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TERMINATED_STATUS = 128 + signal.SIGTERM
RESOURCES = {  # errno -> (what happened, the words libraries that drop the errno use for it)
    errno.ENOSPC: ("the disk is full", r"No space left|StorageFull|database or disk is full"),
    errno.EFBIG: ("a file-size limit was reached", r"File too large|FileTooLarge"),
    errno.EDQUOT: ("the disk quota is used up", r"quota exceeded|QuotaExceeded"),
    errno.EROFS: ("the folder is read-only", r"Read-only file system|ReadOnlyFilesystem|readonly database"),
}
# SQLite (the importer's index) says only "disk I/O error" when a write fails, whatever the cause.
WRITE_FAILED = ("a write failed (the disk is full, a file-size limit was reached or the folder is read-only)",
                r"disk I/O error")  # fmt: skip


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised where the program was, like Ctrl-C's `KeyboardInterrupt`."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resource_message(error: BaseException) -> str | None:
    """One line for a write that ran out of room or permission to grow (see the module docstring)."""
    what = None
    if isinstance(error, OSError) and error.errno in RESOURCES:
        what = RESOURCES[error.errno][0]
    else:
        text = str(error)
        known = [*RESOURCES.values(), WRITE_FAILED]
        what = next((name for name, words in known if re.search(words, text, re.I)), None)
    if what is None:
        return None
    where = f" while writing {error.filename}" if getattr(error, "filename", None) else ""
    return (
        f"{what}{where}; nothing was replaced: the output is written aside and moved into place only when "
        "complete. Free space (or raise the limit), or choose an output folder that can be written."
    )
