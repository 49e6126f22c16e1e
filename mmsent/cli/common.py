"""What several `python -m mmsent` commands share, defined once: their arguments and helpers.

Each `add_*` function adds one argument (or one group of arguments) to a command's parser, with the same
flag, type, default and help wherever it appears.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from mmsent.cli import arguments
from mmsent.files.replace import OVERWRITE_HELP

COLUMNS_HELP = (
    "rename your CSV's columns as it is read, YOUR_NAME=OUR_NAME separated by commas, e.g. "
    "reviewText=text,photo=image_path,sentiment=label,asin=review_id (the file is not changed)"
)
RECIPE_DEFAULT = "the recipe's"  # a setting left unset takes the value of the training recipe


def add_model(parser: argparse.ArgumentParser) -> None:
    """`--model` (older name `--checkpoint`): the model folder or hub id that evaluate / predict load."""
    parser.add_argument(
        "--model",
        "--checkpoint",
        type=Path,
        dest="model",
        default=Path("reports/latest/model"),
        help="model folder written by train (its report's model/; default reports/latest/model), or a "
        "Hugging Face hub id owner/name; --checkpoint is the older name of this flag",
    )


def add_columns(parser: argparse.ArgumentParser, default: dict[str, str] | None = None) -> None:
    """`--columns YOURS=OURS,...`: rename the CSV's columns as it is read."""
    parser.add_argument("--columns", type=arguments.column_renames, default=default, help=COLUMNS_HELP)


def add_photo_source(parser: argparse.ArgumentParser) -> None:
    """Where a table's photos may be and how photo URLs are fetched: `--allow-outside-paths`,
    `--photo-dir`, `--photo-deadline`, `--offline` (what `photo_store` reads)."""
    parser.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="accept photos whose real path (symlinks resolved) is outside the CSV's folder "
        "(default: refuse them)",
    )
    parser.add_argument(
        "--photo-dir",
        type=Path,
        default=None,
        help="folder where photo URLs (http:// and https:// in image_path) are downloaded to, once "
        "(default: the photos/ folder of the feature cache, MMSENT_CACHE_DIR)",
    )
    parser.add_argument(
        "--photo-deadline",
        type=arguments.positive_float,
        default=None,
        metavar="SECONDS",
        help="most seconds one photo URL may take, every attempt included (default: MMSENT_PHOTO_DEADLINE, "
        "else 60)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="download no photo URL: use the photos already in the photo folder and report the rows whose "
        "photo would need a download (they are kept text-only)",
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    """`--device cpu|cuda|cuda:1|mps`."""
    parser.add_argument(
        "--device",
        type=arguments.device,
        default=None,
        help="cpu, cuda, cuda:1, mps (default: MMSENT_DEVICE, else the best available)",
    )


def add_no_progress(parser: argparse.ArgumentParser, bars: str = "bars") -> None:
    """`--no-progress`: hide the progress bar(s)."""
    parser.add_argument("--no-progress", action="store_true", help=f"hide the progress {bars}")


def add_overwrite(parser: argparse.ArgumentParser, help: str = OVERWRITE_HELP) -> None:
    """`--overwrite`: replace the command's existing output (by default it refuses)."""
    parser.add_argument("--overwrite", action="store_true", help=help)


def add_output_folder(
    parser: argparse.ArgumentParser, default: Path, what: str = "output folder", shown: str | None = None
) -> None:
    """`--out DIR`: the folder a make-* or pretrain-* command writes (help: `what (default shown)`)."""
    parser.add_argument("--out", type=Path, default=default, help=f"{what} (default {shown or default})")


def add_count(parser: argparse.ArgumentParser, flag: str, meaning: str, default: int | None = None,
              shown: object = None, maximum: int = arguments.COUNT_LIMIT) -> None:
    """`flag N`, a whole number from 1 to `maximum`; no default (None) means the recipe's."""
    _add_number(parser, flag, arguments.count_up_to(maximum), f"{meaning}, 1 to {maximum:,}", default, shown)


def add_seed(parser: argparse.ArgumentParser, meaning: str = "seed", default: int | None = 0,
             shown: object = None) -> None:
    """`--seed N`, 0 to 2**32 - 1; no default (None) means the recipe's."""
    _add_number(parser, "--seed", arguments.seed, meaning, default, shown)


def _add_number(parser, flag, kind, meaning, default, shown) -> None:
    shown = default if shown is None else shown
    said = f": {RECIPE_DEFAULT}" if shown is None else f" {shown}"
    parser.add_argument(flag, type=kind, default=default, help=f"{meaning} (default{said})")


def settings_given(args: argparse.Namespace, *names: str) -> dict[str, object]:
    """The settings among `names` given on the command line (those left None take the recipe's)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def photo_store(args: argparse.Namespace):
    """The photo store that --photo-dir, --photo-deadline, --offline and --no-progress describe."""
    from mmsent.data.photo_store import PhotoStore

    progress = not getattr(args, "no_progress", False)
    deadline = getattr(args, "photo_deadline", None)
    return PhotoStore(args.photo_dir, offline=args.offline, deadline=deadline, progress=progress)


def load_model(args: argparse.Namespace):
    """(the model of --model on --device, its labels, its training recipe) for evaluate / predict."""
    from mmsent.config import TrainConfig
    from mmsent.models import MultimodalSentimentModel

    model = MultimodalSentimentModel.from_pretrained(args.model, device=args.device)
    return model, model.config.label_vocab(), TrainConfig.from_dict(model.config.recipe)


def command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The sub-command parser of `command` (train, evaluate, ...)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]


def parse_command_line(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse with abbreviations off: an unknown flag (`--epoch 2`) exits 2 naming the closest flag
    (`--epochs`). `--config FILE` (`mmsent.cli.run_config`) sets the command's defaults, then the command
    line is read again, so the flags given win over the file."""
    from mmsent.cli import run_config
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
