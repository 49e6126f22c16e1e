"""Pictures of `Explained` and the files `python -m mmsent evaluate --explanations` writes.

    explanation_gallery(explained)      the same reviews under every method, on one colour scale
    deletion_plot(explained)            mean deletion curve per method, random order included
    sanity_plot(explained)              mean rank correlation after each re-initialisation, per method
    method_beside_attention(model, text, photo, method)   one review: attention and a method's map (the demo)
    write_explanations(model, frame, image_paths, out_dir)   table (CSV + Markdown) and the three PNGs
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image
from torch import nn

from mmsent import viz
from mmsent.errors import UsageError
from mmsent.explain.methods import METHODS, as_weights, predicted_class, prepare_review
from mmsent.explain.run import COLUMNS, Explained, explain_reviews
from mmsent.explain.scores import PARTS

MAP_LABEL = "weight of a patch (the map's positive part),\nin multiples of an even split (1 = flat)"


def explanation_gallery(explained: Explained, reviews: int = 4, suptitle: str = ""):
    """A grid: one row per review (the first `reviews`), the photo with its damage outlined, then each
    method's map as weights (`as_weights`), all on one colour scale (multiples of an even split)."""
    names = list(explained.maps)
    shown = range(min(reviews, len(explained.positions)))
    weights = {name: [as_weights(explained.maps[name][i]) for i in shown] for name in names}
    vmax = max(float(w.max()) * w.size for row in weights.values() for w in row)
    fig, axes = plt.subplots(len(shown), len(names) + 1, figsize=(1.9 * (len(names) + 1), 2.0 * len(shown)),
                             layout="constrained", squeeze=False)
    for i in shown:
        photo, mask = explained.photos[i], explained.masks[i]
        axes[i, 0].imshow(photo)
        if mask is not None:
            axes[i, 0].contour(mask, levels=[0.5], colors="cyan", linewidths=0.8)
        axes[i, 0].set(xticks=[], yticks=[])
        axes[i, 0].set_title("photo", fontsize=8)
        for column, name in enumerate(names, start=1):
            title = name if i == 0 else ""
            viz.show_attention(photo, weights[name][i], ax=axes[i, column], vmax=vmax, title=title)
    fig.colorbar(axes[0, 1].images[-1], ax=axes, label=MAP_LABEL, shrink=0.6)
    outlined = any(mask is not None for mask in explained.masks)
    fig.suptitle(suptitle or "The same reviews under every method, on one colour scale"
                 + (" (cyan: the damage)" if outlined else ""))
    return fig


def deletion_plot(explained: Explained, ax=None):
    """Mean probability of the predicted class as each method's top patches go grey."""
    ax = ax or plt.subplots(figsize=(6.5, 4))[1]
    for name, curves in explained.curves.items():
        mean = curves.mean(axis=0)
        ax.plot(np.linspace(0, 1, len(mean)), mean, label=name,
                linestyle="--" if name == "random" else "-", color="black" if name == "random" else None)
    ax.set(xlabel="share of the photo's patches greyed out, top of the map first",
           ylabel="probability of the predicted class",
           title="Deletion: which map finds what the model needs?")
    ax.legend(fontsize=8)
    return ax


def sanity_plot(explained: Explained, ax=None):
    """Grouped bars: each method's mean rank correlation with its map after each re-initialisation."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    means = explained.sanity.groupby(["method", "part"])["rank correlation"].mean().unstack("part")
    means = means.loc[list(explained.maps), list(PARTS)]
    positions = np.arange(len(means))
    for offset, part in zip((-0.2, 0.2), PARTS, strict=True):
        ax.bar(positions + offset, means[part].fillna(0.0), width=0.4, label=f"{part} re-initialised")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(positions, means.index, rotation=25, ha="right")
    ax.set(ylabel="rank correlation with the trained model's map", ylim=(-0.5, 1.05),
           title="Sanity check (Adebayo et al.): does the map change when the model does?")
    ax.legend(fontsize=8)
    return ax


def method_beside_attention(model: nn.Module, text: str, photo: Image.Image, method: str,
                            classes: Sequence[str] | None = None):
    """One review's attention and `method`'s map (`METHODS`), side by side on one colour scale, for the
    class the model predicts (named from `classes` when given). -> a matplotlib figure."""
    if method not in METHODS:
        raise UsageError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    review = prepare_review(model, text, photo)
    target = predicted_class(model, review)
    weights = [as_weights(METHODS[name](model, review, target)) for name in ("attention", method)]
    vmax = max(float(w.max()) * w.size for w in weights)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.9), layout="constrained")
    for ax, name, w in zip(axes, ("attention", method), weights, strict=True):
        viz.show_attention(photo, w, ax=ax, vmax=vmax, title=name)
    fig.colorbar(axes[0].images[-1], ax=axes, label=MAP_LABEL, shrink=0.9)
    fig.suptitle(f"Evidence for {classes[target] if classes else f'class {target}'!r}, bright = more")
    return fig


def markdown_table(table: pd.DataFrame) -> str:
    """The methods x scores table as Markdown, 2 decimals (nan: not measurable on these reviews)."""
    header = "| method | " + " | ".join(table.columns) + " |"
    lines = [header, "| --- |" + " ---: |" * len(table.columns)]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join("n/a" if pd.isna(v) else f"{v:.2f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_explanations(
    model: nn.Module,
    frame: pd.DataFrame,
    image_paths: Sequence[str | None],
    out_dir: Path,
    limit: int = 64,
    progress: bool = True,
) -> Explained:
    """Explain and score up to `limit` reviews (`explain_reviews`), and write to `out_dir`:
    explanations.csv and explanations.md (the table), explanations.json (the table, the reviews measured
    and the note), gallery.png, deletion.png and sanity.png. Prints the table and the note."""
    if not model.uses_image:
        raise UsageError("--explanations explains a prediction over the photo: this model is text-only.")
    explained = explain_reviews(model, frame, image_paths, limit=limit, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    explained.table.round(4).to_csv(out_dir / "explanations.csv", index_label="method")
    (out_dir / "explanations.md").write_text(markdown_table(explained.table), encoding="utf-8")
    ids = frame["review_id"].iloc[explained.positions] if "review_id" in frame else explained.positions
    summary = {"reviews": [str(i) for i in ids], "note": explained.note, "columns": COLUMNS,
               "table": json.loads(explained.table.round(4).to_json(orient="index"))}
    (out_dir / "explanations.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    with plt.ioff():  # files only: no window, whatever the backend; the caller's own figures stay open
        figures = {"gallery.png": explanation_gallery(explained)}
        for name, draw in (("deletion.png", deletion_plot), ("sanity.png", sanity_plot)):
            figures[name], ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
            draw(explained, ax)
        for name, fig in figures.items():
            fig.savefig(out_dir / name, dpi=110)
            plt.close(fig)
    print(markdown_table(explained.table))
    if explained.note:
        print(f"note: {explained.note}")
    return explained
