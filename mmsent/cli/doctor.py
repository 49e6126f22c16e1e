"""`python -m mmsent doctor`: versions, device, profile, and the known problems with their fixes.

(Hosting the course in a fork is an authoring tool of the repository: tools/retarget_course.py.)
"""

from __future__ import annotations

import argparse


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `doctor` to the command line's sub-commands."""
    commands.add_parser(
        "doctor",
        help="print the versions, device and profile, check the offline models and name known problems",
        description="Print what to paste when asking for help: Python, torch (CUDA / MPS), transformers, "
        "the profile the kit would pick and why, whether the offline models load, the data folder and the "
        "feature cache; then every known problem with its fix. Exit status 1 when there is a problem.",
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    from mmsent.course.doctor import main

    return main()


COMMANDS = {"doctor": cmd_doctor}
