"""The notebooks' set-up cell on a fake Colab, for real: clone, pip install, import, run it twice.

Offline and in a few seconds: the "Colab runtime" is a fresh virtual environment that already has
this environment's packages (torch included, like Colab's own), a `google.colab` module is faked, the
repository address is a local git repository holding a copy of the kit, and pip sees no index, only a
folder holding a newer "torch": a set-up cell that upgraded what the runtime has would take it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
from colab_runtime.stub_wheel import stub_wheel
from packaging.requirements import Requirement

from mmsent.course import colab as colab_install
from mmsent.course import conventions as course
from mmsent.course.colab import (
    installed_versions,
    kit_requirements,
    missing_requirements,
    outside_bounds,
    pins,
    restart_notice,
)
from mmsent.errors import UsageError
from mmsent.paths import REPO_DIR

RUN_THE_CELL_TWICE = """\
import json, subprocess, sys, types

sys.modules["google.colab"] = types.ModuleType("google.colab")  # what Colab's kernel has imported
calls, real_run = [], subprocess.run


def recording_run(args, **kwargs):
    calls.append([str(arg) for arg in args])
    return real_run(args, **kwargs)


subprocess.run = recording_run
cell = open(sys.argv[1], encoding="utf-8").read()
for _ in range(2):  # a learner runs the first cell, then runs it again
    exec(cell, {})
print("CALLS " + json.dumps(calls))
"""

WHERE_FROM = (
    "import json, mmsent, torch; "
    "print(json.dumps([torch.__version__, torch.__file__, mmsent.__file__]))"
)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
                   cwd=cwd, check=True, capture_output=True)


def _fake_newer_torch(folder: Path) -> None:
    """A wheel of "torch 99.0" that a pip allowed to upgrade would pick over the installed torch."""
    folder.mkdir()
    stub_wheel(folder, "torch", "99.0", files={"torch/__init__.py": '__version__ = "99.0"\n'})


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> dict:
    """Run the set-up cell twice in a fake Colab runtime; return what happened."""
    root = tmp_path_factory.mktemp("colab")
    origin = root / "origin"  # stands for the repository on GitHub
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for name in ("mmsent", "notebooks"):
        shutil.copytree(REPO_DIR / name, origin / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_DIR / name, origin / name)
    _git("init", "--quiet", "--initial-branch=main", cwd=origin)
    _git("add", "--all", cwd=origin)
    _git("commit", "--quiet", "--message=the course kit", cwd=origin)

    runtime = root / "runtime"  # the Colab runtime: this environment's packages, pre-installed
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    python = runtime / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _fake_newer_torch(root / "newer")

    clone_dir = root / "content" / "mmsent"
    cell = root / "cell.py"
    cell.write_text(course.setup_cell_source(f"file://{origin}", "main", str(clone_dir)), encoding="utf-8")
    script = root / "run_twice.py"
    script.write_text(RUN_THE_CELL_TWICE, encoding="utf-8")
    env = {
        **os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(root / "newer"),
        "PIP_NO_BUILD_ISOLATION": "0",  # build with the runtime's setuptools: there is no index to fetch it
        "MMSENT_PROFILE": "tiny", "MMSENT_DEVICE": "cpu", "HF_HUB_OFFLINE": "1",
    }
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), str(script), str(cell)], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    after = subprocess.run([str(python), "-c", WHERE_FROM], cwd=root, env=env, capture_output=True, text=True)
    return {"run": run, "after": after, "clone_dir": clone_dir, "origin": origin, "purelib": Path(purelib)}


def test_the_cell_runs_twice_on_colab_and_sets_up(colab):
    run = colab["run"]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert run.stdout.count("profile") == 2 and "tiny" in run.stdout  # setup()'s versions block, twice
    assert (colab["clone_dir"] / "notebooks" / "00_welcome_and_setup.ipynb").is_file()


def test_the_cell_clones_and_installs_once_without_upgrading(colab):
    calls = json.loads(colab["run"].stdout.split("CALLS ", 1)[1])
    clones = [call for call in calls if call[:2] == ["git", "clone"]]
    installs = [call for call in calls if call[1:4] == ["-m", "pip", "install"]]
    assert len(clones) == 1 and clones[0][-2:] == [f"file://{colab['origin']}", str(colab["clone_dir"])]
    assert len(installs) == 1 and installs[0][-2:] == ["-e", str(colab["clone_dir"])]
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(installs[0])
    pinned = Path(installs[0][installs[0].index("--constraint") + 1]).read_text().split()
    kept = {f"{name}=={metadata.version(name)}" for name in ("torch", "transformers", "pillow")}
    assert kept <= set(pinned)  # what the runtime has, pinned for pip


def test_the_runtime_keeps_its_torch_and_imports_the_kit_from_the_clone(colab):
    import torch

    after = colab["after"]
    assert after.returncode == 0, after.stderr[-3000:]
    torch_version, torch_file, mmsent_file = json.loads(after.stdout)
    assert (torch_version, torch_file) == (torch.__version__, torch.__file__)  # Colab's torch, untouched
    assert not list(colab["purelib"].glob("torch*"))  # nothing of torch's installed into the runtime
    assert Path(mmsent_file).is_relative_to(colab["clone_dir"])


def test_restart_notice_names_replaced_packages_already_imported():
    now = installed_versions()
    assert restart_notice(now, now) is None
    before = {**now, "pytest": "0.1"}  # pytest is imported, here; pretend pip replaced it
    notice = restart_notice(before, now)
    assert notice.startswith("Restart needed") and f"pytest 0.1 -> {now['pytest']}" in notice
    assert "Runtime > Restart session" in notice
    never_imported = {**now, "nbformat-not-imported": "0.1"}
    assert restart_notice(never_imported, {**now, "nbformat-not-imported": "0.2"}) is None


COLAB_HAS = {"torch": "2.9.0+cu126", "pillow": "11.3.0", "gradio": "5.49.1", "fastapi": "0.118.0",
             "huggingface-hub": "0.35.3", "mmsent": "0.1.0", "google-colab": "1.0.0"}
KIT_NEEDS = [Requirement(line) for line in ("torch>=2.3", "Pillow>=11.0", "gradio>=6.0", "httpx>=0.27")]


def test_pins_keep_what_colab_has_in_range_or_imported_and_free_only_what_is_out_of_range():
    imported = {"huggingface-hub", "google-colab"}  # e.g. transformers imported the hub already
    assert pins(KIT_NEEDS, COLAB_HAS, imported) == [
        "google-colab==1.0.0", "huggingface-hub==0.35.3", "pillow==11.3.0", "torch==2.9.0+cu126"]
    # gradio 5 is out of the kit's range: the one package pip may replace, and the reason is said;
    # fastapi is neither required nor imported (pip keeps it unless the new gradio needs another)
    why = outside_bounds(KIT_NEEDS, COLAB_HAS)
    assert why == {"gradio": "gradio 5.49.1 is outside the kit's range >=6.0"}


def test_the_kits_requirements_come_from_its_pyproject_extras_included(tmp_path):
    names = {requirement.name for requirement in kit_requirements(["demo"])}
    assert {"torch", "transformers", "pillow", "gradio"} <= names
    with pytest.raises(ValueError, match="no extra 'gpu'"):
        kit_requirements(["gpu"])
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["pytest>=1"]\n'
        '[project.optional-dependencies]\nshiny = ["pytest>=1", "no-such-package-here>=1", "pytest>=999"]\n')
    assert missing_requirements("shiny", tmp_path) == ["no-such-package-here>=1", "pytest>=999"]


def test_install_extra_names_the_pip_command_outside_colab(monkeypatch):
    monkeypatch.setattr(colab_install, "missing_requirements", lambda extra: ["gradio>=6.0"])
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(UsageError, match=r'demo.*gradio>=6.0.*pip install -e "\.\[demo\]"'):
        colab_install.install_extra("demo")
    monkeypatch.setattr(colab_install, "missing_requirements", lambda extra: [])
    colab_install.install_extra("demo")  # installed: nothing to do, nothing said
