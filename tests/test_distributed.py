"""Data-parallel training: batch sharding, gathering rows, and a real 2-process torchrun on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from mmsent.cli import main as cli
from mmsent.data import LengthGroupedBatchSampler
from mmsent.train import distributed

REPO = Path(__file__).resolve().parent.parent


def test_shards_of_every_batch_add_up_to_the_batch():
    lengths = [5, 9, 2, 7, 7, 3, 11, 4, 6, 8, 1]
    single = list(LengthGroupedBatchSampler(lengths, batch_size=4, seed=3))
    shards = [
        list(distributed.ShardedBatchSampler(LengthGroupedBatchSampler(lengths, 4, seed=3), r, 2))
        for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1]) == len(single)  # every process takes the same number of steps
    for batch, part0, part1 in zip(single, shards[0], shards[1], strict=True):
        assert sorted(part0 + part1) == sorted(batch)
        assert abs(len(part0) - len(part1)) <= 1


def test_a_batch_smaller_than_the_world_is_padded_by_repeating():
    shards = [list(distributed.ShardedBatchSampler([[0, 1, 2, 3], [7]], rank, 3)) for rank in range(3)]
    assert shards == [[[0, 3], [7]], [[1], [7]], [[2], [7]]]
    with pytest.raises(ValueError):
        distributed.ShardedBatchSampler([[0]], rank=2, world_size=2)


def test_gather_rows_orders_by_index_and_keeps_each_row_once():
    indices = torch.tensor([3, 0, 2, 0, 1])  # row 0 twice: padding made two processes compute it
    values = torch.tensor([30.0, 0.0, 20.0, 0.0, 10.0])
    ordered, missing = distributed.gather_rows(indices, [values, None])
    assert ordered.tolist() == [0.0, 10.0, 20.0, 30.0]
    assert missing is None


def test_one_process_is_left_alone():
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(model) is model
    assert distributed.all_sum(1.5, 2) == [1.5, 2]


@pytest.fixture
def clear_reviews(tiny_csv):
    """64 reviews whose text says the label, so both runs learn it and their metrics can be compared."""

    def say_the_label(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(text=[f"{label} {label} review {i}" for i, label in enumerate(frame["label"])])

    return tiny_csv(n=64, edit=say_the_label)


def test_torchrun_two_cpu_processes_match_one_process(tmp_path, clear_reviews, monkeypatch):
    common = ["train", "--epochs", "1", "--models", "fusion", "--profile", "tiny", "--batch-size", "8"]
    common += ["--data", str(clear_reviews), "--no-progress"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "MMSENT_CACHE_DIR": str(tmp_path / "cache"),
    }
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run = subprocess.run(
        [*torchrun, "-m", "mmsent", *common, "--report-dir", str(tmp_path / "two")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert run.stdout.count("report in") == 1  # rank 0 alone reports
    assert run.stdout.count("epoch 1/1") == 1

    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main([*common, "--report-dir", str(tmp_path / "one")]) == 0

    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert two["run"]["processes"] == 2 and one["run"]["processes"] == 1
    assert two["run"]["rows"] == one["run"]["rows"]
    assert (tmp_path / "two" / "model" / "model.safetensors").is_file()
    # Same samples, same steps; only the dropout masks differ between the two runs.
    assert abs(two["fusion"]["accuracy"] - one["fusion"]["accuracy"]) <= 0.1
    history_two = pd.read_csv(tmp_path / "two" / "history_fusion.csv")
    history_one = pd.read_csv(tmp_path / "one" / "history_fusion.csv")
    assert history_two["train_loss"].iloc[0] == pytest.approx(history_one["train_loss"].iloc[0], abs=0.05)
    assert history_two["val_loss"].iloc[0] == pytest.approx(history_one["val_loss"].iloc[0], abs=0.05)
