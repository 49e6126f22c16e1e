"""Training throughput: the course's original loop against mmsent's trainer, side by side.

    python bench/train_throughput.py                # CPU: offline, all 1,680 reviews, 2 epochs, 3 runs
    python bench/train_throughput.py --profile full --random-init --seq-len 128 --json gpu.json

The same `MultimodalSentimentModel` (same initial weights), the same reviews and the same number
of epochs, trained two ways, one after the other, in this process:

naive  the way the course's original script does it: fp32; the CLIP image encoder run on every
       batch; each photo resized and normalised with PIL + numpy in `__getitem__`; every text
       padded to 128 tokens; eager attention; plain AdamW; num_workers=0; batch 16.
fast   mmsent's trainer as a user gets it: `encode_dataset_images` (the frozen CLIP runs once per
       photo, with the fast image processor where torchvision is installed), then `fit`: dynamic
       padding with length-grouped batches, autocast (bf16, or fp16 + scaler) on CUDA, SDPA
       attention, fused AdamW on CUDA, pinned memory. No DataLoader workers: with cached
       image features an item is a list lookup, which workers would only slow down.

Both ways use batch 16 by default, so they take the same number of optimiser steps: at equal
epochs a bigger batch takes fewer steps and, on a short run, learns less (`--batch-size 32`,
the trainer's default, is faster still on a GPU).

Both ways use the same learning rates, warm-up / decay schedule and gradient clipping, so only
the speed features differ, and both are validated on the whole validation split afterwards
(a fast loop that learns less is not faster). One run's validation accuracy moves by a few points
with the seed alone (360 validation reviews, a short run), so by default on a CPU each way trains
three times, with seeds 0, 1 and 2 (initial weights and batch order; the reviews are the same), and
the means are compared; `--repeats` sets the number. Before each timed run a few untimed warm-up steps
run (CUDA context, kernel selection, allocator), then the initial weights are restored.

samples/s and tokens/s (real text tokens, padding not counted) are over the training epochs;
`wall` also counts building the datasets, encoding the photos and validating. MFU (model FLOPs
utilisation) = FLOPs of the training steps (counted by `torch.utils.flop_counter` for every batch
shape the run used) / training time / the device's dense bf16 peak; reported on known GPUs or
with --peak-tflops. The disk feature cache is off unless --disk-cache: the fast way pays for
encoding its photos like a first run does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from mmsent import train as training  # noqa: E402
from mmsent.compat import set_attention_implementation  # noqa: E402
from mmsent.course import pick_device, seed_everything  # noqa: E402
from mmsent.data import ReviewDataset, load_reviews, split_table  # noqa: E402
from mmsent.encoders import load_encoders  # noqa: E402
from mmsent.models import MultimodalSentimentModel  # noqa: E402
from mmsent.paths import REVIEWS_CSV  # noqa: E402

NAIVE_BATCH = 16
NAIVE_LENGTH = 128
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=("full", "offline", "tiny"), default="offline")
    parser.add_argument(
        "--random-init", action="store_true", help="full profile: real shapes, random weights, no download"
    )
    parser.add_argument("--data", type=Path, default=REVIEWS_CSV, help="review CSV (default: bundled)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 2 on CPU, 3 on GPU")
    parser.add_argument(
        "--limit", type=int, default=None, help="training reviews used (default: all of them)"
    )
    parser.add_argument(
        "--seq-len",
        type=int,
        default=None,
        help="lengthen every review (repeating its text) to this many tokens, e.g. 128, to benchmark "
        "at a fixed sequence length; default: the reviews as written",
    )
    parser.add_argument(
        "--batch-size", type=int, default=NAIVE_BATCH, help="fast way's batch (default 16, as the naive way)"
    )
    parser.add_argument("--train-text-layers", type=int, default=2, help="-1 = all (default 2, as the CLI)")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before each way")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best available)")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="device peak for MFU (default: table)"
    )
    parser.add_argument(
        "--disk-cache", action="store_true", help="let the fast way use the disk feature cache"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="train each way this many times, with seeds seed, seed+1, ... (initial weights and batch "
        "order), and report the means; default: 3 on CPU, 1 on GPU",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    return parser.parse_args(argv)


# --------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------


class PeakMemory:
    """Peak memory while the block runs: CUDA allocations on a GPU, else the process's resident set."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0
        self._running = False

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._running = True
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._running = False
            self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while self._running:
            with open("/proc/self/statm") as statm:
                self.peak = max(self.peak, int(statm.read().split()[1]) * page)
            time.sleep(0.02)


class ShapeLog:
    """Records the [batch, length] of every text-encoder call while `active` (for FLOP counting)."""

    def __init__(self, model: MultimodalSentimentModel) -> None:
        self.shapes: Counter[tuple[int, int]] = Counter()
        self.active = False
        model.text_model.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, _module, args, kwargs) -> None:
        if self.active:
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            self.shapes[tuple(input_ids.shape)] += 1


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
    dtype = training.autocast_dtype(device)
    labels = torch.zeros(len(inputs["input_ids"]), dtype=torch.long, device=device)
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


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def lengthen(frame: pd.DataFrame, tokenizer, tokens: int) -> pd.DataFrame:
    """Each review's text repeated until it has at least `tokens` tokens (truncation cuts the rest)."""
    lengths = [len(ids) - 2 for ids in tokenizer(frame["text"].tolist())["input_ids"]]  # minus [CLS] [SEP]
    texts = [
        " ".join([text] * (math.ceil(tokens / max(1, n)) + 1))
        for text, n in zip(frame["text"], lengths, strict=True)
    ]
    return frame.assign(text=texts)


def load_splits(args: argparse.Namespace, tokenizer) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(train rows, validation rows, number of classes) of the review table."""
    table = load_reviews(args.data)
    splits = split_table(table, seed=args.seed)
    train = splits["train"].sample(frac=1.0, random_state=args.seed)
    if args.limit:
        train = train.head(args.limit)
    val = splits["val"]
    if args.seq_len:
        train, val = lengthen(train, tokenizer, args.seq_len), lengthen(val, tokenizer, args.seq_len)
    return train.reset_index(drop=True), val.reset_index(drop=True), len(table.label_encoder)


class NaiveReviews(Dataset):
    """The original script's dataset: on every access, the text is tokenized and padded to 128
    tokens, and the photo is opened, resized and normalised with PIL + numpy."""

    def __init__(self, frame: pd.DataFrame, tokenizer, image_processor, max_length: int = NAIVE_LENGTH):
        self.frame = frame
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.size = image_processor.crop_size["height"]
        self.mean = np.array(image_processor.image_mean, dtype=np.float32)
        self.std = np.array(image_processor.image_std, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index: int) -> dict:
        row = self.frame.iloc[index]
        tokens = self.tokenizer(
            row["text"],
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        present = isinstance(row["image_path"], str)
        pixels = np.zeros((self.size, self.size, 3), dtype=np.float32)
        if present:
            image = Image.open(row["image_path"]).convert("RGB").resize((self.size, self.size), Image.BICUBIC)
            pixels = (np.asarray(image, dtype=np.float32) / 255.0 - self.mean) / self.std
        return {
            "input_ids": tokens["input_ids"][0],
            "attention_mask": tokens["attention_mask"][0],
            "pixel_values": torch.from_numpy(pixels.transpose(2, 0, 1).copy()),
            "image_present": present,
            "labels": int(row["label_id"]),
        }


# --------------------------------------------------------------------------------------
# The two ways
# --------------------------------------------------------------------------------------


def stop_clock(device: torch.device, shapes: ShapeLog, started: float) -> float:
    """End a timed training run: wait for the device, stop recording batch shapes; seconds since `started`."""
    synchronize(device)
    shapes.active = False
    return time.perf_counter() - started


def set_attention(model: MultimodalSentimentModel, implementation: str) -> None:
    """Both encoders' attention: "eager" (softmax(QK^T)V written out) or "sdpa" (fused kernels).

    transformers older than about 4.54 cannot switch a built model: the encoders keep the attention they
    were built with (`mmsent.compat.set_attention_implementation`)."""
    for encoder in (model.text_model, model.image_model):
        set_attention_implementation(encoder, implementation)


def naive_way(model, train_frame, val_frame, args, device, shapes: ShapeLog, max_steps: int | None = None):
    """The original loop; returns (timings, validation metrics or None when max_steps is set)."""
    encoders = model.encoders
    set_attention(model, "eager")
    started = time.perf_counter()
    seed_everything(args.seed)
    train_set = NaiveReviews(train_frame, encoders.tokenizer, encoders.image_processor)
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_set, batch_size=NAIVE_BATCH, shuffle=True, generator=generator)
    trained = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    pretrained = [p for name, p in trained if name.startswith(("text_model.", "image_model."))]
    new = [p for name, p in trained if not name.startswith(("text_model.", "image_model."))]
    optimizer = torch.optim.AdamW(  # the trainer's two learning rates, the default (unfused) kernel
        [{"params": pretrained, "lr": args.lr}, {"params": new, "lr": args.head_lr}],
        weight_decay=args.weight_decay,
    )
    # The trainer's own warm-up / decay schedule, so that only the speed features differ.
    scheduler = training._scheduler(
        optimizer, len(loader) * args.epochs, training.TrainConfig.warmup_fraction
    )
    shapes.active = max_steps is None
    train_started = time.perf_counter()
    for _ in range(1 if max_steps else args.epochs):
        model.train()
        for step, batch in enumerate(loader):
            if max_steps is not None and step == max_steps:
                break
            batch = {name: value.to(device) for name, value in batch.items()}
            labels = batch.pop("labels")
            loss = F.cross_entropy(model(**batch).logits, labels)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), training.TrainConfig.max_grad_norm)
            optimizer.step()
            scheduler.step()
            loss.item()  # the original script prints the loss of every step
    train_s = stop_clock(device, shapes, train_started)
    if max_steps is not None:
        return {}, None
    val_started = time.perf_counter()
    metrics = naive_evaluate(
        model, NaiveReviews(val_frame, encoders.tokenizer, encoders.image_processor), device
    )
    timings = {"train_s": train_s, "val_s": time.perf_counter() - val_started}
    timings["wall_s"] = time.perf_counter() - started
    return timings, metrics


@torch.no_grad()
def naive_evaluate(model, dataset: NaiveReviews, device) -> dict[str, float]:
    model.eval()
    predictions, labels, loss = [], [], 0.0
    for batch in DataLoader(dataset, batch_size=NAIVE_BATCH * 4):
        batch = {name: value.to(device) for name, value in batch.items()}
        targets = batch.pop("labels")
        logits = model(**batch).logits
        loss += F.cross_entropy(logits, targets, reduction="sum").item()
        predictions.append(logits.argmax(-1).cpu())
        labels.append(targets.cpu())
    metrics = training.classification_metrics(torch.cat(labels), torch.cat(predictions))
    return {"loss": loss / len(dataset), **metrics}


def fast_way(model, train_frame, val_frame, args, device, shapes: ShapeLog, max_steps: int | None = None):
    """mmsent's trainer: encode the photos once, fit, evaluate."""
    encoders = model.encoders
    set_attention(model, "sdpa")
    if max_steps is not None:
        train_frame = train_frame.head(max_steps * args.batch_size)
    started = time.perf_counter()
    train_set = ReviewDataset(train_frame, encoders.tokenizer, encoders.image_processor, args.max_length)
    val_set = ReviewDataset(val_frame, encoders.tokenizer, encoders.image_processor, args.max_length)
    encode_started = time.perf_counter()
    train_features = training.encode_dataset_images(model, train_set, progress=False)
    val_features = None if max_steps else training.encode_dataset_images(model, val_set, progress=False)
    synchronize(device)
    config = training.TrainConfig(
        epochs=1 if max_steps else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.head_lr,
        weight_decay=args.weight_decay,
        max_length=args.max_length,
        seed=args.seed,
    )
    shapes.active = max_steps is None
    train_started = time.perf_counter()
    training.fit(
        model, train_set, None, config, train_features=train_features, progress=False, log=lambda _: None
    )
    train_s = stop_clock(device, shapes, train_started)
    if max_steps is not None:
        return {}, None
    val_started = time.perf_counter()
    metrics = training.evaluate(model, val_set, features=val_features, config=config)
    timings = {
        "encode_s": train_started - encode_started,
        "train_s": train_s,
        "val_s": time.perf_counter() - val_started,
        "wall_s": time.perf_counter() - started,
    }
    return timings, metrics


def text_tokens(frame: pd.DataFrame, tokenizer, max_length: int) -> int:
    """Real (unpadded) tokens of the reviews after truncation."""
    return sum(
        len(ids)
        for ids in tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)["input_ids"]
    )


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if not args.disk_cache:
        os.environ["MMSENT_CACHE_DIR"] = "off"
    device = pick_device(args.device)
    gpu = device.type == "cuda"
    args.epochs = args.epochs or (3 if gpu else 2)
    args.repeats = args.repeats or (1 if gpu else 3)
    args.max_length = args.seq_len or NAIVE_LENGTH
    defaults = training.TrainConfig()
    args.lr, args.head_lr, args.weight_decay = defaults.lr, defaults.head_lr, defaults.weight_decay

    encoders = load_encoders(args.profile, random_init=args.random_init)
    train_frame, val_frame, num_classes = load_splits(args, encoders.tokenizer)
    tokens = text_tokens(train_frame, encoders.tokenizer, args.max_length) * args.epochs
    samples = len(train_frame) * args.epochs
    print(
        f"{device_name(device)} | profile {args.profile}{' (random init)' if args.random_init else ''} | "
        f"{len(train_frame)} train / {len(val_frame)} val reviews, {args.epochs} epoch(s), "
        f"{tokens / samples:.1f} tokens per review, text layers trained: {args.train_text_layers}, "
        f"{args.repeats} run(s) per way"
    )
    text_layers = None if args.train_text_layers < 0 else args.train_text_layers
    runs, batch_shapes, first_seed = {"naive": [], "fast": []}, {}, args.seed
    for repeat in range(args.repeats):
        args.seed = first_seed + repeat  # initial weights and batch order; the reviews stay the same
        seed_everything(args.seed)
        model = MultimodalSentimentModel(encoders, num_classes, train_text_layers=text_layers).to(device)
        initial = {name: value.detach().clone() for name, value in model.state_dict().items()}
        shapes = ShapeLog(model)
        for name, way in (("naive", naive_way), ("fast", fast_way)):
            if args.warmup_steps:
                way(model, train_frame, val_frame, args, device, shapes, max_steps=args.warmup_steps)
                model.load_state_dict(initial)
            shapes.shapes.clear()
            with PeakMemory(device) as memory:
                timings, metrics = way(model, train_frame, val_frame, args, device, shapes)
            padded = sum(batch * length * count for (batch, length), count in shapes.shapes.items())
            runs[name].append({
                **timings,
                "samples_per_s": samples / timings["train_s"],
                "tokens_per_s": tokens / timings["train_s"],
                "padding_fraction": 1 - tokens / padded,
                "peak_memory_bytes": memory.peak,
                "val_accuracy": metrics["accuracy"],
                "val_f1": metrics["f1"],
                "val_loss": metrics["loss"],
            })
            batch_shapes[name] = Counter(shapes.shapes)  # the same every run: the lengths do not change
            print(
                f"seed {args.seed}, {name}: {timings['train_s']:.1f} s training, "
                f"val accuracy {metrics['accuracy']:.3f}"
            )
            model.load_state_dict(initial)
    args.seed = first_seed
    results = {name: mean_of_runs(measured) for name, measured in runs.items()}

    peak = peak_tflops(device, args.peak_tflops)
    if peak:
        add_mfu(results, batch_shapes, model, encoders, device, peak)
    report = summarise(results, args, device, peak, len(train_frame), len(val_frame))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


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


def add_mfu(results: dict, batch_shapes: dict, model, encoders, device, peak: float) -> None:
    """Training FLOPs, achieved TFLOP/s and MFU of each way (counted shape by shape)."""
    size = encoders.image_processor.crop_size["height"]

    def text(batch: int, length: int) -> dict:
        ids = torch.randint(1000, 2000, (batch, length), device=device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def naive_inputs(batch: int, length: int) -> dict:
        return {**text(batch, length), "pixel_values": torch.randn(batch, 3, size, size, device=device)}

    def fast_inputs(batch: int, length: int) -> dict:
        return {
            **text(batch, length),
            "image_embeds": torch.randn(batch, encoders.image_embed_dim, device=device),
            "patch_tokens": torch.randn(batch, encoders.num_patches, encoders.image_dim, device=device),
        }

    for name, make_inputs, attention in (("naive", naive_inputs, "eager"), ("fast", fast_inputs, "sdpa")):
        set_attention(model, attention)
        flops = run_flops(model, batch_shapes[name], make_inputs, device)
        achieved = flops / results[name]["train_s"] / 1e12
        results[name].update(
            {"train_tflop": flops / 1e12, "achieved_tflops": achieved, "mfu": achieved / peak}
        )


def summarise(results: dict, args, device, peak, train_rows: int, val_rows: int) -> dict:
    naive, fast = results["naive"], results["fast"]
    speedup = fast["samples_per_s"] / naive["samples_per_s"]
    wall_speedup = naive["wall_s"] / fast["wall_s"]
    memory = "peak CUDA memory" if device.type == "cuda" else "peak RSS (process)"
    rows = [
        ("samples/s (training)", "samples_per_s", "{:,.1f}"),
        ("tokens/s (real tokens)", "tokens_per_s", "{:,.0f}"),
        ("padding (of text positions)", "padding_fraction", "{:.0%}"),
        (memory, "peak_memory_bytes", lambda b: f"{b / 2**30:.2f} GiB"),
        ("training time (s)", "train_s", "{:.1f}"),
        ("wall time (s, all steps)", "wall_s", "{:.1f}"),
        ("val accuracy (mean of runs)", "val_accuracy", "{:.3f}"),
        ("val macro F1 (mean of runs)", "val_f1", "{:.3f}"),
    ]
    if "mfu" in fast:
        rows += [
            ("achieved TFLOP/s", "achieved_tflops", "{:.1f}"),
            (f"MFU (of {peak:.0f} TFLOP/s)", "mfu", "{:.1%}"),
        ]
    print(f"\n{'':30}{'naive':>14}{'fast':>14}")
    for label, key, style in rows:
        show = style if callable(style) else style.format
        print(f"{label:30}{show(naive[key]):>14}{show(fast[key]):>14}")
    print(f"{'encode photos once (s)':30}{'-':>14}{fast['encode_s']:>14.1f}")
    runs = len(naive["val_accuracy_runs"])
    gap = 100 * (fast["val_accuracy"] - naive["val_accuracy"])
    print(
        f"\nspeedup: {speedup:.1f}x samples/s, {wall_speedup:.1f}x wall time; "
        f"val accuracy, mean of {runs} run(s): naive {naive['val_accuracy']:.3f} "
        f"(sd {naive['val_accuracy_sd']:.3f}), fast {fast['val_accuracy']:.3f} "
        f"(sd {fast['val_accuracy_sd']:.3f}); fast - naive = {gap:+.1f} points"
    )
    import transformers

    return {
        "naive_samples_per_s": naive["samples_per_s"],
        "fast_samples_per_s": fast["samples_per_s"],
        "speedup": speedup,
        "wall_speedup": wall_speedup,
        "naive_val_accuracy": naive["val_accuracy"],
        "fast_val_accuracy": fast["val_accuracy"],
        "val_accuracy_gap_points": gap,
        "repeats": runs,
        "fast_mfu": fast.get("mfu"),
        "device": device_name(device),
        "peak_tflops": peak,
        "profile": args.profile,
        "random_init": args.random_init,
        "epochs": args.epochs,
        "train_rows": train_rows,
        "val_rows": val_rows,
        "seq_len": args.seq_len,
        "max_length": args.max_length,
        "batch_size": {"naive": NAIVE_BATCH, "fast": args.batch_size},
        "train_text_layers": args.train_text_layers,
        "naive": naive,
        "fast": fast,
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }


if __name__ == "__main__":
    main()
