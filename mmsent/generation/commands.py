"""``python -m mmsent pretrain-generator``: rebuild the committed text-to-image model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmsent import validate
from mmsent.paths import GENERATOR_DIR


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``pretrain-generator`` to the command line's sub-commands."""
    generator = commands.add_parser(
        "pretrain-generator",
        help="train the course's small text-to-image model (flow matching, 32x32, CLIP-conditioned)",
        description="Train the text-to-image U-Net of notebook 11 on generated photo-caption pairs, "
        "conditioned on the offline CLIP's text embeddings, save it (model.safetensors + config.json) and "
        "grade it with the CLIP at several guidance scales (metrics.json).",
    )
    generator.add_argument("--out", type=Path, default=GENERATOR_DIR,
                           help=f"output folder (default {GENERATOR_DIR})")
    generator.add_argument("--steps", type=validate.positive_int, default=None,
                           help="training steps (default: the recipe's)")
    generator.add_argument("--seed", type=validate.seed, default=None,
                           help="seed of the pairs and the run (default: the recipe's)")


def cmd_pretrain_generator(args: argparse.Namespace) -> int:
    from mmsent.generation.pretrain import pretrain_generator

    chosen = {"steps": args.steps, "seed": args.seed}
    options = {key: value for key, value in chosen.items() if value is not None}
    from mmsent.replace import replacing

    with replacing([args.out], args.overwrite) as work:
        result = pretrain_generator(out_dir=work / args.out.name, **options)
    print(json.dumps(result, indent=2))
    return 0


COMMANDS = {"pretrain-generator": cmd_pretrain_generator}
