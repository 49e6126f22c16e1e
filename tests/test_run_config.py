"""Runs the ecosystem can read: train --config FILE, --log-to tensorboard, and no flag abbreviations."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import yaml
from conftest import write_tiny_csv

from mmsent.cli import main as cli
from mmsent.cli.common import command_parser, parse_command_line
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
    parser = cli.build_parser()
    again = parse_command_line(parser, ["train", "--config", str(report / "run_config.yaml")])
    first = parse_command_line(cli.build_parser(), argv)
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
        pytest.param("# " + "x" * (1 << 20), "over the 1,048,576 a file", id="oversize"),  # not read
        pytest.param(b"epochs: \xff", "not UTF-8 text", id="not-utf8"),
    ],
)
def test_bad_values_in_the_file_fail_like_bad_flags(content, message, tmp_path, capsys):
    run = tmp_path / "run.yaml"
    run.write_bytes((content if isinstance(content, bytes) else content.encode()) + b"\n")
    assert _exit_code(["train", "--config", str(run), "--report-dir", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert str(run) in error and message in error and "Traceback" not in error


def test_a_toml_file_reads_like_yaml(tmp_path):
    run = tmp_path / "run.toml"
    run.write_text('epochs = 3\nmodels = ["fusion"]\nno-progress = true\ncolumns = {reviewText = "text"}\n')
    args = parse_command_line(cli.build_parser(), ["train", "--config", str(run)])
    assert (args.epochs, args.models, args.no_progress) == (3, ["fusion"], True)
    assert args.columns == {"reviewText": "text"}
    fresh = command_parser(cli.build_parser(), "train")
    assert fresh.get_default("epochs") == TrainConfig().epochs  # no leak


def test_mlflow_reads_the_per_epoch_metrics_and_settings(configured_run, tmp_path):
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'mmsent[mlflow]'): no reader")
    from mlflow.tracking import MlflowClient

    from mmsent.train import run_log

    _, report, _ = configured_run
    store = tmp_path / "mlruns"
    assert run_log.write("mlflow", report, store) == store
    run_log.write("mlflow", report, store)  # a second run into the same store: one experiment, four runs
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("mmsent")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.info.run_name for run in runs) == sorted(
        [f"{report.name}/fusion", f"{report.name}/text_only"] * 2
    )
    for run in runs:
        mode = run.data.tags["mmsent.model"]
        history = pd.read_csv(report / f"history_{mode}.csv")
        accuracy = client.get_metric_history(run.info.run_id, "val/accuracy")
        assert [m.step for m in sorted(accuracy, key=lambda m: m.step)] == [1, 2]
        values = [m.value for m in sorted(accuracy, key=lambda m: m.step)]
        assert values == pytest.approx(list(history["val_accuracy"]), abs=1e-6)
        assert {"train/loss", "val/f1", "time/epoch_seconds"} <= set(run.data.metrics)
        assert run.data.params["seed"] == "3" and run.data.params["models"] == "fusion,text_only"
        assert run.info.status == "FINISHED"


def test_log_to_mlflow_without_mlflow_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    argv = ["train", "--profile", "tiny", "--report-dir", str(tmp_path / "r"), "--log-to", "mlflow"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --log-to mlflow needs the mlflow package") and "mmsent[mlflow]" in error
    assert "\n" not in error and not (tmp_path / "r").exists()  # refused before any training
    assert cli.main([*argv[:-2], "--log-dir", str(tmp_path / "logs")]) == 2
    assert "--log-dir says where --log-to writes" in capsys.readouterr().err
