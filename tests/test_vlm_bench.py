"""bench/vlm_vision.py runs end to end on a few photos and reports what its docstring says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

BENCH = Path(__file__).resolve().parent.parent / "bench" / "vlm_vision.py"


def test_vision_probe_rows_add_up(tmp_path, capsys):
    bench = load_script(BENCH)
    out = tmp_path / "probe.json"
    report = bench.main(["--photos", "24", "--heldout", "16", "--steps", "3", "--quiet",
                         "--sides", "clip-top2", "cnn", "clip-detail", "--json", str(out)])
    assert json.loads(out.read_text()) == report
    assert [row["side"] for row in report["rows"]] == ["clip-top2", "cnn", "clip-detail"]
    test = bench.make_photos(16, bench.HELDOUT_SEED)
    counts = {name: sum((p.truth.damage or "intact") == name for p in test) for name in bench.CLASSES}
    for row in report["rows"]:  # "damaged" is the per-truth accuracies weighted by how often each is
        weighted = sum(row["damaged_by_truth"][name] * n for name, n in counts.items()) / len(test)
        assert row["damaged"] == pytest.approx(weighted, abs=0.01)
        assert 0.0 <= row["kind"] <= 1.0
    printed = capsys.readouterr().out
    assert "vision side" in printed and "clip-top2" in printed and "cnn" in printed


@pytest.mark.parametrize("flags, says", [(["--steps", "0"], "at least 1"),
                                         (["--json", "{tmp}"], "is a folder"),
                                         (["--json", "{tmp}/no/such/out.json"], "does not exist")])
def test_vision_probe_refuses_bad_flags_before_it_runs(flags, says, tmp_path, capsys):
    bench = load_script(BENCH)
    with pytest.raises(SystemExit) as exit_:
        bench.main([flag.format(tmp=tmp_path) for flag in flags])
    assert exit_.value.code == 2 and says in capsys.readouterr().err
