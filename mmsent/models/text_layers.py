"""The text encoder cut in two: frozen bottom layers and trainable top layers, run separately.

With `train_text_layers=k` (the trainer's default: 1 of MiniLM's 6 layers), the embeddings and the
bottom `n - k` transformer layers are frozen (and kept in eval mode, see
`MultimodalSentimentModel.train`). `bottom_states` runs the frozen part, [B, L] ids -> [B, L, H];
`top_text_features` runs the top `k` layers on those states and pools them -> [B, H], the same as
`mmsent.encoders.text_features` on the whole encoder within float rounding. The trainer keeps the bottom's
output once per review (`mmsent.features.text_states`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mmsent.compat import bert_layer_states
from mmsent.encoders import masked_mean


def frozen_layer_count(model: nn.Module) -> int | None:
    """How many bottom layers of a `MultimodalSentimentModel`'s text encoder are frozen; None when
    nothing below is frozen (no text branch, or the whole encoder trains)."""
    if not model.uses_text or model.train_text_layers is None:
        return None
    return len(model.text_model.encoder.layer) - model.train_text_layers


def frozen_modules(text_model: nn.Module, frozen: int) -> list[nn.Module]:
    """The embeddings and the bottom `frozen` transformer layers."""
    return [text_model.embeddings, *text_model.encoder.layer[:frozen]]


def additive_mask(attention_mask: Tensor, dtype: torch.dtype) -> Tensor:
    """[B, L] 1/0 -> [B, 1, 1, L]: 0 where a token is attended, the dtype's minimum on padding.

    The form BERT layers add to their attention scores (eager) or pass to SDPA as `attn_mask`."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: Sequence[nn.Module], hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """hidden [B, L, H] through `layers` in order, with attention_mask [B, L] -> [B, L, H]."""
    mask = additive_mask(attention_mask, hidden.dtype)
    for layer in layers:
        hidden = bert_layer_states(layer, hidden, mask)
    return hidden


@torch.no_grad()
def bottom_states(text_model: nn.Module, input_ids: Tensor, attention_mask: Tensor, frozen: int) -> Tensor:
    """The frozen part's output: ids, mask [B, L] -> hidden states [B, L, H] after `frozen` layers."""
    hidden = text_model.embeddings(input_ids=input_ids)
    return run_layers(text_model.encoder.layer[:frozen], hidden, attention_mask)


def top_text_features(
    text_model: nn.Module, states: Tensor, attention_mask: Tensor, frozen: int | None
) -> Tensor:
    """The layers above the bottom `frozen` on their cached output states [B, L, H], then masked
    mean pooling -> [B, H]: `mmsent.encoders.text_features` on the same reviews, within float rounding."""
    if frozen is None:
        raise ValueError("Cached text states need frozen bottom text layers (train_text_layers < all).")
    hidden = run_layers(text_model.encoder.layer[frozen:], states, attention_mask)
    return masked_mean(hidden, attention_mask)
