"""``python -m mmsent pretrain-vlm``: rebuild the committed vision-language models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmsent import validate
from mmsent.paths import VLM_DIR
from mmsent.replace import replacing
from mmsent.vlm.pretrain import RECIPE


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add ``pretrain-vlm`` to the command line's sub-commands."""
    vlm = commands.add_parser(
        "pretrain-vlm",
        help="train notebook 09's small vision-language models (blind, LLaVA-style, Flamingo-style)",
        description="Generate photos with known content, cache their offline-CLIP patch tokens, train a "
        "blind, a LLaVA-style and a Flamingo-style decoder on captions and questions about them, grade "
        "them on held-out photos, and save them (<out>/<kind>/, README.md model card, metrics.json).",
    )
    vlm.add_argument("--out", type=Path, default=VLM_DIR, help=f"output folder (default {VLM_DIR})")
    counts = {"photos": "training photos", "heldout": "held-out photos", "steps": "training steps per model"}
    for name, meaning in counts.items():
        vlm.add_argument(f"--{name}", type=validate.positive_int, default=None,
                         help=f"{meaning} (default {RECIPE[name]})")
    vlm.add_argument("--seed", type=validate.seed, default=None,
                     help=f"seed of the photos and the runs (default {RECIPE['seed']})")


def cmd_pretrain_vlm(args: argparse.Namespace) -> int:
    from mmsent.vlm.pretrain import pretrain_vlm

    chosen = {"photos": args.photos, "heldout": args.heldout, "steps": args.steps, "seed": args.seed}
    options = {key: value for key, value in chosen.items() if value is not None}
    with replacing([args.out], args.overwrite) as work:  # an existing --out only with --overwrite, whole
        metrics = pretrain_vlm(out_dir=work / args.out.name, **options)
    print(json.dumps(metrics, indent=2))
    return 0


COMMANDS = {"pretrain-vlm": cmd_pretrain_vlm}
