"""`python -m mmsent instructor-export --out DIR`: the course for a graded workshop, with its autograder.

For every notebook of notebooks/ it writes

    DIR/student/NN_name.ipynb              the notebook without outputs, hints or links to the solutions;
                                           its exercise cells (the `...` placeholders, their checks) intact
    DIR/autograder/NN_name/tests/exK.py    one otter-grader test ("OK format") per exercise cell that calls
                                           a check (`nbNN.exK.check(answer, ...)`), one point each

and DIR/README.md, which says how to grade. A test runs the same check as the exercise cell, on the names the
submission left behind, and fails with the check's message. Grade a submission with

    python -m mmsent instructor-grade submission.ipynb --tests DIR/autograder/NN_name/tests
    otter run -a NN.zip submission.ipynb       # or otter-grader (pip install -e ".[instructor]"), after
                                               # otter generate -t DIR/autograder/NN_name/tests -o NN.zip
"""

from __future__ import annotations

import ast
import json
import pprint
import re
from dataclasses import dataclass
from pathlib import Path

from mmsent.paths import REPO_DIR

NOTEBOOKS_DIR = REPO_DIR / "notebooks"
# what the student version leaves out: nbNN.exK.hint(), nbNN.exK_M.solution(), ...
HELP_CALL = re.compile(r"\bnb\d\d\.ex\d+(?:_\d+)?\.(hint|solution)\(\)")
SOLUTION_LINK = re.compile(r"solutions/")


@dataclass(frozen=True)
class Check:
    """An exercise cell's call `module.exercise.check(arguments)`."""

    module: str  # nb07
    exercise: str  # ex2
    arguments: str  # grey_out, side=side

    def test_file(self) -> str:
        """The otter-grader test (OK format) that runs this check and shows its message when it fails."""
        code = (f">>> from mmsent.exercises import {self.module}\n"
                f">>> _feedback = {self.module}.{self.exercise}.evaluate({self.arguments})\n"
                ">>> _feedback.passed or _feedback.message\nTrue")
        test = {"name": f"{self.module}.{self.exercise}", "points": 1, "suites": [
            {"cases": [{"code": code, "hidden": False, "locked": False}], "scored": True, "setup": "",
             "teardown": "", "type": "doctest"}]}
        return f"OK_FORMAT = True\n\ntest = {pprint.pformat(test, sort_dicts=False, width=100)}\n"


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def checks(notebook: dict) -> list[Check]:
    """The check calls of the notebook's code cells, in order (a cell that does not parse has none)."""
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            if (isinstance(node, ast.Call) and isinstance(func, ast.Attribute) and func.attr == "check"
                    and isinstance(func.value, ast.Attribute) and isinstance(func.value.value, ast.Name)
                    and re.fullmatch(r"nb\d\d", func.value.value.id)):
                arguments = ", ".join(ast.get_source_segment(source, a) for a in [*node.args, *node.keywords])
                found.append(Check(func.value.value.id, func.value.attr, arguments))
    return found


def student_version(notebook: dict) -> dict:
    """A copy without outputs, without the sentences or code lines that offer hints or solutions."""
    cells = []
    for cell in notebook["cells"]:
        source = _source(cell)
        offers = HELP_CALL.search(source) or SOLUTION_LINK.search(source)
        if cell["cell_type"] == "markdown" and offers:  # drop the sentences that point at hints or solutions
            pieces = re.split(r"(?<=[.!?])(\s+)", source)  # sentence, space, sentence, ...
            kept = [p for p in pieces[::2] if not HELP_CALL.search(p) and not SOLUTION_LINK.search(p)]
            source = " ".join(kept)
            if not source.strip():
                continue
        lines = [line for line in source.splitlines(True) if not HELP_CALL.search(line)]
        cell = dict(cell, source=lines)
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
        cells.append(cell)
    return dict(notebook, cells=cells)


def export(notebooks: list[Path], out: Path) -> dict[str, int]:
    """Write the student versions and autograder tests of `notebooks` under `out` -> tests per notebook."""
    written = {}
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        student = out / "student" / path.name
        student.parent.mkdir(parents=True, exist_ok=True)
        student.write_text(json.dumps(student_version(notebook), indent=1, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        found = checks(notebook)
        for check in found:
            test = out / "autograder" / path.stem / "tests" / f"{check.exercise}.py"
            test.parent.mkdir(parents=True, exist_ok=True)
            test.write_text(check.test_file(), encoding="utf-8")
        written[path.stem] = len(found)
    (out / "README.md").write_text(README.format(tests=sum(written.values())), encoding="utf-8")
    return written


README = """# Workshop export of the mmsent course

- `student/`: every notebook, without outputs, hints or links to the solutions. Hand these out.
- `autograder/NN_name/tests/`: one test per exercise that asks for code or a number ({tests} in all), in
  otter-grader's format; each runs the exercise's check on the submission and fails with what is wrong.

Grade a submitted notebook (it is executed, top to bottom, in the grading process: grade in a sandbox):

    python -m mmsent instructor-grade submission.ipynb --tests autograder/NN_name/tests

or with otter-grader (`pip install -e ".[instructor]"` in the course kit):

    otter generate -t autograder/NN_name/tests -o NN.zip --no-requirements --no-environment --no-config
    otter run -a NN.zip submission.ipynb -o results/
"""
