"""Shared data fixtures: small review tables written to a temporary folder."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from PIL import Image

TinyCsv = Callable[..., Path]
REPO = Path(__file__).resolve().parents[1]


def load_script(path: str | Path, name: str | None = None) -> ModuleType:
    """A script of the repository (`bench/scale.py`, `tools/retarget_course.py`: not a package) as a module;
    `path` relative to the repository's root, or absolute."""
    path = REPO / path
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def private_feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test session gets an empty feature cache of its own, so no test passes or fails because
    of what earlier runs left in the user's cache (a test may still point MMSENT_CACHE_DIR elsewhere)."""
    folder = tmp_path_factory.mktemp("feature-cache")
    before = os.environ.get("MMSENT_CACHE_DIR")
    os.environ["MMSENT_CACHE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("MMSENT_CACHE_DIR", None)
    else:
        os.environ["MMSENT_CACHE_DIR"] = before


def write_tiny_csv(
    folder: Path,
    n: int = 8,
    classes: Sequence[object] = ("negative", "positive"),
    edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Path:
    """Write `folder/reviews.csv` plus one small PNG per review; see `tiny_csv`."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "review_id": [f"r{i:03d}" for i in range(n)],
            "text": [f"review number {i} " + "words " * (i % 5) for i in range(n)],
            "image_path": [f"images/r{i:03d}.png" for i in range(n)],
            "label": [classes[i % len(classes)] for i in range(n)],
            "rating": [1 + i % 5 for i in range(n)],
            "price": [9.5 + i for i in range(n)],
        }
    )
    for i, relative in enumerate(frame["image_path"]):
        Image.new("RGB", (16, 16), (20 * i % 256, 100, 200)).save(folder / relative)
    if edit is not None:
        frame = edit(frame)
    csv_path = folder / "reviews.csv"
    frame.to_csv(csv_path, index=False)
    return csv_path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> TinyCsv:
    """A factory writing `tmp_path/data/reviews.csv` plus one small PNG per review.

    `tiny_csv(n=8, classes=("negative", "positive"), edit=None)` returns the CSV's path. Rows
    cycle through `classes`; each has review_id "r000", text, image_path "images/r000.png"
    (a 16x16 PNG of one colour) and the extra columns rating and price. `edit(frame)` may
    change the table before it is written (the images are drawn first, from the defaults).
    Break files afterwards, e.g. `(csv.parent / "images/r001.png").write_bytes(b"...")`.
    For a module-scoped fixture, call `write_tiny_csv(folder, ...)` directly.
    """

    def make(
        n: int = 8,
        classes: Sequence[object] = ("negative", "positive"),
        edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> Path:
        return write_tiny_csv(tmp_path / "data", n, classes, edit)

    return make


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fusion model folder trained by `python -m mmsent train` for one epoch at the tiny profile on 3
    classes ("bad", "good", "meh"; 24 rows of `write_tiny_csv`). Trained once per session: read it only."""
    from mmsent.cli import main as cli

    folder = tmp_path_factory.mktemp("tiny-model")
    csv = write_tiny_csv(folder / "data", n=24, classes=("good", "meh", "bad"))
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--epochs", "1", "--batch-size", "4",
            "--models", "fusion", "--report-dir", str(folder / "report"), "--no-progress"]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSENT_CACHE_DIR", str(folder / "cache"))
        assert cli.main(argv) == 0
    return folder / "report" / "model"


TINY_TRAIN = ["--profile", "tiny", "--epochs", "1", "--batch-size", "4", "--no-progress"]


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """(csv, report folder) of `train --models fusion,text_only` on 24 two-class reviews (tiny profile),
    trained once for the bad-input tests; a test that changes the report does so for the tests after it."""
    folder = tmp_path_factory.mktemp("bad_input")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSENT_CACHE_DIR", str(folder / "cache"))
        csv = write_tiny_csv(folder / "data", n=24)
        report = folder / "report"
        argv = [
            "train",
            "--data",
            str(csv),
            *TINY_TRAIN,
            "--models",
            "fusion,text_only",
            "--report-dir",
            str(report),
        ]
        from mmsent.cli import main as cli

        assert cli.main(argv) == 0
        yield csv, report


@pytest.fixture
def meta_builds_only(monkeypatch) -> list[str]:
    """The devices `MultimodalSentimentModel` is built on during the test; a build off the meta device fails
    it (a model that a folder's config makes huge must be refused on its meta skeleton, never allocated)."""
    import torch

    from mmsent.models import MultimodalSentimentModel

    devices: list[str] = []
    build = MultimodalSentimentModel.__init__

    def spy(self, *args) -> None:
        devices.append(torch.empty(0).device.type)
        if devices[-1] != "meta":
            pytest.fail("the real model (about 100 GB) was built")
        build(self, *args)

    monkeypatch.setattr(MultimodalSentimentModel, "__init__", spy)
    return devices
