"""Pictures of training and of attention. Nothing here trains; every figure has a title and labelled axes.

The attention heat maps turn the per-patch weights of `CrossModalAttention` ([patches], a
square grid of the photo read row by row) back into a picture laid over the photo.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

if TYPE_CHECKING:  # type hints only: importing viz stays light (no torch, no ipywidgets)
    from collections.abc import Mapping

    import ipywidgets

    from mmsent.data import LabelVocab, ReviewDataset
    from mmsent.models import MultimodalSentimentModel


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
    """One panel per condition of `mmsent.robustness.robustness_table` (photos removed, blur, JPEG),
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


ATTENTION_LABEL = "attention on a patch, in multiples of an even split (1 = flat)"


def attention_in_flat_units(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per-patch weights [patches] -> a [height, width] map of each pixel's patch weight x patches.

    An even split (every patch 1/patches) is 1 everywhere; 3 means three times an even share.
    One unit for every map, so maps drawn on one colour scale can be compared.
    """
    return attention_map(weights, size) * (size[0] * size[1])  # each pixel: its patch's weight x patches


def show_attention(
    image: Image.Image,
    weights: np.ndarray,
    ax=None,
    title: str = "",
    alpha: float = 0.5,
    vmax: float | None = None,
):
    """Lay the attention over the photo: bright = the patches the review looked at.

    The colours run from 0 to `vmax` in multiples of an even split (`attention_in_flat_units`);
    pass the same `vmax` to several maps to put them on one scale (`attention_grid` does), and
    add `colorbar(ax.images[-1], label=ATTENTION_LABEL)`. By default `vmax` is this map's own peak.
    """
    ax = ax or plt.gca()
    ax.imshow(image)
    heat = attention_in_flat_units(weights, image.size)
    ax.imshow(heat, cmap="inferno", alpha=alpha, extent=(0, image.size[0], image.size[1], 0),
              vmin=0.0, vmax=vmax if vmax is not None else max(float(heat.max()), 1e-6))
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
    vmax: float | None = None,
):
    """A grid of photos with their attention heat maps, on one shared colour scale with a colour bar.

    `titles` carries each review's story. `vmax` (in multiples of an even split) defaults to the
    largest patch weight of all the maps shown, so a flat map looks flat next to a peaked one.
    """
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.0 * columns + 0.8, 3.4 * rows), squeeze=False, layout="constrained"
    )
    if vmax is None:
        vmax = max(float(np.max(w)) * np.size(w) for w in weights) if len(weights) else 1.0
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, weight, title in zip(axes.flat, images, weights, titles, strict=False):
        ax.axis("on")
        show_attention(image, weight, ax=ax, title=title, vmax=vmax)
    if len(images):
        fig.colorbar(axes.flat[0].images[-1], ax=axes, label=ATTENTION_LABEL, shrink=0.8)
    fig.suptitle(suptitle)
    return fig


# --------------------------------------------------------------------------------------
# Explaining one review, and two ipywidgets explorers built on it
# --------------------------------------------------------------------------------------


def plain_text(text: str, width: int | None = None) -> str:
    """Text a plot title can draw: emoji spelled out ('🔥' -> '[fire]'), cut to `width` characters.

    Matplotlib's default font has no emoji; drawing one gives a warning and an empty box.
    """
    plain = "".join(
        f"[{unicodedata.name(char, 'emoji').lower()}]" if unicodedata.category(char) == "So" else char
        for char in str(text).replace("\n", " ")
        if unicodedata.category(char) not in {"Mn", "Cf"}  # invisible modifiers and joiners
    )
    return plain if width is None or len(plain) <= width else plain[: width - 3] + "..."


@dataclass
class ReviewExplanation:
    """What the model makes of one review: the answer, how sure it is, where and how much it looked.

    probabilities: {class: probability}; attention: [patches] (sums to 1) or None without a photo
    or in text_only mode; gate in [0, 1] (0 = the photo was ignored) or None in text_only mode.
    """

    text: str
    image: Image.Image | None
    predicted: str
    probabilities: dict[str, float]
    attention: np.ndarray | None
    gate: float | None
    true_label: str | None = None

    def summary(self) -> str:
        """One line: prediction, its probability, the gate and (when known) the true label."""
        line = f"predicted {self.predicted} (p = {self.probabilities[self.predicted]:.2f})"
        if self.gate is not None:
            line += f", gate {self.gate:.2f}"
        if self.true_label is not None:
            line += f", true label {self.true_label}" + (
                " [right]" if self.true_label == self.predicted else " [WRONG]"
            )
        return line


def explain_review(
    model: MultimodalSentimentModel,
    label_encoder: LabelVocab,
    text: str,
    image_path: str | Path | None = None,
    true_label: str | None = None,
) -> ReviewExplanation:
    """Run `model` on one review (text + photo path, or None) -> `ReviewExplanation`. Never trains."""
    from mmsent.data import open_rgb
    from mmsent.train import predict_reviews

    result = predict_reviews(model, [text], [image_path], label_encoder)
    probabilities = dict(zip(label_encoder.classes, map(float, result.probabilities[0]), strict=True))
    has_photo = image_path is not None and result.attention is not None
    return ReviewExplanation(
        text=text,
        image=open_rgb(image_path) if image_path is not None else None,
        predicted=label_encoder.classes[int(result.labels[0])],
        probabilities=probabilities,
        attention=result.attention[0] if has_photo else None,
        gate=float(result.gate[0]) if result.gate is not None else None,
        true_label=true_label,
    )


def plot_explanation(explanation: ReviewExplanation) -> plt.Figure:
    """The photo with its attention heat map, beside the class probabilities (gate in the title)."""
    fig, (photo_ax, bar_ax) = plt.subplots(1, 2, figsize=(8, 3.4), width_ratios=(1, 1.3))
    if explanation.image is None:
        photo_ax.text(0.5, 0.5, "no photo", ha="center", va="center")
        photo_ax.set(xticks=[], yticks=[], title="No photo: text only")
    elif explanation.attention is None:
        photo_ax.imshow(explanation.image)
        photo_ax.set(xticks=[], yticks=[], title="The photo (this model does not look at it)")
    else:
        show_attention(
            explanation.image, explanation.attention, ax=photo_ax, title="Attention over the photo"
        )
    photo_ax.set(xlabel="bright = patches the review looked at")
    classes = list(explanation.probabilities)
    bars = bar_ax.barh(classes, [explanation.probabilities[c] for c in classes], color="tab:blue")
    bar_ax.bar_label(bars, fmt="%.2f")
    gate = "no gate (text only)" if explanation.gate is None else f"gate {explanation.gate:.2f}"
    bar_ax.set(xlim=(0, 1.15), xlabel="probability", ylabel="class", title=f"Prediction ({gate})")
    fig.suptitle(plain_text(f'"{explanation.text}"', 90), fontsize=10)
    fig.tight_layout()
    return fig


@functools.cache
def _widget_class():
    """`Explorer`, defined on first use so that importing mmsent.viz does not import ipywidgets."""
    import ipywidgets as widgets
    from IPython.display import display

    class Explorer(widgets.VBox):
        """Controls above an output area. `update()` explains the review the controls select,
        draws it and returns the `ReviewExplanation`; every change of a control calls it."""

        def __init__(self, controls: dict, explain) -> None:
            self.controls = controls
            self.output = widgets.Output()
            self.last: ReviewExplanation | None = None
            self._explain = explain
            super().__init__([*controls.values(), self.output])
            for control in controls.values():
                control.observe(lambda _change: self.update(), names="value")
            self.update()

        def update(self) -> ReviewExplanation:
            self.last = self._explain(self.controls)
            self.output.clear_output(wait=True)
            with self.output:
                figure = plot_explanation(self.last)
                display(figure)
                plt.close(figure)
                print(self.last.summary())
            return self.last

    return Explorer


def review_explorer(
    model: MultimodalSentimentModel,
    dataset: ReviewDataset,
    label_encoder: LabelVocab,
    rows: Sequence[int] | None = None,
) -> ipywidgets.VBox:
    """A widget to browse reviews of `dataset` (a `ReviewDataset`): slide to a review, see its photo,
    heat map, text, prediction, probabilities and gate. `rows` limits it to some rows (e.g. the errors).

    Returns an `Explorer` (an ipywidgets VBox): `.controls["review"]` is the slider (a position in
    `rows`), `.update()` redraws and returns the `ReviewExplanation` shown.
    """
    import ipywidgets as widgets

    frame = dataset.frame
    rows = list(range(len(frame))) if rows is None else [int(row) for row in rows]
    if not rows:
        raise ValueError("review_explorer needs at least one row to show.")
    slider = widgets.IntSlider(
        value=0, min=0, max=len(rows) - 1, description="review", continuous_update=False
    )

    def explain(controls) -> ReviewExplanation:
        row = rows[controls["review"].value]
        review = frame.iloc[row]
        return explain_review(model, label_encoder, review["text"], dataset.image_paths[row], review["label"])

    return _widget_class()({"review": slider}, explain)


def try_your_own(
    model: MultimodalSentimentModel,
    label_encoder: LabelVocab,
    photos: Mapping[str, str | Path],
    text: str = "Well. It arrived.",
) -> ipywidgets.VBox:
    """A widget to type a review and pick a photo, then see the prediction, probabilities, heat map and gate.

    `photos`: {name: image path} for the dropdown ("no photo" is added). Returns an `Explorer`:
    `.controls["text"]` and `.controls["photo"]` are the inputs, `.update()` redraws and returns the
    `ReviewExplanation` shown.
    """
    import ipywidgets as widgets

    options = [("no photo", None), *((name, str(path)) for name, path in dict(photos).items())]
    controls = {
        "text": widgets.Textarea(value=text, description="review", continuous_update=False),
        "photo": widgets.Dropdown(options=options, value=options[-1][1], description="photo"),
    }

    def explain(controls) -> ReviewExplanation:
        return explain_review(model, label_encoder, controls["text"].value, controls["photo"].value)

    return _widget_class()(controls, explain)
