"""Where a model comes from: a local folder, or a hub id "owner/name", decided without waiting.

`resolve_model_folder("reports/latest/model")` is that folder; `resolve_model_folder("me/reviews")` is
a hub snapshot (from the local hub cache when it is there, else downloaded). A name is taken for a
local path, never sent to the hub, when it exists, when it does not look like "owner/name", or when
its first part is a folder here (``reports/modle``: a typing mistake, answered with the closest names).
Before a download, the hub's address passes the download policy (`mmsent.data.url_policy`) and must
answer within `HUB_PROBE_S` seconds: an unreachable hub is reported at once, not after the client's
retries. During the download every request the hub client makes, each redirect included, passes the
policy too (`mmsent.data.url_policy.hub_download_policy`).
"""

from __future__ import annotations

import difflib
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from mmsent.errors import CheckpointError

HUB_PROBE_S = 3.0


def closest_path(path: Path) -> Path | None:
    """The existing path nearest to `path`, fixing the first missing part by spelling, or None."""
    known = Path(path.anchor) if path.is_absolute() else Path(".")
    parts = path.parts[1:] if path.is_absolute() else path.parts
    for index, part in enumerate(parts):
        if (known / part).exists():
            known = known / part
            continue
        names = [child.name for child in known.iterdir()] if known.is_dir() else []
        match = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
        if not match:
            return None
        guess = known.joinpath(match[0], *parts[index + 1 :])
        return guess if guess.exists() else None
    return known


def no_such_folder(model_id: str | Path, hub: str = "") -> CheckpointError:
    """The error for a model folder that is not there, with the closest existing path if any."""
    near = closest_path(Path(model_id))
    hint = f" Did you mean {near}?" if near is not None else ""
    return CheckpointError(
        f"{model_id}: no such model folder{hub}.{hint} Pass the model folder written by `python -m mmsent "
        "train` (REPORT/model, e.g. reports/latest/model) or a hub id owner/name."
    )


def looks_like_hub_id(name: str) -> bool:
    """True for "owner/name" that `huggingface_hub.utils.validate_repo_id` accepts."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.count("/") != 1:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def is_hub_id(model_id: str | Path) -> bool:
    """True when `model_id` is to be asked of the hub (see the module docstring)."""
    path = Path(model_id)
    return not path.exists() and looks_like_hub_id(str(model_id)) and not Path(path.parts[0]).is_dir()


def resolve_model_folder(model_id: str | Path, revision: str | None = None) -> Path:
    """A local model folder for `model_id`: the folder itself, or a hub snapshot of "owner/name"."""
    if not is_hub_id(model_id):
        return Path(model_id)
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(str(model_id), revision=revision, local_files_only=True))
    except Exception:  # not in the local hub cache: ask the hub below
        pass
    switched_off = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    offline = constants.HF_HUB_OFFLINE or switched_off
    _check_hub(str(model_id), constants.ENDPOINT, offline)
    try:
        from mmsent.data.url_policy import hub_download_policy

        with hub_download_policy(constants.ENDPOINT):
            return Path(snapshot_download(str(model_id), revision=revision))
    except Exception as error:  # unknown repo, no access: all say the same to the user
        refused = _refusal(error)
        if refused is not None:
            raise CheckpointError(f"{model_id}: the hub download {refused}") from error
        raise CheckpointError(
            f"{model_id} is not a local folder, and the Hugging Face hub did not give it "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). Check the path, "
            "or the repo id and `hf auth login`."
        ) from error


def _refusal(error: BaseException) -> BaseException | None:
    """The download policy's refusal among `error` and the errors it was raised from, if any."""
    from mmsent.data.url_policy import UrlRefused

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UrlRefused):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _check_hub(model_id: str, endpoint: str, offline: bool) -> None:
    """Raise `CheckpointError` at once when the hub is off (HF_HUB_OFFLINE), refused by the download
    policy, or does not answer within `HUB_PROBE_S` seconds."""
    from mmsent.data.url_policy import UrlRefused, check_url, names_loopback

    if offline:
        raise no_such_folder(model_id, ", and the Hugging Face hub is off (HF_HUB_OFFLINE=1)")
    try:
        check_url(endpoint, names_loopback(endpoint))
    except UrlRefused as refused:
        raise CheckpointError(f"{model_id}: the hub address {refused}") from refused
    parts = urlsplit(endpoint)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=HUB_PROBE_S).close()
    except (OSError, ValueError) as error:
        raise no_such_folder(
            model_id, f", and the Hugging Face hub ({endpoint}) did not answer in {HUB_PROBE_S:g} s ({error})"
        ) from error
