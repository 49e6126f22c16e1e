"""The ``MMSENT_*`` environment variables, checked before any data is read or model built.

`check_environment` raises `UsageError` for an unusable one, naming the variable and what to set it to;
`python -m mmsent` runs it before every command, `doctor` reports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mmsent.choices import PROFILES
from mmsent.errors import UsageError
from mmsent.runtime import BUDGET_ENV, BUDGETS, DEVICE_ENV, DEVICE_HELP, DEVICE_PATTERN


def check_environment(device_flag: str | None = None) -> None:
    """Raise `UsageError` for an unusable MMSENT_PROFILE, MMSENT_DEVICE, MMSENT_BUDGET, MMSENT_CACHE_DIR,
    MMSENT_DATA_DIR, MMSENT_ALLOW_PRIVATE_URLS or MMSENT_PHOTO_DEADLINE, or torchrun's WORLD_SIZE, RANK
    and LOCAL_RANK.

    A bad MMSENT_PROFILE is refused even when --profile overrides it: it is a mistake either way.
    The device (`device_flag`, else MMSENT_DEVICE) must exist when CUDA does: cuda:3 on a machine
    with two GPUs is refused (on a machine without CUDA any cuda device falls back to the CPU).
    """
    from mmsent.encoders import PROFILE_ENV
    from mmsent.paths import CACHE_ENV, DATA_DIR_ENV, OFF_VALUES

    unset = "or unset it"
    value = os.environ.get(PROFILE_ENV, "").strip()
    if value and value.lower() not in PROFILES:
        raise UsageError(
            f"{PROFILE_ENV}={value!r} is not a profile; use one of {', '.join(PROFILES)}, {unset}."
        )
    value = os.environ.get(DEVICE_ENV, "").strip()
    if value and not DEVICE_PATTERN.fullmatch(value.lower()):
        raise UsageError(f"{DEVICE_ENV}={value!r} is not a device; use {DEVICE_HELP}, {unset}.")
    _check_cuda_index(device_flag or value.lower())
    value = os.environ.get(BUDGET_ENV, "")
    if value and value not in BUDGETS:
        raise UsageError(f"{BUDGET_ENV}={value!r}: use one of {', '.join(BUDGETS)}, {unset}.")
    value = os.environ.get(CACHE_ENV)
    if value is not None and value.strip().lower() not in OFF_VALUES:
        folder = Path(value).expanduser()
        if folder.exists() and not folder.is_dir():
            raise UsageError(
                f"{CACHE_ENV}={value!r} is a file, not a folder; point it at a folder, "
                f"set it to 'off' to disable the cache, {unset}."
            )
    value = os.environ.get(DATA_DIR_ENV)
    if value is not None and not Path(value).expanduser().is_dir():
        raise UsageError(
            f"{DATA_DIR_ENV}={value!r} is not a folder; point it at the kit's data folder "
            f"(with reviews.csv and clip-offline/), {unset}."
        )
    from mmsent.data.url_policy import photo_deadline, private_urls_allowed

    private_urls_allowed(), photo_deadline()  # MMSENT_ALLOW_PRIVATE_URLS, MMSENT_PHOTO_DEADLINE
    _check_launcher()


def _check_launcher() -> None:
    """Raise `UsageError` unless torchrun's WORLD_SIZE, RANK and LOCAL_RANK, where set, are whole numbers
    with 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0 (the kit parses them to pick the writer and the GPU)."""
    numbers = {}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        value = os.environ.get(name, "").strip()
        if value and not (value.isascii() and value.isdigit()):
            raise UsageError(
                f"{name}={value!r} is not a whole number >= 0; torchrun sets it, so unset it when not "
                "launching with torchrun."
            )
        numbers[name] = int(value) if value else None
    world, rank = numbers["WORLD_SIZE"] or 1, numbers["RANK"] or 0
    if not rank < world:
        raise UsageError(f"RANK={rank} with WORLD_SIZE={world}: RANK must be below WORLD_SIZE; unset both "
                         "when not launching with torchrun.")


def _check_cuda_index(name: str) -> None:
    if not name.startswith("cuda:"):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count and int(name.split(":")[1]) >= count:
        raise UsageError(
            f"Device {name!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}."
        )
