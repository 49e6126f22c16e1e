"""Feature vectors from frozen encoders: one vector per review and modality.

The fusion-strategy notebooks and the toy `MultiModalNet` work on fixed feature vectors:
computed once with the encoders, then reused for every model that is compared. The trainer
uses `image_features` too, to encode each photo once when the image encoder is frozen, wrapped as
`ImageFeatures` (`encode_dataset_images`): the features of a dataset's rows, looked up by row index.
Both `text_embeddings` and `image_features` keep what they compute in the disk cache of
`mmsent.features.store`, so the next notebook (or run) reads it back instead of encoding again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mmsent.config import TrainConfig
from mmsent.data import ReviewDataset, open_rgb
from mmsent.encoders import Encoders, clip_image_outputs, text_features
from mmsent.features.store import FeatureCache, encoder_key, resolve_cache
from mmsent.features.text_states import text_encoder_key, token_digest
from mmsent.progress import progress_bar

TABULAR_COLUMNS = ("rating", "price", "verified_purchase", "helpful_votes")


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def text_embeddings(
    encoders: Encoders,
    texts: Sequence[str],
    batch_size: int = 64,
    max_length: int = 128,
    progress: bool = False,
    cache: FeatureCache | bool = True,
) -> torch.Tensor:
    """Mean-pooled text encoder outputs, [len(texts), text_dim], on the CPU, in the order of `texts`.

    Reviews repeat themselves, so each distinct text is encoded once, shortest first (a batch of
    texts of about one length needs little padding), and its vector is copied to every place it
    occurs. `cache` as for `image_features`: texts this encoder has seen before (the same token ids,
    the same weights) are read back from the disk cache, so a second notebook encodes nothing.
    """
    model, device = encoders.text_model.eval(), _device_of(encoders.text_model)
    distinct = sorted(set(texts), key=lambda text: (len(text), text))
    vectors: dict[str, torch.Tensor] = {}
    store = resolve_cache(cache)
    if store is not None and distinct:
        key = text_encoder_key(model, len(model.encoder.layer), "pooled")
        ids = encoders.tokenizer(distinct, truncation=True, max_length=max_length)["input_ids"]
        digests = [token_digest(text_ids) for text_ids in ids]
        entries = {text: store.digest_entry(key, d) for text, d in zip(distinct, digests, strict=True)}
        for text, entry in entries.items():
            if (hit := store.load(entry, {"text_embeds": (encoders.text_dim,)})) is not None:
                vectors[text] = hit["text_embeds"]
    missing = [text for text in distinct if text not in vectors]
    batches = range(0, len(missing), batch_size)
    for start in progress_bar(batches, desc="encoding texts", enabled=progress and bool(batches)):
        chunk = missing[start : start + batch_size]
        batch = encoders.tokenizer(
            chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        pooled = text_features(model, batch["input_ids"], batch["attention_mask"]).float().cpu()
        for text, vector in zip(chunk, pooled, strict=True):
            vectors[text] = vector
            if store is not None:
                store.save(entries[text], {"text_embeds": vector})
    if not distinct:
        return torch.zeros(0, encoders.text_dim)
    return torch.stack([vectors[text] for text in texts])


@torch.no_grad()
def image_features(
    encoders: Encoders,
    image_paths: Sequence[str | None],
    batch_size: int = 64,
    progress: bool = False,
    cache: FeatureCache | bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The image encoder's outputs for every photo path (None = no photo), on the CPU.

    Returns (embeds [photos, image_embed_dim], patches [photos, num_patches, image_dim],
    present [photos] bool); rows without a photo get zeros and present=False.

    `cache`: True uses the disk cache of `mmsent.features.store` (``MMSENT_CACHE_DIR``, default
    ~/.cache/mmsent; ``MMSENT_CACHE_DIR=off`` turns it off), False encodes every photo, or pass a
    `FeatureCache`. Photos this encoder has seen before are read back, not encoded again.
    """
    model, device = encoders.image_model.eval(), _device_of(encoders.image_model)
    embeds = torch.zeros(len(image_paths), encoders.image_embed_dim)
    patches = torch.zeros(len(image_paths), encoders.num_patches, encoders.image_dim)
    present = torch.tensor([path is not None for path in image_paths], dtype=torch.bool)
    rows = np.flatnonzero(present.numpy())
    # --- disk cache: read what is there, encode only the rest --------------------------------------
    store, entries = resolve_cache(cache), {}
    if store is not None:
        key = encoder_key(encoders)
        entries = {int(i): store.entry(key, image_paths[i]) for i in rows}
        shapes = {"image_embeds": embeds.shape[1:], "patch_tokens": patches.shape[1:]}
        missing = []
        for i, entry in entries.items():
            if (hit := store.load(entry, shapes)) is None:
                missing.append(i)
            else:
                embeds[i], patches[i] = hit["image_embeds"], hit["patch_tokens"]
        rows = np.array(missing, dtype=np.int64)
    # -----------------------------------------------------------------------------------------------
    batches = range(0, len(rows), batch_size)  # no bar at all when everything came from the cache
    for start in progress_bar(batches, desc="encoding photos", enabled=progress and bool(batches)):
        chunk = rows[start : start + batch_size]
        images = [open_rgb(image_paths[i]) for i in chunk]
        pixels = encoders.image_processor(images=images, return_tensors="pt")["pixel_values"].to(device)
        chunk_embeds, chunk_patches = clip_image_outputs(model, pixels)
        embeds[chunk] = chunk_embeds.float().cpu()
        patches[chunk] = chunk_patches.float().cpu()
        if store is not None:
            for i in chunk:
                store.save(entries[int(i)], {"image_embeds": embeds[i], "patch_tokens": patches[i]})
    return embeds, patches, present


def tabular_features(
    frame: pd.DataFrame, columns: Sequence[str] = TABULAR_COLUMNS, reference: pd.DataFrame | None = None
) -> torch.Tensor:
    """Standardised numeric columns, [reviews, columns]: zero mean, unit variance per column.

    Standardising matters: price (tens to hundreds) would otherwise drown rating (1 to 5).
    The mean and spread come from `reference` (pass the training rows, so that validation and
    test rows are scaled like the data the model learned from), else from `frame` itself.
    """
    reference = frame if reference is None else reference
    missing = [c for c in columns if c not in frame or c not in reference]
    if missing:
        raise KeyError(f"tabular columns {missing} not in the table; it has {list(frame.columns)}")
    stats = reference[list(columns)].astype("float32").to_numpy()
    values = frame[list(columns)].astype("float32").to_numpy()
    return torch.from_numpy((values - stats.mean(0)) / (stats.std(0) + 1e-6))


@dataclass
class ImageFeatures:
    """A frozen image encoder's outputs for every row of a dataset, looked up by row index.

    embeds: [photos, embed_dim]; patches: [photos, patches, dim]; present: [photos] (False = no
    photo); rows: [dataset rows], the photo of each row, or None when photo i is row i's. Rows that
    share a photo share its features (`shared_image_features`), so memory grows with the distinct photos.
    """

    embeds: torch.Tensor
    patches: torch.Tensor
    present: torch.Tensor
    rows: torch.Tensor | None = None

    def to(self, device: torch.device) -> ImageFeatures:
        """The same features on `device`."""
        rows = None if self.rows is None else self.rows.to(device)
        return ImageFeatures(self.embeds.to(device), self.patches.to(device), self.present.to(device), rows)

    def batch(self, indices: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        at = indices if self.rows is None else self.rows[indices.to(self.rows.device)]
        return {
            "image_embeds": self.embeds[at].to(device, non_blocking=True),
            "patch_tokens": self.patches[at].to(device, non_blocking=True),
            "image_present": self.present[at].to(device, non_blocking=True),
        }


def caches_image_features(model: torch.nn.Module, config: TrainConfig) -> bool:
    """Whether `model`'s photos can be encoded once and read back (`ImageFeatures`) instead of passed as
    pixels at every batch: a model that looks at photos, with its image encoder frozen (a trained one
    is a copy that `model.encoders` does not hold), and `config.cache_image_features` on."""
    return config.cache_image_features and model.mode != "text_only" and model.freeze_image


def shared_image_features(
    encoders: Encoders,
    image_paths: Sequence[str | None],
    batch_size: int = 64,
    cache: FeatureCache | bool = True,
) -> ImageFeatures:
    """`image_features` of each distinct photo path once (read from the disk cache when seen before, by
    content), shared by every row that names it; photo 0 is the no-photo row of zeros."""
    distinct = list(dict.fromkeys(path for path in image_paths if path is not None))
    photo = {path: i for i, path in enumerate(distinct, start=1)}
    embeds, patches, present = image_features(encoders, [None, *distinct], batch_size, cache=cache)
    rows = torch.tensor([photo.get(path, 0) for path in image_paths], dtype=torch.long)
    return ImageFeatures(embeds, patches, present, rows)


def encode_dataset_images(
    model: torch.nn.Module, dataset: ReviewDataset, batch_size: int | None = None, progress: bool = True
) -> ImageFeatures:
    """Run the (frozen) image encoder of `model` (anything with `.encoders`, e.g. a
    `MultimodalSentimentModel`) once over every photo of `dataset`.

    Rows without a usable photo get zero features and present=False. `batch_size`: photos per forward
    pass (default: `TrainConfig`'s).
    """
    batch_size = batch_size or TrainConfig().batch_size
    embeds, patches, present = image_features(model.encoders, dataset.image_paths, batch_size, progress)
    return ImageFeatures(embeds, patches, present)


def on_gpu_if_room(features, device: torch.device):
    """`ImageFeatures` or `TextStates` on the GPU when they fit in a quarter of its free memory: every
    batch then gathers its rows there, instead of copying them from host memory (ViT-B/32: 150 KB a photo)."""
    if features is None or device.type != "cuda":
        return features
    size = sum(t.numel() * t.element_size() for t in vars(features).values() if t is not None)
    return features.to(device) if size < torch.cuda.mem_get_info(device)[0] / 4 else features
