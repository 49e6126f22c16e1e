"""Pictures of training: learning curves, confusion matrices, metric tables, robustness curves.

Nothing here trains; every figure has a title and labelled axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:  # type hints only: importing viz stays light (no torch, no ipywidgets)


    pass


def plot_history(history, title: str = "Training curves"):
    """Loss (train and validation) and validation metrics per epoch, side by side.

    `history` is the DataFrame returned by `mmsent.train.fit`.
    """
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss_ax.plot(history["epoch"], history["train_loss"], marker="o", label="train")
    if "val_loss" in history:
        loss_ax.plot(history["epoch"], history["val_loss"], marker="o", label="validation")
    loss_ax.set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss (nats per review)")
    loss_ax.legend()
    for name in ("accuracy", "precision", "recall", "f1"):
        if f"val_{name}" in history:
            metric_ax.plot(history["epoch"], history[f"val_{name}"], marker="o", label=name)
    # The whole 0-1 range: a 0.001 change must not look like a cliff.
    metric_ax.set(title="Validation metrics (macro)", xlabel="epoch", ylabel="score (0-1)", ylim=(0, 1.02))
    metric_ax.legend()
    for ax in (loss_ax, metric_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], title: str = "Confusion matrix"):
    """A confusion matrix [true, predicted] of counts, with the count written in each cell."""
    fig, ax = plt.subplots(figsize=(1.4 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set(
        xticks=range(len(classes)),
        yticks=range(len(classes)),
        xticklabels=classes,
        yticklabels=classes,
        xlabel="predicted label",
        ylabel="true label",
        title=title,
    )
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(
            col, row, int(count), ha="center", va="center", color="white" if count > threshold else "black"
        )
    fig.colorbar(image, ax=ax, label="reviews")
    fig.tight_layout()
    return fig


def plot_metric_table(metrics: dict[str, dict[str, float]], title: str = "Test metrics by model"):
    """Grouped bars: one group per metric, one bar per model (e.g. fusion / text_only / image_only)."""
    models = list(metrics)
    names = ["accuracy", "precision", "recall", "f1"]
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    for i, model in enumerate(models):
        values = [metrics[model][name] for name in names]
        bars = ax.bar(np.arange(len(names)) + i * width, values, width, label=model)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(names)) + width * (len(models) - 1) / 2, names)
    ax.set(ylim=(0, 1.2), ylabel="score (0-1)", xlabel="metric (macro average)", title=title)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="upper center", ncols=len(models), fontsize=8)  # above the bars, never over them
    return fig


def plot_robustness(table, title: str = "Test accuracy as the photos go missing or get worse"):
    """One panel per condition of `mmsent.analysis.robustness.robustness_table` (photos removed, blur, JPEG),
    accuracy against strength, one line per model; harsher to the right in every panel."""
    conditions = list(dict.fromkeys(table["condition"]))
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.2 * len(conditions), 3.6), squeeze=False)
    for ax, condition in zip(axes[0], conditions, strict=True):
        part = table[table["condition"] == condition]
        for model, rows in part.groupby("model", sort=False):
            ax.plot(rows["strength"], rows["accuracy"], marker="o", label=model)
        if condition.startswith("JPEG"):
            ax.invert_xaxis()  # lower quality = harsher
        ax.set(title=condition.split(" (")[0], xlabel=condition, ylabel="test accuracy (0-1)", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
