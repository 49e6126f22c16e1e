"""Runs the ecosystem can read: train --config FILE, --log-to tensorboard, and no flag abbreviations."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import write_tiny_csv

from mmsent import cli
from mmsent.cli_common import command_parser, parse_command_line
from mmsent.config import TrainConfig


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    return stopped.value.code


def test_a_typo_is_an_error_naming_the_closest_flag(capsys):
    assert _exit_code(["train", "--epoch", "2"]) == 2
    error = capsys.readouterr().err
    assert "--epoch 2" in error and "did you mean --epochs?" in error and "Traceback" not in error
    assert _exit_code(["evaluate", "--mod", "x"]) == 2  # --mod is no longer --model
    assert "did you mean --model?" in capsys.readouterr().err


@pytest.fixture(scope="module")
def configured_run(tmp_path_factory):
    """train --config run.yaml --seed 3 --log-to tensorboard, tiny profile, two epochs."""
    folder = tmp_path_factory.mktemp("config")
    csv = write_tiny_csv(folder / "data", n=24, classes=("good", "bad"))
    run = folder / "run.yaml"
    run.write_text(yaml.safe_dump({
        "data": str(csv), "profile": "tiny", "epochs": 2, "batch-size": 4, "lr": "1e-4", "seed": 1,
        "models": ["fusion", "text_only"], "global_embedding": False, "no-progress": True,
    }))  # fmt: skip
    report = folder / "report"
    argv = ["train", "--config", str(run), "--seed", "3", "--report-dir", str(report)]
    argv += ["--log-to", "tensorboard"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSENT_CACHE_DIR", str(folder / "cache"))
        assert cli.main(argv) == 0
    return run, report, argv


def test_the_file_sets_every_flag_and_the_command_line_wins(configured_run):
    run, report, argv = configured_run
    saved = yaml.safe_load((report / "run_config.yaml").read_text())
    assert saved["epochs"] == 2 and saved["batch-size"] == 4 and saved["lr"] == 1e-4
    assert saved["seed"] == 3  # the flag, not the file's 1
    assert saved["models"] == ["fusion", "text_only"] and saved["global-embedding"] is False
    assert saved["log-to"] == "tensorboard" and "overwrite" not in saved
    recipe = TrainConfig.from_dict(yaml.safe_load((report / "model" / "config.json").read_text())["recipe"])
    assert (recipe.epochs, recipe.batch_size, recipe.seed) == (2, 4, 3)
    assert {path.name for path in report.iterdir()} >= {"model", "model_text_only", "history_fusion.csv"}
    # the saved file reads back into the same settings
    parser = cli._parser()
    again = parse_command_line(parser, ["train", "--config", str(report / "run_config.yaml")])
    first = parse_command_line(cli._parser(), argv)
    for dest in ("data", "profile", "epochs", "batch_size", "lr", "seed", "models", "global_embedding"):
        assert getattr(again, dest) == getattr(first, dest), dest


def test_tensorboard_reads_the_per_epoch_metrics(configured_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, report, _ = configured_run
    for mode in ("fusion", "text_only"):
        events = EventAccumulator(str(report / "tensorboard" / mode))
        events.Reload()
        assert {"train/loss", "val/loss", "val/accuracy", "val/f1"} <= set(events.Tags()["scalars"])
        history = pd.read_csv(report / f"history_{mode}.csv")
        accuracy = events.Scalars("val/accuracy")
        assert [e.step for e in accuracy] == [1, 2]
        assert [e.value for e in accuracy] == pytest.approx(list(history["val_accuracy"]), abs=1e-6)


@pytest.mark.parametrize(
    "content, message",
    [
        ("batch-size: 0", "batch-size"),
        ("epoch: 2", "did you mean 'epochs'"),
        ("global-embedding: maybe", "switch"),
        ("profile: huge", "not one of"),
        ("- a list", "mapping"),
        ("epochs: [1", "not valid YAML"),
    ],
)
def test_bad_values_in_the_file_fail_like_bad_flags(content, message, tmp_path, capsys):
    run = tmp_path / "run.yaml"
    run.write_text(content + "\n")
    assert _exit_code(["train", "--config", str(run), "--report-dir", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert str(run) in error and message in error and "Traceback" not in error


def test_a_toml_file_reads_like_yaml(tmp_path):
    run = tmp_path / "run.toml"
    run.write_text('epochs = 3\nmodels = ["fusion"]\nno-progress = true\ncolumns = {reviewText = "text"}\n')
    args = parse_command_line(cli._parser(), ["train", "--config", str(run)])
    assert (args.epochs, args.models, args.no_progress) == (3, ["fusion"], True)
    assert args.columns == {"reviewText": "text"}
    assert command_parser(cli._parser(), "train").get_default("epochs") == TrainConfig().epochs  # no leak
