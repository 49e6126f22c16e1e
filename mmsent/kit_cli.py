"""The commands about the kit itself, for `python -m mmsent`: `doctor` and `course`.

python -m mmsent doctor                                   # versions, device, profile, problems
python -m mmsent course --repo-url https://github.com/me/mmsent [--branch main]   # host a fork
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmsent.paths import REPO_DIR


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `doctor` and `course` to the command line's sub-commands."""
    commands.add_parser(
        "doctor",
        help="print the versions, device and profile, check the offline models and name known problems",
        description="Print what to paste when asking for help: Python, torch (CUDA / MPS), transformers, "
        "the profile the kit would pick and why, whether the offline models load, the data folder and the "
        "feature cache; then every known problem with its fix. Exit status 1 when there is a problem.",
    )
    course = commands.add_parser(
        "course",
        help="point every Colab badge and notebook set-up cell at another repository (a fork)",
        description="For an instructor who hosts the course in a fork: rewrite mmsent.course's repository "
        "address, the Colab badge and set-up cell of every notebook and the README's table of notebooks. "
        "Commit and push the result; running it again with the old address undoes it.",
    )
    course.add_argument("--repo-url", required=True, help="the fork's address, https://github.com/OWNER/NAME")
    course.add_argument("--branch", default="main", help="the branch learners open (default main)")
    course.add_argument("--root", type=Path, default=REPO_DIR,
                        help="the checkout to rewrite (default: the one this mmsent runs from)")


def cmd_doctor(args: argparse.Namespace) -> int:
    from mmsent.doctor import main

    return main()


def cmd_course(args: argparse.Namespace) -> int:
    from mmsent.course import retarget

    changed = retarget(args.repo_url, args.branch, args.root)
    for path in changed:
        print(f"rewrote {path}")
    print(f"{len(changed)} files now point at {args.repo_url} (branch {args.branch}); commit and push them.")
    return 0


COMMANDS = {"doctor": cmd_doctor, "course": cmd_course}
