"""A model folder of the offline profile loads and predicts with only the built wheel installed, outside the
checkout: the wheel carries the offline CLIP (setup.py), and nothing reads the repository's data/.

The wheel is built from a copy of the kit (no build isolation: there is no index), installed with pip into a
fresh virtual environment, and only then is this environment's site-packages (torch, transformers, the
MiniLM package: the wheel's dependencies) made visible to it, so pip never sees this checkout's mmsent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from mmsent.analysis.ablation import build_model
from mmsent.apply.inference import sentiment_pipeline
from mmsent.encoders import load_encoders
from mmsent.paths import REPO_DIR

LOAD_AND_PREDICT = """\
import json, sys
import mmsent
from mmsent.apply.inference import sentiment_pipeline
from mmsent.paths import OFFLINE_CLIP_DIR

answer = sentiment_pipeline(sys.argv[1])("Well. It arrived.", image=sys.argv[2])
print(json.dumps({"kit": mmsent.__file__, "clip": str(OFFLINE_CLIP_DIR), "scores": answer["scores"],
                  "gate": answer["gate"]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "packaged")
    shutil.copytree(REPO_DIR / "mmsent", source / "mmsent", ignore=ignore)
    shutil.copytree(REPO_DIR / "data" / "clip-offline", source / "data" / "clip-offline")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO_DIR / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--wheel-dir", str(root / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return next((root / "dist").glob("mmsent-*.whl"))


def test_the_wheel_carries_the_offline_clip_and_no_repository_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    clip = (REPO_DIR / "data" / "clip-offline").iterdir()
    assert {f"mmsent/packaged/clip-offline/{path.name}" for path in clip} <= set(names)
    assert not [name for name in names if name.startswith("data/")]


def test_an_offline_model_folder_predicts_with_only_the_wheel_installed(wheel, tmp_path):
    folder = tmp_path / "model"
    build_model(load_encoders("offline"), ["negative", "positive"], seed=0).save_pretrained(folder)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (200, 40, 40)).save(photo)
    here = sentiment_pipeline(folder)("Well. It arrived.", image=photo)

    runtime = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(runtime)], check=True)
    python = runtime / "bin" / "python"
    # No PYTHONPATH: a checkout on it (its mmsent.egg-info) would make pip think the kit is installed already
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "MMSENT_DATA_DIR")}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         str(wheel)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"  # not the checkout, and no data/ beside it
    elsewhere.mkdir()
    (elsewhere / "load.py").write_text(LOAD_AND_PREDICT)
    env.update(HF_HUB_OFFLINE="1", MMSENT_CACHE_DIR=str(tmp_path / "cache"))
    run = subprocess.run([str(python), "load.py", str(folder), str(photo)], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    there = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(there["kit"]).is_relative_to(purelib)  # the wheel's mmsent, not the checkout's
    assert Path(there["clip"]) == Path(purelib) / "mmsent" / "packaged" / "clip-offline"
    for name, p in here["scores"].items():
        assert there["scores"][name] == pytest.approx(p, abs=1e-5)
    assert there["gate"] == pytest.approx(here["gate"], abs=1e-5)
