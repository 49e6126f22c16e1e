"""Is an explanation right? Three tests of a map [patches], two of which need no ground truth.

1. **Against the truth** (the bundled data's damage masks, `mmsent.analysis.attention_lift`):
   - pointing game: is the map's top patch on the damage (does the damage cover any of its pixels)?
   - mass on the damage: the share of the map's positive part on the mask's pixels; its **lift** is
     that share over the share of the photo the mask covers (1 = no preference, as for attention).
2. **Faithfulness** (deletion, Petsiuk et al. 2018): grey out the map's top patches, k at a time,
   and follow the probability of the explained class; the area under that curve (AUC, over the share
   of patches removed, 0-1) is low when the map's top patches are what the model needs. A map is
   faithful when its AUC is below that of a random order.
3. **Sanity** (Adebayo et al. 2018): re-initialise the fusion head, then the image tower too, and
   explain the same review again; the rank correlation of the map before and after is near 1 for a
   map that does not depend on the model's weights (it explains the input, not the model).

Shapes: P = patches; a mask is bool [height, width] of the photo the map is laid over.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from mmsent.analysis.attention_lift import attention_lift
from mmsent.explain.methods import Review, as_weights, grey_out, grid_side, probabilities_fn

PARTS = ("head", "head + tower")  # what `randomized` re-initialises, in the cascade's order


def patch_coverage(mask: np.ndarray, side: int) -> np.ndarray:
    """The share of each patch the mask covers: [P] (a `side` x `side` grid, row by row)."""
    covered = Image.fromarray(mask.astype(np.float32)).resize((side, side), Image.BOX)
    return np.asarray(covered).flatten()


def pointing_hit(relevance: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the map's top patch [P] touches the damage mask [height, width]."""
    side = int(round(np.sqrt(relevance.size)))
    return bool(patch_coverage(mask, side)[int(np.argmax(relevance))] > 0)


def mass_on_damage(relevance: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(share of the map's positive part on the mask, lift = that share / the mask's share of the photo)."""
    lift = attention_lift(as_weights(relevance), mask)
    return lift * float(mask.mean()), lift


def deletion_curve(model: nn.Module, review: Review, target: int, relevance: np.ndarray,
                   steps: int = 8) -> np.ndarray:
    """The probability of `target` as the map's top patches go grey: [steps + 1], from 0 to all patches.

    Step s greys the round(s P / steps) patches with the highest relevance [P] (ties: the lower index
    first), all steps in one batch.
    """
    order = np.argsort(-np.asarray(relevance), kind="stable")
    counts = np.round(np.linspace(0, order.size, steps + 1)).astype(int)
    photos = grey_out(review.pixel_values, [order[:count].tolist() for count in counts], grid_side(model))
    with torch.no_grad():
        return probabilities_fn(model, review)(photos)[:, target].cpu().numpy()


def curve_auc(curve: np.ndarray) -> float:
    """The area under a deletion curve [steps + 1] over the share of patches removed (0-1)."""
    curve = np.asarray(curve, dtype=np.float64)  # the trapezoid rule (numpy 1.x has no np.trapezoid)
    return float((curve[1:] + curve[:-1]).sum() / 2 / (len(curve) - 1))


def randomized(model: nn.Module, part: str, seed: int = 1234) -> nn.Module:
    """A copy of `model` with `part` re-initialised from `seed`: "head" (every layer that is not an
    encoder: cross-attention, projections, classifier) or "head + tower" (the image encoder too).

    The copy is what the sanity check explains; `model` is untouched.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    copied = copy.deepcopy(model).eval()
    torch.manual_seed(seed)
    encoders = {"text_model", "image_model"}
    modules = [module for name, child in copied.named_children() if name not in encoders
               for module in child.modules()]
    if part == "head + tower":
        modules += list(copied.image_model.vision_model.modules())
    for module in modules:
        if hasattr(module, "reset_parameters") and module is not copied:
            module.reset_parameters()
    if getattr(copied, "image_query", None) is not None:
        nn.init.normal_(copied.image_query, std=0.02)
    return copied


def rank_correlation(before: np.ndarray, after: np.ndarray) -> float:
    """Spearman's rank correlation of two maps [P] (nan when either is constant: no ranking at all)."""
    if np.ptp(before) == 0 or np.ptp(after) == 0:
        return float("nan")
    # Spearman's rho is Pearson's r of the ranks; ties share their average rank (as scipy.stats.spearmanr)
    ranks = [pd.Series(np.asarray(values, dtype=np.float64)).rank().to_numpy() for values in (before, after)]
    return float(np.corrcoef(*ranks)[0, 1])
