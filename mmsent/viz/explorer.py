"""Explaining one review (`explain_review`, `plot_explanation`) and two ipywidgets explorers built on it.

The widgets are defined on first use, so importing `mmsent.viz` does not import ipywidgets.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from mmsent.viz.attention import show_attention

if TYPE_CHECKING:  # type hints only: importing viz stays light (no torch, no ipywidgets)
    from collections.abc import Mapping

    import ipywidgets

    from mmsent.data import LabelVocab, ReviewDataset
    from mmsent.models import MultimodalSentimentModel


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
    labels: LabelVocab,
    text: str,
    image_path: str | Path | None = None,
    true_label: str | None = None,
) -> ReviewExplanation:
    """Run `model` on one review (text + photo path, or None) -> `ReviewExplanation`. Never trains."""
    from mmsent.data import open_rgb
    from mmsent.train import predict_reviews

    result = predict_reviews(model, [text], [image_path], labels)
    probabilities = dict(zip(labels.classes, map(float, result.probabilities[0]), strict=True))
    has_photo = image_path is not None and result.attention is not None
    return ReviewExplanation(
        text=text,
        image=open_rgb(image_path) if image_path is not None else None,
        predicted=labels.classes[int(result.labels[0])],
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
    labels: LabelVocab,
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
        return explain_review(model, labels, review["text"], dataset.image_paths[row], review["label"])

    return _widget_class()({"review": slider}, explain)


def try_your_own(
    model: MultimodalSentimentModel,
    labels: LabelVocab,
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
        return explain_review(model, labels, controls["text"].value, controls["photo"].value)

    return _widget_class()(controls, explain)
