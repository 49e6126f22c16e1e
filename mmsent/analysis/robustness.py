"""Robustness curves: test accuracy as photos go missing or get worse (in the spirit of MultiBench).

A fused model meets reviews without a photo, and photos that are blurred or crushed by JPEG
compression. `robustness_table` scores each model on the same test rows under

- **photos removed**: 0, 25, 50, 75 and 100 % of the rows that have a photo lose it (a seeded random
  order, so the 50 % set holds the 25 % one); a removed photo is what a review without a photo is
  to the model (`image_present` False: zero features, gate exactly 0);
- **blur**: every photo blurred (Gaussian, `BLUR_RADII` pixels on the photo as stored);
- **JPEG**: every photo saved as a JPEG at `JPEG_QUALITIES` (lower = coarser blocks and colours).

A graceful fused model falls back to what the text says: at 100 % removed it should score about
what the text-only model scores. Degraded photos are written one at a time to a temporary folder
and encoded in batches (never every photo's pixels in memory at once), without the feature cache.
A text-only model reads no photo: it is scored once and that score stands in every row.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageFilter

from mmsent.config import TrainConfig
from mmsent.data import ReviewDataset, open_rgb
from mmsent.features.store import encoder_key
from mmsent.features.text_states import encode_frozen_text
from mmsent.features.vectors import ImageFeatures, image_features
from mmsent.models import MultimodalSentimentModel
from mmsent.models.text_layers import frozen_layer_count
from mmsent.train import classification_metrics, predict

REMOVED_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
BLUR_RADII = (2.0, 4.0, 8.0)
JPEG_QUALITIES = (20, 10, 5)
REMOVED, BLUR, JPEG = "photos removed (%)", "blur radius (pixels)", "JPEG quality"
COLUMNS = ("condition", "strength", "model", "accuracy", "photos")


def robustness_table(
    models: Mapping[str, MultimodalSentimentModel],
    dataset: ReviewDataset,
    config: TrainConfig | None = None,
    seed: int = 0,
    removed: Sequence[float] = REMOVED_FRACTIONS,
    blur: Sequence[float] = BLUR_RADII,
    jpeg: Sequence[int] = JPEG_QUALITIES,
    features: ImageFeatures | None = None,
) -> pd.DataFrame:
    """Accuracy of each model (name -> model) on `dataset` under every condition.

    Returns one row per (condition, strength, model): `condition` (`REMOVED`, `BLUR` or `JPEG`),
    `strength` (percent removed, blur radius or JPEG quality), `model`, `accuracy` and `photos` (rows
    that still had a photo). `features`: the photos of `dataset` already encoded (e.g. by `fit`'s
    caller), else they are encoded here. All image models must share one image encoder.
    """
    config = config or TrainConfig()
    image_models = {name: m for name, m in models.items() if m.mode != "text_only"}
    encoders = _shared_image_encoders(image_models)
    text_states = {name: _frozen_text(model, dataset) for name, model in models.items()}
    if features is None and encoders is not None:
        features = ImageFeatures(*image_features(encoders, dataset.image_paths))
    conditions = [
        (REMOVED, 100 * f, None if features is None else _remove(features, f, seed)) for f in removed
    ]
    if encoders is not None:
        conditions += [(BLUR, r, _degraded(encoders, dataset, _blur(r))) for r in blur]
        conditions += [(JPEG, q, _degraded(encoders, dataset, _jpeg(q))) for q in jpeg]
    rows, text_only = [], {}
    for condition, strength, condition_features in conditions:
        for name, model in models.items():
            if model.mode == "text_only":  # reads no photo: one score for every condition
                if name not in text_only:
                    text_only[name] = _accuracy(model, dataset, None, config, text_states[name])
                accuracy = text_only[name]
            else:
                accuracy = _accuracy(model, dataset, condition_features, config, text_states[name])
            photos = int(condition_features.present.sum()) if condition_features is not None else 0
            rows.append((condition, strength, name, accuracy, photos))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def fallback_gap(table: pd.DataFrame, fusion: str = "fusion", text_only: str = "text_only") -> float:
    """Accuracy points (0-100) the fused model loses to the text-only one with every photo removed."""
    every = table[(table["condition"] == REMOVED) & (table["strength"] == 100.0)].set_index("model")
    return 100 * float(every.loc[text_only, "accuracy"] - every.loc[fusion, "accuracy"])


def _shared_image_encoders(models: Mapping[str, MultimodalSentimentModel]):
    """The image models' common `Encoders` (None without image models); raises if they differ."""
    if not models:
        return None
    keys = {name: encoder_key(model.encoders) for name, model in models.items()}
    if len(set(keys.values())) > 1:
        raise ValueError(f"The image models use different image encoders ({keys}); score them separately.")
    return next(iter(models.values())).encoders


def _frozen_text(model: MultimodalSentimentModel, dataset: ReviewDataset):
    """The frozen text layers' states of `dataset` (run once for all conditions), or None."""
    if model.mode == "image_only" or frozen_layer_count(model) is None:
        return None
    return encode_frozen_text(model, dataset)


def _accuracy(model, dataset, features, config, text_states) -> float:
    result = predict(model, dataset, features=features, config=config, text_states=text_states)
    return classification_metrics(result.targets, result.labels)["accuracy"]


def _remove(features: ImageFeatures, fraction: float, seed: int) -> ImageFeatures:
    """`features` with `fraction` of the photos taken away (seeded; nested as the fraction grows)."""
    rows = np.flatnonzero(features.present.numpy())
    order = np.random.default_rng(seed).permutation(rows)
    gone = torch.from_numpy(order[: round(fraction * len(rows))])
    present = features.present.clone()
    present[gone] = False
    embeds, patches = features.embeds.clone(), features.patches.clone()
    embeds[gone], patches[gone] = 0.0, 0.0  # what `image_features` gives a row without a photo
    return ImageFeatures(embeds, patches, present)


def _blur(radius: float):
    def degrade(image: Image.Image, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        image.filter(ImageFilter.GaussianBlur(radius)).save(path)
        return path

    return degrade


def _jpeg(quality: int):
    def degrade(image: Image.Image, folder: Path, name: str) -> Path:
        path = folder / f"{name}.jpg"
        image.save(path, format="JPEG", quality=quality)
        return path

    return degrade


def _degraded(encoders, dataset: ReviewDataset, degrade) -> ImageFeatures:
    """The image features of `dataset`'s photos after `degrade(image, folder, name) -> path`."""
    with tempfile.TemporaryDirectory(prefix="mmsent-robustness-") as folder:
        paths = [
            None if path is None else str(degrade(open_rgb(path), Path(folder), str(row)))
            for row, path in enumerate(dataset.image_paths)
        ]
        return ImageFeatures(*image_features(encoders, paths, cache=False))
