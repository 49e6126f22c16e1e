"""Write a report folder all at once: into a fresh temporary folder beside it, renamed into place
only when the run has finished.

    with staged_folder(Path("reports/latest"), overwrite=False) as work:
        ...write everything under `work`...
    # now reports/latest holds exactly what was written, or (on an error) is as it was before

An existing folder is refused (`UsageError`) unless `overwrite=True`, and is then replaced whole,
so its old files never mix with the new ones. A run that fails or is interrupted leaves the previous
folder byte-identical; a killed run may leave its hidden ``.<name>.partial-*`` folder behind, which
is safe to delete.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmsent.errors import UsageError


def check_target(target: Path, overwrite: bool) -> None:
    """Raise `UsageError` if `target` cannot receive a new report (call before any work)."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"--report-dir {target} is a file; pass a folder path.")
    if target.exists() and not overwrite:
        raise UsageError(
            f"--report-dir {target} already exists (an earlier run's report). Pass --overwrite to "
            "replace it whole, or choose another --report-dir."
        )


@contextmanager
def staged_folder(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder beside `target`; on success it replaces `target` whole."""
    check_target(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    work.chmod(0o755)  # mkdtemp makes it private; a report folder is an ordinary one
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    check_target(target, overwrite)  # another run may have written it meanwhile
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.replace(old / target.name)
    work.replace(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
