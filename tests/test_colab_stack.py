"""The set-up cell's install against Colab's own versions: what would pip replace?

Run by hand (it needs PyPI, and a runtime built beforehand, in a few minutes):

    bash tests/colab_runtime/build_runtime.sh /tmp/colab-runtime
    MMSENT_COLAB_RUNTIME=/tmp/colab-runtime python -m pytest -q tests/test_colab_stack.py

The runtime is Colab's Python (3.13) with the versions Colab pre-installs
(tests/colab_runtime/colab-requirements.txt: pillow 11.3, ipywidgets 7.7.1, IPython 7.34, transformers
4.57, numpy 2.3, gradio 5.x, ...; torch and torchvision as metadata-only stand-ins of Colab's CUDA
builds). In it, `install_on_colab` runs exactly as in the set-up cell, with pip told `--dry-run --report`:
pip resolves for real and says what it would install, and nothing changes, so the runtime serves every run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from mmsent.course.colab import kit_requirements, outside_bounds
from mmsent.paths import REPO_DIR

RUNTIME = os.environ.get("MMSENT_COLAB_RUNTIME")
pytestmark = pytest.mark.skipif(
    not RUNTIME, reason="needs a Colab-like runtime: see this file's docstring (MMSENT_COLAB_RUNTIME)")

# What Colab's kernel has imported when the set-up cell installs (IPython, ipywidgets, numpy, ...),
# then the set-up cell's install, with pip asked only what it would do.
INSTALL_DRY_RUN = """
import json, subprocess, sys, types
clone, extras, report = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
sys.modules["google.colab"] = types.ModuleType("google.colab")
import IPython, ipywidgets, numpy, PIL.Image, pandas, huggingface_hub, transformers  # noqa: E401
sys.path.insert(0, clone)
real_run = subprocess.run
def dry_run(args, **kwargs):
    assert list(args[1:4]) == ["-m", "pip", "install"], args
    return real_run([*args[:4], "--dry-run", "--report", report, *args[4:]], **kwargs)
subprocess.run = dry_run
from mmsent.course import install_on_colab  # as the set-up cell imports it
install_on_colab(clone, extras)
"""


def _installed(python: Path) -> dict[str, str]:
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], check=True,
                             capture_output=True, text=True).stdout
    return {canonicalize_name(row["name"]): row["version"] for row in json.loads(listing)}


def _would_replace(tmp_path: Path, extras: list[str]) -> tuple[dict[str, str], dict[str, str], str]:
    """({name: 'old -> new'} pip would replace, what the runtime had, what install_on_colab printed)."""
    python = Path(RUNTIME) / "bin" / "python"
    clone = tmp_path / "mmsent"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    shutil.copytree(REPO_DIR / "mmsent", clone / "mmsent", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_DIR / name, clone / name)
    report = tmp_path / "report.json"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run([str(python), "-c", INSTALL_DRY_RUN, str(clone), *extras, str(report)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    had = _installed(python)
    replaced = {}
    for item in json.loads(report.read_text())["install"]:
        name, version = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
        if name in had and name != "mmsent":
            replaced[name] = f"{had[name]} -> {version}"
    return replaced, had, run.stdout


def test_the_kit_alone_replaces_nothing_colab_has(tmp_path):
    replaced, had, said = _would_replace(tmp_path, [])
    assert had["pillow"] == "11.3.0" and had["transformers"].startswith("4.57")  # Colab's, as built
    assert replaced == {}
    assert "replaced" not in said and "Restart needed" not in said


def test_the_demo_extra_replaces_only_colabs_gradio_and_what_gradio_itself_needs(tmp_path):
    replaced, had, said = _would_replace(tmp_path, ["demo"])
    requirements = kit_requirements(["demo"])
    out_of_range = outside_bounds(requirements, had)
    assert set(out_of_range) == {"gradio"}  # the kit needs gradio >= 6; Colab has 5.x
    assert f"replaced: {out_of_range['gradio']}" in said
    assert "gradio" in replaced
    required = {canonicalize_name(requirement.name) for requirement in requirements}
    kept = {"torch", "torchvision", "transformers", "huggingface-hub", "tokenizers", "numpy", "pillow",
            "pandas", "ipywidgets", "ipython"}
    assert not (set(replaced) - {"gradio"}) & (required | kept), replaced
    print("pip would replace:", replaced)  # for the note: gradio and its own helpers only
