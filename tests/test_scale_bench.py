"""The scale bench runs end to end on a small table and reports what the README quotes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

BENCH = Path(__file__).resolve().parent.parent / "bench" / "scale.py"


def test_scale_bench_measures_the_table_and_the_downloads(tmp_path):
    bench = load_script(BENCH)
    out = tmp_path / "scale.json"
    argv = ["--rows", "300", "--photos", "20", "--iterate", "64", "--download", "24", "--workers", "4"]
    report = bench.main([*argv, "--profile", "tiny", "--json", str(out)])
    assert json.loads(out.read_text()) == report
    table, download = report["table"], report["download"]
    assert table["rows"] == 300 and table["batch_rows"] == 64
    assert table["validate_rows_per_s"] > 0 and table["peak_memory_mb"] > 0
    assert download["failed"] == 0 and download["photos_per_s"] > 0
    assert download["second_run_counts"] == {"already stored": 24}  # the second run downloads nothing
