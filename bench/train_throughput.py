"""Training throughput: the course's original loop against mmsent's trainer, three ways side by side.

    python bench/train_throughput.py                # CPU: offline, all 1,680 reviews, 2 epochs, 3 runs
    python bench/train_throughput.py --profile full --random-init --seq-len 128 --json gpu.json

The same `MultimodalSentimentModel` (same initial weights), the same reviews and the same number
of epochs, trained three ways, one after the other, in this process:

naive   the way the course's original script does it: fp32; the CLIP image encoder run on every
        batch; each photo resized and normalised with PIL + numpy in `__getitem__`; every text
        padded to 128 tokens; eager attention; plain AdamW; num_workers=0; batch 16.
fast    mmsent's trainer with the whole text encoder run at every step (`cache_text_layers=False`):
        `encode_dataset_images` (the frozen CLIP runs once per photo, with the fast image
        processor where torchvision is installed), then `fit`: dynamic padding with length-grouped
        batches, autocast (bf16, or fp16 + scaler) on CUDA, SDPA attention, fused AdamW, pinned
        memory. No DataLoader workers: with cached image features an item is a list lookup.
frozen  mmsent's trainer as a user gets it: as `fast`, plus the frozen bottom text layers run once
        per review (`mmsent.features.text_states.encode_frozen_text`, timed with the photos as encoding),
        so each step runs only the trainable top layers (`--train-text-layers`, default as the CLI: 1).

All ways use batch 16 by default, so they take the same number of optimiser steps: at equal
epochs a bigger batch takes fewer steps and, on a short run, learns less (`--batch-size 32`,
the trainer's default, is faster still on a GPU).

All ways use the same learning rates, warm-up / decay schedule and gradient clipping, so only
the speed features differ, and all are validated on the whole validation split afterwards
(a fast loop that learns less is not faster). One run's validation accuracy moves by a few points
with the seed alone (360 validation reviews, a short run), so by default on a CPU each way trains
three times, with seeds 0, 1 and 2 (initial weights and batch order; the reviews are the same), and
the means are compared; `--repeats` sets the number. Before each timed run a few untimed warm-up steps
run (CUDA context, kernel selection, allocator), then the initial weights are restored.

samples/s and tokens/s (real text tokens, padding not counted) are over the training epochs;
`wall` also counts building the datasets, encoding the photos (and the frozen text layers) and
validating. MFU (model FLOPs utilisation) = FLOPs of the training steps (counted by
`torch.utils.flop_counter` for every batch shape the run used) / training time / the device's dense
bf16 peak; reported on known GPUs or with --peak-tflops. The disk feature cache is off unless
--disk-cache: the fast and frozen ways pay for encoding like a first run does.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.measure import (  # noqa: E402
    PeakMemory,
    ShapeLog,
    device_name,
    mean_of_runs,
    peak_tflops,
    run_flops,
    synchronize,
)
from bench.reviews import (  # noqa: E402
    NAIVE_BATCH,
    NAIVE_LENGTH,
    NaiveReviews,
    load_splits,
    reviews_parser,
    text_tokens,
)
from bench.summary import summarise  # noqa: E402
from mmsent import train as training  # noqa: E402
from mmsent.analysis.ablation import build_model  # noqa: E402
from mmsent.compat import set_attention_implementation  # noqa: E402
from mmsent.config import DEFAULT_TEXT_LAYERS  # noqa: E402
from mmsent.data import ReviewDataset  # noqa: E402
from mmsent.encoders import load_encoders  # noqa: E402
from mmsent.features.cached import CachedFeatures  # noqa: E402
from mmsent.features.text_states import encode_frozen_text  # noqa: E402
from mmsent.features.vectors import encode_dataset_images  # noqa: E402
from mmsent.models import PRETRAINED_PREFIXES, MultimodalSentimentModel  # noqa: E402
from mmsent.models.text_layers import frozen_layer_count
from mmsent.runtime import pick_device, seed_everything  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = reviews_parser(__doc__)
    parser.add_argument(
        "--random-init", action="store_true", help="full profile: real shapes, random weights, no download"
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: 2 on CPU, 3 on GPU")
    parser.add_argument("--limit", type=int, default=None, help="training reviews used (default: all)")
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
    parser.add_argument(
        "--train-text-layers",
        type=int,
        default=DEFAULT_TEXT_LAYERS,
        help=f"-1 = all (default {DEFAULT_TEXT_LAYERS}, as the CLI)",
    )
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before each way")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--peak-tflops", type=float, help="device peak for MFU (default: a table)")
    parser.add_argument("--disk-cache", action="store_true", help="fast way: use the disk feature cache")
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
# The three ways
# --------------------------------------------------------------------------------------


def stop_clock(device: torch.device, shapes: ShapeLog, started: float) -> float:
    """End a timed training run: wait for the device, stop recording batch shapes; seconds since `started`."""
    synchronize(device)
    shapes.active = False
    return time.perf_counter() - started


def set_attention(model: MultimodalSentimentModel, implementation: str) -> None:
    """Both encoders' attention: "eager" (softmax(QK^T)V written out) or "sdpa" (fused kernels).

    Some transformers versions cannot switch a built model (4.x's BertModel): that encoder keeps the
    attention it was built with, and the bench says so."""
    for encoder in (model.text_model, model.image_model):
        running = set_attention_implementation(encoder, implementation)
        if running != implementation:
            print(f"note: this transformers cannot switch {type(encoder).__name__} to {implementation!r} "
                  f"attention; it runs {running!r}")


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
    pretrained = [p for name, p in trained if name.startswith(PRETRAINED_PREFIXES)]
    new = [p for name, p in trained if not name.startswith(PRETRAINED_PREFIXES)]
    optimizer = torch.optim.AdamW(  # the trainer's two learning rates, the default (unfused) kernel
        [{"params": pretrained, "lr": args.lr}, {"params": new, "lr": args.head_lr}],
        weight_decay=args.weight_decay,
    )
    # The trainer's own warm-up / decay schedule, so that only the speed features differ.
    scheduler = training.warmup_then_decay(
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


def trainer_way(
    model,
    train_frame,
    val_frame,
    args,
    device,
    shapes: ShapeLog,
    max_steps: int | None = None,
    *,
    cache_text: bool,
):
    """mmsent's trainer: encode the photos (and with `cache_text` the frozen text layers) once,
    fit, evaluate."""
    encoders = model.encoders
    set_attention(model, "sdpa")
    if max_steps is not None:
        train_frame = train_frame.head(max_steps * args.batch_size)
    started = time.perf_counter()
    train_set = ReviewDataset(train_frame, encoders.tokenizer, encoders.image_processor, args.max_length)
    val_set = ReviewDataset(val_frame, encoders.tokenizer, encoders.image_processor, args.max_length)
    encode_started = time.perf_counter()
    train_features = encode_dataset_images(model, train_set, progress=False)
    val_features = None if max_steps else encode_dataset_images(model, val_set, progress=False)
    train_text = val_text = None
    if cache_text and frozen_layer_count(model) is not None:
        train_text = encode_frozen_text(model, train_set)
        val_text = None if max_steps else encode_frozen_text(model, val_set)
    synchronize(device)
    config = training.TrainConfig(
        epochs=1 if max_steps else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.head_lr,
        weight_decay=args.weight_decay,
        max_length=args.max_length,
        seed=args.seed,
        cache_text_layers=cache_text,
    )
    shapes.active = max_steps is None
    train_started = time.perf_counter()
    training.fit(
        model,
        train_set,
        None,
        config,
        cached=CachedFeatures({"train": train_features}, {"train": train_text} if train_text else {}),
        progress=False,
        log=lambda _: None,
    )
    train_s = stop_clock(device, shapes, train_started)
    if max_steps is not None:
        return {}, None
    val_started = time.perf_counter()
    metrics = training.evaluate(model, val_set, features=val_features, config=config, text_states=val_text)
    timings = {
        "encode_s": train_started - encode_started,
        "train_s": train_s,
        "val_s": time.perf_counter() - val_started,
        "wall_s": time.perf_counter() - started,
    }
    return timings, metrics


WAYS = {
    "naive": naive_way,
    "fast": functools.partial(trainer_way, cache_text=False),
    "frozen": functools.partial(trainer_way, cache_text=True),
}


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
    train_frame, val_frame, class_names = load_splits(args, encoders.tokenizer)
    tokens = text_tokens(train_frame, encoders.tokenizer, args.max_length) * args.epochs
    samples = len(train_frame) * args.epochs
    print(
        f"{device_name(device)} | profile {args.profile}{' (random init)' if args.random_init else ''} | "
        f"{len(train_frame)} train / {len(val_frame)} val reviews, {args.epochs} epoch(s), "
        f"{tokens / samples:.1f} tokens per review, text layers trained: {args.train_text_layers}, "
        f"{args.repeats} run(s) per way"
    )
    runs, batch_shapes, first_seed = {name: [] for name in WAYS}, {}, args.seed
    for repeat in range(args.repeats):
        args.seed = first_seed + repeat  # initial weights and batch order; the reviews stay the same
        model = build_model(
            encoders, class_names, train_text_layers=args.train_text_layers, seed=args.seed, device=device
        )
        initial = {name: value.detach().clone() for name, value in model.state_dict().items()}
        shapes = ShapeLog(model)
        for name, way in WAYS.items():
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


def add_mfu(results: dict, batch_shapes: dict, model, encoders, device, peak: float) -> None:
    """Training FLOPs, achieved TFLOP/s and MFU of each way (counted shape by shape).

    The frozen way's FLOPs are those of its steps (top text layers only): the work it does."""
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

    def frozen_inputs(batch: int, length: int) -> dict:
        inputs = fast_inputs(batch, length)
        inputs["text_states"] = torch.randn(batch, length, encoders.text_dim, device=device)
        del inputs["input_ids"]
        return inputs

    ways = (
        ("naive", naive_inputs, "eager"),
        ("fast", fast_inputs, "sdpa"),
        ("frozen", frozen_inputs, "sdpa"),
    )
    for name, make_inputs, attention in ways:
        set_attention(model, attention)
        flops = run_flops(model, batch_shapes[name], make_inputs, device)
        achieved = flops / results[name]["train_s"] / 1e12
        results[name].update(
            {"train_tflop": flops / 1e12, "achieved_tflops": achieved, "mfu": achieved / peak}
        )


if __name__ == "__main__":
    main()
