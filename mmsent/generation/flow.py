"""Flow matching: how the text-to-image model learns to denoise, and how it draws.

A photo ``x0`` (pixels in [-1, 1]) and a Gaussian noise image ``noise`` are joined by a straight
line, ``x_t = (1 - t) * x0 + t * noise``: ``t = 0`` is the photo, ``t = 1`` pure noise (the forward
noising process). Along that line the image moves with the constant velocity ``noise - x0``; the
denoiser learns to predict it from ``(x_t, t, caption)`` with a mean squared error (rectified flow,
the training objective of Stable Diffusion 3). To draw, start from noise at ``t = 1`` and follow the
predicted velocity back to ``t = 0`` in a few Euler steps.

Classifier-free guidance: the same network also predicts the velocity for "no caption" (a learned
null embedding, trained by dropping captions), and sampling extrapolates from the unconditional
towards the conditional prediction, ``v = v_uncond + w * (v_cond - v_uncond)``: ``w = 0`` ignores the
caption, ``w = 1`` is the plain conditional model, ``w > 1`` exaggerates what the caption changes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmsent.generation.unet import TextToImageUNet


def noise_photos(photos: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The forward process ``x_t = (1 - t) x0 + t noise``: photos, noise ``[B, 3, S, S]``, ``t`` ``[B]``."""
    t = t[:, None, None, None]
    return (1 - t) * photos + t * noise


def sample_noise_levels(batch: int, generator: torch.Generator) -> torch.Tensor:
    """Training noise levels ``[batch]`` in (0, 1), logit-normal as in Stable Diffusion 3.

    Mid-range levels, where the picture's content is decided, are drawn more often than the ends.
    """
    return torch.sigmoid(torch.randn(batch, generator=generator))


def flow_matching_loss(
    model: TextToImageUNet, photos: torch.Tensor, text_embeddings: torch.Tensor, generator: torch.Generator,
    caption_dropout: float = 0.15,
) -> torch.Tensor:
    """Mean squared error of the predicted velocity: photos ``[B, 3, S, S]``, captions ``[B, text_dim]``.

    A share ``caption_dropout`` of the captions is replaced by the null embedding, which teaches the
    unconditional model that guidance needs. Noise and dropout come from ``generator`` (on the CPU),
    so a run is reproducible.
    """
    batch = photos.shape[0]
    noise = torch.randn(photos.shape, generator=generator).to(photos.device)
    t = sample_noise_levels(batch, generator).to(photos.device)
    dropped = (torch.rand(batch, generator=generator) < caption_dropout).to(photos.device)
    null = model.null_embedding.expand_as(text_embeddings)
    conditions = torch.where(dropped[:, None], null, text_embeddings)
    velocity = model(noise_photos(photos, noise, t), t, conditions)
    return F.mse_loss(velocity, noise - photos)


def guided_velocity(
    model: TextToImageUNet, x: torch.Tensor, t: torch.Tensor, text_embeddings: torch.Tensor,
    guidance_scale: float,
) -> torch.Tensor:
    """Classifier-free guided velocity ``[B, 3, S, S]``: one pass over the caption and null batch together."""
    if guidance_scale == 1.0:
        return model(x, t, text_embeddings)
    null = model.null_embedding.expand_as(text_embeddings)
    if guidance_scale == 0.0:
        return model(x, t, null)
    conditional, unconditional = model(torch.cat([x, x]), torch.cat([t, t]),
                                       torch.cat([text_embeddings, null])).chunk(2)
    return unconditional + guidance_scale * (conditional - unconditional)


@torch.no_grad()
def sample(
    model: TextToImageUNet, text_embeddings: torch.Tensor, *, guidance_scale: float = 3.0, steps: int = 12,
    seed: int = 0, return_path: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Draw one image per caption embedding ``[B, text_dim]`` -> pixels ``[B, 3, S, S]`` in [-1, 1].

    Euler steps from ``t = 1`` (noise drawn from ``seed``: the same seed gives the same images) to
    ``t = 0``. With ``return_path`` it also returns the intermediate images ``x_t`` (``steps + 1`` of them).
    """
    model.eval()
    size = model.config.image_size
    device = text_embeddings.device
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((len(text_embeddings), 3, size, size), generator=generator).to(device)
    levels = torch.linspace(1.0, 0.0, steps + 1)
    path = [x]
    for t, t_next in zip(levels[:-1].tolist(), levels[1:].tolist(), strict=True):
        velocity = guided_velocity(model, x, torch.full((len(x),), t, device=device), text_embeddings,
                                   guidance_scale)
        x = x + (t_next - t) * velocity
        path.append(x)
    images = x.clamp(-1, 1)
    return (images, path) if return_path else images
