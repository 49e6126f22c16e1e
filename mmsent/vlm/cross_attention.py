"""Flamingo's idea: let the text look at the image through gated cross-attention layers.

Between the decoder's blocks sits a layer where every text position (the query) attends over the
photo's patch tokens (keys and values). Its output is multiplied by tanh(gate), and the gate is a
learned scalar that starts at **zero**: at initialisation the layer adds nothing, the decoder is
exactly the blind language model, and training opens the gate as far as the image helps.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mmsent.vlm.decoder import MLP


class GatedCrossAttention(nn.Module):
    """x + tanh(gate_attention) * cross-attention(LN(x), patches), then x + tanh(gate_mlp) * MLP(LN(x))."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm, self.query = nn.LayerNorm(dim), nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm_mlp, self.mlp = nn.LayerNorm(dim), MLP(dim)
        self.gate_attention = nn.Parameter(torch.zeros(()))  # tanh(0) = 0: closed at the start
        self.gate_mlp = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [batch, length, dim], patches [batch, patches, dim] ->
        (x [batch, length, dim], weights [batch, heads, length, patches], each row summing to 1)."""
        batch, length, dim = x.shape
        head_dim = dim // self.heads
        q = self.query(self.norm(x)).view(batch, length, self.heads, head_dim).transpose(1, 2)
        k, v = self.key_value(patches).view(batch, -1, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        weights = (q @ k.transpose(-2, -1) / math.sqrt(head_dim)).softmax(dim=-1)  # [B, H, L, P]
        attended = self.out((weights @ v).transpose(1, 2).reshape(batch, length, dim))
        x = x + torch.tanh(self.gate_attention) * attended
        return x + torch.tanh(self.gate_mlp) * self.mlp(self.norm_mlp(x)), weights
