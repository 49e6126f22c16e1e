"""Does the attention point at the damage? The lift test of notebook 07, as functions.

The bundled photos are drawn by `mmsent.data.synth` from a random stream per review. Drawn
again from the same stream as *intact*, a photo with a crack, a burn or a dent comes out
identical except where the damage is: the pixels that differ are an exact damage mask.
(A torn box redraws the whole scene, so it has no such twin.) The **lift** of an attention
map on that mask is

    share of the attention on the mask's pixels / share of the photo the mask covers

1 means the model looks at the damage no more than anywhere else; 3, three times more.
Masks judge a trained model; they are never a model input.

Public API:
    ``damage_mask(intact, damaged)``             bool mask [height, width] of the pixels that differ
    ``attention_lift(weights, mask)``            the lift of one attention row [patches] on one mask
    ``review_damage_mask(row, photo, seed)``     a bundled review's damage mask, or None
    ``damage_lift(frame, attention, image_paths, seed)``  mean lift over a split's damaged photos with
                                                 ambiguous texts (what `train` reports)
    ``damage_targets(frame, image_paths, num_patches, seed)``  where the attention should look in
                                                 each training photo, for `fit(attention_targets=...)`
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from mmsent.data import open_rgb
from mmsent.data.synth import PRODUCTS, review_photo
from mmsent.features.store import FORMAT_VERSION, FeatureCache, resolve_cache
from mmsent.paths import file_sha256
from mmsent.viz import attention_map

TWIN_DETAILS: tuple[str, ...] = ("crack", "burn", "dent")  # damage drawn over an unchanged scene
PIXEL_THRESHOLD = 30  # summed |RGB difference| above which a pixel counts as damaged
TARGET = "attention_target"  # the name of the tensor in a cache entry


def damage_mask(intact: Image.Image, damaged: Image.Image) -> np.ndarray:
    """The pixels where two twin photos differ: bool [height, width]."""
    difference = np.abs(np.asarray(damaged, dtype=int) - np.asarray(intact, dtype=int)).sum(axis=-1)
    return difference > PIXEL_THRESHOLD


def attention_lift(weights: np.ndarray, mask: np.ndarray) -> float:
    """Share of the attention on the mask / share of the photo the mask covers (1 = no preference).

    weights [patches] (a square grid, row by row, summing to 1); mask bool [height, width].
    """
    if not mask.any():
        raise ValueError("the mask is empty: there is no damage to measure the attention on")
    heat = attention_map(weights, mask.shape[::-1])  # [height, width], sums to 1
    return float(heat[mask].sum() / mask.mean())


def review_damage_mask(row: pd.Series, photo: Image.Image, seed: int = 0) -> np.ndarray | None:
    """The damage mask of one review of the bundled set, or None when it has none to give.

    None unless the row is a damaged photo with a twin (`TWIN_DETAILS`) and `photo` is exactly
    what the generator draws for it with `seed` (a user's own photo, or another seed, is not).
    row: a review with the generator's columns (review_id, product, photo_state, photo_detail).
    """
    if row.get("photo_state") != "damaged" or row.get("photo_detail") not in TWIN_DETAILS:
        return None
    if not re.fullmatch(r"r\d+", str(row.get("review_id"))) or row.get("product") not in PRODUCTS:
        return None  # not a row the generator wrote
    damaged = review_photo(row, seed, size=photo.size[0])
    if photo.size != damaged.size or not np.array_equal(np.asarray(photo), np.asarray(damaged)):
        return None
    twin = row.copy()
    twin["photo_state"], twin["photo_detail"] = "intact", ""  # same random stream, no damage drawn
    return damage_mask(review_photo(twin, seed, size=photo.size[0]), damaged)


def damage_lift(
    frame: pd.DataFrame, attention: np.ndarray, image_paths: Sequence[str | None], seed: int = 0
) -> tuple[float, int]:
    """Mean attention lift over the reviews with an ambiguous text and a damaged photo whose mask is known.

    frame: a split's rows (text_kind, photo_state, photo_detail, ...), in the order of
    `attention` [rows, patches] and of `image_paths` (None where a row has no photo).
    Returns (mean lift, number of photos measured); (nan, 0) when no row has a known mask,
    e.g. for reviews that are not the bundled set's.
    """
    if "text_kind" not in frame.columns:
        return float("nan"), 0
    lifts = []
    for position, (_, row) in enumerate(frame.iterrows()):
        path = image_paths[position]
        if row["text_kind"] != "ambiguous" or row.get("photo_detail") not in TWIN_DETAILS or path is None:
            continue
        mask = review_damage_mask(row, open_rgb(path), seed)
        if mask is not None and mask.any():
            lifts.append(attention_lift(attention[position], mask))
    return (float(np.mean(lifts)), len(lifts)) if lifts else (float("nan"), 0)


def damage_targets(
    frame: pd.DataFrame,
    image_paths: Sequence[str | None],
    num_patches: int,
    seed: int = 0,
    cache: FeatureCache | bool = True,
) -> torch.Tensor:
    """Per-patch attention targets from the damage masks of a *training* split: [rows, patches].

    Row i is the share of each patch the damage covers, normalised to sum to 1 (the patch grid
    is the image encoder's: `num_patches` a square, read row by row); all zeros where the row has
    no known mask (intact, generic or torn-box photos, reviews that are not the bundled set's).
    Targets are training data only: a model never sees a mask when it predicts.
    Finding a mask draws the photo twice; `cache` (as for `mmsent.features.vectors.image_features`) keeps
    each row's target in the disk cache, keyed by the photo's bytes and the row's generator columns.
    """
    side = math.isqrt(num_patches)
    targets = torch.zeros(len(frame), num_patches)
    if "photo_detail" not in frame.columns:
        return targets
    store = resolve_cache(cache)
    folder = f"damage-targets-{num_patches}-seed{seed}-v{FORMAT_VERSION}"
    for position, (_, row) in enumerate(frame.iterrows()):
        path = image_paths[position]
        if row.get("photo_detail") not in TWIN_DETAILS or path is None:
            continue
        entry = store.digest_entry(folder, _row_digest(row, path)) if store is not None else None
        if entry is not None and (hit := store.load(entry, {TARGET: (num_patches,)})) is not None:
            targets[position] = hit[TARGET]
            continue
        mask = review_damage_mask(row, open_rgb(path), seed)
        if mask is not None and mask.any():
            covered = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((side, side), Image.BOX))
            targets[position] = torch.from_numpy(covered.flatten() / covered.sum())
        if entry is not None:
            store.save(entry, {TARGET: targets[position]})  # zeros too: "no mask" is an answer as well
    return targets


def _row_digest(row: pd.Series, path: str) -> str:
    """SHA-256 of what a row's target depends on: the photo's bytes and the generator's columns."""
    columns = [str(row.get(name)) for name in ("review_id", "product", "photo_state", "photo_detail")]
    return hashlib.sha256("|".join([file_sha256(path), *columns]).encode()).hexdigest()
