"""Every method on every chosen review, scored: the numbers behind the table of notebook 07 and of
`python -m mmsent evaluate --explanations`.

    explained = explain_reviews(model, frame, image_paths, limit=12)
    explained.table            # methods x scores (means over the reviews)

Which reviews: on the bundled data, the reviews with an ambiguous text and a cracked, burnt or dented
photo whose damage mask the generator can redraw (only the photo can tell their label, and the truth
is known); on other data, the first reviews with a photo, scored for faithfulness and sanity only
(`Explained.note` says why). Each review is explained for the class the model predicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image
from torch import nn

from mmsent.analysis.attention_lift import TWIN_DETAILS, review_damage_mask
from mmsent.data import open_rgb
from mmsent.explain.methods import METHODS, Review, predicted_class, prepare_review
from mmsent.explain.scores import (
    PARTS,
    curve_auc,
    deletion_curve,
    mass_on_damage,
    pointing_hit,
    randomized,
    rank_correlation,
)
from mmsent.progress import progress_bar

Method = Callable[[nn.Module, Review, int], np.ndarray]
COLUMNS = {  # the table's columns: what each measures, and which way is better
    "pointing game": "share of reviews whose top patch is on the damage (higher: points better)",
    "mass on damage": "share of the map's positive part on the damage (higher: points better)",
    "lift": "mass on the damage / share of the photo it covers (1 = no preference)",
    "deletion AUC": "probability of the predicted class as the top patches go grey, its area "
                    "(lower: more faithful)",
    "AUC below random": "the random order's deletion AUC minus this one (above 0: more faithful than chance)",
    "rank corr. head re-init": "rank correlation with the map of the model whose fusion head is "
                               "re-initialised (near 1: the map ignores the model)",
    "rank corr. head + tower re-init": "the same with the image tower re-initialised too",
}
NO_TRUTH = ("no damage masks for these reviews (only the bundled data's cracked, burnt or dented photos "
            "with an ambiguous text have them): the pointing game and the mass on the damage need the "
            "truth; faithfulness (deletion) and sanity (re-initialisation) do not")


@dataclass
class Explained:
    """What `explain_reviews` measured.

    positions: the explained rows of the frame; photos / masks (bool [height, width], or None) per review;
    maps: method -> [reviews, patches]; curves: method -> deletion curves [reviews, steps + 1];
    per_review: one row per (method, review) with its scores; sanity: one row per (method, review,
    re-initialised part) with the rank correlation; table: methods x `COLUMNS` (means); note: why
    scores are missing, or "".
    """

    positions: list[int]
    photos: list[Image.Image]
    masks: list[np.ndarray | None]
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    per_review: pd.DataFrame | None = None
    sanity: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    note: str = ""


def reviews_to_explain(
    frame: pd.DataFrame, image_paths: Sequence[str | None], limit: int, seed: int = 0
) -> tuple[list[int], list[np.ndarray | None]]:
    """(positions, damage masks) of at most `limit` rows: those with a known damage mask and an ambiguous
    text when the frame has any, else the first rows with a photo (masks all None)."""
    positions, masks = [], []
    if {"text_kind", "photo_detail"} <= set(frame.columns):
        for position, (_, row) in enumerate(frame.iterrows()):
            path = image_paths[position]
            if len(positions) == limit:
                break
            if row["text_kind"] != "ambiguous" or row["photo_detail"] not in TWIN_DETAILS or path is None:
                continue
            mask = review_damage_mask(row, open_rgb(path), seed)
            if mask is not None and mask.any():
                positions.append(position)
                masks.append(mask)
    if positions:
        return positions, masks
    with_photo = [position for position, path in enumerate(image_paths) if path is not None][:limit]
    return with_photo, [None] * len(with_photo)


def explain_reviews(
    model: nn.Module,
    frame: pd.DataFrame,
    image_paths: Sequence[str | None],
    limit: int = 12,
    sanity_limit: int | None = None,
    steps: int = 8,
    methods: Mapping[str, Method] | None = None,
    data_seed: int = 0,
    progress: bool = True,
) -> Explained:
    """Explain up to `limit` reviews of `frame` (rows in the order of `image_paths`) with every method,
    and score the maps: truth (where masks exist), deletion with `steps` steps, and the sanity check
    on the first `sanity_limit` of them (default all). `methods`: name -> method (default `METHODS`).
    `data_seed`: the seed the bundled photos were drawn with.
    """
    methods = dict(methods or METHODS)
    positions, masks = reviews_to_explain(frame, image_paths, limit, data_seed)
    if not positions:
        raise ValueError("none of these reviews has a photo: there is nothing to explain over")
    photos = [open_rgb(image_paths[position]) for position in positions]
    texts = frame["text"].iloc[positions].tolist()
    explained = Explained(positions, photos, masks, note="" if masks[0] is not None else NO_TRUTH)
    inputs = [prepare_review(model, text, photo) for text, photo in zip(texts, photos, strict=True)]
    targets = [predicted_class(model, review) for review in inputs]
    rows = []
    for name, method in progress_bar(methods.items(), desc="explaining", enabled=progress):
        maps, curves = [], []
        for review, target, mask in zip(inputs, targets, masks, strict=True):
            relevance = method(model, review, target)
            curve = deletion_curve(model, review, target, relevance, steps)
            maps.append(relevance)
            curves.append(curve)
            hit, (mass, lift) = (np.nan, (np.nan, np.nan)) if mask is None else (
                float(pointing_hit(relevance, mask)), mass_on_damage(relevance, mask))
            rows.append({"method": name, "review": len(maps) - 1, "pointing game": hit,
                         "mass on damage": mass, "lift": lift, "deletion AUC": curve_auc(curve)})
        explained.maps[name], explained.curves[name] = np.stack(maps), np.stack(curves)
    explained.per_review = pd.DataFrame(rows)
    explained.sanity = _sanity(model, inputs[:sanity_limit], targets, methods, explained.maps, progress)
    explained.table = _table(explained.per_review, explained.sanity, list(methods))
    return explained


def _sanity(model, inputs, targets, methods, maps, progress) -> pd.DataFrame:
    """Rank correlation of each method's map with its map on the re-initialised models (`PARTS`)."""
    rows = []
    for part in progress_bar(PARTS, desc="sanity check", enabled=progress):
        changed = randomized(model, part)
        for name, method in methods.items():
            for index, (review, target) in enumerate(zip(inputs, targets, strict=False)):
                after = method(changed, review, target)
                rows.append({"method": name, "review": index, "part": part,
                             "rank correlation": rank_correlation(maps[name][index], after)})
    return pd.DataFrame(rows)


def _table(per_review: pd.DataFrame, sanity: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """methods x `COLUMNS`: means over the reviews (nan where a score could not be measured)."""
    table = per_review.groupby("method")[["pointing game", "mass on damage", "lift", "deletion AUC"]].mean()
    random_auc = table.loc["random", "deletion AUC"] if "random" in table.index else np.nan
    table["AUC below random"] = random_auc - table["deletion AUC"]
    by_part = sanity.groupby(["method", "part"])["rank correlation"].mean().unstack("part")
    for part in PARTS:
        table[f"rank corr. {part} re-init"] = by_part[part]
    return table.loc[order, list(COLUMNS)]
