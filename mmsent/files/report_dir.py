"""Write a report folder all at once: into a fresh temporary folder beside it, renamed into place
only when the run has finished.

    with staged_folder(Path("reports/latest"), overwrite=False) as work:
        ...write everything under `work`...
    # now reports/latest holds exactly what was written, or (on an error) is as it was before

An existing folder is refused (`UsageError`) unless `overwrite=True`, and is then replaced whole,
so its old files never mix with the new ones. Only a folder that a run wrote (it holds `MARKER`
or an older run's metrics.json) or an empty one is ever replaced: `--report-dir . --overwrite` or a
data folder named by mistake is refused, not deleted. A run that fails or is interrupted leaves the previous
folder byte-identical; a killed run may leave its hidden ``.<name>.partial-*`` folder behind, which
is safe to delete.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmsent.errors import UsageError
from mmsent.files.replace import replacing

MARKER = ".mmsent-report"  # written into every report folder: "a run wrote this, it may be replaced"
OLD_REPORT_FILES = ("metrics.json", "skipped_rows.txt")  # reports written before the marker existed


def check_target(target: Path, overwrite: bool) -> None:
    """Raise `UsageError` if `target` cannot receive a new report (call before any work)."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"--report-dir {target} is a file; pass a folder path.")
    empty = target.is_dir() and not any(target.iterdir())  # nothing to lose: used as if new
    if target.exists() and not overwrite and not empty:
        raise UsageError(
            f"--report-dir {target} already exists (an earlier run's report). Pass --overwrite to "
            "replace it whole, or choose another --report-dir."
        )
    if target.exists() and not _replaceable(target):
        raise UsageError(
            f"--report-dir {target} is not a report folder written by `train` (no {MARKER} or "
            f"metrics.json in it), so --overwrite will not delete it. Choose a new or empty folder."
        )


def _replaceable(folder: Path) -> bool:
    """True for an empty folder or one a run wrote, never for the working folder or one above it."""
    here = Path.cwd().resolve()
    if folder.resolve() == here or folder.resolve() in here.parents:
        return False
    names = {path.name for path in folder.iterdir()}
    return not names or MARKER in names or any(name in names for name in OLD_REPORT_FILES)


@contextmanager
def staged_folder(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh folder beside `target`; on success it replaces `target` whole
    (`mmsent.files.replace`)."""
    check_target(target, overwrite)
    with replacing([target], overwrite=True, flag="--report-dir") as work:  # check_target refused already
        folder = work / target.name
        folder.mkdir()
        (folder / MARKER).write_text(f"written by python -m mmsent train; --overwrite may replace {MARKER}\n")
        yield folder
        check_target(target, overwrite)  # another run may have written it meanwhile
