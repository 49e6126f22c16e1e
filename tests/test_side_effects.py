"""No side effects: importing the package, or drawing the demo's heat map, leaves the process as it was.

Importing any mmsent module changes no logger's level and no matplotlib backend (ARCHITECTURE.md: no
work at import time); the demo draws its pictures on figures of its own, never through pyplot's state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: import the libraries mmsent uses (their own logging set-up is theirs),
# note every logger's level and the backend, import every mmsent module, note them again.
IMPORT_EVERYTHING = """
import importlib, json, logging, pkgutil
import httpx, matplotlib, pandas, PIL, safetensors, torch, transformers  # noqa: F401
import mmsent

def levels():
    named = {name: log.level for name, log in logging.root.manager.loggerDict.items()
             if isinstance(log, logging.Logger)}
    return {**named, "root": logging.root.level}

before, backend = levels(), matplotlib.get_backend()
names = [m.name for m in pkgutil.walk_packages(mmsent.__path__, "mmsent.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
after = levels()
changed = {n: [before.get(n, 0), level] for n, level in after.items() if level != before.get(n, 0)}
print(json.dumps({"modules": len(names), "changed": changed, "backend": [backend, matplotlib.get_backend()]}))
"""


def test_importing_every_module_changes_no_logger_level_and_no_backend():
    env = {**os.environ, "MPLBACKEND": "svg", "PYTHONPATH": str(ROOT)}  # not Agg, so a switch to Agg shows
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["modules"] > 100  # every module was imported, not a few
    assert seen["changed"] == {}, f"loggers whose level an import set: {seen['changed']}"
    assert seen["backend"] == ["svg", "svg"]


def test_the_demo_heat_map_leaves_pyplot_and_the_backend_alone(monkeypatch):
    import matplotlib
    from matplotlib import pyplot

    from mmsent.apply.demo import heat_map_image

    def refuse(*_, **__):
        raise AssertionError("heat_map_image switched the matplotlib backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    monkeypatch.setattr(pyplot, "switch_backend", refuse)
    figures = pyplot.get_fignums()
    photo = Image.new("RGB", (64, 48), (200, 30, 30))
    pixels = heat_map_image(photo, np.linspace(0.0, 1.0, 49), gate=0.4)
    assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    assert pixels.std() > 0  # a picture, not a blank
    assert pyplot.get_fignums() == figures  # no figure left open in pyplot


def test_a_feature_cache_warns_once_per_cache_not_once_per_process(tmp_path, caplog):
    from mmsent.features.store import FeatureCache

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with caplog.at_level("WARNING", logger="mmsent.features.store"):
        for cache in (FeatureCache(blocker / "cache"), FeatureCache(blocker / "cache")):
            for _ in range(2):
                cache.save(blocker / "cache" / "k" / "entry.safetensors", {"x": torch.zeros(1)})
    said = [r for r in caplog.records if "Cannot write the feature cache" in r.getMessage()]
    assert len(said) == 2  # one per cache object: a second cache of the same folder warns again
