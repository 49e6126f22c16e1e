"""Pictures of attention: the per-patch weights of `CrossModalAttention` ([patches], a square grid of
the photo read row by row) turned back into a heat map laid over the photo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

if TYPE_CHECKING:  # type hints only: importing viz stays light (no torch, no ipywidgets)


    pass


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
