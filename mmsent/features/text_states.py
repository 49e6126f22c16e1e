"""The frozen bottom of the text encoder's output, computed once per text instead of at every step.

With `train_text_layers=k` (the trainer's default: 1 of MiniLM's 6 layers), the embeddings and
the bottom `n - k` transformer layers are frozen. They are also kept in eval mode (no dropout, see
`MultimodalSentimentModel.train`): a frozen part is a fixed feature extractor, like the frozen
image encoder. So for a given review they always give the same hidden states, and running them
at every step of every epoch recomputes the same numbers. The photos already get this treatment
(`mmsent.features.vectors.ImageFeatures`); this module does it for the text:

1. `encode_frozen_text` runs the frozen part once per distinct review (token ids + attention
   mask) and keeps its output hidden states, [tokens, hidden] per review, in a `TextStates`;
2. each step, `TextStates.batch` pads the batch's states to the batch's length (the collate's
   dynamic padding) and `top_text_features` runs only the trainable top `k` layers on them,
   then the same masked mean pooling as the full encoder.

The logits are the same as running the whole encoder, within float rounding (tests/test_text_cache.py).
States are kept in memory (MiniLM: 1.5 KB a token, about 20 KB a review of the bundled data) and in
the disk cache of `mmsent.features.store`, keyed like the photos: a fingerprint of the frozen weights +
a hash of the review's token ids (the text as the encoder sees it, after truncation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from mmsent.features.store import FORMAT_VERSION, FeatureCache, resolve_cache
from mmsent.files.digests import identity_key, tensors_sha256
from mmsent.models.text_layers import bottom_states, frozen_layer_count, frozen_modules
from mmsent.progress import progress_bar

if TYPE_CHECKING:
    from mmsent.data import ReviewDataset
    from mmsent.models import MultimodalSentimentModel

STATES = "hidden_states"  # the tensor's name in a cache entry


def text_encoder_key(text_model: nn.Module, frozen: int, kind: str) -> str:
    """A cache folder name that changes whenever the frozen part's outputs could change.

    ``<name>-<kind><frozen>-<16 hex digits>`` (`mmsent.files.digests.identity_key`): the hash covers the
    model's name and hub revision, every weight of the embeddings and the `frozen` bottom layers, `kind`
    (what is stored, e.g. "layers" or "pooled") and the cache's format version.
    """
    frozen_weights = (
        (f"{index}.{name}", tensor)
        for index, module in enumerate(frozen_modules(text_model, frozen))
        for name, tensor in module.state_dict().items()
    )
    name = getattr(text_model.config, "name_or_path", "") or type(text_model).__name__
    identity = {
        "name": name,
        "revision": getattr(text_model.config, "_commit_hash", None),
        "weights": tensors_sha256(frozen_weights),
        "kind": kind,
        "frozen": frozen,
        "format": FORMAT_VERSION,
    }
    return identity_key(name, identity, f"{kind}{frozen}")


def token_digest(ids: Sequence[int]) -> str:
    """SHA-256 of a review's token ids, as 64 hex digits: the text as the encoder sees it."""
    return hashlib.sha256(torch.tensor(list(ids), dtype=torch.int64).numpy().tobytes()).hexdigest()


@dataclass
class TextStates:
    """The frozen layers' hidden states for every row of a dataset, looked up by row index.

    states: [tokens, H], the distinct reviews' states one after another; start, length: [rows],
    where each row's review begins in `states` and how many tokens it has.
    """

    states: Tensor
    start: Tensor
    length: Tensor

    def to(self, device: torch.device) -> TextStates:
        """The same states on `device`."""
        return TextStates(self.states.to(device), self.start.to(device), self.length.to(device))

    def batch(self, indices: Tensor, length: int, device: torch.device) -> Tensor:
        """States of rows `indices` [B], zero-padded to `length` tokens -> [B, length, H] on `device`."""
        indices = indices.to(self.start.device)
        positions = torch.arange(length, device=self.start.device)
        valid = positions < self.length[indices, None]  # [B, length]
        rows = torch.where(valid, self.start[indices, None] + positions, 0)
        hidden = torch.where(valid[..., None], self.states[rows], 0.0)
        return hidden.to(device, non_blocking=True)


@torch.no_grad()
def encode_frozen_text(
    model: MultimodalSentimentModel,
    dataset: ReviewDataset,
    batch_size: int = 64,
    progress: bool = False,
    cache: FeatureCache | bool = True,
) -> TextStates:
    """Run `model`'s frozen text layers once per distinct review of `dataset` -> `TextStates`.

    Reviews are batched shortest first (little padding); reviews already in the disk cache
    (`cache`, as for `mmsent.features.vectors.image_features`) are read back instead.
    """
    frozen = frozen_layer_count(model)
    if frozen is None:
        raise ValueError("This model has no frozen text layers: pass train_text_layers < all of them.")
    text_model = model.text_model
    for module in frozen_modules(text_model, frozen):
        module.eval()  # as `MultimodalSentimentModel.train` keeps them: no dropout in fixed features
    device = next(text_model.parameters()).device
    distinct = sorted({tuple(ids) for ids in dataset.input_ids}, key=lambda ids: (len(ids), ids))
    found: dict[tuple[int, ...], Tensor] = {}
    store = resolve_cache(cache)
    if store is not None:
        key = text_encoder_key(text_model, frozen, "layers")
        entries = {ids: store.digest_entry(key, token_digest(ids)) for ids in distinct}
        width = text_model.config.hidden_size
        for ids, entry in entries.items():
            if (hit := store.load(entry, {STATES: (len(ids), width)})) is not None:
                found[ids] = hit[STATES]
    missing = [ids for ids in distinct if ids not in found]
    batches = range(0, len(missing), batch_size)
    for start in progress_bar(batches, desc="encoding texts", enabled=progress and bool(batches)):
        chunk = missing[start : start + batch_size]
        input_ids = torch.zeros(len(chunk), len(chunk[-1]), dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, ids in enumerate(chunk):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        hidden = bottom_states(text_model, input_ids.to(device), attention_mask.to(device), frozen)
        hidden = hidden.float().cpu()
        for row, ids in enumerate(chunk):
            found[ids] = hidden[row, : len(ids)].clone()
            if store is not None:
                store.save(entries[ids], {STATES: found[ids]})
    return _pack(found, dataset.input_ids)


def _pack(found: dict[tuple[int, ...], Tensor], rows: Sequence[Sequence[int]]) -> TextStates:
    """Concatenate each distinct review's states once and point every row at its review's."""
    order = list(found)
    lengths = torch.tensor([len(found[ids]) for ids in order], dtype=torch.long)
    starts = torch.cumsum(lengths, 0) - lengths
    place = {ids: i for i, ids in enumerate(order)}
    which = torch.tensor([place[tuple(ids)] for ids in rows], dtype=torch.long)
    states = torch.cat([found[ids] for ids in order]) if order else torch.zeros(0, 0)
    return TextStates(states, starts[which], lengths[which])
