"""Where and how a run computes: the device, the seeds, the mixed-precision policy and the budget's switch.

The bottom of the package (it imports nothing from `mmsent`) and free of state: `pick_device`
answers from its arguments and the environment every time, and whoever picked a device passes it
on (`mmsent.course.conventions.setup()` returns it; `fit` trains where the model is).

    device = pick_device()                 # MMSENT_DEVICE, else CUDA > Apple MPS > CPU
    seed_everything(0)                     # Python, NumPy, PyTorch
    dtype = autocast_dtype(device)         # None on a CPU: plain fp32
"""

from __future__ import annotations

import os
import random
import re
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_ENV = "MMSENT_DEVICE"  # "cpu", "cuda", "cuda:1", "mps": overrides the automatic choice
DEVICE_PATTERN = re.compile(r"cpu|mps|cuda(:\d+)?")  # what --device and MMSENT_DEVICE accept
DEVICE_HELP = "cpu, cuda, cuda:N or mps"
# How much heavy work a run can afford: `mmsent.course.conventions.scale` reads it; "cpu" or "gpu"
# overrides the budget that follows the device.
BUDGET_ENV = "MMSENT_BUDGET"
BUDGETS = ("cpu", "gpu")
MIXED_PRECISION = ("auto", "bf16", "fp16", "no")  # `TrainConfig.mixed_precision`, see `autocast_dtype`


def pick_device(name: str | None = None) -> torch.device:
    """The device to compute on: `name`, else `MMSENT_DEVICE`, else CUDA > Apple MPS > CPU.

    Like d2l's `try_gpu()`: asking for an accelerator that is not there warns and falls back to the CPU.
    """
    import torch

    name = name or os.environ.get(DEVICE_ENV) or None
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if name is None:
        return torch.device(next(kind for kind, present in available.items() if present))
    kind = name.split(":")[0]
    if kind not in available:
        raise ValueError(f"Unknown device {name!r}: use one of 'cuda', 'cuda:N', 'mps' or 'cpu'.")
    if not available[kind]:
        warnings.warn(f"Device {name!r} is not available on this machine; using the CPU.", stacklevel=2)
        return torch.device("cpu")
    return torch.device(name)


def seed_everything(seed: int = 0) -> None:
    """Seed Python's `random`, NumPy and PyTorch (all devices): the same notebook gives the same numbers."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast_dtype(device: torch.device, mixed_precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for this device, or None for full fp32.

    "auto" picks bf16 on GPUs that support it (no loss scaling needed), fp16 on older GPUs,
    and nothing on the CPU, where autocast rarely speeds up small models.
    """
    import torch

    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision={mixed_precision!r}: use one of {MIXED_PRECISION}.")
    if mixed_precision == "no" or device.type != "cuda":
        return None
    if mixed_precision == "fp16":
        return torch.float16
    if mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16
