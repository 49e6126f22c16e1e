"""The photos' CLIP patch tokens, computed once: the vision tower is frozen, so caching them makes
training the decoder cheap (it never runs CLIP again)."""

from __future__ import annotations

import torch
from PIL import Image

from mmsent.encoders import Encoders, clip_image_outputs, load_encoders


@torch.no_grad()
def patch_tokens(images: list[Image.Image], encoders: Encoders | None = None,
                 batch_size: int = 256) -> torch.Tensor:
    """CLIP patch tokens of `images` -> float tensor [n, patches, dim] (64 x 128 for the offline CLIP).

    encoders: from `mmsent.encoders.load_encoders` (default: the offline profile's).
    """
    encoders = load_encoders("offline") if encoders is None else encoders
    model = encoders.image_model.eval()
    device = next(model.parameters()).device
    chunks = []
    for start in range(0, len(images), batch_size):
        pixels = encoders.image_processor(images=images[start:start + batch_size], return_tensors="pt")
        chunks.append(clip_image_outputs(model, pixels["pixel_values"].to(device))[1].float().cpu())
    return torch.cat(chunks)
