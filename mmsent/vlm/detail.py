"""A detail stem: a small CNN on the full-size photo whose output is added to CLIP's patch tokens.

The course CLIP reads the photo at 64 px in 8 x 8-pixel patches. A dent is a pinched outline, a dark
shade and a few thin lines: at 64 px the lines blur into the shade. `bench/vlm_vision.py` measured the cost:
every way of reading the CLIP (frozen, fine-tuned, even from its pixels) stops at 0.83-0.89 on "is it
damaged ?", while a four-layer CNN on the same pixels reaches 0.92. Modern VLMs meet the same limit
with more pixels (LLaVA-NeXT's and Idefics3's tiles: several crops, each through the vision encoder);
we add a cheap second look instead, as "early convolutions" do for a ViT: four strided convolutions on
the 128 px photo, one output vector per CLIP patch, added to that patch's token. Its last convolution
starts at zero, so a new model reads exactly CLIP's tokens until training finds a use for the detail.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn

PIXEL_MEAN, PIXEL_SCALE = 0.5, 0.25  # pixel / 255 -> (value - mean) / scale, about -2 .. 2


class DetailStem(nn.Module):
    """Photo pixels uint8 [batch, 3, 16 * grid, 16 * grid] -> detail tokens [batch, grid * grid, dim].

    A 4 x 4 convolution of stride 2, then three 3 x 3 of stride 2, with `width` / 8, / 4 and / 2
    channels and `dim` out: 128 px -> 64 -> 32 -> 16 -> 8, the 8 x 8 grid of CLIP's patches, row by
    row like them.
    """

    def __init__(self, width: int, dim: int) -> None:
        super().__init__()
        if width < 8 or width % 8:
            raise ValueError(f"the detail stem's width must be a positive multiple of 8, got {width}")
        channels = (3, width // 8, width // 4, width // 2)
        layers: list[nn.Module] = [nn.Conv2d(3, channels[1], 4, stride=2, padding=1), nn.GELU()]
        for low, high in zip(channels[1:-1], channels[2:], strict=True):
            layers += [nn.Conv2d(low, high, 3, stride=2, padding=1), nn.GELU()]
        layers.append(nn.Conv2d(channels[-1], dim, 3, stride=2, padding=1))
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() / 255 - PIXEL_MEAN) / PIXEL_SCALE
        return self.net(x).flatten(2).transpose(1, 2)  # [B, dim, grid, grid] -> [B, grid * grid, dim]


def photo_pixels(images: list[Image.Image], size: int) -> torch.Tensor:
    """Photos -> uint8 [n, 3, size, size]: each scaled so its shorter side is `size` and centre-cropped
    (the framing CLIP's image processor gives it; a photo already `size` x `size` is left as it is)."""
    arrays = [np.asarray(ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.BICUBIC))
              for image in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
