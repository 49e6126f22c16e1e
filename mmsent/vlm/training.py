"""Next-word prediction on (photo, prompt, answer) examples: batches and the training loop."""

from __future__ import annotations

from collections import defaultdict

import torch
import torch.nn.functional as F
from transformers import get_cosine_schedule_with_warmup

from mmsent.progress import progress_bar
from mmsent.vlm.model import VisionLanguageModel
from mmsent.vlm.text import Example
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.vision import PhotoInputs


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
                   photos: PhotoInputs | None) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens (targets -100 are ignored): a scalar."""
    logits = model(input_ids, photos).logits  # [B, T, V]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def task_balanced_batch(by_task: dict[str, list[Example]], size: int,
                        generator: torch.Generator) -> list[Example]:
    """`size` examples, each of a task drawn uniformly from `by_task` (task -> its examples), then an
    example of that task drawn uniformly (both with `generator`)."""
    tasks = sorted(by_task)
    chosen = torch.randint(len(tasks), (size,), generator=generator).tolist()
    return [by_task[tasks[t]][torch.randint(len(by_task[tasks[t]]), (1,), generator=generator).item()]
            for t in chosen]


def train_vlm(model: VisionLanguageModel, items: list[Example], photos: PhotoInputs | torch.Tensor,
              tokenizer: WordTokenizer, steps: int, seed: int, batch_size: int = 64,
              learning_rate: float = 2e-3, vision_learning_rate: float = 3e-4,
              gate_learning_rate: float = 0.2, progress: bool = True) -> list[float]:
    """AdamW with linear warm-up and cosine decay, batches drawn with a seeded generator.

    Each example of a batch is drawn **task first**: a task (the caption or one question type) uniformly,
    then one of its examples. Drawn uniformly over examples instead, a rare task starves: "where is the
    damage ?" is asked of about one photo in six, a few percent of the examples, and the model
    never learns it.

    photos: every photo's `PhotoInputs` (`mmsent.vlm.vision.photo_inputs`), indexed by each example's
    `photo`.
    vision_learning_rate: for the CLIP layers the model fine-tunes and its detail stem
    (`model.vision_parameters()`), smaller than the rest's `learning_rate` because the CLIP layers
    start trained (as nanoVLM trains its vision encoder).
    gate_learning_rate: for the Flamingo-style model's tanh gates (`model.gate_parameters()`), with no
    weight decay (as OpenFlamingo trains them). AdamW moves a parameter by about its learning rate per
    step whatever the gradient's size, and a gate has to travel from 0 to about 1 while the weights
    it scales are still learning what to say: at the decoder's rate a gate stays almost shut for
    the whole run, and the cross-attention's own weights learn as if their learning rate were that
    small (notebook 09 shows the committed model's gates).
    Returns the loss of every step.
    """
    if steps < 1 or not items:
        raise ValueError("train_vlm needs at least one step and one example")
    generator = torch.Generator().manual_seed(seed)
    by_task: dict[str, list[Example]] = defaultdict(list)
    for item in items:
        by_task[item.task].append(item)
    vision, gates = model.vision_parameters(), model.gate_parameters()
    apart = {id(p) for p in vision + gates}
    others = [p for p in model.parameters() if id(p) not in apart]
    groups = [{"params": others, "lr": learning_rate}, {"params": vision, "lr": vision_learning_rate},
              {"params": gates, "lr": gate_learning_rate, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=0.01)
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 20), steps)
    model.train()
    losses = []
    for _ in progress_bar(range(steps), desc=f"train {model.config.kind}", enabled=progress):
        input_ids, targets, rows = collate(task_balanced_batch(by_task, batch_size, generator), tokenizer)
        loss = next_word_loss(model, input_ids, targets, model.photos_of(photos, rows))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses
