"""`python -m mmsent`: train, evaluate and predict from a terminal, with the same code the notebooks use.

python -m mmsent train                      # bundled data, offline profile, report in reports/latest
python -m mmsent train --data my.csv --epochs 3 --report-dir reports/mine
python -m mmsent evaluate --model reports/latest/model --data my.csv
python -m mmsent predict --model reports/latest/model --text "Well. It arrived." --image box.png
python -m mmsent pretrain-clip              # rebuild data/clip-offline
python -m mmsent pretrain-generator         # rebuild data/generator-offline (notebook 11's model)
python -m mmsent pretrain-vlm               # rebuild data/vlm-offline (notebook 09's models)
python -m mmsent make-data                  # regenerate the bundled review set
python -m mmsent demo --model reports/latest/model   # a web demo (Gradio, the .[demo] extra)
python -m mmsent make-calls                 # regenerate the call-centre table (notebook 10)
python -m mmsent pretrain-audio             # rebuild data/audio-encoder (notebook 10)
python -m mmsent import-amazon Electronics.jsonl.gz --meta meta_Electronics.jsonl.gz --out data/amazon
python -m mmsent doctor                     # versions, device, profile and known problems, to paste

Bad input (a broken table, photo, model folder, flag or MMSENT_* variable) prints `error: ...` saying
what, where and what to do, and exits with status 2; `--debug` shows the traceback instead.

This module holds the one parser and runs a command; each command group's flags and code are in its own
module (`GROUPS`).
"""

from __future__ import annotations

import argparse
import logging
import sys

from mmsent.cli import arguments, book, data, demo, doctor, instructor, predict, pretrain, train
from mmsent.cli.common import parse_command_line
from mmsent.course.environment import check_environment

# The command groups, in the order --help lists their commands: each has add_parsers() and COMMANDS.
GROUPS = (train, predict, demo, data, pretrain, doctor, book, instructor)
COMMANDS = {name: run for group in GROUPS for name, run in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every group's sub-commands, each with --debug and abbreviations off."""
    parser = argparse.ArgumentParser(
        prog="python -m mmsent",
        allow_abbrev=False,
        description="Multimodal (text + photo) review sentiment: train, evaluate, predict.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(commands)
    for command in commands.choices.values():
        command.add_argument(
            "--debug", action="store_true", help="on an error, show the Python traceback"
        )
        command.allow_abbrev = False  # a typo such as --epoch is an error, not another flag
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command of `argv` (default: sys.argv); the exit status: 0, 1 (doctor found a problem),
    2 (bad input, said in one `error:` line), 130 (Ctrl-C) or the SIGTERM status."""
    args = parse_command_line(build_parser(), argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from mmsent.errors import MmsentError
    from mmsent.files.interrupts import TERMINATED_STATUS, Terminated, resource_message, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # SIGTERM cleans up like Ctrl-C
            if args.command not in doctor.COMMANDS:  # doctor reports a bad MMSENT_* variable itself
                check_environment(getattr(args, "device", None))
            return COMMANDS[args.command](args)
    except (MmsentError, OSError) as error:  # bad input: say what and where, no traceback
        if args.debug:
            raise
        print(f"error: {resource_message(error) or arguments.error_message(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # a full disk reported by a library that drops the OSError (safetensors)
        if args.debug or resource_message(error) is None:
            raise
        print(f"error: {resource_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        if args.debug:
            raise
        what = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"error: {what}; output is only moved into place when a run finishes", file=sys.stderr)
        return TERMINATED_STATUS if isinstance(interrupt, Terminated) else 130
