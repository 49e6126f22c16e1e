"""Robustness curves: `train` saves the baselines, `evaluate --robustness` writes the table and the plot."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import write_tiny_csv

from mmsent.analysis.robustness import BLUR, JPEG, REMOVED, _remove, fallback_gap
from mmsent.analysis.robustness_report import gap_words
from mmsent.cli import main as cli
from mmsent.features.vectors import ImageFeatures


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A tiny-profile report (all three models) on 24 reviews with photos."""
    folder = tmp_path_factory.mktemp("robust")
    csv = write_tiny_csv(folder / "data", n=24)
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--epochs", "1", "--batch-size", "4"]
    assert cli.main([*argv, "--report-dir", str(folder / "report"), "--no-progress"]) == 0
    return csv, folder / "report"


def test_train_saves_the_baselines_beside_the_model(report):
    _, folder = report
    for name in ("model", "model_text_only", "model_image_only"):
        assert (folder / name / "model.safetensors").is_file(), name


def test_evaluate_robustness_writes_the_table_and_the_plot(report, capsys):
    csv, folder = report
    argv = ["evaluate", "--model", str(folder / "model"), "--data", str(csv), "--split", "all"]
    assert cli.main([*argv, "--robustness", "--robustness-dir", str(folder / "curves")]) == 0
    table = pd.read_csv(folder / "curves" / "robustness.csv")
    assert (folder / "curves" / "robustness.png").stat().st_size > 10_000
    assert set(table["model"]) == {"fusion", "text_only", "image_only"}
    assert table.groupby("condition").size().to_dict() == {REMOVED: 15, BLUR: 9, JPEG: 9}
    removed = table[(table["condition"] == REMOVED) & (table["model"] == "fusion")]
    assert removed["strength"].tolist() == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert removed["photos"].tolist() == [24, 18, 12, 6, 0]
    assert table["accuracy"].between(0, 1).all()
    text_only = table.loc[table["model"] == "text_only", "accuracy"]
    assert text_only.nunique() == 1  # reads no photo: one score in every row
    out = capsys.readouterr().out
    assert gap_words(fallback_gap(table)) in out
    assert gap_words(-1.9) == "fusion scores 1.9 points above text-only"
    assert gap_words(0.8) == "fusion scores 0.8 points below text-only"


def test_removed_photos_are_nested_and_look_like_no_photo():
    present = torch.tensor([True] * 8 + [False])  # 8 photos, then a review without one
    features = ImageFeatures(torch.ones(9, 3) * present[:, None], torch.ones(9, 4, 2), present)
    features.patches[8] = 0.0  # as `image_features` gives a review without a photo
    quarter, half = _remove(features, 0.25, seed=0), _remove(features, 0.5, seed=0)
    assert int(quarter.present.sum()) == 6 and int(half.present.sum()) == 4 and not half.present[8]
    assert bool((half.present <= quarter.present).all())  # what 25 % removed, 50 % removed too
    gone = ~half.present
    assert float(half.embeds[gone].abs().sum()) == 0.0 and float(half.patches[gone].abs().sum()) == 0.0
    assert bool(features.present[:8].all()) and float(features.embeds.sum()) == 24  # the input is unchanged
