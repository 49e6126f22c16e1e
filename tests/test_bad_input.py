"""The command line's promise on bad input: `error: ...` and exit 2, never a traceback, never a silent
guess, never a stale model. One small model is trained once for the module (tiny profile)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_TRAIN, write_tiny_csv
from PIL import Image

from mmsent import encoders
from mmsent.cli import main as cli
from mmsent.hub.manifest import write_manifest

TRAIN = TINY_TRAIN


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "cache"))


def fails(argv: list[str], capsys, *fragments: str) -> str:
    """Run the command line in-process; assert exit 2, an `error:` line with `fragments`, no traceback."""
    capsys.readouterr()
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "error:" in err and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


# ----------------------------------------------------------------------------- flags and variables


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--batch-size", "0"], "--batch-size: must be a whole number of at least 1"),
        (["train", "--batch-size", "-4"], "--batch-size"),
        (["train", "--epochs", "0"], "--epochs"),
        (["train", "--epochs", "-2"], "--epochs"),
        (["train", "--epochs", "1.5"], "--epochs: must be an integer"),
        (["train", "--lr", "-1"], "--lr: must be a finite number above 0"),
        (["train", "--lr", "nan"], "--lr"),
        (["train", "--head-lr", "0"], "--head-lr"),
        (["train", "--max-length", "0"], "--max-length"),
        (["train", "--train-text-layers", "-3"], "--train-text-layers"),
        (["train", "--models", "fusion,bogus"], "unknown model(s) ['bogus']"),
        (["train", "--models", ","], "--models"),
        (["train", "--models", "fusion,fusion"], "named twice"),
        (["train", "--seed", "-1"], "--seed"),
        (["train", "--device", "gpu"], "unknown device 'gpu'"),
        (["train", "--profile", "huge"], "--profile"),
        (["evaluate", "--split", "testing"], "--split"),
        (["predict", "--text", ""], "--text: is blank"),
        (["predict", "--text", "   "], "--text: is blank"),
        (["predict", "--text", "ok", "--image", "https://example.com/a.png"], "photo URLs are not supported"),
        (["make-data", "--n", "0"], "--n"),
        (["pretrain-clip", "--epochs", "0"], "--epochs"),
        (["train", "--epochs", "99999999999999999999"], "--epochs: must be a whole number from 1 to 1,000"),
        (["pretrain-vlm", "--steps", "1000001"], "--steps: must be a whole number from 1 to 1,000,000"),
        (["pretrain-vlm", "--photos", "100001"], "--photos: must be a whole number from 1 to 100,000"),
        (["make-data", "--n", "10000000"], "--n"),
    ],
)
def test_flags_are_refused_before_anything_runs(argv, fragment, capsys):
    fails(argv, capsys, fragment)


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("MMSENT_PROFILE", "bogus", "MMSENT_PROFILE='bogus' is not a profile"),
        ("MMSENT_DEVICE", "gpu", "MMSENT_DEVICE='gpu' is not a device"),
        ("MMSENT_BUDGET", "lots", "MMSENT_BUDGET='lots'"),
        ("MMSENT_CACHE_DIR", "FILE", "is a file, not a folder"),
        ("MMSENT_DATA_DIR", "MISSING", "MMSENT_DATA_DIR="),
        ("MMSENT_ALLOW_PRIVATE_URLS", "yes please", "MMSENT_ALLOW_PRIVATE_URLS='yes please'"),
        ("MMSENT_PHOTO_DEADLINE", "-5", "MMSENT_PHOTO_DEADLINE='-5'"),
        ("RANK", "first", "RANK='first' is not a whole number"),
        ("WORLD_SIZE", "2.5", "WORLD_SIZE='2.5' is not a whole number"),
        ("LOCAL_RANK", "-1", "LOCAL_RANK='-1' is not a whole number"),
        ("RANK", "3", "RANK=3 with WORLD_SIZE=1"),
    ],
)
def test_environment_variables_are_checked(
    variable, value, fragment, tiny_csv, tmp_path, monkeypatch, capsys
):
    if value == "FILE":
        value = str(tmp_path / "a_file")
        Path(value).write_text("x")
    monkeypatch.setenv(variable, str(tmp_path / "missing") if value == "MISSING" else value)
    argv = ["train", "--data", str(tiny_csv()), "--report-dir", str(tmp_path / "r"), "--epochs", "1"]
    fails(argv, capsys, fragment)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("flag", "fragment"),
    [
        (["--train-text-layers", "99"], "has 2 layers"),
        (["--max-length", "100000"], "reads at most 512 tokens"),
    ],
)
def test_limits_of_the_encoder_are_checked_before_a_model_is_built(
    flag, fragment, tiny_csv, tmp_path, capsys
):
    argv = ["train", "--data", str(tiny_csv(n=16)), *TRAIN, *flag, "--report-dir", str(tmp_path / "r")]
    fails(argv, capsys, fragment)
    assert not (tmp_path / "r").exists() and not list(tmp_path.glob(".r.partial-*"))


# ----------------------------------------------------------------------------- report folders


def test_an_existing_report_folder_is_refused_without_overwrite(run, tiny_csv, capsys):
    _, report = run
    fails(["train", "--data", str(tiny_csv()), *TRAIN, "--report-dir", str(report)], capsys, "--overwrite")


def test_overwrite_replaces_the_whole_folder_with_a_text_only_run_and_its_own_checkpoint(
    run, tmp_path, capsys
):
    """The old fusion checkpoint (two classes) must not survive next to a text-only run on three."""
    _, old = run
    report = tmp_path / "report"
    shutil.copytree(old, report)
    (report / "notes.txt").write_text("an old file")
    csv = write_tiny_csv(tmp_path / "other", n=24, classes=("good", "meh", "bad"))
    argv = ["train", "--data", str(csv), *TRAIN, "--models", "text_only", "--report-dir", str(report)]
    assert cli.main([*argv, "--overwrite"]) == 0
    assert not (report / "notes.txt").exists() and not (report / "attention.png").exists()
    assert set(json.loads((report / "metrics.json").read_text())) == {"text_only", "run"}
    config = json.loads((report / "model" / "config.json").read_text())
    assert config["mode"] == "text_only" and config["labels"] == ["bad", "good", "meh"]
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(report / "model"), "--text", "fine"]) == 0
    assert set(json.loads(capsys.readouterr().out)["probabilities"]) == {"good", "meh", "bad"}


@pytest.mark.parametrize("target", ["data", "."])
def test_overwrite_never_deletes_a_folder_that_is_not_a_report(
    target, tiny_csv, tmp_path, monkeypatch, capsys
):
    csv = tiny_csv()
    monkeypatch.chdir(csv.parent)
    before = sorted(p.name for p in csv.parent.iterdir())
    report = str(csv.parent) if target == "data" else "."
    argv = ["train", "--data", str(csv), *TRAIN, "--report-dir", report, "--overwrite"]
    fails(argv, capsys, "will not delete it")
    assert sorted(p.name for p in csv.parent.iterdir()) == before


def test_a_diverging_run_writes_nothing_and_says_which_flag(tiny_csv, tmp_path, capsys):
    report = tmp_path / "r"
    argv = [
        "train",
        "--data",
        str(tiny_csv(n=16)),
        *TRAIN,
        "--models",
        "text_only",
        "--report-dir",
        str(report),
    ]
    fails([*argv, "--lr", "1e30", "--head-lr", "1e30"], capsys, "diverged", "--lr")
    assert not report.exists() and not list(tmp_path.glob(".r.partial-*"))


def test_models_that_need_photos_refuse_a_table_without_any(tiny_csv, tmp_path, capsys):
    csv = tiny_csv(n=16, edit=lambda f: f.assign(image_path=""))
    argv = ["train", "--data", str(csv), *TRAIN, "--models", "fusion", "--report-dir", str(tmp_path / "r")]
    fails(argv, capsys, "No review has a usable photo", "--models text_only")


def test_an_interrupted_train_leaves_the_previous_report_byte_identical(run, tmp_path):
    csv, old = run
    report = tmp_path / "report"
    shutil.copytree(old, report)
    before = {p.relative_to(report): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    argv = [sys.executable, "-m", "mmsent", "train", "--data", str(csv), *TRAIN, "--overwrite"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [*argv, "--report-dir", str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    seen = []
    for line in child.stdout:  # kill it once its first model (fusion) has been trained and scored
        seen.append(line)
        if line.startswith("test fusion:"):
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "".join(seen)
    after = {p.relative_to(report): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    assert after == before
    for leftover in tmp_path.glob(".report.partial-*"):  # what the killed run had written so far
        shutil.rmtree(leftover)


# ----------------------------------------------------------------------------- checkpoints


@pytest.fixture
def checkpoint(run, tmp_path) -> Path:
    """A private copy of the module's model folder, to damage."""
    return Path(shutil.copytree(run[1] / "model", tmp_path / "model"))


def _predict(checkpoint: Path) -> list[str]:
    return ["predict", "--model", str(checkpoint), "--text", "Well. It arrived."]


def test_a_damaged_config_is_named(checkpoint, capsys):
    (checkpoint / "config.json").write_text('{"profile": "tiny", "model": ')
    fails(_predict(checkpoint), capsys, "config.json")


def test_a_truncated_weights_file_is_named(checkpoint, capsys):
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    fails(_predict(checkpoint), capsys, "model.safetensors", "truncated")


def test_a_missing_weights_file_is_named(checkpoint, capsys):
    (checkpoint / "model.safetensors").unlink()
    fails(_predict(checkpoint), capsys, "model.safetensors", "missing")


def test_labels_of_another_run_are_refused(checkpoint, capsys):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "labels": ["bad", "good", "meh"]}))
    fails(_predict(checkpoint), capsys, "config.json")  # the manifest's hash differs
    write_manifest(checkpoint, exclude=("README.md",))  # even with a matching manifest:
    fails(_predict(checkpoint), capsys, "model.safetensors", "does not fit")


def test_a_report_folder_passed_as_checkpoint_gets_a_hint(run, capsys):
    fails(_predict(run[1]), capsys, "did you mean", str(run[1] / "model"))


def test_a_checkpoint_without_manifest_is_refused(checkpoint, capsys):
    (checkpoint / "manifest.json").unlink()
    fails(_predict(checkpoint), capsys, "manifest.json")


def test_a_full_profile_checkpoint_without_the_hub_exits_2(checkpoint, monkeypatch, capsys):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "profile": "full"}))
    write_manifest(checkpoint, exclude=("README.md",))
    monkeypatch.setattr(encoders, "hub_reachable", lambda *_: (False, "no network"))
    fails(_predict(checkpoint), capsys, "needs the Hugging Face hub", "--profile offline")


def test_predict_refuses_unusable_photos(run, tmp_path, capsys):
    _, report = run
    strip = tmp_path / "strip.png"
    Image.new("L", (4_000_000, 10)).save(strip)
    checkpoint = report / "model"
    fails([*_predict(checkpoint), "--image", str(strip)], capsys, "too long, too wide or too narrow")
    fails([*_predict(checkpoint), "--image", str(tmp_path / "nope.png")], capsys, "image file not found")


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_without_a_split_column_scores_the_rows_train_held_out(run, capsys):
    csv, report = run
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(report / "model"), "--data", str(csv)]) == 0
    captured = capsys.readouterr()
    held_out = json.loads((report / "metrics.json").read_text())["run"]["rows"]["test"]
    scored = json.loads(captured.out)
    assert scored["split"] == "test" and scored["rows"] == held_out
    assert f"scoring {held_out} rows" in captured.err and "train held out" in captured.err
    argv = ["evaluate", "--model", str(report / "model"), "--data", str(csv), "--split", "all"]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 24


def test_evaluate_refuses_when_the_held_out_rows_are_unknown(checkpoint, tmp_path, capsys):
    other = write_tiny_csv(tmp_path / "other", n=12, edit=lambda f: f.assign(review_id=f["review_id"] + "x"))
    fails(["evaluate", "--model", str(checkpoint), "--data", str(other)], capsys, "--split all")
    (checkpoint / "split.json").unlink()
    write_manifest(checkpoint, exclude=("README.md",))
    fails(["evaluate", "--model", str(checkpoint), "--data", str(other)], capsys, "--split all")


def test_the_split_record_uses_row_numbers_when_review_ids_repeat(tiny_csv, tmp_path):
    from mmsent.data import DataError, load_reviews, split_table
    from mmsent.hub.split_record import rows_to_score, split_record

    csv = tiny_csv(n=24, edit=lambda f: f.assign(review_id=["a", "b"] * 12))
    table = load_reviews(csv)
    splits = split_table(table, seed=0)
    record = split_record(table, splits, seed=0)
    assert record["key"] == "csv_row"
    rows, which = rows_to_score(table, "test", record)
    assert rows["csv_row"].tolist() == splits["test"]["csv_row"].tolist() and "csv_row" in which
    csv.write_text(csv.read_text() + "a,one more review,images/r000.png,positive,1,2\n")
    with pytest.raises(DataError, match="--split all"):
        rows_to_score(load_reviews(csv), "test", record)
