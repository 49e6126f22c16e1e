"""Six ways to explain one prediction over the photo's patches, plus a random map to compare with.

Every method takes a trained `MultimodalSentimentModel` (fusion or image_only), one `Review`
(its tokens and its processed photo) and the class to explain (`target`, usually the predicted
one), and returns a map [patches] (a square grid, row by row, like the attention weights):
**higher = more evidence for `target`**. Only `attention` is a probability distribution; the
others are on their own scales (`as_weights` turns any map into one for drawing and for the
mass on the damage).

    attention             the cross-modal attention weights (mean over heads): where the text looked
    attention_x_gradient  each head's weight x the gradient of the target logit with respect to it,
                          summed over heads (Captum's LayerGradientXActivation on `attention_tap`)
    grad_cam              Grad-CAM on the image tower's patch tokens (the input of its last block)
    integrated_gradients  Captum's IntegratedGradients on the pixels from a grey photo, summed per patch
    occlusion             Captum's Occlusion: grey out one patch at a time, the drop in the target's
                          probability (the model's own change in prediction)
    attention_rollout     the cross-attention carried down through the image tower by attention
                          rollout (Abnar & Zuidema 2020): which input patches the attended tokens mix
    random_map            a random map seeded by the photo: the baseline every score is compared with

"Grey" is 0 in the image processor's normalised pixels: the mean colour CLIP was trained with.
Captum is one of the kit's dependencies; in an environment that lacks it, `require_captum` says how to add it.
Shapes: P = patches, C = classes, H = W = the processed photo's side, N = photos in one batch.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from mmsent.encoders import clip_image_outputs, text_features
from mmsent.errors import UsageError

CAPTUM_HINT = 'pip install -e . in the mmsent checkout (or pip install "captum>=0.8")'
IG_STEPS = 16  # Integrated Gradients' steps from the grey photo to the real one


class Review(NamedTuple):
    """One review, ready for the model: input_ids, attention_mask [1, L] (None for image_only),
    pixel_values [1, 3, H, W]."""

    input_ids: Tensor | None
    attention_mask: Tensor | None
    pixel_values: Tensor


def require_captum():
    """The `captum.attr` module, or a `UsageError` saying how to install it."""
    try:
        import captum.attr
    except ImportError as error:
        raise UsageError(
            f"This explanation needs Captum, which is not installed: {CAPTUM_HINT}."
        ) from error
    return captum.attr


def prepare_review(model: nn.Module, text: str, photo: Image.Image) -> Review:
    """Tokenize `text` and process `photo` as `ReviewDataset` does, on the model's device."""
    encoders = model.encoders
    device = next(model.parameters()).device
    pixels = encoders.image_processor(images=[photo.convert("RGB")], return_tensors="pt")["pixel_values"]
    if not model.uses_text:
        return Review(None, None, pixels.to(device))
    tokens = encoders.tokenizer([text], return_tensors="pt", truncation=True).to(device)
    return Review(tokens["input_ids"], tokens["attention_mask"], pixels.to(device))


def grid_side(model: nn.Module) -> int:
    """Patches per side of the image encoder's square grid (8 for the offline profile's 64 patches)."""
    return math.isqrt(model.encoders.num_patches)


def _pooled_text(model: nn.Module, review: Review) -> Tensor | None:
    """The review's pooled text [1, text_dim], computed once (None for an image_only model)."""
    if not model.uses_text:
        return None
    with torch.no_grad():
        return text_features(model.text_model, review.input_ids, review.attention_mask)


def logits_fn(model: nn.Module, review: Review) -> Callable[[Tensor], Tensor]:
    """pixel_values [N, 3, H, W] -> logits [N, C]: the review's text with each photo.

    Gradients flow to the pixels even through a frozen image tower (`encode_images` would stop them).
    """
    model.eval()
    pooled = _pooled_text(model, review)

    def logits(pixel_values: Tensor) -> Tensor:
        image_embeds, patch_tokens = clip_image_outputs(model.image_model, pixel_values)
        query = None if pooled is None else pooled.expand(len(pixel_values), -1)
        return model.classify(query, image_embeds=image_embeds, patch_tokens=patch_tokens).logits

    return logits


def probabilities_fn(model: nn.Module, review: Review) -> Callable[[Tensor], Tensor]:
    """pixel_values [N, 3, H, W] -> class probabilities [N, C] (softmax of `logits_fn`)."""
    logits = logits_fn(model, review)
    return lambda pixel_values: logits(pixel_values).softmax(dim=-1)


def predicted_class(model: nn.Module, review: Review) -> int:
    """The class the model predicts for the review."""
    with torch.no_grad():
        return int(logits_fn(model, review)(review.pixel_values).argmax(dim=-1))


def grey_out(pixel_values: Tensor, patches: list[list[int]], side: int) -> Tensor:
    """One copy of the photo [1, 3, H, W] per list in `patches`, those patches grey: [N, 3, H, W]."""
    size = pixel_values.shape[-1] // side
    keep = torch.ones(len(patches), side * side, device=pixel_values.device)
    for row, removed in enumerate(patches):
        keep[row, list(removed)] = 0.0
    keep = keep.view(-1, 1, side, side).repeat_interleave(size, dim=2).repeat_interleave(size, dim=3)
    return pixel_values * keep  # grey is 0 in normalised pixels


def per_patch(pixel_map: Tensor, side: int) -> np.ndarray:
    """A pixel map [1, 3, H, W] summed over channels and over each patch's pixels -> [P]."""
    summed = pixel_map.detach().sum(dim=1)[0]  # [H, W]
    size = summed.shape[-1] // side
    return summed.view(side, size, side, size).sum(dim=(1, 3)).flatten().cpu().numpy()


def as_weights(relevance: np.ndarray) -> np.ndarray:
    """Any map [P] -> weights [P] summing to 1: the positive part, normalised (flat when none is positive)."""
    positive = np.clip(np.asarray(relevance, dtype=np.float64), 0.0, None)
    total = positive.sum()
    return positive / total if total > 0 else np.full(positive.shape, 1.0 / positive.size)


# --- the methods ---------------------------------------------------------------------------------


def attention(model: nn.Module, review: Review, target: int) -> np.ndarray:
    """The cross-modal attention weights [P] (mean over heads; `target` does not change them)."""
    model.eval()
    with torch.no_grad():
        image_embeds, patch_tokens = clip_image_outputs(model.image_model, review.pixel_values)
        pooled = _pooled_text(model, review)
        output = model.classify(pooled, image_embeds=image_embeds, patch_tokens=patch_tokens)
    return output.attention_weights[0].cpu().numpy()


def attention_x_gradient(model: nn.Module, review: Review, target: int) -> np.ndarray:
    """Attention x gradient [P]: sum over heads of weight x d(target logit)/d(weight).

    Captum's `LayerGradientXActivation` on `model.cross_attention.attention_tap` ([1, heads, 1, P]).
    """
    attr = require_captum()
    method = attr.LayerGradientXActivation(logits_fn(model, review), model.cross_attention.attention_tap)
    scores = method.attribute(review.pixel_values, target=target)  # [1, heads, 1, P]
    return scores.detach().sum(dim=1)[0, 0].cpu().numpy()


@contextmanager
def _outputs_of(modules: list[nn.Module]):
    """Collect each module's output tensor while the block runs: {position in `modules`: tensor}."""
    seen: dict[int, Tensor] = {}

    def keep(position: int):
        def hook(_module, _inputs, output):
            seen[position] = output[0] if isinstance(output, tuple) else output  # 4.x blocks return tuples

        return hook

    hooks = [module.register_forward_hook(keep(i)) for i, module in enumerate(modules)]
    try:
        yield seen
    finally:
        for hook in hooks:
            hook.remove()


def grad_cam(model: nn.Module, review: Review, target: int) -> np.ndarray:
    """Grad-CAM [P] on the image tower's patch tokens (Selvaraju et al. 2017, with tokens for channels).

    A = the patch tokens the cross-attention reads [P, D] (the tower's output after its final
    LayerNorm; before it, A . dA would vanish: a LayerNorm ignores its input's scale); each channel's
    weight is the mean over patches of d(target logit)/dA; the map is ReLU(sum over channels of
    weight x A). CLIP's global embedding comes from the CLS token, not a patch: what the model reads
    through it reaches no patch of this map.
    """
    seen: list[Tensor] = []
    hook = model.cross_attention.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[1]))
    try:
        pixels = review.pixel_values.clone().requires_grad_(True)  # the frozen tower builds a graph from here
        logit = logits_fn(model, review)(pixels)[0, target]
    finally:
        hook.remove()
    (gradients,) = torch.autograd.grad(logit, seen[0])
    activations, gradients = seen[0][0], gradients[0]  # [P, D]
    channel_weights = gradients.mean(dim=0)  # [D]
    return torch.relu(activations @ channel_weights).detach().cpu().numpy()


def integrated_gradients(model: nn.Module, review: Review, target: int, steps: int = IG_STEPS) -> np.ndarray:
    """Integrated Gradients [P] (Sundararajan et al. 2017) from the grey photo, summed per patch.

    Captum's `IntegratedGradients` on the pixels with `steps` steps; by completeness the map sums
    to about logit(photo) - logit(grey photo) for `target`.
    """
    attr = require_captum()
    method = attr.IntegratedGradients(logits_fn(model, review))
    pixels = review.pixel_values
    scores = method.attribute(pixels, torch.zeros_like(pixels), target=target, n_steps=steps,
                              internal_batch_size=steps)
    return per_patch(scores, grid_side(model))


def occlusion(model: nn.Module, review: Review, target: int) -> np.ndarray:
    """Occlusion [P] (Zeiler & Fergus 2014): the drop in the target's probability when one patch is grey.

    Captum's `Occlusion` with a window and stride of one patch, all patches in one batch.
    """
    attr = require_captum()
    side = grid_side(model)
    size = review.pixel_values.shape[-1] // side
    method = attr.Occlusion(probabilities_fn(model, review))
    with torch.no_grad():
        scores = method.attribute(review.pixel_values, sliding_window_shapes=(3, size, size),
                                  strides=(3, size, size), baselines=0.0, target=target,
                                  perturbations_per_eval=side * side)
    return per_patch(scores, side) / (3 * size * size)  # every pixel of a patch holds its patch's drop


def attention_rollout(model: nn.Module, review: Review, target: int) -> np.ndarray:
    """Attention rollout [P] (Abnar & Zuidema 2020) from the cross-attention down to the input patches.

    Each block's self-attention [1 + P, 1 + P] (mean over heads, recomputed from its query and key
    projections), mixed with the identity for the residual path (0.5 A + 0.5 I), is multiplied
    down the tower; the cross-attention's weights over the output patch tokens, pushed through
    that product, say which input patches they carry. Like `attention`, it ignores `target`.
    """
    blocks = model.image_model.vision_model.encoder.layers
    with torch.no_grad(), _outputs_of([block.layer_norm1 for block in blocks]) as seen:  # each block's input
        weights = attention(model, review, target)  # its pass through the tower fills `seen`
        tokens = seen[0].shape[1]
        rollout = torch.eye(tokens)
        for i, block in enumerate(blocks):
            mixing = 0.5 * _self_attention(block.self_attn, seen[i][0]).cpu() + 0.5 * torch.eye(tokens)
            rollout = mixing @ rollout  # [1 + P, 1 + P]: output token <- input token
    carried = torch.cat([torch.zeros(1), torch.from_numpy(weights).float()]) @ rollout  # [1 + P]
    return carried[1:].numpy()


def _self_attention(attention_layer: nn.Module, hidden: Tensor) -> Tensor:
    """A CLIP attention layer's weights on hidden [T, D]: softmax(q k^T / sqrt(d)), mean over heads [T, T]."""
    heads = attention_layer.num_heads
    q = attention_layer.q_proj(hidden).view(len(hidden), heads, -1).transpose(0, 1)  # [heads, T, d]
    k = attention_layer.k_proj(hidden).view(len(hidden), heads, -1).transpose(0, 1)
    return (q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])).softmax(dim=-1).mean(dim=0)


def random_map(model: nn.Module, review: Review, target: int, seed: int = 0) -> np.ndarray:
    """A random map [P] (uniform numbers): no information at all, the chance baseline.

    Seeded by `seed` and the photo's pixels: the same for every model, another one for every photo.
    """
    pixels = zlib.crc32(review.pixel_values.detach().cpu().numpy().tobytes())
    return np.random.default_rng([seed, pixels]).random(model.encoders.num_patches)


METHODS: dict[str, Callable[[nn.Module, Review, int], np.ndarray]] = {
    "attention": attention,
    "attention x gradient": attention_x_gradient,
    "Grad-CAM": grad_cam,
    "Integrated Gradients": integrated_gradients,
    "occlusion": occlusion,
    "attention rollout": attention_rollout,
    "random": random_map,
}
