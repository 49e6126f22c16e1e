"""The top of the course CLIP's vision tower, fine-tuned inside the vision-language model.

The course CLIP was trained to match photos with review-style captions, not to spot a dent: a linear
probe on its frozen patch tokens tells a damaged photo from an intact one about 77 % of the time.
LLaVA keeps its vision encoder frozen; nanoVLM and the later LLaVA and Idefics models train it too, at
a smaller learning rate. We do the cheap version: the last `top_layers` layers of CLIP's vision
tower and its ``post_layernorm`` are copied into the model (`VisionTop.from_clip`) and trained with
it, while everything below stays frozen, so the state that *enters* those layers is computed once
and cached (`clip_states`).

`VisionLayer` is CLIP's encoder layer written out (pre-LayerNorm self-attention over the class token
and the 8 x 8 patches, then a quick-GELU MLP) with CLIP's parameter names, so CLIP's weights load
into it as they are, and it does not depend on how a transformers version calls its layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from mmsent.compat import clip_vision_hidden_states
from mmsent.encoders import Encoders, load_encoders
from mmsent.vlm.detail import photo_pixels


class VisionAttention(nn.Module):
    """CLIP's self-attention: every token sees every token (no mask)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, tokens, dim] -> [batch, tokens, dim]."""
        batch, tokens, dim = x.shape

        def split(projection: nn.Linear) -> torch.Tensor:  # [B, heads, tokens, dim / heads]
            return projection(x).view(batch, tokens, self.heads, dim // self.heads).transpose(1, 2)

        mixed = F.scaled_dot_product_attention(split(self.q_proj), split(self.k_proj), split(self.v_proj))
        return self.out_proj(mixed.transpose(1, 2).reshape(batch, tokens, dim))


class VisionLayer(nn.Module):
    """x + attention(LN(x)), then x + fc2(quick_gelu(fc1(LN(x)))): one CLIP vision encoder layer."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.layer_norm1, self.self_attn = nn.LayerNorm(dim, eps=eps), VisionAttention(dim, heads)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(dim, hidden), "fc2": nn.Linear(hidden, dim)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, 1 + patches, dim] -> the same shape."""
        x = x + self.self_attn(self.layer_norm1(x))
        hidden = self.mlp["fc1"](self.layer_norm2(x))
        return x + self.mlp["fc2"](hidden * torch.sigmoid(1.702 * hidden))  # quick GELU, as CLIP


class VisionTop(nn.Module):
    """CLIP states entering the top layers [batch, 1 + patches, dim] -> patch tokens [batch, patches, dim].

    The top `layers` CLIP vision layers, then ``post_layernorm`` per token, then the class token is
    dropped: with the copied CLIP weights this is exactly `mmsent.encoders.clip_image_outputs`' patch
    tokens, before any training.
    """

    def __init__(self, layers: int, dim: int, heads: int, hidden: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VisionLayer(dim, heads, hidden, eps) for _ in range(layers))
        self.post_layernorm = nn.LayerNorm(dim, eps=eps)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            states = layer(states)
        return self.post_layernorm(states)[:, 1:]

    def load_clip(self, vision_model: nn.Module) -> VisionTop:
        """Copy the top ``len(self.layers)`` layers and the ``post_layernorm`` of CLIP's vision tower
        (``CLIPModel.vision_model``) into this module; returns it."""
        clip_layers = vision_model.encoder.layers
        for ours, theirs in zip(self.layers, clip_layers[len(clip_layers) - len(self.layers):], strict=True):
            ours.load_state_dict(theirs.state_dict())
        self.post_layernorm.load_state_dict(vision_model.post_layernorm.state_dict())
        return self


@torch.no_grad()
def clip_states(images: list[Image.Image], top_layers: int, encoders: Encoders | None = None,
                batch_size: int = 256) -> torch.Tensor:
    """The frozen part of CLIP's vision tower on `images` -> the states that enter its top `top_layers`
    layers, float [n, 1 + patches, dim] (65 x 128 for the offline CLIP: the class token + 8 x 8 patches).

    encoders: from `mmsent.encoders.load_encoders` (default: the offline profile's). Computed once per
    photo set: the model (`VisionTop`) does the rest while it trains.
    """
    encoders = load_encoders("offline") if encoders is None else encoders
    model = encoders.image_model.eval()
    device = next(model.parameters()).device
    depth = len(model.vision_model.encoder.layers)
    if not 0 <= top_layers <= depth:
        raise ValueError(f"top_layers must be between 0 and the tower's {depth} layers, got {top_layers}")
    chunks = []
    for start in range(0, len(images), batch_size):
        pixels = encoders.image_processor(images=images[start:start + batch_size], return_tensors="pt")
        states = clip_vision_hidden_states(model.vision_model, pixels["pixel_values"].to(device))
        chunks.append(states[depth - top_layers].float().cpu())
    return torch.cat(chunks)


@dataclass
class PhotoInputs:
    """What a vision-language model reads of each photo, computed once per photo set (`photo_inputs`).

    states: float [n, 1 + patches, dim], the CLIP states that enter the top layers (`clip_states`);
    pixels: uint8 [n, 3, size, size], the photo itself for the detail stem (`mmsent.vlm.detail`), or
        None for a model without one.
    Indexing picks photos: ``inputs[rows]`` is a `PhotoInputs` of those rows.
    """

    states: torch.Tensor
    pixels: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.states.shape[0]

    def __getitem__(self, rows: int | slice | list[int] | torch.Tensor) -> PhotoInputs:
        rows = [rows] if isinstance(rows, int) else rows  # keep the photo axis
        return PhotoInputs(self.states[rows], None if self.pixels is None else self.pixels[rows])


def photo_inputs(images: list[Image.Image], top_layers: int, pixel_size: int = 0,
                 encoders: Encoders | None = None) -> PhotoInputs:
    """`images` -> their `PhotoInputs`: the CLIP states entering the top `top_layers` layers, and the
    photos at `pixel_size` x `pixel_size` when it is not 0 (a model with a detail stem:
    ``VisionLanguageModel.pixel_size``)."""
    states = clip_states(images, top_layers, encoders)
    return PhotoInputs(states, photo_pixels(images, pixel_size) if pixel_size else None)
