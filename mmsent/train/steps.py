"""One training step's parts: the batch's model inputs, the optimiser, the learning-rate schedule and
the attention loss. `fit` (`mmsent.train.loop`) and `predict` (`mmsent.train.evaluation`) share them."""

from __future__ import annotations

import torch

from mmsent.compat import fused_adamw_works
from mmsent.config import TrainConfig
from mmsent.features.text_states import TextStates
from mmsent.features.vectors import ImageFeatures
from mmsent.models import PRETRAINED_PREFIXES, MultimodalSentimentModel


def model_inputs(
    batch: dict, device: torch.device, features: ImageFeatures | None, text: TextStates | None = None
) -> dict:
    """The keyword arguments of `MultimodalSentimentModel.forward` for one collated `batch`, on `device`:
    cached photo features / frozen text states of the batch's rows when given, else pixels / token ids."""
    inputs = {"attention_mask": batch["attention_mask"].to(device, non_blocking=True)}
    if text is not None:
        inputs["text_states"] = text.batch(batch["indices"], batch["input_ids"].shape[1], device)
    else:
        inputs["input_ids"] = batch["input_ids"].to(device, non_blocking=True)
    if features is not None:
        inputs.update(features.batch(batch["indices"], device))
    elif batch["pixel_values"] is not None:
        inputs["pixel_values"] = batch["pixel_values"].to(device, non_blocking=True)
        inputs["image_present"] = batch["image_present"].to(device, non_blocking=True)
    else:  # no photo anywhere in this batch
        inputs["image_present"] = batch["image_present"].to(device)
    return inputs


def make_optimizer(model: MultimodalSentimentModel, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with two learning rates: small for pretrained encoders, larger for the new layers."""
    encoder, head = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            pretrained = name.startswith(PRETRAINED_PREFIXES)
            (encoder if pretrained else head).append(parameter)
    groups = [
        g
        for g in ({"params": encoder, "lr": config.lr}, {"params": head, "lr": config.head_lr})
        if g["params"]
    ]
    # The fused kernel updates each parameter in one pass instead of about ten (one launch for all
    # of them on CUDA; about 4x faster on a CPU too, where PyTorch >= 2.4 has it).
    fused = fused_adamw_works(groups[0]["params"][0].device)
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=fused)


def warmup_then_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up then linear decay to zero, the usual recipe for fine-tuning BERT.

    Step s of `total_steps` runs at lr x (s + 1) / warmup during the warm-up (warmup = the first
    `warmup_fraction` of the steps, at least 1), then lr x (total_steps - s) / (total_steps - warmup).
    Written out rather than taken from `transformers.get_linear_schedule_with_warmup` because
    notebook 06 builds it line by line and checks `fit` against its own loop; the two differ only
    in the warm-up, where transformers' first step runs at lr 0 (s / warmup) and this one's does not.
    """
    warmup = max(1, int(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def attention_loss(weights: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy from the target maps to the attention, over the rows that have a target.

    weights [B, P] (attention, rows sum to 1); targets [B, P] (rows sum to 1, or all zeros).
    -sum_p target_p log weight_p is smallest when the attention matches the target: it teaches
    the layer where to look. Rows without a target add nothing; 0 when no row has one.
    """
    has_target = targets.sum(dim=1) > 0
    if not bool(has_target.any()):
        return weights.new_zeros(())
    log_weights = weights.float()[has_target].clamp_min(1e-8).log()
    return -(targets[has_target] * log_weights).sum(dim=1).mean()


def pad_id(model: MultimodalSentimentModel) -> int:
    return model.encoders.tokenizer.pad_token_id or 0
