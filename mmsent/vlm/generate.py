"""Writing text: the model predicts the next word, we append it, and ask again.

Greedy decoding takes the most likely word each time; sampling draws it from the softmax of
logits / temperature, optionally among the top-k words only. No KV cache: a prompt and its answer
are at most ~20 tokens, so recomputing the whole (short) sequence each step costs less than the
bookkeeping would save here.
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
    prompt_ids = torch.tensor(tokenizer.prompt_ids(prompt)).repeat(rows, 1)  # [B, k]
    ids, looks = prompt_ids, []
    generator = torch.Generator().manual_seed(seed)
    budget = min(max_new_tokens, model.config.max_length - prompt_ids.shape[1])
    for _ in range(budget):
        output = model(ids, photos)
        chosen = next_token(output.logits[:, -1], temperature, top_k, generator)  # [B]
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        if output.attention_to_patches is not None:
            looks.append(output.attention_to_patches[:, -1])  # [B, P]
        if (ids[:, prompt_ids.shape[1]:] == tokenizer.eos_id).any(dim=1).all():
            break
    new = ids[:, prompt_ids.shape[1]:]
    looked = torch.stack(looks, dim=1) if looks else None
    return Generated([tokenizer.decode(row) for row in new], new, looked)
