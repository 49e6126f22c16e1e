"""A small text-conditioned U-Net: the denoiser of the course's text-to-image model.

It takes a noisy image ``x_t`` ``[batch, 3, 32, 32]``, the noise level ``t`` ``[batch]`` (0 = clean
photo, 1 = pure noise) and a caption embedding ``[batch, text_dim]`` (the course CLIP's text
embedding), and predicts the velocity ``noise - photo`` that `mmsent.generation.flow` integrates.

The layout is the classic one of DDPM / Stable Diffusion, shrunk for a CPU: residual blocks at
32x32, 16x16 and 8x8 with skip connections from the way down to the way up, and self-attention at
the 8x8 bottleneck (64 tokens), so that distant parts of the photo can agree (a crack belongs on the
product, not on the wall). Time and caption enter every residual block the same way (FiLM: a
per-channel scale and shift computed from their embedding). A learned ``null_embedding`` stands for
"no caption": training replaces a share of the captions with it, so that one network is both the
conditional and the unconditional model that classifier-free guidance needs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Sizes of `TextToImageUNet` (the defaults are the committed model's)."""

    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128)  # width at 32x32, 16x16, 8x8
    text_dim: int = 128  # the course CLIP's projection_dim
    embed_dim: int = 128  # width of the time + caption embedding
    attention_heads: int = 4

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    @classmethod
    def from_dict(cls, values: dict) -> UNetConfig:
        return cls(**{**values, "channels": tuple(values["channels"])})


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the noise level ``t`` ``[batch]`` in [0, 1] -> ``[batch, dim]``."""
    half = dim // 2
    frequencies = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t[:, None].float() * frequencies[None]  # [B, half]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels // 4), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual path; the embedding scales and shifts the middle features."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(embed_dim, 2 * out_channels)
        self.norm2, self.conv2 = _norm(out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity: stable early training
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, in, H, W]``, ``embedding`` ``[B, embed_dim]`` -> ``[B, out, H, W]``."""
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class SelfAttention(nn.Module):
    """Multi-head self-attention over the ``H*W`` positions of a feature map, with a residual path."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]``."""
        batch, channels, height, width = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # [B, H*W, C]
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + attended.transpose(1, 2).reshape(batch, channels, height, width)


class TextToImageUNet(nn.Module):
    """The denoiser: ``(x_t [B, 3, S, S], t [B], caption [B, text_dim])`` -> velocity ``[B, 3, S, S]``.

    Built from a `UNetConfig`; ``null_embedding`` ``[text_dim]`` is the learned "no caption" condition.
    """

    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        widths, embed_dim = config.channels, config.embed_dim
        self.time_mlp = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.SiLU(),
                                      nn.Linear(embed_dim, embed_dim))
        self.text_mlp = nn.Sequential(nn.Linear(config.text_dim, embed_dim), nn.SiLU(),
                                      nn.Linear(embed_dim, embed_dim))
        self.null_embedding = nn.Parameter(torch.zeros(config.text_dim))  # "no caption", for guidance
        self.stem = nn.Conv2d(3, widths[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        previous = widths[0]
        for level, width in enumerate(widths):
            self.down_blocks.append(ResBlock(previous, width, embed_dim))
            previous = width
            if level < len(widths) - 1:
                self.downsamples.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.middle = ResBlock(widths[-1], widths[-1], embed_dim)
        self.attention = SelfAttention(widths[-1], config.attention_heads)
        self.up_blocks = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        for level in reversed(range(len(widths))):
            self.up_blocks.append(ResBlock(previous + widths[level], widths[level], embed_dim))
            previous = widths[level]
            if level > 0:
                self.upsamples.append(nn.Conv2d(widths[level], widths[level - 1], 3, padding=1))
                previous = widths[level - 1]
        self.head = nn.Sequential(_norm(widths[0]), nn.SiLU(), nn.Conv2d(widths[0], 3, 3, padding=1))

    def embed(self, t: torch.Tensor, text_embedding: torch.Tensor) -> torch.Tensor:
        """Noise level ``[B]`` + caption embedding ``[B, text_dim]`` -> one embedding ``[B, embed_dim]``."""
        return self.time_mlp(time_embedding(t, self.config.embed_dim)) + self.text_mlp(text_embedding)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text_embedding: torch.Tensor) -> torch.Tensor:
        """The velocity ``[B, 3, S, S]`` of ``x`` ``[B, 3, S, S]`` at noise levels ``t`` ``[B]``."""
        embedding = self.embed(t, text_embedding)
        h = self.stem(x)
        skips = []
        for level, block in enumerate(self.down_blocks):
            h = block(h, embedding)
            skips.append(h)
            if level < len(self.downsamples):
                h = self.downsamples[level](h)
        h = self.attention(self.middle(h, embedding))
        for index, block in enumerate(self.up_blocks):
            h = block(torch.cat([h, skips.pop()], dim=1), embedding)
            if index < len(self.upsamples):
                h = self.upsamples[index](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)
