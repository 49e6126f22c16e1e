"""The throughput benchmark's summary: a table of the three ways, the speed-ups, and the JSON report."""

from __future__ import annotations

import sys

import torch
import transformers

from bench.measure import device_name
from bench.reviews import NAIVE_BATCH


def summarise(results: dict, args, device: torch.device, peak, train_rows: int, val_rows: int) -> dict:
    """Print the table of the ways (means over the runs) and return the report `--json` writes."""
    naive, fast, frozen = results["naive"], results["fast"], results["frozen"]
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
    print(f"\n{'':30}" + "".join(f"{name:>14}" for name in results))
    for label, key, style in rows:
        show = style if callable(style) else style.format
        print(f"{label:30}" + "".join(f"{show(way[key]):>14}" for way in results.values()))
    print(f"{'encode once (s)':30}{'-':>14}{fast['encode_s']:>14.1f}{frozen['encode_s']:>14.1f}")

    def speedup(way: dict, over: dict) -> float:
        return way["samples_per_s"] / over["samples_per_s"]

    runs = len(naive["val_accuracy_runs"])
    gap = 100 * (fast["val_accuracy"] - naive["val_accuracy"])
    frozen_gap = 100 * (frozen["val_accuracy"] - fast["val_accuracy"])
    accuracies = ", ".join(
        f"{name} {way['val_accuracy']:.3f} (sd {way['val_accuracy_sd']:.3f})" for name, way in results.items()
    )
    print(
        f"\nspeedup in samples/s: fast {speedup(fast, naive):.1f}x naive; frozen "
        f"{speedup(frozen, naive):.1f}x naive, {speedup(frozen, fast):.2f}x fast. Wall time: fast "
        f"{naive['wall_s'] / fast['wall_s']:.1f}x, frozen {naive['wall_s'] / frozen['wall_s']:.1f}x naive.\n"
        f"val accuracy, mean of {runs} run(s): {accuracies}; "
        f"fast - naive = {gap:+.1f} points, frozen - fast = {frozen_gap:+.1f} points"
    )

    return {
        "naive_samples_per_s": naive["samples_per_s"],
        "fast_samples_per_s": fast["samples_per_s"],
        "frozen_text_samples_per_s": frozen["samples_per_s"],
        "speedup": speedup(fast, naive),
        "speedup_frozen": speedup(frozen, naive),
        "speedup_frozen_over_fast": speedup(frozen, fast),
        "wall_speedup": naive["wall_s"] / fast["wall_s"],
        "wall_speedup_frozen": naive["wall_s"] / frozen["wall_s"],
        "naive_val_accuracy": naive["val_accuracy"],
        "fast_val_accuracy": fast["val_accuracy"],
        "frozen_text_val_accuracy": frozen["val_accuracy"],
        "val_accuracy_gap_points": gap,
        "frozen_val_accuracy_gap_points": frozen_gap,
        "repeats": runs,
        "fast_mfu": fast.get("mfu"),
        "frozen_mfu": frozen.get("mfu"),
        "device": device_name(device),
        "peak_tflops": peak,
        "profile": args.profile,
        "random_init": args.random_init,
        "epochs": args.epochs,
        "train_rows": train_rows,
        "val_rows": val_rows,
        "seq_len": args.seq_len,
        "max_length": args.max_length,
        "batch_size": {"naive": NAIVE_BATCH, "fast": args.batch_size, "frozen": args.batch_size},
        "train_text_layers": args.train_text_layers,
        **results,
        "command": "python " + " ".join([sys.argv[0], *sys.argv[1:]]),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }

