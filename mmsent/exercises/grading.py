"""Grade a submitted notebook with the autograder tests `instructor-export` writes (otter-grader's format).

A test file is otter-grader's "OK format": a Python file that sets `OK_FORMAT = True` and a dict `test` whose
doctest cases run in the submission's global names, e.g.

    >>> from mmsent.exercises import nb11
    >>> _feedback = nb11.ex3.evaluate(variety)
    >>> _feedback.passed or _feedback.message
    True

so a failed case shows the check's message ("you divide by per_cell ** 2: ..."). `otter run` reads these
files as they are (the `instructor` extra); `grade()` here runs the same files without otter: it executes
the submission's code cells in this process, in order, continuing past a cell that raises (as otter does),
then runs every test's doctests in the names the notebook left behind.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TestResult:
    """One autograder test: its name, the points it gave out of its points, and doctest's report."""

    name: str
    points: float
    max_points: float
    output: str


@dataclass(frozen=True)
class Grade:
    """The grade of one submission: a result per test, and the cells that raised while it ran."""

    results: tuple[TestResult, ...]
    cell_errors: tuple[str, ...]

    @property
    def score(self) -> float:
        return sum(result.points for result in self.results)

    @property
    def max_score(self) -> float:
        return sum(result.max_points for result in self.results)

    def summary(self) -> str:
        lines = [f"{r.name}: {r.points:g}/{r.max_points:g}"
                 + ("" if r.points == r.max_points else f"\n{r.output.rstrip()}") for r in self.results]
        lines += [f"a cell raised: {error}" for error in self.cell_errors]
        return "\n".join(lines + [f"score: {self.score:g}/{self.max_score:g}"])

    def to_json(self) -> str:
        tests = [{"name": r.name, "score": r.points, "max_score": r.max_points, "output": r.output}
                 for r in self.results]
        return json.dumps({"score": self.score, "max_score": self.max_score, "tests": tests,
                           "cell_errors": list(self.cell_errors)}, indent=1)


def load_test(path: Path) -> dict:
    """The `test` dict of an OK-format test file."""
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    if not namespace.get("OK_FORMAT") or not isinstance(namespace.get("test"), dict):
        raise ValueError(f"{path} is not an OK-format test file (OK_FORMAT = True and a dict `test`)")
    return namespace["test"]


def run_test(test: dict, names: dict) -> TestResult:
    """Run one test's doctest cases in `names` (the notebook's globals); all cases pass -> full points."""
    parser, out = doctest.DocTestParser(), io.StringIO()
    failed = 0
    for suite in test["suites"]:
        for number, case in enumerate(suite["cases"]):
            runner = doctest.DocTestRunner(verbose=False)
            example = parser.get_doctest(case["code"], names, f"{test['name']} {number}", None, 0)
            runner.run(example, out=out.write, clear_globs=False)
            failed += runner.failures
    points = float(test.get("points", 1))
    return TestResult(test["name"], 0.0 if failed else points, points, out.getvalue())


def execute(notebook: Path) -> tuple[dict, list[str]]:
    """Run the notebook's code cells in order in fresh names -> (the names, errors of the cells that raised).

    IPython's `%` and `!` lines are skipped; plots go to matplotlib's Agg backend (no window)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    names: dict = {"__name__": "__main__"}
    errors = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = source.splitlines()
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"{notebook.name}, cell {index}", "exec"), names)
        except Exception as error:  # the learner's cell: record it and go on, as a grader must
            errors.append(f"cell {index}: {type(error).__name__}: {error}")
    return names, errors


def grade(submission: Path, tests_dir: Path) -> Grade:
    """Execute `submission` and run every OK-format test in `tests_dir` (sorted by name) in its names."""
    paths = sorted(tests_dir.glob("*.py"))
    if not paths:
        raise ValueError(f"no test files (*.py) in {tests_dir}")
    tests = [load_test(path) for path in paths]
    names, errors = execute(submission)
    return Grade(tuple(run_test(test, names) for test in tests), tuple(errors))
