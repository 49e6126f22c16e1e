"""bench/predict_csv.py runs end to end on a small table and writes the figures it documents (tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

BENCH = Path(__file__).resolve().parent.parent / "bench" / "predict_csv.py"


def test_the_batch_prediction_bench_reports_rows_per_second_and_memory(tmp_path):
    bench = load_script(BENCH, "predict_csv_bench")
    out = tmp_path / "predict.json"
    report = bench.main(["--rows", "60", "--photos", "5", "--profile", "tiny", "--chunk-rows", "25",
                         "--json", str(out)])  # fmt: skip
    assert json.loads(out.read_text()) == report
    assert report["rows"] == 60 and report["text_only_rows"] == 0 and report["rows_per_s"] > 0
    assert 0 < report["peak_memory_first_tenth_mb"] <= report["peak_memory_mb"]
    assert report["peak_memory_last_tenth_mb"] <= report["peak_memory_mb"]
