"""`python -m mmsent`: train writes the whole report, predict and evaluate read it back, bad input exits 2."""

from __future__ import annotations

import argparse
import json
import math

import pandas as pd
import pytest
from conftest import write_tiny_csv

from mmsent.cli import main as cli
from mmsent.config import RunOptions, TrainConfig, flag_fields
from mmsent.data.synth import generate_reviews

REPORT_FILES = {
    "metrics.json", "ablation.png", "attention.png", "confusion.png", "skipped_rows.txt", "skipped_rows.csv",
    "curves_fusion.png", "curves_text_only.png", "curves_image_only.png", "history_fusion.csv",
}  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 3-class CSV with one broken photo, trained for one epoch with the tiny profile -> report folder.

    Trained once for the module: the tests only read what the run wrote."""
    folder = tmp_path_factory.mktemp("cli")
    csv = write_tiny_csv(folder / "data", n=30, classes=("good", "meh", "bad"))
    (csv.parent / "images" / "r004.png").write_bytes(b"not a png")
    report = folder / "report"
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--epochs", "1", "--batch-size", "4"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSENT_CACHE_DIR", str(folder / "cache"))
        assert cli.main([*argv, "--report-dir", str(report), "--no-progress"]) == 0
    return csv, report


def test_train_writes_metrics_plots_problems_and_the_model_folder(trained):
    _, report = trained
    assert REPORT_FILES <= {path.name for path in report.iterdir()}
    metrics = json.loads((report / "metrics.json").read_text())
    for model in ("fusion", "text_only", "image_only"):
        scores = {k: v for k, v in metrics[model].items() if k != "attention_lift"}
        assert set(scores) == {"accuracy", "precision", "recall", "f1"}
        right = scores["accuracy"] * metrics["run"]["rows"]["test"]  # a whole number of test reviews
        assert right == pytest.approx(round(right), abs=1e-9), (model, scores)
    assert metrics["fusion"]["attention_lift"] is None  # these photos have no damage masks
    assert list(pd.read_csv(report / "history_fusion.csv")["epoch"]) == [1]
    assert metrics["run"]["row_problems"] == 1 and metrics["run"]["profile"] == "tiny"
    assert "not an image" in (report / "skipped_rows.txt").read_text()
    files = {p.name for p in (report / "model").iterdir()}
    assert files == {"model.safetensors", "config.json", "README.md", "manifest.json", "split.json"}
    config = json.loads((report / "model" / "config.json").read_text())
    assert config["labels"] == ["bad", "good", "meh"] and config["recipe"]["batch_size"] == 4


def test_predict_and_evaluate_read_the_model_folder(trained, capsys):
    csv, report = trained
    capsys.readouterr()
    photo = csv.parent / "images" / "r000.png"
    argv = ["predict", "--model", str(report / "model"), "--text", "great", "--image", str(photo)]
    assert cli.main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert answer["gate"] > 0  # a photo that is there is used
    assert cli.main(argv[:-2]) == 0  # the same review without its photo: the gate shuts it out
    assert json.loads(capsys.readouterr().out)["gate"] == 0.0

    # evaluate scores the test rows train held out, and finds what train measured on them
    metrics = json.loads((report / "metrics.json").read_text())
    argv = ["evaluate", "--model", str(report / "model"), "--data", str(csv)]
    assert cli.main(argv) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["rows"] == metrics["run"]["rows"]["test"]
    assert scored["accuracy"] == round(metrics["fusion"]["accuracy"], 4)
    assert cli.main([*argv, "--split", "all"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 30  # the broken photo's review is kept text-only


def test_evaluate_scores_the_training_file_by_default_and_says_when_a_file_differs(trained, capsys, tmp_path):
    csv, report = trained
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(report / "model")]) == 0
    out, err = capsys.readouterr()
    assert f"evaluating on {csv}: the file the model was trained on" in err
    assert json.loads(out)["rows"] == json.loads((report / "metrics.json").read_text())["run"]["rows"]["test"]
    edited = tmp_path / "edited.csv"
    edited.write_text(csv.read_text().replace("review number 1 ", "review number one "))
    (tmp_path / "images").symlink_to(csv.parent / "images")
    argv = ["evaluate", "--model", str(report / "model"), "--data", str(edited), "--allow-outside-paths"]
    assert cli.main(argv) == 0
    assert f"note: {edited} is not the file the model was trained on ({csv}" in capsys.readouterr().err


def test_bad_table_exits_2_with_a_message_and_no_traceback(tiny_csv, tmp_path, capsys):
    csv = tiny_csv(edit=lambda frame: frame.rename(columns={"label": "sentiment"}))
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--report-dir", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "label" in error and "Traceback" not in error


def test_every_flag_of_every_command_is_documented():
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        for action in parser._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.option_strings)


def test_train_flags_take_their_defaults_from_the_configs():
    """One default per setting: the flags of TrainConfig's fields are built from them, the others
    default to RunOptions'; --help shows each default."""
    args = cli.build_parser().parse_args(["train"])
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    exposed = flag_fields(TrainConfig)
    assert {o.name for o in exposed} == {
        "epochs", "batch_size", "lr", "head_lr", "max_length", "seed", "cache_text_layers"
    }
    for option in exposed:
        assert getattr(args, option.name) == getattr(TrainConfig(), option.name)
        flag = next(a for a in train._actions if a.dest == option.name)
        name = "--" + option.name.replace("_", "-")
        switch = isinstance(option.default, bool)  # --name / --no-name
        assert flag.option_strings == ([name, "--no-" + name[2:]] if switch else [name])
        assert option.metadata["help"] in flag.help and "(default " in flag.help
    run = RunOptions()
    for name in ("data", "columns", "profile", "train_text_layers", "train_image_encoder", "global_embedding",
                 "allow_outside_paths", "device"):
        assert getattr(args, name) == getattr(run, name), name
    assert tuple(args.models) == tuple(run.models) and args.no_progress == (not run.progress)


def test_no_cache_text_layers_reaches_the_training_config(monkeypatch, tmp_path):
    """--no-cache-text-layers (a switch generated from TrainConfig.cache_text_layers) trains with the whole
    text encoder at every step; without it the frozen layers' states are cached."""
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[TrainConfig] = []
    monkeypatch.setattr(
        "mmsent.analysis.ablation.train_and_report", lambda config, *_, **__: seen.append(config)
    )
    for extra, cached in (([], True), (["--no-cache-text-layers"], False), (["--cache-text-layers"], True)):
        assert cli.main(["train", "--report-dir", str(tmp_path / f"r{len(seen)}"), *extra]) == 0
        assert seen[-1].cache_text_layers is cached, extra


def test_columns_flag_reads_a_csv_with_other_column_names(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "cache"))
    renamed = {"text": "reviewText", "image_path": "photo", "label": "sentiment", "review_id": "asin"}
    csv = tiny_csv(n=16, edit=lambda frame: frame.rename(columns=renamed))
    argv = ["train", "--data", str(csv), "--profile", "tiny", "--epochs", "1", "--batch-size", "4"]
    argv += ["--models", "fusion", "--report-dir", str(tmp_path / "r"), "--no-progress"]
    assert cli.main(argv) == 2
    assert "--columns" in capsys.readouterr().err  # the message shows the flag that fixes it
    flag = ",".join(f"{theirs}={ours}" for ours, theirs in renamed.items())  # reviewText=text,...
    assert cli.main([*argv, "--columns", flag]) == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["run"]["rows"]["train"] > 0


@pytest.mark.parametrize("value", ["text", "a=b=c", "=text", "a=b,,c"])
def test_columns_flag_rejects_malformed_pairs(value, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--columns", value])
    assert "YOUR_NAME=OUR_NAME" in capsys.readouterr().err


def test_train_measures_the_attention_lift_on_the_bundled_kind_of_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "cache"))
    generate_reviews(n=100, seed=0, out_dir=tmp_path / "data")  # reviews.csv + photos, as data/ holds
    argv = ["train", "--data", str(tmp_path / "data" / "reviews.csv"), "--profile", "tiny", "--epochs", "1"]
    argv += ["--batch-size", "16", "--models", "fusion", "--report-dir", str(tmp_path / "r"), "--no-progress"]
    assert cli.main(argv) == 0
    lift = json.loads((tmp_path / "r" / "metrics.json").read_text())["fusion"]["attention_lift"]
    assert isinstance(lift, float) and math.isfinite(lift) and lift > 0  # a tiny model need not point
    assert f"attention lift on the damage: {lift:.2f}" in capsys.readouterr().out
    recipe = json.loads((tmp_path / "r" / "model" / "config.json").read_text())["recipe"]
    assert recipe["attention_loss_weight"] == TrainConfig().attention_loss_weight > 0  # points by default


def test_train_summary_says_what_one_review_is_worth_and_names_its_seconds():
    from mmsent.analysis import ablation as pipeline

    scores = {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "f1": 0.9, "attention_lift": None}
    text = pipeline._summary({"fusion": scores, "run": {"rows": {"test": 54}, "seconds": 12.3}}, ["fusion"])
    assert "on 54 test reviews: one review is 1.9 accuracy points" in text
    assert text.splitlines()[-1] == "train took 12 s (wall clock: reading, training, testing)"
