"""Writing text: the model predicts the next word, we append it, and ask again.

Greedy decoding takes the most likely word each time; sampling draws it from the softmax of
logits / temperature, optionally among the top-k words only. **Beam search** keeps the few most
likely sentences so far and returns the most likely whole sentence: where greedy decoding commits to
"on" because a side is likely to follow, beam search compares "a mug with a crack" with "a mug with
a crack on the left" as wholes, and a side the model is unsure of lowers the longer sentence's
probability (how BLIP writes its captions, with 3 beams). The most likely sentence is often the
shortest, though: "an intact mug" can win over a damage the model is unsure of.

The photos' image tokens (the vision side and the projector) are computed once per call: they do
not change as the text grows. The text itself is recomputed at every step, with no KV cache: a
prompt and its answer are at most ~20 tokens, so the cache's bookkeeping would save little here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmsent.vlm.model import VisionLanguageModel
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.vision import PhotoInputs


@dataclass
class Generated:
    """texts: one answer per photo; token_ids [batch, new]: the words written (after <ans>);
    looks [batch, new, patches] or None: where the position that chose each word looked."""

    texts: list[str]
    token_ids: torch.Tensor
    looks: torch.Tensor | None


def next_token(logits: torch.Tensor, temperature: float = 0.0, top_k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """logits [batch, vocab] -> token ids [batch]: argmax when temperature is 0, else a sample."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


def _image_tokens(model: VisionLanguageModel,
                  photos: PhotoInputs | torch.Tensor | None) -> torch.Tensor | None:
    """The photos' image tokens [batch, patches / 4, dim], computed once per generation (None: blind)."""
    return model.image_tokens(photos) if model.config.reads_photos and photos is not None else None


@torch.no_grad()
def generate(model: VisionLanguageModel, tokenizer: WordTokenizer, prompt: str,
             photos: PhotoInputs | torch.Tensor | None, batch: int | None = None, max_new_tokens: int = 12,
             temperature: float = 0.0, top_k: int | None = None, seed: int = 0) -> Generated:
    """Answer one prompt for each photo of `photos` (their `mmsent.vlm.vision.PhotoInputs`).

    Every row shares the prompt, so the rows stay the same length and run in one batch; a row that
    wrote <eos> keeps going but what follows is cut off. `batch`: the number of rows for a blind
    model (which has no patch tokens to count).
    """
    model.eval()
    rows = len(photos) if photos is not None else (batch or 1)
    image = _image_tokens(model, photos)  # once: every step reads the same photos
    prompt_ids = torch.tensor(tokenizer.prompt_ids(prompt)).repeat(rows, 1)  # [B, k]
    ids, looks = prompt_ids, []
    generator = torch.Generator().manual_seed(seed)
    budget = min(max_new_tokens, model.config.max_length - prompt_ids.shape[1])
    for _ in range(budget):
        output = model(ids, image_tokens=image)
        chosen = next_token(output.logits[:, -1], temperature, top_k, generator)  # [B]
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        if output.attention_to_patches is not None:
            looks.append(output.attention_to_patches[:, -1])  # [B, P]
        if (ids[:, prompt_ids.shape[1]:] == tokenizer.eos_id).any(dim=1).all():
            break
    new = ids[:, prompt_ids.shape[1]:]
    looked = torch.stack(looks, dim=1) if looks else None
    return Generated([tokenizer.decode(row) for row in new], new, looked)


@torch.no_grad()
def beam_search(model: VisionLanguageModel, tokenizer: WordTokenizer, prompt: str,
                photos: PhotoInputs | torch.Tensor | None, batch: int | None = None, beams: int = 3,
                max_new_tokens: int = 12) -> Generated:
    """Answer one prompt for each photo with the most likely sentence among `beams` kept at each step.

    A sentence's score is the sum of its words' log-probabilities, <eos> included (no length
    bonus). A finished beam can only add <eos> at no cost, so it competes with the longer ones as
    it is. `looks` are those of the returned sentences, read in one pass (the decoder is causal, so
    each position sees what it saw while writing).
    """
    if beams < 1:
        raise ValueError(f"beams must be at least 1, got {beams}")
    model.eval()
    rows = len(photos) if photos is not None else (batch or 1)
    prompt_ids = torch.tensor(tokenizer.prompt_ids(prompt))
    start = len(prompt_ids)
    ids = prompt_ids.repeat(rows * beams, 1)  # [B * K, k]: row r's beams are rows r*K .. r*K+K-1
    image = _image_tokens(model, photos)
    per_beam = None if image is None else image.repeat_interleave(beams, dim=0)  # [B * K, P, D]
    scores = torch.full((rows, beams), float("-inf"))
    scores[:, 0] = 0.0  # one live beam at the start: the others would repeat it
    finished = torch.zeros(rows * beams, dtype=torch.bool)
    for _ in range(min(max_new_tokens, model.config.max_length - start)):
        log_probs = model(ids, image_tokens=per_beam).logits[:, -1].log_softmax(dim=-1)  # [B * K, V]
        vocab = log_probs.shape[-1]
        only_eos = torch.full_like(log_probs, float("-inf"))
        only_eos[:, tokenizer.eos_id] = 0.0
        log_probs = torch.where(finished[:, None], only_eos, log_probs)
        best = (scores.view(-1, 1) + log_probs).view(rows, beams * vocab).topk(beams, dim=-1)
        parents = (torch.arange(rows)[:, None] * beams + best.indices // vocab).flatten()
        words = (best.indices % vocab).flatten()
        ids = torch.cat([ids[parents], words[:, None]], dim=1)
        finished = finished[parents] | (words == tokenizer.eos_id)
        scores = best.values
        if finished.all():
            break
    chosen = ids.view(rows, beams, -1)[torch.arange(rows), scores.argmax(dim=-1)]  # [B, k + new]
    looks = model(chosen, image_tokens=image).attention_to_patches
    new = chosen[:, start:]
    looked = None if looks is None else looks[:, start - 1:start - 1 + new.shape[1]]
    return Generated([tokenizer.decode(row) for row in new], new, looked)
