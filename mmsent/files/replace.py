"""Write where the user's files may be without replacing any of them by accident.

    with replacing([out / "reviews.csv", out / "images"], overwrite=args.overwrite, flag="--out") as work:
        ...write work / "reviews.csv" and work / "images"...
    # now each target is exactly what was written, or (on an error, Ctrl-C, SIGTERM) is as it was

An existing target is refused (`UsageError`, before any work) unless `overwrite`; with `overwrite` it is
replaced only after the new content is complete: everything is written into a fresh hidden folder beside
the targets (``.<name>.partial-*``, same file system), then each target is swapped in by a rename. A disk
that fills up, a file-size limit or a read-only folder stops the run before the swap, so nothing is
half-written. Used by make-data, make-calls, import-amazon, pretrain-* and demo --export-space; the report
folder of `train` (`mmsent.files.report_dir`) is swapped the same way.

One file is written the same way by `written_aside`: into a temporary file in the same folder, then
`os.replace` over the target (a rename within one folder is atomic on POSIX and Windows), so a reader
sees the old file or the new one, never half of one:

    with written_aside(entry) as temporary:
        save_file(tensors, temporary)
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mmsent.errors import UsageError

OVERWRITE_HELP = "replace existing output (only once the new output is complete); default: refuse"


def refuse_existing(targets: Sequence[Path], overwrite: bool, flag: str) -> None:
    """Raise `UsageError` naming `flag` when a target exists and `overwrite` is off."""
    existing = [path for path in targets if (path.exists() or path.is_symlink()) and not _empty(path)]
    if existing and not overwrite:
        raise UsageError(
            f"{flag}: {existing[0]} exists already; nothing was written. Pass --overwrite to replace it "
            f"(only once the new one is complete), or choose another {flag}."
        )


def _empty(path: Path) -> bool:
    """An empty real folder: nothing the user owns would be lost by replacing it."""
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


@contextmanager
def replacing(targets: Sequence[Path], overwrite: bool = False, flag: str = "--out") -> Iterator[Path]:
    """Yield a fresh folder beside `targets` (which share one parent folder); on success each target whose
    name was written there replaces the old one whole. See the module docstring."""
    parents = {target.parent for target in targets}
    if len(parents) != 1:
        raise ValueError(f"the targets must share one folder, got {sorted(map(str, parents))}")
    refuse_existing(targets, overwrite, flag)
    parent = parents.pop()
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{targets[0].name}.partial-", dir=parent))
    work.chmod(0o755)  # mkdtemp makes it private; what is written is an ordinary folder
    try:
        yield work
        refuse_existing(targets, overwrite, flag)  # another run may have written one meanwhile
        old = work / ".replaced"
        old.mkdir()
        for target in targets:
            swap_in(work / target.name, target, old)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def swap_in(new: Path, target: Path, old: Path) -> None:
    """Put `new` at `target` by renames; a replaced `target` goes into the folder `old` (deleted later)."""
    if not new.exists():
        return
    moved = None
    if target.exists() or target.is_symlink():
        moved = old / target.name
        target.replace(moved)
    try:
        new.replace(target)
    except OSError:
        if moved is not None:
            moved.replace(target)  # put the old one back
        raise


@contextmanager
def written_aside(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary path in `target`'s folder; when the block ends without an error, it replaces
    `target` by one rename (`os.replace`). On an error (or Ctrl-C) the temporary file is deleted and
    `target` is as it was. The folder must exist; an `OSError` creating the file is the caller's.
    The file is created like any other (the umask's permissions, unlike `tempfile.mkstemp`'s 0600)."""
    temporary = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.part"
    with open(temporary, "xb"):
        pass
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
