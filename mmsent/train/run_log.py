"""Per-epoch metrics where the ecosystem's tools read them: `train --log-to tensorboard | mlflow`.

Each model's history (`history_<mode>.csv` in the report: one row per epoch) becomes one series per
metric (`train/loss`, `val/loss`, `val/accuracy`, `val/f1`, ..., `time/epoch_seconds`) at step = epoch:

- `tensorboard`: event files under `<log dir>/<mode>/`, written with
  `torch.utils.tensorboard.SummaryWriter` (the `tensorboard` package, extra `logging`);
  `tensorboard --logdir <log dir>` shows the models side by side.
- `mlflow`: one MLflow run per model (named `<report folder>/<mode>`, tagged `mmsent.model`) in the
  experiment "mmsent" of the local file store `<log dir>`, with the run's settings
  (`run_config.yaml`) as parameters (the `mlflow` or `mlflow-skinny` package, extra `mlflow`). Several
  runs pointed at one `--log-dir` share one store.

The log dir is `--log-dir`, else `tensorboard/` or `mlruns/` inside the report.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import yaml

from mmsent.config import RUN_CONFIG_FILE as CONFIG_FILE
from mmsent.errors import DataError

LOG_TARGETS = ("none", "tensorboard", "mlflow")
TENSORBOARD_DIR = "tensorboard"
MLFLOW_DIR = "mlruns"
DEFAULT_DIRS = {"tensorboard": TENSORBOARD_DIR, "mlflow": MLFLOW_DIR}
# target -> (the module it needs, the package that has it, the kit's extra that installs it)
NEEDS = {
    "tensorboard": ("torch.utils.tensorboard", "tensorboard", "logging"),
    "mlflow": ("mlflow", "mlflow", "mlflow"),
}
EXPERIMENT = "mmsent"
MLFLOW_BATCH = 1000  # metrics per MlflowClient.log_batch call: MLflow's limit


def check_target(target: str) -> None:
    """Refuse a target whose package is missing, before anything is trained."""
    if target not in NEEDS:
        return
    module, package, extra = NEEDS[target]
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise DataError(
            f"--log-to {target} needs the {package} package: pip install 'mmsent[{extra}]' "
            f'(from a checkout: pip install -e ".[{extra}]"); importing {module} failed: {error}'
        ) from error


def log_dir(target: str, report: Path, given: Path | None = None) -> Path | None:
    """Where `target` writes: `given` (--log-dir), else its folder inside `report`; None for "none"."""
    if target not in DEFAULT_DIRS:
        return None
    return given if given is not None else report / DEFAULT_DIRS[target]


def scalar_tag(column: str) -> str:
    """A history column as a metric name: train_loss -> train/loss, val_f1 -> val/f1."""
    if column == "seconds":
        return "time/epoch_seconds"
    split, _, name = column.partition("_")
    return f"{split}/{name}" if name else column


def epoch_scalars(history: pd.DataFrame) -> Iterator[tuple[str, float, int]]:
    """(metric name, value, epoch) for every filled cell of a history table."""
    for row in history.to_dict("records"):
        for column, value in row.items():
            if column != "epoch" and pd.notna(value):
                yield scalar_tag(column), float(value), int(row["epoch"])


def write(target: str, report: Path, given_dir: Path | None = None) -> Path | None:
    """Write the report's per-epoch histories to `target`; returns the log dir (None for "none")."""
    folder = log_dir(target, report, given_dir)
    if folder is None:
        return None
    histories = {
        path.stem.removeprefix("history_"): pd.read_csv(path) for path in sorted(report.glob("history_*.csv"))
    }
    (_tensorboard if target == "tensorboard" else _mlflow)(histories, folder, report)
    return folder


def _tensorboard(histories: dict[str, pd.DataFrame], folder: Path, report: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for mode, history in histories.items():
        with SummaryWriter(log_dir=str(folder / mode)) as writer:
            for tag, value, epoch in epoch_scalars(history):
                writer.add_scalar(tag, value, global_step=epoch)


def _mlflow(histories: dict[str, pd.DataFrame], folder: Path, report: Path) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    with _file_store_allowed():
        client = MlflowClient(tracking_uri=folder.resolve().as_uri())
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
        params = [Param(key, value) for key, value in run_params(report).items()]
        now = int(time.time() * 1000)
        for mode, history in histories.items():
            tags = {"mmsent.model": mode, "mmsent.report": str(report.resolve())}
            run_id = client.create_run(experiment_id, run_name=f"{report.name}/{mode}", tags=tags).info.run_id
            metrics = [Metric(tag, value, now, epoch) for tag, value, epoch in epoch_scalars(history)]
            client.log_batch(run_id, params=params)
            for start in range(0, len(metrics), MLFLOW_BATCH):
                client.log_batch(run_id, metrics=metrics[start : start + MLFLOW_BATCH])
            client.set_terminated(run_id)


def run_params(report: Path) -> dict[str, str]:
    """The run's effective settings (the report's run_config.yaml) as MLflow parameters: {flag: text}."""
    path = report / CONFIG_FILE
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    as_text = {key: ",".join(map(str, v)) if isinstance(v, list) else str(v) for key, v in settings.items()}
    return {key: value for key, value in as_text.items() if value != "None"}


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    """MLflow 3.x refuses a local file store unless MLFLOW_ALLOW_FILE_STORE is set (older ones ignore it)."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before
