"""Measuring the benchmark's runs: peak memory, batch shapes, FLOPs and MFU, the device's name."""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from mmsent.models import MultimodalSentimentModel
from mmsent.runtime import autocast_dtype

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), by a piece of torch.cuda.get_device_name().
PEAK_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
    ("RTX 4090", 165.0),
    ("V100", 125.0),
    ("T4", 65.0),
)


def resident_bytes() -> int:
    """This process's resident memory now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class MemoryTrace:
    """The process's resident memory every `every` seconds while the block runs: [(seconds, bytes)]."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.samples: list[tuple[float, int]] = []

    def __enter__(self) -> MemoryTrace:
        self._running, self._start = True, time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._running = False
        self._thread.join()

    def _sample(self) -> None:
        while self._running:
            self.samples.append((time.perf_counter() - self._start, resident_bytes()))
            time.sleep(self.every)

    def peak_mb(self, start: float = 0.0, stop: float = 1.0) -> int:
        """Peak in MiB over the fraction [start, stop] of the run's duration."""
        end = self.samples[-1][0]
        inside = [rss for t, rss in self.samples if start * end <= t <= stop * end]
        return round(max(inside) / 2**20)


class PeakMemory:
    """Peak bytes while the block runs: CUDA allocations on a GPU, else the process's resident set."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0
        self._trace = MemoryTrace()

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._trace.__enter__()
        return self

    def __exit__(self, *_) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._trace.__exit__()
            self.peak = max((rss for _, rss in self._trace.samples), default=resident_bytes())


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages: how busy it was around a measurement."""
    return [round(x, 2) for x in os.getloadavg()]


def check_json_path(parser: argparse.ArgumentParser, json_path: Path | None) -> None:
    """Refuse, before a long run, a `--json` path that cannot be written: a folder, or a file in a
    folder that does not exist (a usage error, exit 2, naming the path)."""
    if json_path is None:
        return
    if json_path.is_dir():
        parser.error(f"--json {json_path} is a folder; give a file name")
    if not json_path.parent.is_dir():
        parser.error(f"--json {json_path}: the folder {json_path.parent} does not exist")


def publish(report: dict, json_path: Path | None) -> dict:
    """Print `report` as JSON and, with `json_path`, write it there too; return it."""
    text = json.dumps(report, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text + "\n")
    return report


class ShapeLog:
    """Records the [batch, length] of every text batch the model runs on while `active` (for FLOP
    counting and padding): token ids, or the cached states of the frozen text layers."""

    def __init__(self, model: MultimodalSentimentModel) -> None:
        self.shapes: Counter[tuple[int, int]] = Counter()
        self.active = False
        model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, _module, args, kwargs) -> None:
        if self.active:
            text = kwargs.get("input_ids", args[0] if args else None)
            if text is None:
                text = kwargs["text_states"]
            self.shapes[tuple(text.shape[:2])] += 1


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_TFLOPS if key in name), None)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {os.cpu_count()} cores"


def step_flops(model: MultimodalSentimentModel, inputs: dict, device: torch.device) -> int:
    """FLOPs of one training step (forward + backward) on `inputs`, as the trainer runs it."""
    dtype = autocast_dtype(device)
    labels = torch.zeros(len(inputs["attention_mask"]), dtype=torch.long, device=device)
    model.train()
    with FlopCounterMode(display=False) as counter:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(**inputs).logits
        F.cross_entropy(logits.float(), labels).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def run_flops(
    model: MultimodalSentimentModel, shapes: Counter, make_inputs: Callable[[int, int], dict], device
) -> int:
    """Total training FLOPs over the recorded batch shapes (each distinct shape counted once)."""
    return sum(count * step_flops(model, make_inputs(*shape), device) for shape, count in shapes.items())


def mean_of_runs(runs: list[dict]) -> dict:
    """The mean of every figure over the runs of one way, plus each run's accuracy and their spread."""
    mean = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
    accuracies = [run["val_accuracy"] for run in runs]
    return {
        **mean,
        "peak_memory_bytes": max(run["peak_memory_bytes"] for run in runs),
        "val_accuracy_runs": [round(a, 4) for a in accuracies],
        "val_accuracy_sd": float(np.std(accuracies, ddof=1)) if len(runs) > 1 else 0.0,
    }
