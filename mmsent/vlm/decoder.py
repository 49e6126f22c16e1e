"""A small nanoGPT-style causal decoder: token + position embeddings, pre-LayerNorm blocks of causal
self-attention and an MLP, a final LayerNorm and a linear head onto the vocabulary.

Attention is written out (no fused kernel) so that each block returns its weights: reading where
a word looks is the point of the course. At these sizes (a sequence of at most ~80 positions) the
explicit softmax costs nothing that matters.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [batch, length, dim] -> (output [batch, length, dim], weights [batch, heads, length, length])."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / math.sqrt(dim // self.heads)  # [B, H, L, L]
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(batch, length, dim)
        return self.out(mixed), weights


class MLP(nn.Module):
    """Position-wise feed-forward: dim -> 4 dim -> dim with a GELU."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x)): the transformer block of GPT-2."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(dim), CausalSelfAttention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [batch, length, dim] -> (same shape, attention weights [batch, heads, length, length])."""
        attended, weights = self.attention(self.norm1(x))
        x = x + attended
        return x + self.mlp(self.norm2(x)), weights


class TokenEmbedding(nn.Module):
    """Token ids [batch, length] -> token + learned position embeddings [batch, length, dim]."""

    def __init__(self, vocab_size: int, dim: int, max_length: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(max_length, dim)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.positions.num_embeddings:
            raise ValueError(f"sequence of {input_ids.shape[1]} tokens; the model reads at most "
                             f"{self.positions.num_embeddings}")
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.tokens(input_ids) + self.positions(positions)
