"""What one training step costs, and how much the frozen text cache can save at most.

    python bench/step_cost.py                          # the default: the top text layer trained
    python bench/step_cost.py --train-text-layers 2    # the old default

On the bundled training reviews (offline profile, fusion model, length-grouped batches of 16, as
`bench/train_throughput.py`), times three things, each over the same `--steps` batches after a few
untimed ones, best of `--rounds`:

fast     a whole training step with the whole text encoder run (`fit` with cache_text_layers=False);
frozen   the same step on the frozen layers' cached states: only the trained top layers run;
trained  the trained top layers alone on those states, forward and backward: the part of the text
         encoder's work the cache cannot remove.

The frozen way saves at most the frozen layers' forward pass (fast - frozen), so even if nothing but
the trained layers cost anything its speed-up over fast could not exceed
(fast - frozen + trained) / trained: the cap this prints. Milliseconds per step are this machine's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.reviews import NAIVE_BATCH, load_splits, reviews_parser  # noqa: E402
from mmsent.analysis.ablation import build_model  # noqa: E402
from mmsent.cli.arguments import positive_int, seed  # noqa: E402
from mmsent.compat import set_attention_implementation  # noqa: E402
from mmsent.config import DEFAULT_TEXT_LAYERS, TrainConfig  # noqa: E402
from mmsent.data import ReviewDataset, make_loader  # noqa: E402
from mmsent.encoders import load_encoders  # noqa: E402
from mmsent.features.text_states import encode_frozen_text  # noqa: E402
from mmsent.features.vectors import encode_dataset_images  # noqa: E402
from mmsent.models.text_layers import frozen_layer_count, top_text_features
from mmsent.train import make_optimizer  # noqa: E402
from mmsent.train.steps import model_inputs, pad_id  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = reviews_parser(__doc__)
    parser.add_argument(
        "--train-text-layers",
        type=int,
        default=DEFAULT_TEXT_LAYERS,
        help=f"top text layers trained, 1 or more (default {DEFAULT_TEXT_LAYERS}, as the CLI)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=NAIVE_BATCH, help="default 16, as the throughput bench"
    )
    parser.add_argument("--steps", type=positive_int, default=80, help="timed steps per round (default 80)")
    parser.add_argument(
        "--warmup-steps", type=positive_int, default=5, help="untimed steps before each timing"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=2, help="repeat each timing, keep the fastest (default 2)"
    )
    parser.add_argument("--seed", type=seed, default=0)
    args = parser.parse_args(argv)
    args.limit, args.seq_len = None, None  # what `load_splits` reads besides data and seed
    return args


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print and return ms per step of fast, frozen and trained, the frozen speed-up and its cap."""
    args = parse_args(argv)
    os.environ["MMSENT_CACHE_DIR"] = "off"  # encode here, from nothing, like the throughput bench
    cpu = torch.device("cpu")
    encoders = load_encoders(args.profile)
    train_frame, _, labels = load_splits(args, encoders.tokenizer)
    model = build_model(encoders, labels, train_text_layers=args.train_text_layers, seed=args.seed)
    frozen_layers = frozen_layer_count(model)
    if frozen_layers is None or args.train_text_layers < 1:
        raise SystemExit("--train-text-layers must leave some layers frozen and train at least one")
    set_attention_implementation(model.text_model, "sdpa")
    dataset = ReviewDataset(train_frame, encoders.tokenizer, encoders.image_processor)
    features = encode_dataset_images(model, dataset)
    states = encode_frozen_text(model, dataset)
    dataset = dataset.without_images()
    loader = make_loader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        seed=args.seed,
        pad_token_id=pad_id(model),
        group_by_length=True,
    )
    batches = list(loader)[: args.warmup_steps + args.steps]
    optimizer = make_optimizer(model, TrainConfig())
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()

    def step(batch: dict, cached: bool) -> None:
        output = model(**model_inputs(batch, cpu, features, states if cached else None))
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(output.logits, batch["labels"]).backward()
        torch.nn.utils.clip_grad_norm_(trainable, TrainConfig.max_grad_norm)
        optimizer.step()

    def trained_only(batch: dict) -> None:
        inputs = model_inputs(batch, cpu, features, states)
        pooled = top_text_features(
            model.text_model, inputs["text_states"], inputs["attention_mask"], frozen_layers
        )
        pooled.sum().backward()

    def milliseconds(work) -> float:
        best = float("inf")
        for _ in range(args.rounds):
            for batch in batches[: args.warmup_steps]:
                work(batch)
            started = time.perf_counter()
            for batch in batches[args.warmup_steps :]:
                work(batch)
            best = min(best, (time.perf_counter() - started) / max(1, len(batches) - args.warmup_steps) * 1e3)
        return best

    result = {
        "fast_ms": milliseconds(lambda batch: step(batch, cached=False)),
        "frozen_ms": milliseconds(lambda batch: step(batch, cached=True)),
        "trained_layers_ms": milliseconds(trained_only),
    }
    result["speedup_frozen_over_fast"] = result["fast_ms"] / result["frozen_ms"]
    saved = result["fast_ms"] - result["frozen_ms"]
    result["cap"] = (saved + result["trained_layers_ms"]) / result["trained_layers_ms"]
    print(
        f"{args.profile} profile, {args.train_text_layers} of {frozen_layers + args.train_text_layers} "
        f"text layers trained, batch {args.batch_size}, {torch.get_num_threads()} threads: ms per step: fast "
        f"{result['fast_ms']:.1f}, frozen {result['frozen_ms']:.1f}, the trained layers alone "
        f"{result['trained_layers_ms']:.1f}\nfrozen / fast: {result['speedup_frozen_over_fast']:.2f}x; "
        f"at most {result['cap']:.2f}x even if nothing but the trained layers cost anything"
    )
    return result


if __name__ == "__main__":
    main()
