"""Progress fit for a log and for a saved notebook: no bar frames in a file, no frozen bars in a notebook."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import IPython.display

from mmsent import progress

REPO = Path(__file__).resolve().parent.parent


def test_a_log_gets_a_line_per_interval_and_nothing_for_a_short_loop():
    quiet, chatty = io.StringIO(), io.StringIO()
    assert list(progress.LogLines(range(5), desc="short", file=quiet)) == list(range(5))
    assert quiet.getvalue() == ""
    bar = progress.LogLines(range(3), desc="encoding photos", every=0.0, file=chatty)
    for _ in bar:
        bar.set_postfix(loss="0.500")
    assert chatty.getvalue().splitlines()[-1].startswith("encoding photos: 3/3 (")
    assert chatty.getvalue().count("\n") == 3 and "loss 0.500" in chatty.getvalue()


def test_a_notebook_bar_is_one_output_updated_in_place_and_emptied_at_the_end(monkeypatch):
    shown: list[str] = []

    class Handle:
        def update(self, data, raw):
            shown.append(data["text/plain"])

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda data, raw, display_id: Handle())
    assert list(progress.progress_bar(range(53), desc="epoch 1/4")) == list(range(53))
    assert shown[0].startswith("epoch 1/4:") and "0/53" in shown[0]
    assert shown[-1] == ""  # what a saved notebook keeps: nothing, not a bar frozen at 0%
    shown.clear()
    list(progress.progress_bar(range(53), desc="pretrain", leave=True))
    assert "53/53" in shown[-1]


def test_the_train_log_without_a_terminal_is_short_and_has_no_bar_frames(tiny_csv, tmp_path):
    csv = tiny_csv(n=24, classes=("good", "bad"))
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--batch-size", "4", "--epochs", "2"]
    environment = {**os.environ, "MMSENT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "mmsent", *argv, "--report-dir", str(tmp_path / "report")],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the whole log, as a CI job or `> train.log 2>&1` keeps it
        text=True,
        timeout=600,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert "\r" not in done.stdout
    assert len(lines) < 100, done.stdout
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 3 * 2, done.stdout  # one line per epoch, for each of the three models
