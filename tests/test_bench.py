"""The throughput benchmark runs end to end and writes the JSON it documents (tiny models, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

BENCH = Path(__file__).resolve().parent.parent / "bench" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(BENCH)


def test_bench_writes_the_three_ways_and_the_speedups(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("MMSENT_CACHE_DIR", "off")
    out = tmp_path / "bench.json"
    argv = ["--profile", "tiny", "--limit", "32", "--epochs", "1", "--repeats", "2", "--device", "cpu"]
    report = bench.main([*argv, "--warmup-steps", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    for key in ("naive_samples_per_s", "fast_samples_per_s", "speedup", "device", "val_accuracy_gap_points"):
        assert key in report, key
    assert report["speedup"] == pytest.approx(report["fast_samples_per_s"] / report["naive_samples_per_s"])
    frozen = report["frozen_text_samples_per_s"]
    assert report["speedup_frozen_over_fast"] == pytest.approx(frozen / report["fast_samples_per_s"])
    assert report["frozen_text_val_accuracy"] == report["frozen"]["val_accuracy"]
    # The frozen way trains on the same batches as the fast way: same lengths, same padding.
    assert report["frozen"]["padding_fraction"] == report["fast"]["padding_fraction"]
    assert report["repeats"] == 2 and len(report["naive"]["val_accuracy_runs"]) == 2
    assert report["fast"]["padding_fraction"] < report["naive"]["padding_fraction"]  # dynamic vs 128
    runs = report["fast"]["val_accuracy_runs"]
    assert report["fast_val_accuracy"] == pytest.approx(sum(runs) / len(runs), abs=1e-4)  # runs are rounded


def test_step_cost_times_the_three_parts_and_bounds_the_speedup(monkeypatch):
    monkeypatch.setenv("MMSENT_CACHE_DIR", "off")  # main() turns the cache off; undone after the test
    module = load_script(BENCH.parent / "step_cost.py")
    result = module.main(["--profile", "tiny", "--steps", "3", "--warmup-steps", "1", "--rounds", "1"])
    assert all(result[key] > 0 for key in ("fast_ms", "frozen_ms", "trained_layers_ms"))
    assert result["speedup_frozen_over_fast"] == pytest.approx(result["fast_ms"] / result["frozen_ms"])
    saved = result["fast_ms"] - result["frozen_ms"]
    assert result["cap"] == pytest.approx((saved + result["trained_layers_ms"]) / result["trained_layers_ms"])
