"""Pictures of training and of attention. Nothing here trains; every figure has a title and labelled axes.

The attention heat maps turn the per-patch weights of `CrossModalAttention` ([patches], a
square grid of the photo read row by row) back into a picture laid over the photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


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
    metric_ax.set(title="Validation metrics (macro)", xlabel="epoch", ylabel="score (0-1)")
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
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, model in enumerate(models):
        values = [metrics[model][name] for name in names]
        bars = ax.bar(np.arange(len(names)) + i * width, values, width, label=model)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(np.arange(len(names)) + width * (len(models) - 1) / 2, names)
    ax.set(ylim=(0, 1.08), ylabel="score (0-1)", xlabel="metric (macro average)", title=title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def attention_map(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per-patch weights [patches] (a square grid, row by row) -> a [height, width] map.

    Each patch's weight is spread evenly over its pixels, so the map still sums to 1.
    """
    weights = np.asarray(weights, dtype=np.float32)
    side = math.isqrt(weights.size)
    if side * side != weights.size:
        raise ValueError(f"expected a square grid of patch weights, got {weights.size} patches")
    grid = weights.reshape(side, side)
    up = np.asarray(Image.fromarray(grid).resize(size, Image.NEAREST))
    return up / up.sum() if up.sum() > 0 else up


def show_attention(image: Image.Image, weights: np.ndarray, ax=None, title: str = "", alpha: float = 0.5):
    """Lay the attention over the photo: bright = the patches the review looked at."""
    ax = ax or plt.gca()
    ax.imshow(image)
    heat = attention_map(weights, image.size)
    ax.imshow(heat, cmap="inferno", alpha=alpha, extent=(0, image.size[0], image.size[1], 0))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def attention_grid(
    images: Sequence[Image.Image],
    weights: Sequence[np.ndarray],
    titles: Sequence[str],
    columns: int = 4,
    suptitle: str = "Where each review looked: cross-modal attention over the photo's patches",
):
    """A grid of photos with their attention heat maps; `titles` carries each review's story."""
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, weight, title in zip(axes.flat, images, weights, titles, strict=False):
        ax.axis("on")
        show_attention(image, weight, ax=ax, title=title)
    fig.suptitle(suptitle)
    fig.supxlabel("photo width (patches)")
    fig.supylabel("photo height (patches)")
    fig.tight_layout()
    return fig
