"""One object that labels reviews, the way `transformers.pipeline("sentiment-analysis")` does.

    from mmsent.apply.inference import sentiment_pipeline

    classify = sentiment_pipeline("reports/latest/model")      # a model folder, or a hub id owner/name
    classify("Well. It arrived.")                              # -> one answer (a dict)
    classify("Well. It arrived.", image="box.png")             # a path, a PIL image or an http(s) URL
    classify(["great", "broken"], images=[photo, None])        # -> a list of answers, in order

Each answer: `label` (the most likely class), `score` (its probability), `scores` ({class:
probability}), `gate` (how much the photo was used, 0-1; None for a model without the attention
layer), `attention` (float array `[patches]`, the weight of each photo patch; None without a photo
or attention layer) and `status` (`ok`, or `text-only: why` when a photo URL could not be fetched).

The texts go through the model in batches of `batch_size` (default: the model's training batch
size), with `mmsent.train.predict`, so the answers are those of `predict --data` and `evaluate`.
URLs are fetched through the kit's photo store (`mmsent.data.photo_store`); PIL images are written
as PNGs to a temporary folder and read back like any photo, with the same checks.

The name: `mmsent.analysis.ablation` is the module of the training ablation; this is the object
transformers calls a pipeline, named after the task as transformers names its task aliases.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmsent.config import TrainConfig
from mmsent.data.images import check_image
from mmsent.data.photo_store import PhotoStore, fetch_urls, photo_url
from mmsent.errors import DataError
from mmsent.models import MultimodalSentimentModel
from mmsent.train.evaluation import predict_reviews

PhotoInput = str | os.PathLike | Image.Image | None


class SentimentPipeline:
    """Labels for texts with optional photos; see the module docstring. Build it with `sentiment_pipeline`."""

    def __init__(
        self,
        model: MultimodalSentimentModel,
        batch_size: int | None = None,
        photos: PhotoStore | None = None,
    ) -> None:
        self.model = model
        self.labels = model.config.label_vocab()
        config = TrainConfig.from_dict(model.config.recipe)
        self.config = replace(config, batch_size=batch_size) if batch_size else config
        self.photos = photos

    def __call__(
        self,
        texts: str | Sequence[str],
        image: PhotoInput = None,
        *,
        images: Sequence[PhotoInput] | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """One answer for a text (with `image`), a list of answers for a list of texts (with `images`)."""
        if isinstance(texts, str):
            if images is not None:
                raise DataError("One text takes image=..., a list of texts takes images=[...].")
            return self([texts], images=[image])[0]
        texts = list(texts)
        if image is not None:
            raise DataError("A list of texts takes images=[...] (one per text, None for none), not image=.")
        images = [None] * len(texts) if images is None else list(images)
        if len(images) != len(texts) or not texts:
            raise DataError(f"Pass one image (or None) per text: {len(texts)} texts, {len(images)} images.")
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"Text {i} is {text!r}; every review needs some text.")
        with tempfile.TemporaryDirectory(prefix="mmsent-photos-") as folder:
            paths, statuses = self._photo_paths(images, Path(folder))
            result = predict_reviews(self.model, texts, paths, self.labels, self.config)
        return [self._answer(result, i, statuses[i], paths[i] is not None) for i in range(len(texts))]

    def _photo_paths(self, images: list[PhotoInput], folder: Path) -> tuple[list[str | None], list[str]]:
        """A checked file per photo (None: no photo) and each row's status."""
        fetched = fetch_urls(images, self.photos or PhotoStore(progress=False))
        paths: list[str | None] = []
        statuses: list[str] = []
        for i, image in enumerate(images):
            status = "ok"
            if image is None:
                path = None
            elif isinstance(image, Image.Image):
                path = str(folder / f"{i}.png")
                image.convert("RGB").save(path)
            elif photo_url(image):
                path, problem, _ = fetched[photo_url(image)]
                status = "ok" if path else f"text-only: {problem}"
            else:
                path = str(Path(image).resolve())
            if path is not None:
                check_image(path)  # a broken photo of the caller's is an error, named
            paths.append(path)
            statuses.append(status)
        return paths, statuses

    def _answer(self, result, row: int, status: str, with_photo: bool) -> dict[str, Any]:
        probabilities = result.probabilities[row]
        best = int(probabilities.argmax())
        attention = None
        if result.attention is not None and with_photo:
            attention = np.asarray(result.attention[row], dtype=np.float32)
        return {
            "label": self.labels.classes[best],
            "score": float(probabilities[best]),
            "scores": {name: float(p) for name, p in zip(self.labels.classes, probabilities, strict=True)},
            "gate": None if result.gate is None else float(result.gate[row]),
            "attention": attention,
            "status": status,
        }


def sentiment_pipeline(
    model: str | os.PathLike | MultimodalSentimentModel,
    *,
    device: str | None = None,
    batch_size: int | None = None,
    revision: str | None = None,
    photos: PhotoStore | None = None,
) -> SentimentPipeline:
    """A `SentimentPipeline` for a model folder, a hub id ("owner/name", at `revision`) or a loaded model.

    `photos`: where photo URLs are downloaded to (default: the photo store in the feature cache)."""
    if not isinstance(model, MultimodalSentimentModel):
        model = MultimodalSentimentModel.from_pretrained(model, device=device, revision=revision)
    return SentimentPipeline(model, batch_size=batch_size, photos=photos)
