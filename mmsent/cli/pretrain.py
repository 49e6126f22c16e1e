"""The `pretrain-*` commands of `python -m mmsent`: rebuild the small models the course ships in data/.

python -m mmsent pretrain-clip          # data/clip-offline: the offline profile's CLIP (notebook 08)
python -m mmsent pretrain-vlm           # data/vlm-offline: notebook 09's vision-language models
python -m mmsent pretrain-audio         # data/audio-encoder: notebook 10's audio encoder (~2 min of CPU)
python -m mmsent pretrain-generator     # data/generator-offline: notebook 11's text-to-image model

Each writes its output folder whole once the run has finished, and replaces an existing one only with
--overwrite; a setting left out takes the recipe's value.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from mmsent.audio import audio_encoder_dir
from mmsent.cli import arguments, common
from mmsent.files.replace import replacing
from mmsent.paths import generator_dir, offline_clip_dir, vlm_dir
from mmsent.vlm.pretrain import RECIPE as VLM_RECIPE


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `pretrain-clip`, `pretrain-generator`, `pretrain-vlm` and `pretrain-audio` to the sub-commands
    (their default folders: where MMSENT_DATA_DIR says when the parser is built)."""
    _add_pretrain(
        commands, "pretrain-clip",
        help="train the offline profile's small CLIP model",
        description="Contrastively pretrain the small CLIPModel of the offline profile on "
        "generated image-caption pairs and save it with save_pretrained.",
        out=offline_clip_dir(),
        counts={"--epochs": ("passes over the pairs", None, None)},
        seed=("seed of the pairs and the run", None, None),
    )
    _add_pretrain(
        commands, "pretrain-generator",
        help="train the course's small text-to-image model (flow matching, 32x32, CLIP-conditioned)",
        description="Train the text-to-image U-Net of notebook 11 on generated photo-caption pairs, "
        "conditioned on the offline CLIP's text embeddings, save it (model.safetensors + config.json) and "
        "grade it with the CLIP at several guidance scales (metrics.json).",
        out=generator_dir(),
        counts={"--steps": ("training steps", None, None)},
        seed=("seed of the pairs and the run", None, None),
    )
    meanings = {"photos": "training photos", "heldout": "held-out photos",
                "steps": "training steps of the blind and Flamingo-style models (the LLaVA-style one trains "
                "twice as many)"}
    most = {"photos": PHOTO_LIMIT, "heldout": PHOTO_LIMIT, "steps": arguments.COUNT_LIMIT}
    _add_pretrain(
        commands, "pretrain-vlm",
        help="train notebook 09's small vision-language models (blind, LLaVA-style, Flamingo-style)",
        description="Generate photos with known content, cache their offline-CLIP states and pixels, train "
        "a blind, a LLaVA-style and a Flamingo-style decoder on captions and questions about them, save "
        "them (<out>/<kind>/, float16 weights) and grade them as saved on held-out photos (README.md "
        "model card, metrics.json).",
        out=vlm_dir(),
        counts={f"--{name}": (meaning, None, VLM_RECIPE[name], most[name])
                for name, meaning in meanings.items()},
        seed=("seed of the photos and the runs", None, VLM_RECIPE["seed"]),
    )
    _add_pretrain(
        commands, "pretrain-audio",
        help="train the small audio encoder of notebook 10 on generated snippets",
        description="Pretrain the audio encoder (log-mel -> time-frame tokens + pooled vector) on "
        "generated snippets the call set never uses, to tell voice states apart and find the shouting; "
        "save it with save_pretrained.",
        out=audio_encoder_dir(),
        counts={"--n": ("snippets", 1200, None), "--epochs": ("passes", 8, None)},
        seed=("seed", 0, None),
    )


# A number flag as (meaning, default, the default --help shows[, its largest value]); a default of None:
# the recipe's.
NumberFlag = tuple[str, int | None, object] | tuple[str, int | None, object, int]
# pretrain-vlm holds every photo's CLIP states and pixels in memory, ~60 KB each: 100,000 take ~6 GB
PHOTO_LIMIT = 100_000


def _add_pretrain(commands: argparse._SubParsersAction, name: str, *, help: str, description: str,
                  out: Path, counts: dict[str, NumberFlag], seed: NumberFlag) -> None:
    """A `pretrain-*` command: --out, its counts, --seed, --overwrite."""
    parser = commands.add_parser(name, help=help, description=description)
    common.add_output_folder(parser, out)
    for flag, number in counts.items():
        common.add_count(parser, flag, *number)
    common.add_seed(parser, *seed)
    common.add_overwrite(parser)


def _rebuild(args: argparse.Namespace, pretrain: Callable[..., dict], **settings) -> dict:
    """Run `pretrain(out_dir=..., **settings)` into a fresh folder, moved to --out when it has finished;
    print and return what it reports."""
    with replacing([args.out], args.overwrite) as work:  # an existing --out only with --overwrite, whole
        result = pretrain(out_dir=work / args.out.name, **settings)
    print(json.dumps(result, indent=2))
    return result


def cmd_pretrain_clip(args: argparse.Namespace) -> int:
    from mmsent.models.clip_pretrain import pretrain_clip

    _rebuild(args, pretrain_clip, **common.settings_given(args, "epochs", "seed"))
    return 0


def cmd_pretrain_generator(args: argparse.Namespace) -> int:
    from mmsent.generation.pretrain import pretrain_generator

    _rebuild(args, pretrain_generator, **common.settings_given(args, "steps", "seed"))
    return 0


def cmd_pretrain_vlm(args: argparse.Namespace) -> int:
    from mmsent.vlm.pretrain import pretrain_vlm

    _rebuild(args, pretrain_vlm, **common.settings_given(args, "photos", "heldout", "steps", "seed"))
    return 0


def cmd_pretrain_audio(args: argparse.Namespace) -> int:
    from mmsent.audio.pretrain import pretrain_audio_encoder

    _rebuild(args, pretrain_audio_encoder, **common.settings_given(args, "n", "epochs", "seed"))
    print(f"saved the audio encoder to {args.out}")
    return 0


COMMANDS = {
    "pretrain-clip": cmd_pretrain_clip,
    "pretrain-generator": cmd_pretrain_generator,
    "pretrain-vlm": cmd_pretrain_vlm,
    "pretrain-audio": cmd_pretrain_audio,
}
