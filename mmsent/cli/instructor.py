"""`python -m mmsent instructor-export` and `instructor-grade`: a graded workshop's notebooks and grading.

python -m mmsent instructor-export --out workshop       # student notebooks + otter-grader tests
python -m mmsent instructor-grade submission.ipynb --tests workshop/autograder/05_cross_modal_attention/tests

The export itself is `mmsent.exercises.export`; the grading, `mmsent.exercises.grading`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from mmsent.errors import UsageError
from mmsent.exercises.export import NOTEBOOKS_DIR, export
from mmsent.exercises.grading import grade


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `instructor-export` and `instructor-grade` to the command line's sub-commands."""
    command = commands.add_parser(
        "instructor-export",
        help="write student notebooks (no hints, no solutions) and autograder tests for a workshop",
        description="Write DIR/student (every notebook without outputs, hints or links to the solutions) and "
        "DIR/autograder (an otter-grader test per exercise check). DIR must not exist, or be empty.",
    )
    command.add_argument("--out", type=Path, required=True, help="the folder to write (new or empty)")
    command = commands.add_parser(
        "instructor-grade",
        help="grade a submitted notebook with the tests instructor-export wrote",
        description="Execute SUBMISSION (in this process: grade in a sandbox) and run every test of --tests "
        "on it; print each test's points and the score (--json: otter's results, as JSON).",
    )
    command.add_argument("submission", type=Path, help="the learner's notebook (.ipynb)")
    command.add_argument("--tests", type=Path, required=True, help="autograder/NN_name/tests of an export")
    command.add_argument("--json", action="store_true", help="print the results as JSON")


def cmd_export(args: argparse.Namespace) -> int:
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UsageError(f"--out {args.out} exists and is not an empty folder: name a new one")
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    try:
        written = export(notebooks, args.out)
    except BaseException:
        shutil.rmtree(args.out, ignore_errors=True)  # no half-written export
        raise
    graded = {stem: count for stem, count in written.items() if count}
    print(f"wrote {len(written)} student notebooks to {args.out / 'student'} and {sum(graded.values())} "
          f"autograder tests for {len(graded)} of them to {args.out / 'autograder'}; "
          f"see {args.out / 'README.md'}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    if args.submission.suffix != ".ipynb" or not args.submission.is_file():
        raise UsageError(f"{args.submission} is not a notebook file (.ipynb)")
    if not args.tests.is_dir():
        raise UsageError(f"--tests {args.tests} is not a folder (use autograder/NN_name/tests of an export)")
    try:
        result = grade(args.submission, args.tests)
    except (ValueError, SyntaxError) as error:  # a test file or notebook that is not what it should be
        raise UsageError(str(error)) from None
    print(result.to_json() if args.json else result.summary())
    return 0


COMMANDS = {"instructor-export": cmd_export, "instructor-grade": cmd_grade}
