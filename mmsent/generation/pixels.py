"""Pixels in and out of the text-to-image model: photos -> tensors in [-1, 1], and back; the CLIP's view.

The generator works on 32x32 pixels in [-1, 1]. Photos are drawn at `DRAW_SIZE` like the review
set's and shrunk with a box filter (each pixel the average of the area it covers, so thin cracks
fade to a darker line instead of vanishing). The course CLIP sees 64x64 photos normalised with its
own mean and standard deviation, so generated pixels are resized and normalised before grading.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmsent.encoders import OFFLINE_IMAGE_SIZE, clip_image_processor

DRAW_SIZE = 128  # photos are drawn like the review set's, then shrunk to the model's size


def photos_to_tensor(images: list[Image.Image], size: int) -> torch.Tensor:
    """PIL photos -> pixels ``[n, 3, size, size]`` in [-1, 1], shrunk with a box filter (area average)."""
    arrays = [np.asarray(image.convert("RGB").resize((size, size), Image.BOX)) for image in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def tensor_to_images(pixels: torch.Tensor) -> np.ndarray:
    """Pixels ``[n, 3, S, S]`` in [-1, 1] -> uint8 array ``[n, S, S, 3]`` for plotting or saving."""
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def clip_pixels(images: torch.Tensor, image_size: int = OFFLINE_IMAGE_SIZE) -> torch.Tensor:
    """Generated pixels ``[B, 3, S, S]`` in [-1, 1] -> CLIP input ``[B, 3, 64, 64]`` (resized, normalised)."""
    processor = clip_image_processor(image_size)
    mean = torch.tensor(processor.image_mean, device=images.device)[:, None, None]
    std = torch.tensor(processor.image_std, device=images.device)[:, None, None]
    resized = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return ((resized.clamp(-1, 1) + 1) / 2 - mean) / std
