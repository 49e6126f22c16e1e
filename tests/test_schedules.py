"""The pretraining recipes' learning-rate schedule is transformers' `get_cosine_schedule_with_warmup`:
the same curve as the hand-written one that trained the committed checkpoints (data/clip-offline,
data/generator-offline), but for the warm-up, which starts one step earlier (at 0, not 1 / warm-up)."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import get_cosine_schedule_with_warmup

import mmsent.generation.pretrain as generation_pretrain
import mmsent.models.clip_pretrain as clip_pretrain


def _hand_written(step: int, total: int, warmup: int) -> float:
    """The schedule both recipes had before (the committed checkpoints were trained with it)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@pytest.mark.parametrize("total", [10, 93, 1860])
def test_transformers_schedule_is_the_hand_written_one_after_its_warm_up(total):
    warmup = max(1, total // 20)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = get_cosine_schedule_with_warmup(optimizer, warmup, total)
    values = [schedule.lr_lambdas[0](step) for step in range(total)]
    old = [_hand_written(step, total, warmup) for step in range(total)]
    assert values[warmup:] == pytest.approx(old[warmup:], abs=1e-12)  # the decay: identical
    assert values[0] == 0.0 and values[1 : warmup + 1] == pytest.approx(old[:warmup])  # warm-up: a step later


def test_both_recipes_call_it():
    for module in (clip_pretrain, generation_pretrain):
        assert module.get_cosine_schedule_with_warmup is get_cosine_schedule_with_warmup
