"""The call-centre commands of `python -m mmsent`: `make-calls` and `pretrain-audio`.

python -m mmsent make-calls          # regenerate data/calls/calls.csv from its seed
python -m mmsent pretrain-audio      # rebuild data/audio-encoder (about 2 minutes of CPU)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmsent import validate
from mmsent.audio import AUDIO_ENCODER_DIR, CALLS_CSV


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `make-calls` and `pretrain-audio` to the command line's sub-commands."""
    calls = commands.add_parser(
        "make-calls",
        help="regenerate the call-centre set's table (transcripts, labels, shout spans, audio digests)",
        description="Draw the call-centre set from a seed and write its table; the audio itself is "
        "rendered from the table on first use and cached (see data/calls/README.md).",
    )
    calls.add_argument("--out", type=Path, default=CALLS_CSV.parent,
                       help=f"output folder for calls.csv (default {CALLS_CSV.parent})")
    calls.add_argument("--n", type=validate.positive_int, default=1000, help="number of calls (default 1000)")
    calls.add_argument("--seed", type=validate.seed, default=0, help="seed (default 0)")
    audio = commands.add_parser(
        "pretrain-audio",
        help="train the small audio encoder of notebook 10 on generated snippets",
        description="Pretrain the audio encoder (log-mel -> time-frame tokens + pooled vector) on "
        "generated snippets the call set never uses, to tell voice states apart and find the shouting; "
        "save it with save_pretrained.",
    )
    audio.add_argument("--out", type=Path, default=AUDIO_ENCODER_DIR,
                       help=f"output folder (default {AUDIO_ENCODER_DIR})")
    audio.add_argument("--n", type=validate.positive_int, default=1200, help="snippets (default 1200)")
    audio.add_argument("--epochs", type=validate.positive_int, default=8, help="passes (default 8)")
    audio.add_argument("--seed", type=validate.seed, default=0, help="seed (default 0)")


def cmd_make_calls(args: argparse.Namespace) -> int:
    from mmsent.audio.calls import generate_calls, summary, write_table
    from mmsent.replace import replacing

    frame = generate_calls(args.n, args.seed)
    with replacing([args.out / "calls.csv"], args.overwrite) as work:
        write_table(frame, work / "calls.csv")
    print(summary(frame))
    print(f"wrote {len(frame)} calls to {args.out / 'calls.csv'}")
    return 0


def cmd_pretrain_audio(args: argparse.Namespace) -> int:
    from mmsent.audio.pretrain import pretrain_audio_encoder
    from mmsent.replace import replacing

    with replacing([args.out], args.overwrite) as work:
        result = pretrain_audio_encoder(work / args.out.name, n=args.n, epochs=args.epochs, seed=args.seed)
    print(json.dumps(result, indent=2))
    print(f"saved the audio encoder to {args.out}")
    return 0


COMMANDS = {"make-calls": cmd_make_calls, "pretrain-audio": cmd_pretrain_audio}
