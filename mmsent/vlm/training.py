"""Next-word prediction on (photo, prompt, answer) examples: batches and the training loop."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mmsent.progress import progress_bar
from mmsent.vlm.model import VisionLanguageModel
from mmsent.vlm.text import Example
from mmsent.vlm.tokenizer import WordTokenizer


def collate(items: list[Example], tokenizer: WordTokenizer,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Examples -> (input_ids [batch, length], targets [batch, length], photo indices [batch]).

    Right-padded with <pad> (target -100): a causal decoder never looks right, so padding at the end
    changes nothing before it.
    """
    pairs = [tokenizer.training_pair(item.prompt, item.answer) for item in items]
    length = max(len(inputs) for inputs, _ in pairs)
    input_ids = torch.full((len(pairs), length), tokenizer.pad_id)
    targets = torch.full((len(pairs), length), -100)
    for row, (inputs, target) in enumerate(pairs):
        input_ids[row, :len(inputs)] = torch.tensor(inputs)
        targets[row, :len(target)] = torch.tensor(target)
    return input_ids, targets, torch.tensor([item.photo for item in items])


def next_word_loss(model: VisionLanguageModel, input_ids: torch.Tensor, targets: torch.Tensor,
                   patch_tokens: torch.Tensor | None) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens (targets -100 are ignored): a scalar."""
    logits = model(input_ids, patch_tokens).logits  # [B, T, V]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def train_vlm(model: VisionLanguageModel, items: list[Example], patch_tokens: torch.Tensor,
              tokenizer: WordTokenizer, steps: int, seed: int, batch_size: int = 64,
              learning_rate: float = 2e-3, progress: bool = True) -> list[float]:
    """AdamW with linear warm-up and cosine decay, batches drawn with a seeded generator.

    patch_tokens [photos, patches, patch_dim]: indexed by each example's `photo`.
    Returns the loss of every step.
    """
    if steps < 1 or not items:
        raise ValueError("train_vlm needs at least one step and one example")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps)))
    model.train()
    losses = []
    for _ in progress_bar(range(steps), desc=f"train {model.config.kind}", enabled=progress):
        picks = torch.randint(len(items), (batch_size,), generator=generator).tolist()
        input_ids, targets, photos = collate([items[i] for i in picks], tokenizer)
        loss = next_word_loss(model, input_ids, targets, patch_tokens[photos])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses
