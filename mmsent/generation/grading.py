"""The closed loop: the course's own CLIP grades what the text-to-image model draws.

For images drawn from the grid's prompts (`mmsent.generation.prompts.grid_prompts`), the CLIP
answers two zero-shot questions, as in `mmsent.models.clip_pretrain`: which photo state (intact / damaged /
generic) and which product does it see? Accuracy = how often that is what the prompt asked for.
The CLIP score is ``100 * cos(image embedding, prompt embedding)``, averaged (as in CLIPScore):
how well picture and caption match in the CLIP's joint space. Real photos of the same cells,
shrunk to the generator's 32x32 and graded the same way, are the reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import CLIPModel, PreTrainedTokenizerBase

from mmsent.data.synth import PRODUCT_NOUNS, PRODUCTS, STATES, draw_photo
from mmsent.encoders import clip_image_outputs
from mmsent.generation.flow import sample
from mmsent.generation.pixels import DRAW_SIZE, clip_pixels, photos_to_tensor
from mmsent.generation.prompts import caption_embeddings, detail_of, grid_prompts
from mmsent.generation.unet import TextToImageUNet
from mmsent.models.clip_pretrain import PROMPTS, prompt_embeddings, zero_shot_log_probs

REFERENCE_SEED = 20_241  # real photos of the grid's cells: a seed neither model trained on


@torch.no_grad()
def product_prompt_embeddings(
    clip: CLIPModel, tokenizer: PreTrainedTokenizerBase,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every zero-shot template that names a product, filled with each product.

    Returns (unit text embeddings ``[prompts, dim]``, product index of each prompt ``[prompts]``).
    """
    templates = sorted({template for group in PROMPTS.values() for template in group if "{p}" in template})
    texts = [template.format(p=PRODUCT_NOUNS[product]) for product in PRODUCTS for template in templates]
    classes = torch.arange(len(PRODUCTS)).repeat_interleave(len(templates))
    return caption_embeddings(clip, tokenizer, texts), classes.to(clip.device)


@torch.no_grad()
def grade_images(
    clip: CLIPModel, tokenizer: PreTrainedTokenizerBase, images: torch.Tensor, states: list[str],
    products: list[str], captions: list[str],
) -> dict[str, float]:
    """Grade images ``[B, 3, S, S]`` (in [-1, 1]) drawn for ``captions`` of the given states and products.

    Returns ``state_accuracy``, ``product_accuracy``, ``clip_score`` and the state accuracy per state.
    """
    image_embeds = clip_image_outputs(clip, clip_pixels(images.to(clip.device)))[0]  # [B, dim]
    state_log_probs = zero_shot_log_probs(clip, image_embeds, *prompt_embeddings(clip, tokenizer))
    product_log_probs = zero_shot_log_probs_over(
        clip, image_embeds, *product_prompt_embeddings(clip, tokenizer), classes=len(PRODUCTS))
    state_right = state_log_probs.argmax(-1).cpu() == torch.tensor([STATES.index(s) for s in states])
    product_right = product_log_probs.argmax(-1).cpu() == torch.tensor([PRODUCTS.index(p) for p in products])
    cosine = (F.normalize(image_embeds, dim=-1) * caption_embeddings(clip, tokenizer, captions)).sum(-1)
    grades = {"state_accuracy": state_right.float().mean().item(),
              "product_accuracy": product_right.float().mean().item(),
              "clip_score": 100 * cosine.mean().item()}
    for state in STATES:
        grades[f"{state}_accuracy"] = state_right[np.array(states) == state].float().mean().item()
    return grades


def zero_shot_log_probs_over(
    clip: CLIPModel, image_embeds: torch.Tensor, text_embeds: torch.Tensor, prompt_classes: torch.Tensor,
    classes: int,
) -> torch.Tensor:
    """`zero_shot_log_probs` for any number of classes: ``[B, dim]`` -> log-probabilities ``[B, classes]``."""
    logits = clip.logit_scale.exp() * F.normalize(image_embeds, dim=-1) @ text_embeds.t()
    log_probs = logits.log_softmax(dim=-1)
    return torch.stack([log_probs[:, prompt_classes == index].logsumexp(-1) for index in range(classes)],
                       dim=-1)


def grid_batch(per_cell: int) -> tuple[list[str], list[str], list[str]]:
    """States, products and captions of ``per_cell`` images for each of the 18 grid cells, cell by cell."""
    cells = [cell for cell in grid_prompts() for _ in range(per_cell)]
    return [s for s, _, _ in cells], [p for _, p, _ in cells], [c for _, _, c in cells]


def reference_photos(per_cell: int, size: int, seed: int = REFERENCE_SEED) -> torch.Tensor:
    """Real photos of the grid's cells, ``per_cell`` each, shrunk: ``[18 * per_cell, 3, size, size]``."""
    images = []
    for cell, (state, product, _) in enumerate(grid_prompts()):
        for index in range(per_cell):
            rng = np.random.default_rng([seed, cell, index])
            images.append(draw_photo(product, state, detail_of(state, product), rng, DRAW_SIZE))
    return photos_to_tensor(images, size)


def guidance_sweep(
    model: TextToImageUNet, clip: CLIPModel, tokenizer: PreTrainedTokenizerBase, scales: list[float], *,
    per_cell: int = 4, steps: int = 12, seed: int = 0,
) -> pd.DataFrame:
    """Draw ``per_cell`` images per grid cell at each guidance scale and grade them: one row per scale.

    Every scale starts from the same noise (``seed``), so the rows differ only by the guidance.
    """
    states, products, captions = grid_batch(per_cell)
    conditions = caption_embeddings(clip, tokenizer, captions).to(next(model.parameters()).device)
    rows = []
    for scale in scales:
        images = sample(model, conditions, guidance_scale=scale, steps=steps, seed=seed)
        grades = grade_images(clip, tokenizer, images, states, products, captions)
        rows.append({"guidance_scale": scale, **grades})
    return pd.DataFrame(rows)
