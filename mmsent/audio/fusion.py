"""The transcript listens to the call: the course's `CrossModalAttention` over audio time-frame tokens.

The same layer as notebook 05's, a new modality: the query is the transcript's vector, the keys and
values are the audio encoder's tokens (one per 40 ms) instead of the photo's patches, so the
attention weights are a curve over time (where in the call the model listens) and the gate says how
much the voice is used for this call.

    text [B, text_dim], tokens [B, T, token_dim]
      -> CrossModalAttention -> attended [B, dim], attention over time [B, T], gate [B, 1]
      -> classifier(MLP)([text, gate * attended]) -> logits [B, classes]
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from mmsent.models import CrossModalAttention, mlp


class CallOutput(NamedTuple):
    """logits [B, C]; attention_weights [B, T] (sums to 1 over time); gate [B, 1] in [0, 1]."""

    logits: Tensor
    attention_weights: Tensor
    gate: Tensor


class CallAttentionModel(nn.Module):
    """Transcript vector + audio tokens -> CallOutput, through cross-modal attention and its gate."""

    def __init__(self, text_dim: int, token_dim: int, dim: int = 64, num_heads: int = 4,
                 num_classes: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.attention = CrossModalAttention(text_dim, token_dim, dim, num_heads, dropout)
        self.classifier = mlp(text_dim + dim, dim, num_classes, dropout)

    def forward(self, text: Tensor, tokens: Tensor) -> CallOutput:
        listened = self.attention(text, tokens)
        fused = torch.cat([text, listened.gate * listened.attended], dim=-1)  # [B, text_dim + dim]
        return CallOutput(self.classifier(fused), listened.attention_weights, listened.gate)
