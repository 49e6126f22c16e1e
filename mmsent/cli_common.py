"""Arguments and helpers that several `python -m mmsent` commands share (one definition each)."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from mmsent import validate

MODEL_ARG = dict(
    type=Path,
    dest="model",
    default=Path("reports/latest/model"),
    help="model folder written by train (its report's model/; default reports/latest/model), or a "
    "Hugging Face hub id owner/name; --checkpoint is the older name of this flag",
)
DEVICE_ARG = dict(
    type=validate.device,
    default=None,
    help="cpu, cuda, cuda:1, mps (default: MMSENT_DEVICE, else the best available)",
)
OUTSIDE_PATHS_ARG = dict(
    action="store_true",
    help="accept photos whose real path (symlinks resolved) is outside the CSV's folder "
    "(default: refuse them)",
)
PHOTO_DIR_ARG = dict(
    type=Path,
    default=None,
    help="folder where photo URLs (http:// and https:// in image_path) are downloaded to, once "
    "(default: the photos/ folder of the feature cache, MMSENT_CACHE_DIR)",
)
PHOTO_DEADLINE_ARG = dict(
    type=validate.positive_float,
    default=None,
    metavar="SECONDS",
    help="most seconds one photo URL may take, every attempt included (default: MMSENT_PHOTO_DEADLINE, "
    "else 60)",
)
OFFLINE_ARG = dict(
    action="store_true",
    help="download no photo URL: use the photos already in the photo folder and report the rows whose "
    "photo would need a download (they are kept text-only)",
)
COLUMNS_HELP = (
    "rename your CSV's columns as it is read, YOUR_NAME=OUR_NAME separated by commas, e.g. "
    "reviewText=text,photo=image_path,sentiment=label,asin=review_id (the file is not changed)"
)


def photo_store(args: argparse.Namespace):
    """The photo store that --photo-dir, --photo-deadline, --offline and --no-progress describe."""
    from mmsent.data.photo_store import PhotoStore

    progress = not getattr(args, "no_progress", False)
    deadline = getattr(args, "photo_deadline", None)
    return PhotoStore(args.photo_dir, offline=args.offline, deadline=deadline, progress=progress)


def load_model(args: argparse.Namespace):
    """(the train module, the model of --model, its labels, its training recipe) for evaluate / predict."""
    from mmsent import train as training
    from mmsent.models import MultimodalSentimentModel

    model = MultimodalSentimentModel.from_pretrained(args.model, device=args.device)
    return training, model, model.config.label_encoder(), training.TrainConfig.from_dict(model.config.recipe)


def command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The sub-command parser of `command` (train, evaluate, ...)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def parse_command_line(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse with abbreviations off: an unknown flag (`--epoch 2`) exits 2 naming the closest flag
    (`--epochs`). `--config FILE` (`mmsent.run_config`) sets the command's defaults, then the command
    line is read again, so the flags given win over the file."""
    from mmsent import run_config
    from mmsent.errors import DataError

    args, extra = parser.parse_known_args(argv)
    command = command_parser(parser, args.command)
    _refuse_unknown(command, extra)
    if getattr(args, "config", None) is not None:
        try:
            command.set_defaults(**run_config.file_defaults(command, args.config))
        except DataError as error:
            command.error(str(error))
        args, extra = parser.parse_known_args(argv)
    return args


def _refuse_unknown(command: argparse.ArgumentParser, extra: list[str]) -> None:
    if not extra:
        return
    flags = [option for action in command._actions for option in action.option_strings]
    unknown = next((item for item in extra if item.startswith("-")), extra[0])
    near = difflib.get_close_matches(unknown.split("=")[0], flags, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]}?" if near else f"; see {command.prog} --help"
    command.error(f"unrecognized argument(s): {' '.join(extra)}{hint}")
