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

from mmsent.errors import UsageError

MODES = ("fusion", "text_only", "image_only")
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
    if not text.strip():
        raise argparse.ArgumentTypeError('is blank; pass the review\'s words, e.g. --text "Great lamp"')
    return text


def photo(text: str) -> Path:
    """A photo's path on disk; a URL is refused with advice (photos are read from disk only)."""
    if re.match(r"(?i)^[a-z][a-z0-9+.-]*://", text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a URL; photo URLs are not supported yet; download the photo and pass its path"
        )
    return Path(text)


def _parse(text: str, kind: type, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def check_environment() -> None:
    """Raise `UsageError` for an unusable MMSENT_DEVICE, MMSENT_BUDGET, MMSENT_CACHE_DIR or MMSENT_DATA_DIR.

    MMSENT_PROFILE is checked where the profile is chosen (`mmsent.encoders.resolve_profile`).
    """
    from mmsent.cache import CACHE_ENV, OFF_VALUES
    from mmsent.course import BUDGET_ENV, BUDGETS, DEVICE_ENV
    from mmsent.paths import DATA_DIR_ENV

    unset = "or unset it"
    value = os.environ.get(DEVICE_ENV, "").strip()
    if value and not DEVICE_PATTERN.fullmatch(value.lower()):
        raise UsageError(f"{DEVICE_ENV}={value!r} is not a device; use {DEVICE_HELP}, {unset}.")
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


def check_encoder_limits(args: argparse.Namespace, text_config) -> None:
    """Raise `UsageError` when --train-text-layers or --max-length exceed what the text encoder has."""
    layers, positions = text_config.num_hidden_layers, text_config.max_position_embeddings
    if args.train_text_layers > layers:
        raise UsageError(
            f"--train-text-layers {args.train_text_layers}: this profile's text encoder has {layers} layers; "
            f"use -1 (all), 0 (frozen) or 1..{layers}."
        )
    if args.max_length > positions:
        raise UsageError(
            f"--max-length {args.max_length}: this profile's text encoder reads at most {positions} tokens; "
            f"use 1..{positions}."
        )


def error_message(error: BaseException) -> str:
    """The text after ``error:``: the error's own message; for an OSError, the file and what to check."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}. Check the path and its permissions."
    return str(error)
