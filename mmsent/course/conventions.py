"""The course's conventions in code: the first cell of every notebook, Colab badges, set-up and budgets.

Every notebook starts with the same code cell (`SETUP_CELL`). On Colab it clones `REPO_URL` and
pip-installs the kit; locally it installs nothing. Then it calls `setup()`, which picks the device
(CUDA > Apple MPS > CPU), resolves the profile (full / offline / tiny), seeds everything and prints
the versions, so that every run starts from a known state:

    device, profile = setup()            # or setup(device="cpu", profile="offline")
    epochs = scale(cpu=1, gpu=5)         # heavy work scales with the device, never by skipping cells

The repository's address lives here and only here: the setup cell, the "Open in Colab" badges and
the README's table of notebooks are all generated from it. Importing this module is cheap (no torch,
no transformers): the heavy imports happen inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mmsent.course.colab import COLAB_CLONE_DIR
from mmsent.paths import REPO_DIR
from mmsent.runtime import BUDGET_ENV, BUDGETS, pick_device, seed_everything

if TYPE_CHECKING:
    import torch

REPO_URL = "https://github.com/mmsent-course/mmsent"
# A GitHub repository address: an owner (letters, digits, inner hyphens, at most 39) and a name that is not
# "." or ".." (letters, digits, . _ -).
GITHUB_REPO = re.compile(r"https://github\.com/[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/(?!\.\.?$)[\w.-]{1,100}")
REPO_BRANCH = "main"
NOTEBOOKS_DIR = REPO_DIR / "notebooks"


_SETUP_CELL_TEMPLATE = """\
# Set-up: the same first cell in every notebook.
# On Colab it downloads and installs the course kit, once per session (about a minute), and keeps
# the packages Colab already has; locally it installs nothing.
# Then it picks the device and the profile, seeds everything and prints the versions.
import importlib
import os
import subprocess
import sys

if "google.colab" in sys.modules:  # running on Colab
    if not os.path.isdir("{clone_dir}"):
        subprocess.run(["git", "clone", "--quiet", "--depth=1", "--branch={branch}",
                        "{repo_url}", "{clone_dir}"], check=True)
    if "{clone_dir}" not in sys.path:
        sys.path.insert(0, "{clone_dir}")
        importlib.invalidate_caches()
    from mmsent.course import install_on_colab

    install_on_colab("{clone_dir}")
    os.chdir("{clone_dir}/notebooks")

from mmsent.course import setup

device, profile = setup()"""


def setup_cell_source(
    repo_url: str = REPO_URL, branch: str = REPO_BRANCH, clone_dir: str = COLAB_CLONE_DIR
) -> str:
    """The text of the first code cell of every notebook, for the repository `repo_url` at `branch`.

    It is plain Python (no `!pip` magics), because it must run before `mmsent` is importable: on Colab
    it clones the repository into `clone_dir` (unless it is there already) and calls
    `install_on_colab`, from the clone.
    """
    return _SETUP_CELL_TEMPLATE.format(repo_url=repo_url, branch=branch, clone_dir=clone_dir)


SETUP_CELL = setup_cell_source()


def _repo_slug(repo_url: str = REPO_URL) -> str:
    """'https://github.com/owner/name' -> 'owner/name'."""
    return repo_url.removeprefix("https://github.com/").removesuffix(".git").strip("/")


def _notebook_relpath(notebook_path: str | Path) -> str:
    """A notebook's path relative to the repository root, with forward slashes."""
    path = Path(notebook_path)
    if path.is_absolute():
        path = path.resolve().relative_to(REPO_DIR)
    relpath = path.as_posix()
    if not (relpath.startswith("notebooks/") and relpath.endswith(".ipynb")):
        raise ValueError(
            f"{notebook_path!s} is not a notebook under notebooks/: give a path like "
            "'notebooks/00_welcome_and_setup.ipynb' (relative to the repository root)."
        )
    return relpath


def colab_url(notebook_path: str | Path, repo_url: str = REPO_URL, branch: str = REPO_BRANCH) -> str:
    """The address that opens `notebook_path` (e.g. 'notebooks/00_welcome_and_setup.ipynb') on Colab."""
    relpath = _notebook_relpath(notebook_path)
    return f"https://colab.research.google.com/github/{_repo_slug(repo_url)}/blob/{branch}/{relpath}"


def colab_badge(notebook_path: str | Path, repo_url: str = REPO_URL, branch: str = REPO_BRANCH) -> str:
    """The "Open in Colab" badge (markdown) for a notebook; its path is relative to the repository root."""
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({badge})]({colab_url(notebook_path, repo_url, branch)})"


def notebook_metadata() -> dict[str, Any]:
    """The metadata of every course notebook: a Python 3 kernel, and a GPU runtime when opened on Colab."""
    return {
        "accelerator": "GPU",
        "colab": {"provenance": [], "gpuType": "T4"},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }


def notebook_header(notebook_path: str | Path) -> tuple[str, str]:
    """(title, goal) of a course notebook: its `# NN · Title` heading and its `**Goal:**` line."""
    cells = json.loads(Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    markdown = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]
    title = re.sub(r"^#\s+\d{2}\s*·\s*", "", markdown[0].splitlines()[0]).strip() if markdown else ""
    goals = (re.search(r"^\*\*Goal:\*\*\s*(.+)$", text, re.MULTILINE) for text in markdown)
    goal = next((found.group(1).strip() for found in goals if found), "")
    return title, goal


def toc_markdown(
    notebooks_dir: str | Path = NOTEBOOKS_DIR, link_prefix: str = "notebooks/",
    repo_url: str = REPO_URL, branch: str = REPO_BRANCH,
) -> str:
    """The table of notebooks (markdown) for the README: number, linked title, goal and Colab badge.

    Generated from the notebooks themselves (title and `**Goal:**` line), so it cannot drift from them;
    `tests/test_notebooks.py` checks that the README contains these lines.
    """
    lines = ["| # | Notebook | Goal | Colab |", "|---|---|---|---|"]
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        title, goal = notebook_header(path)
        goal = re.sub(r"\]\((?![a-z]+:|#|/)", f"]({link_prefix}", goal)  # its links, relative to the README
        badge = colab_badge(f"notebooks/{path.name}", repo_url, branch)
        lines.append(f"| {path.name[:2]} | [{title}]({link_prefix}{path.name}) | {goal} | {badge} |")
    return "\n".join(lines)


# -- budgets ------------------------------------------------------------------------

def budget(device: torch.device | str | None = None) -> str:
    """'gpu' or 'cpu': how much heavy work this run can afford.

    `MMSENT_BUDGET` if set; else 'gpu' when `device` (default: `pick_device()`, the device `setup()`
    picks too) is an accelerator (CUDA or MPS), else 'cpu'.
    """
    forced = os.environ.get(BUDGET_ENV)
    if forced:
        if forced not in BUDGETS:
            raise ValueError(f"{BUDGET_ENV}={forced!r}: use one of {BUDGETS}, or unset it.")
        return forced
    device = pick_device(None if device is None else str(device))
    return "cpu" if device.type == "cpu" else "gpu"


T = TypeVar("T")


def scale(cpu: T, gpu: T, device: torch.device | str | None = None) -> T:
    """The one knob for heavy work: `cpu` on the CPU budget, `gpu` on the GPU budget.

    Example: `epochs = scale(cpu=1, gpu=5)`, `fraction = scale(cpu=0.25, gpu=1.0)`. Notebooks shrink
    their work this way, never by skipping cells, so every cell runs everywhere. `device`: see `budget`
    (pass the one `setup(device=...)` returned when you chose it by hand).
    """
    return gpu if budget(device) == "gpu" else cpu


def versions(device: torch.device | None = None) -> dict[str, str]:
    """Versions of the software that matters here, and the hardware, as strings (for bug reports)."""
    import torch

    from mmsent import __version__

    device = device if device is not None else pick_device()
    hardware = f"{device}"
    if device.type == "cuda":
        hardware += f" ({torch.cuda.get_device_name(device)})"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": metadata.version("transformers"),
        "mmsent": __version__,
        "device": hardware,
        "CPU threads": str(torch.get_num_threads()),
    }


def show_versions(
    device: torch.device | None = None, profile: str | None = None, seed: int | None = None
) -> None:
    """Print `versions()` as a short aligned block, with the profile, budget and seed when given."""
    rows = versions(device)
    if profile is not None:
        rows["profile"] = profile
    rows["budget"] = budget(device)
    if seed is not None:
        rows["seed"] = str(seed)
    width = max(map(len, rows))
    print("\n".join(f"{key:<{width}}  {value}" for key, value in rows.items()))


def setup(
    device: str | None = None, profile: str | None = None, seed: int = 0, verbose: bool = True
) -> tuple[torch.device, str]:
    """Start a notebook: pick the device and the profile, seed everything, print the versions.

    The versions block is the short form of ``python -m mmsent doctor``: it ends with every known
    problem of this environment and its fix (`mmsent.course.doctor.problems`).

    `device`: 'cuda', 'mps' or 'cpu' (default: `MMSENT_DEVICE`, else the best available).
    `profile`: 'full', 'offline' or 'tiny' (default: `MMSENT_PROFILE`, else 'full' with internet and a
    GPU, 'offline' otherwise; see `mmsent.encoders.choose_profile`). Returns `(device, profile)`.
    """
    from mmsent.course.doctor import problems
    from mmsent.encoders import choose_profile

    chosen_device = pick_device(device)
    chosen_profile, reason = choose_profile(profile)
    seed_everything(seed)
    if verbose:
        show_versions(chosen_device, f"{chosen_profile} ({reason})", seed)
        print("\n".join(f"problem: {problem}" for problem in problems())
              or "no known problem (python -m mmsent doctor for the full report)")
    return chosen_device, chosen_profile
