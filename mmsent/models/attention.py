"""Cross-modal attention: two ways to get it wrong, then the layer the course builds.

1. `NaiveCrossAttention` and `batch_mixing_attention`: kept because seeing *why* they are wrong
   is the lesson (a softmax over one key is always 1.0; `[B, H] @ [H, B]` attends across the batch).
2. `CrossModalAttention`: the text attends over the photo's patch tokens, multi-head, with a
   learned gate that says how much the photo is used for this review.

Shapes in docstrings: B = batch, P = patches, D = a feature width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn


class NaiveCrossAttention(nn.Module):
    """Cross-attention from ONE text vector to ONE image vector: degenerate, on purpose.

    query = W_q text [B, 1, dim], key = W_k image [B, 1, dim], value = W_v image [B, 1, dim].
    The scores q k^T / sqrt(dim) are [B, 1, 1]: one number per review. A softmax over a
    single key is exp(s) / exp(s) = 1.0 whatever s is, so the weight is always exactly 1.0
    and attended == value == W_v image. The query (the text) has no effect at all: this
    "attention" is a linear layer on the image vector. Attention needs several keys to
    choose between, e.g. the photo's 49 patch tokens: see `CrossModalAttention`.

    text [B, text_dim], image [B, image_dim] -> (attended [B, dim], weights [B, 1, 1] == 1.0)
    """

    def __init__(self, text_dim: int, image_dim: int, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(text_dim, dim)
        self.key = nn.Linear(image_dim, dim)
        self.value = nn.Linear(image_dim, dim)

    def forward(self, text: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        q = self.query(text).unsqueeze(1)  # [B, 1, dim]
        k = self.key(image).unsqueeze(1)  # [B, 1, dim]
        v = self.value(image).unsqueeze(1)  # [B, 1, dim]
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # [B, 1, 1]
        weights = scores.softmax(dim=-1)  # a softmax over one key: always 1.0
        return (weights @ v).squeeze(1), weights


def batch_mixing_attention(text: Tensor, image: Tensor) -> Tensor:
    """The other classic mistake: `[B, H] @ [H, B]` attends across the batch.

    Dropping the sequence axis and writing softmax(text @ image.T / sqrt(H)) gives weights
    [B, B]: row i says how much review i looks at the photos of reviews 0..B-1. Each row sums
    to 1, so it looks like attention, but review i spends weight 1 - w[i, i] on OTHER
    customers' photos (about (B-1)/B of it at initialisation, e.g. 31/32 with a batch of 32),
    and its prediction changes with whatever else happens to be in its batch. With B = 1 it
    collapses to `NaiveCrossAttention` (a single weight of 1.0).

    text [B, H], image [B, H] (same width H) -> weights [B, B], rows sum to 1.
    """
    if text.dim() != 2 or image.dim() != 2 or text.shape[1] != image.shape[1]:
        raise ValueError(
            f"text {tuple(text.shape)} and image {tuple(image.shape)} must both be [batch, H] with the "
            "same H; project them to a common width first."
        )
    return (text @ image.T / math.sqrt(text.shape[1])).softmax(dim=-1)


# --------------------------------------------------------------------------------------
# 4. Cross-modal attention over patch tokens, with a gate
# --------------------------------------------------------------------------------------


class CrossAttentionOutput(NamedTuple):
    """attended [B, dim] (zeros where the image is missing); attention_weights [B, P] (mean over
    heads; sums to 1 over the patches, all zeros where the image is missing); head_weights
    [B, heads, P]; gate [B, 1] in [0, 1] (exactly 0 where the image is missing)."""

    attended: Tensor
    attention_weights: Tensor
    head_weights: Tensor
    gate: Tensor


class CrossModalAttention(nn.Module):
    """The text asks, the photo's patches answer: multi-head attention with one query.

    query = W_q text, split into `num_heads` heads: [B, heads, 1, dim/heads]
    keys, values = W_k patches, W_v patches:        [B, heads, P, dim/heads]
    weights = softmax(q k^T / sqrt(dim/heads)) over the P patches; attended = weights @ v,
    heads merged, output projection, dropout -> [B, dim].

    The weights are computed once, explicitly: the heat map needs them, and with a single query
    they are only B * heads * P numbers (a fused `F.scaled_dot_product_attention` kernel would not
    return them, and computing them a second time for the picture would double the work).

    The gate is how much the image is used for this review:
        gate = sigmoid(MLP([W_q text, attended]))   [B, 1] in [0, 1]
    It sees both the question and the answer, so it can learn "the text is clear, ignore the
    photo" or "the text is ambiguous and the photo shows a crack". The layer returns the
    attended vector ungated; the caller multiplies by the gate.

    Missing images (image_present False): gate is exactly 0, attended is all zeros and the
    attention weights are all zeros (not uniform: nothing was looked at), whatever the patch
    tensor holds, so a placeholder image cannot leak into the prediction.

    text [B, query_dim], patches [B, P, key_dim], image_present [B] bool or None (all present)
    -> CrossAttentionOutput
    """

    def __init__(
        self, query_dim: int, key_dim: int, dim: int = 256, num_heads: int = 4, dropout: float = 0.1
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads}).")
        self.num_heads = num_heads
        self.query = nn.Linear(query_dim, dim)
        self.key = nn.Linear(key_dim, dim)
        self.value = nn.Linear(key_dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.gate = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, 1))
        # An identity with a name: hooks (Captum's layer attributions, `mmsent.explain`) read the
        # weights [B, heads, 1, P] and their gradient here. No parameters, so checkpoints do not change.
        self.attention_tap = nn.Identity()

    def forward(
        self, text: Tensor, patches: Tensor, image_present: Tensor | None = None
    ) -> CrossAttentionOutput:
        batch, num_patches, _ = patches.shape
        query = self.query(text)  # [B, dim]
        dim = query.shape[-1]
        head_dim = dim // self.num_heads
        # [B, heads, tokens, head_dim]: each head attends on its own slice of the features.
        q = query.view(batch, 1, self.num_heads, head_dim).transpose(1, 2)
        k = self.key(patches).view(batch, num_patches, self.num_heads, head_dim).transpose(1, 2)
        v = self.value(patches).view(batch, num_patches, self.num_heads, head_dim).transpose(1, 2)

        scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)  # [B, heads, 1, P]
        weights = self.attention_tap(scores.softmax(dim=-1))  # [B, heads, 1, P]
        attended = weights @ v  # [B, heads, 1, head_dim]
        head_weights = weights.squeeze(2)  # [B, heads, P]
        attended = self.dropout(self.out(attended.transpose(1, 2).reshape(batch, dim)))  # [B, dim]
        gate = torch.sigmoid(self.gate(torch.cat([query, attended], dim=-1)))  # [B, 1]

        if image_present is not None:
            # torch.where, not a multiplication: 0 * NaN is NaN, and a missing image may hold anything.
            present = image_present.view(batch, 1).bool()
            attended = torch.where(present, attended, 0.0)
            gate = torch.where(present, gate, 0.0)
            head_weights = torch.where(present.view(batch, 1, 1), head_weights, 0.0)
        return CrossAttentionOutput(attended, head_weights.mean(dim=1), head_weights, gate)
