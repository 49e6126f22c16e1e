"""Per-epoch metrics where the ecosystem's tools read them: `train --log-to tensorboard`.

Each model's history (`history_<mode>.csv` in the report: one row per epoch) becomes TensorBoard
event files under `<report>/tensorboard/<mode>/`, one scalar per metric (`train/loss`, `val/loss`,
`val/accuracy`, `val/f1`, ..., `time/epoch_seconds`) at step = epoch, written with
`torch.utils.tensorboard.SummaryWriter` (the `tensorboard` package: `pip install tensorboard`).
`tensorboard --logdir <report>/tensorboard` shows the three models side by side.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mmsent.errors import DataError

LOG_TARGETS = ("none", "tensorboard")
TENSORBOARD_DIR = "tensorboard"


def check_target(target: str) -> None:
    """Refuse a target whose package is missing, before anything is trained."""
    if target != "tensorboard":
        return
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as error:
        raise DataError(
            "--log-to tensorboard needs the tensorboard package: pip install tensorboard "
            f"(or pip install 'mmsent[logging]'); {error}"
        ) from error


def scalar_tag(column: str) -> str:
    """A history column as a TensorBoard tag: train_loss -> train/loss, val_f1 -> val/f1."""
    if column == "seconds":
        return "time/epoch_seconds"
    split, _, name = column.partition("_")
    return f"{split}/{name}" if name else column


def write(target: str, report: Path) -> None:
    """Write the report's per-epoch histories to `target` (nothing for "none")."""
    if target != "tensorboard":
        return
    from torch.utils.tensorboard import SummaryWriter

    for history_csv in sorted(report.glob("history_*.csv")):
        mode = history_csv.stem.removeprefix("history_")
        history = pd.read_csv(history_csv)
        with SummaryWriter(log_dir=str(report / TENSORBOARD_DIR / mode)) as writer:
            for row in history.to_dict("records"):
                for column, value in row.items():
                    if column != "epoch" and pd.notna(value):
                        writer.add_scalar(scalar_tag(column), float(value), global_step=int(row["epoch"]))
