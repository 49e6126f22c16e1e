"""A folder's manifest: the name, size and SHA-256 of each of its files, written when the folder
is saved and checked when it is read, so that files of different runs, a damaged or truncated
file, or a missing one are found before anything is built from them.

    write_manifest(folder)                    # after writing every file
    verify_manifest(folder)                   # before reading any; raises CheckpointError

The manifest is `MANIFEST_FILE` (JSON) inside the folder. `exclude` names files that change
independently of the rest (e.g. a resumable training state) and are left out.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from mmsent.errors import CheckpointError
from mmsent.files.replace import written_aside
from mmsent.hub.folder_check import folder_file, hub_cache_root, manifest_entries, read_small_json
from mmsent.paths import file_sha256

MANIFEST_FILE = "manifest.json"


def write_manifest(folder: str | Path, exclude: Iterable[str] = ()) -> Path:
    """Hash every regular file directly in `folder` (but the manifest and `exclude`) into the manifest."""
    folder = Path(folder)
    skip = {MANIFEST_FILE, *exclude}
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name not in skip and not path.name.startswith(".")
    }
    target = folder / MANIFEST_FILE
    with written_aside(target) as temporary:
        temporary.write_text(json.dumps({"files": files}, indent=2) + "\n")
    return target


def verify_manifest(
    folder: str | Path, required: Iterable[str] = (), root: Path | None = None
) -> dict[str, dict]:
    """Check every file listed in `folder`'s manifest (and the `required` names) against it.

    Returns the manifest's {name: {"bytes", "sha256"}}. Raises `CheckpointError` naming the file
    when the manifest is missing, too large, unreadable or has an entry of the wrong type, or a file
    is missing, not a regular file inside `root` (default `folder`: `mmsent.hub.folder_check.folder_file`),
    of another size (checked before it is read) or content.
    """
    folder = Path(folder)
    redo = "Train again to write a complete folder (or copy the whole folder, not single files)."
    if not (folder / MANIFEST_FILE).exists():
        raise CheckpointError(
            f"{folder} has no {MANIFEST_FILE}, so its files cannot be checked to belong together "
            f"(a folder from an older version, or an incomplete copy). {redo}"
        )
    where = folder_file(folder, MANIFEST_FILE, root)
    files = manifest_entries(read_small_json(where), where)
    unlisted = sorted(set(required) - set(files))
    if unlisted:
        raise CheckpointError(f"{folder} lacks {unlisted} (not in its {MANIFEST_FILE}). {redo}")
    for name, expected in files.items():
        path = folder_file(folder, name, root)
        size = path.stat().st_size
        if size != expected["bytes"]:
            raise CheckpointError(
                f"{path} has {size:,} bytes, but {expected['bytes']:,} were written (truncated or "
                f"replaced): not read. {redo}"
            )
        if file_sha256(path) != expected["sha256"]:
            raise CheckpointError(
                f"{path} does not match its SHA-256 in {MANIFEST_FILE}: damaged, or from another run. {redo}"
            )
    return files


def copy_listed_files(folder: Path, destination: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """Copy the files `folder`'s manifest lists, the manifest and the `extra` names that exist (e.g. the
    model card) into a new `destination`, as regular files (a link's target is checked to stay inside the
    folder, then its bytes copied); any other file of the folder stays behind. Returns the names copied."""
    root = hub_cache_root(folder)
    names = [*verify_manifest(folder, root=root), MANIFEST_FILE]
    names += [name for name in extra if (folder / name).exists() or (folder / name).is_symlink()]
    destination.mkdir(parents=True)
    for name in names:
        shutil.copyfile(folder_file(folder, name, root), destination / name)
    return names
