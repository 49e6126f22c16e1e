"""`python -m mmsent doctor`: the facts to paste when asking for help, and the problems it can name.

`report()` gathers Python, torch (and its CUDA / MPS), transformers, the kit, the device and the
profile it would pick (and why), whether the offline models load, the data folder and the feature
cache (folder and size). `problems()` lists what is known not to work here, each with its fix: a
dependency outside the range the kit is tested with (pyproject.toml), a Python the kit was not
tested on, or an MMSENT_* environment variable with an unusable value. The first cell of every
notebook prints the short form (`mmsent.course.conventions.setup`).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

# The one list of the Pythons the unit tests pass on: CI runs 3.11; 3.12 and 3.13 (Colab's) by hand (README,
# "Tested environments"). pyproject.toml's classifiers and environment.yml's bound say the same
# (tests/test_kit_cli.py checks that they do).
TESTED_PYTHONS = ("3.11", "3.12", "3.13")


def problems() -> list[str]:
    """What is known not to work in this environment, each with the command or step that fixes it.

    Every dependency of mmsent (its metadata, i.e. pyproject.toml) is checked against its declared
    range, which the test suite runs at both ends. Empty when nothing is known to be wrong.
    """
    from packaging.requirements import Requirement

    from mmsent.course.environment import check_environment
    from mmsent.errors import UsageError

    found = []
    try:
        check_environment()
    except UsageError as error:  # a bad MMSENT_* variable: its message says how to fix it
        found.append(str(error))
    python = ".".join(platform.python_version_tuple()[:2])
    if python not in TESTED_PYTHONS:
        found.append(f"Python {python} is not one the kit is tested on ({', '.join(TESTED_PYTHONS)}): "
                     "use one of those if something fails")
    for line in metadata.requires("mmsent") or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an optional extra, e.g. the test tools
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            found.append(f"{requirement.name} is missing: pip install \"{requirement}\"")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            found.append(f"{requirement.name} {installed} is outside the tested range "
                         f"{requirement.specifier}: pip install \"{requirement}\"")
    return found


def _torch_lines() -> list[tuple[str, str]]:
    import torch

    cuda = "not available"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count()))
        cuda = f"{torch.version.cuda} ({names})"
    elif torch.version.cuda:
        cuda = f"built for CUDA {torch.version.cuda}, but no GPU is visible"
    mps = getattr(torch.backends, "mps", None)
    return [
        ("torch", f"{torch.__version__} ({Path(torch.__file__).parent})"),
        ("CUDA", cuda),
        ("MPS", "available" if mps is not None and mps.is_available() else "not available"),
        ("CPU threads", str(torch.get_num_threads())),
    ]


def _offline_models() -> tuple[str, str | None]:
    """('load', None) when the offline profile's encoders load, else (what failed, the problem)."""
    from mmsent.encoders import load_encoders

    try:
        encoders = load_encoders("offline")
    except Exception as error:  # any failure is worth reporting: this is the diagnostic
        message = f"{type(error).__name__}: {error}"
        return "do not load", f"the offline models do not load: {message}"
    sizes = [sum(p.numel() for p in model.parameters()) / 1e6 for model in (encoders.text_model,
                                                                              encoders.image_model)]
    return f"load (text {sizes[0]:.1f} M parameters, CLIP {sizes[1]:.1f} M)", None


def _folder_size(folder: Path) -> str:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return f"{sum(path.stat().st_size for path in files) / 2**20:.1f} MiB in {len(files)} files"


# Optional parts: (row name, distribution, what it is for, how to install it).
OPTIONAL = (
    ("demo extra", "gradio", "python -m mmsent demo", 'pip install -e ".[demo]"'),
    ("logging extra", "tensorboard", "train --log-to tensorboard", 'pip install -e ".[logging]"'),
    ("browser extra", "playwright", "the demo's browser test", 'pip install -e ".[browser]"'),
)


def chromium_path() -> Path:
    """The Chromium the demo's browser test drives: MMSENT_CHROMIUM, else Debian's /usr/bin/chromium."""
    return Path(os.environ.get("MMSENT_CHROMIUM", "/usr/bin/chromium"))


def _optional_lines() -> list[tuple[str, str]]:
    """The optional extras (installed or how to install them) and the Chromium the browser test drives."""
    rows = []
    for name, distribution, purpose, install in OPTIONAL:
        try:
            rows.append((name, f"{distribution} {metadata.version(distribution)} ({purpose})"))
        except metadata.PackageNotFoundError:
            rows.append((name, f"not installed ({purpose}: {install})"))
    chromium = chromium_path()
    rows.append(("chromium", f"{chromium}" if chromium.is_file() else
                 f"none at {chromium} (the browser test: apt-get install chromium, or set MMSENT_CHROMIUM)"))
    return rows


def report(load_models: bool = True) -> tuple[list[tuple[str, str]], list[str]]:
    """(rows of (name, value), problems): the full report. `load_models=False` skips loading the
    offline models (a few seconds)."""
    from mmsent import __version__
    from mmsent.encoders import choose_profile
    from mmsent.paths import data_dir, default_cache_dir
    from mmsent.runtime import pick_device

    found = problems()
    rows = [("python", f"{platform.python_version()} ({sys.executable})"), ("platform", platform.platform())]
    rows += _torch_lines()
    rows += [
        ("transformers", metadata.version("transformers")),
        ("mmsent", f"{__version__} ({Path(__file__).resolve().parent})"),
    ]
    for name, describe in (("device", lambda: str(pick_device())),
                           ("profile", lambda: "{} ({})".format(*choose_profile()))):
        try:
            rows.append((name, describe()))
        except ValueError as error:  # a bad MMSENT_DEVICE / MMSENT_PROFILE, reported by problems()
            rows.append((name, f"cannot tell: {error}"))
    if load_models:
        loaded, problem = _offline_models()
        rows.append(("offline models", loaded))
        found += [problem] if problem else []
    rows += _optional_lines()
    folder = data_dir()
    reviews = folder / "reviews.csv"
    rows.append(("data folder", f"{folder} ({'has' if reviews.is_file() else 'NO'} reviews.csv)"))
    cache = default_cache_dir()
    if cache is None:
        rows.append(("feature cache", "off (MMSENT_CACHE_DIR)"))
    else:
        rows.append(("feature cache", f"{cache} ({_folder_size(cache) if cache.is_dir() else 'empty'})"))
    return rows, found


def format_rows(rows: list[tuple[str, str]], found: list[str]) -> str:
    """Rows as an aligned block, then the problems (or that none is known)."""
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    lines += [f"problem: {problem}" for problem in found] or ["no known problem"]
    return "\n".join(lines)


def main() -> int:
    """Print the full report (`python -m mmsent doctor`); exit status 1 when a problem was found."""
    rows, found = report()
    print(format_rows(rows, found))
    return 1 if found else 0
