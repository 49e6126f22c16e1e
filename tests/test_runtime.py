"""mmsent.runtime: the device, the seeds and the mixed-precision policy, with no state of its own."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mmsent import runtime
from mmsent.course import conventions as course


def test_pick_device(monkeypatch):
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    assert runtime.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="Unknown device"):
        runtime.pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available"):
        assert runtime.pick_device("cuda") == torch.device("cpu")
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    assert runtime.pick_device() == torch.device("cpu")


def test_seed_everything_makes_draws_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    runtime.seed_everything(3)
    first = draw()
    runtime.seed_everything(3)
    assert draw() == first
    runtime.seed_everything(4)
    assert draw() != first


def test_autocast_dtype_follows_the_device_and_the_setting(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert runtime.autocast_dtype(cpu) is None and runtime.autocast_dtype(cpu, "bf16") is None
    assert runtime.autocast_dtype(cuda, "no") is None
    assert runtime.autocast_dtype(cuda, "fp16") == torch.float16
    assert runtime.autocast_dtype(cuda, "bf16") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert runtime.autocast_dtype(cuda) == torch.float16  # an older GPU: fp16 (with a scaler)
    with pytest.raises(ValueError, match="mixed_precision='fp8'"):
        runtime.autocast_dtype(cuda, "fp8")


def test_setup_keeps_no_state(monkeypatch, capsys):
    """setup() returns what it chose; nothing in mmsent.course.conventions or mmsent.runtime remembers it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    monkeypatch.delenv(course.BUDGET_ENV, raising=False)
    before = {name: repr(value) for module in (course, runtime) for name, value in vars(module).items()}
    device, profile = course.setup(device="cpu", profile="tiny", verbose=False)
    assert (device, profile) == (torch.device("cpu"), "tiny")
    after = {name: repr(value) for module in (course, runtime) for name, value in vars(module).items()}
    assert after == before
    assert course.budget() == "gpu"  # what is available, not what setup() was told: pass device= for that
    assert course.budget(device) == "cpu"
