"""Command-line values and environment variables, checked before any data is read or model built.

The `argparse` type functions raise `argparse.ArgumentTypeError`, so argparse prints
``error: argument --batch-size: ...`` with the usage line and exits with status 2.
`check_environment` raises `UsageError` for an unusable ``MMSENT_*`` variable.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from pathlib import Path

from mmsent.choices import MODES, PROFILES
from mmsent.errors import UsageError
from mmsent.runtime import BUDGET_ENV, BUDGETS, DEVICE_ENV

DEVICE_PATTERN = re.compile(r"cpu|mps|cuda(:\d+)?")
DEVICE_HELP = "cpu, cuda, cuda:N or mps"


def column_renames(value: str) -> dict[str, str]:
    """`--columns reviewText=text,photo=image_path` -> {"reviewText": "text", "photo": "image_path"}."""
    pairs = [pair.strip() for pair in value.split(",") if pair.strip()]
    if not pairs or any(pair.count("=") != 1 or not all(pair.split("=")) for pair in pairs):
        raise argparse.ArgumentTypeError(
            f"expected YOUR_NAME=OUR_NAME pairs separated by commas, e.g. reviewText=text,photo=image_path; "
            f"got {value!r}"
        )
    return dict(pair.split("=") for pair in pairs)


def positive_int(text: str) -> int:
    """An integer >= 1 (batch size, epochs, max length, row counts)."""
    value = _parse(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed: an integer from 0 to 2**32 - 1 (NumPy's range)."""
    value = _parse(text, int, "an integer")
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 4294967295, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates)."""
    value = _parse(text, float, "a number")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0 (e.g. 5e-5), got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (loss weights, where 0 turns the term off)."""
    value = _parse(text, float, "a number")
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of at least 0, got {text!r}")
    return value


def text_layers(text: str) -> int:
    """-1 (all layers), 0 (frozen) or a positive count; the upper bound is checked against the encoder."""
    value = _parse(text, int, "an integer")
    if value < -1:
        raise argparse.ArgumentTypeError(f"must be -1 (all), 0 (frozen) or a number of layers, got {text!r}")
    return value


def model_list(text: str) -> list[str]:
    """`fusion,text_only` -> ["fusion", "text_only"]: known names, each once, at least one."""
    modes = [mode.strip() for mode in text.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {unknown or [text]}; choose from {','.join(MODES)}"
        )
    if len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError(f"a model is named twice in {text!r}")
    return modes


def device(text: str) -> str:
    """cpu, cuda, cuda:N or mps (an absent accelerator falls back to the CPU with a warning)."""
    name = text.strip().lower()
    if not DEVICE_PATTERN.fullmatch(name):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use {DEVICE_HELP}")
    return name


def review_text(text: str) -> str:
    """A review's text: not blank (training skips blank reviews, so no model has seen one)."""
    from mmsent.data.problems import is_missing

    if is_missing(text):
        raise argparse.ArgumentTypeError(
            'is blank (or only invisible characters); pass the review\'s words, e.g. --text "Great lamp"'
        )
    return text


def photo(text: str) -> Path:
    """A photo's path on disk; a URL is refused with advice (photos are read from disk only)."""
    from mmsent.data.photo_paths import URL

    if URL.match(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a URL; photo URLs are not supported yet; download the photo and pass its path"
        )
    return Path(text)


def _parse(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def check_environment(device_flag: str | None = None) -> None:
    """Raise `UsageError` for an unusable MMSENT_PROFILE, MMSENT_DEVICE, MMSENT_BUDGET, MMSENT_CACHE_DIR,
    MMSENT_DATA_DIR, MMSENT_ALLOW_PRIVATE_URLS or MMSENT_PHOTO_DEADLINE.

    A bad MMSENT_PROFILE is refused even when --profile overrides it: it is a mistake either way.
    The device (`device_flag`, else MMSENT_DEVICE) must exist when CUDA does: cuda:3 on a machine
    with two GPUs is refused (on a machine without CUDA any cuda device falls back to the CPU).
    """
    from mmsent.cache import CACHE_ENV, OFF_VALUES
    from mmsent.encoders import PROFILE_ENV
    from mmsent.paths import DATA_DIR_ENV

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


def check_encoder_limits(train_text_layers: int, max_length: int, text_config) -> None:
    """Raise `UsageError` when --train-text-layers or --max-length exceed what the text encoder has."""
    layers, positions = text_config.num_hidden_layers, text_config.max_position_embeddings
    if train_text_layers > layers:
        raise UsageError(
            f"--train-text-layers {train_text_layers}: this profile's text encoder has {layers} layers; "
            f"use -1 (all), 0 (frozen) or 1..{layers}."
        )
    if max_length > positions:
        raise UsageError(
            f"--max-length {max_length}: this profile's text encoder reads at most {positions} tokens; "
            f"use 1..{positions}."
        )


def error_message(error: BaseException) -> str:
    """The text after ``error:``: the error's own message; for an OSError, the file and what to check."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}. Check the path and its permissions."
    return str(error)


def check_photos(frame, modes: list[str]) -> None:
    """Raise `UsageError` when a model that looks at photos is asked for but no review has one."""
    needs_photos = [mode for mode in modes if mode != "text_only"]
    if needs_photos and frame["image_path"].isna().all():
        raise UsageError(
            f"No review has a usable photo (see the skipped-rows report above), so {needs_photos} would "
            "learn from blank images. Fix the image_path column, or train --models text_only."
        )


def check_history(history, mode: str) -> None:
    """Raise `UsageError` when the training loss of `mode` stopped being a finite number."""
    losses = history["train_loss"].astype(float)
    bad = losses[~losses.map(math.isfinite)]
    if len(bad):
        epoch = int(history.loc[bad.index[0], "epoch"])
        raise UsageError(
            f"Training of {mode} diverged: the loss is {bad.iloc[0]} in epoch {epoch}, so no model or report "
            "was written. Lower --lr / --head-lr (defaults 5e-5 and 1e-3)."
        )


def _check_cuda_index(name: str) -> None:
    if not name.startswith("cuda:"):
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count and int(name.split(":")[1]) >= count:
        raise UsageError(
            f"Device {name!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}."
        )
