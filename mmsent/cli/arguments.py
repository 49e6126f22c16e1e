"""Command-line values, checked before any data is read or model built: the `argparse` types.

Each type function raises `argparse.ArgumentTypeError`, so argparse prints
``error: argument --batch-size: ...`` with the usage line and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from mmsent.choices import MODES
from mmsent.runtime import DEVICE_HELP, DEVICE_PATTERN


def column_renames(value: str) -> dict[str, str]:
    """`--columns reviewText=text,photo=image_path` -> {"reviewText": "text", "photo": "image_path"}."""
    pairs = [pair.strip() for pair in value.split(",") if pair.strip()]
    if not pairs or any(pair.count("=") != 1 or not all(pair.split("=")) for pair in pairs):
        raise argparse.ArgumentTypeError(
            f"expected YOUR_NAME=OUR_NAME pairs separated by commas, e.g. reviewText=text,photo=image_path; "
            f"got {value!r}"
        )
    return dict(pair.split("=") for pair in pairs)


COUNT_LIMIT = 1_000_000  # the largest count (epochs, steps, batch size, rows...) a flag takes


def positive_int(text: str) -> int:
    """An integer from 1 to `COUNT_LIMIT` (batch size, epochs, max length, row counts): a larger one is
    a typo that would run for days or fill the memory, refused before anything starts."""
    return count_up_to(COUNT_LIMIT)(text)


def count_up_to(maximum: int) -> Callable[[str], int]:
    """The argparse type of a count: an integer from 1 to `maximum`."""
    def count(text: str) -> int:
        value = _parse(text, int, "an integer")
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {maximum:,}, got {text!r}")
        return value
    return count


def port(text: str) -> int:
    """A TCP port, 1..65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1..65535, got {value}")
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


def error_message(error: BaseException) -> str:
    """The text after ``error:``: the error's own message; for an OSError, the file and what to check."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}. Check the path and its permissions."
    return str(error)
