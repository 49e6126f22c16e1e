"""instructor-export and instructor-grade: student notebooks without hints or solutions, autograder tests in
otter-grader's format, and the round trip on notebook 11 (a right answer scores full marks, a wrong one 0)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmsent.cli.main import main
from mmsent.exercises.export import NOTEBOOKS_DIR, checks, export, student_version
from mmsent.exercises.grading import grade, load_test

NOTEBOOK_11 = NOTEBOOKS_DIR / "11_from_words_to_pictures.ipynb"
SOLUTION_11 = NOTEBOOKS_DIR / "solutions" / NOTEBOOK_11.name


def code_cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def solution_variety() -> str:
    """The solution notebook's definition of variety (notebook 11, exercise 3)."""
    cells = json.loads(SOLUTION_11.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "def variety(" in "".join(c["source"]))
    return source.split("\n\n\nrows = []")[0]


def submission(tmp_path: Path, student: Path, variety: str, name: str) -> Path:
    """Notebook 11's exercise 3 cell as the student export has it, answered with `variety`, after the imports
    it needs: the rest of the notebook (sampling and grading pictures) is minutes of CPU, not a unit test."""
    cells = json.loads(student.read_text())["cells"]
    exercise = next(c for c in cells if "nb11.ex3.check(variety)" in "".join(c["source"]))
    start = "".join(exercise["source"])
    placeholder = start[start.index("def variety("):start.index("nb11.ex3.check")]
    answered = start.replace(placeholder, variety.strip() + "\n\n\n")
    notebook = {"cells": [code_cell("import torch\nfrom mmsent.exercises import nb11"), code_cell(answered)],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / name
    path.write_text(json.dumps(notebook))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    written = export([NOTEBOOK_11], out)
    assert written == {NOTEBOOK_11.stem: 3}
    return out


def test_the_student_version_keeps_the_exercises_and_drops_hints_and_solutions(exported):
    original = json.loads(NOTEBOOK_11.read_text())
    student = json.loads((exported / "student" / NOTEBOOK_11.name).read_text())
    text = json.dumps(student)
    assert ".hint()" in json.dumps(original) and ".hint()" not in text and ".solution()" not in text
    markdown = "".join("".join(c["source"]) for c in student["cells"] if c["cell_type"] == "markdown")
    assert "solutions/" not in markdown
    assert checks(student) == checks(original)  # every exercise cell, with its check
    assert all(c["outputs"] == [] for c in student["cells"] if c["cell_type"] == "code")
    tests = sorted(p.name for p in (exported / "autograder" / NOTEBOOK_11.stem / "tests").iterdir())
    assert tests == ["ex1.py", "ex2.py", "ex3.py"]
    assert load_test(exported / "autograder" / NOTEBOOK_11.stem / "tests" / "ex3.py")["points"] == 1


def test_the_hints_of_a_part_of_an_exercise_are_dropped_too():
    cell = code_cell("# Stuck? nb03.ex1_2.hint() gives a hint\nnb03.ex1_2.solution()\ntrained = None\n"
                     "nb03.ex1_2.check(trained, test=data['test'])")
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    student = student_version(notebook)
    assert "hint()" not in json.dumps(student) and "solution()" not in json.dumps(student)
    assert [(c.module, c.exercise) for c in checks(student)] == [("nb03", "ex1_2")]


def test_round_trip_a_right_answer_scores_full_marks_and_a_wrong_one_does_not(exported, tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    exported_tests = exported / "autograder" / NOTEBOOK_11.stem / "tests"
    (tests / "ex3.py").write_text((exported_tests / "ex3.py").read_text())
    student = exported / "student" / NOTEBOOK_11.name
    right = grade(submission(tmp_path, student, solution_variety(), "right.ipynb"), tests)
    assert (right.score, right.max_score, right.cell_errors) == (1, 1, ())
    wrong_code = solution_variety().replace("18 * pairs", "18 * per_cell ** 2")
    assert wrong_code != solution_variety()
    wrong = grade(submission(tmp_path, student, wrong_code, "wrong.ipynb"), tests)
    assert (wrong.score, wrong.max_score) == (0, 1)
    assert "you divide by per_cell ** 2" in wrong.results[0].output  # the check's message reaches the grader
    placeholder = "def variety(pictures, per_cell):\n    ...  # handed out unanswered\n"
    unanswered = grade(submission(tmp_path, student, placeholder, "unanswered.ipynb"), tests)
    assert unanswered.score == 0


def test_the_commands_like_a_user(tmp_path, capsys):
    out = tmp_path / "workshop"
    assert main(["instructor-export", "--out", str(out)]) == 0
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (out / "student").iterdir()) == [p.name for p in notebooks]
    calls = sum(len(checks(json.loads(p.read_text()))) for p in notebooks)
    assert len(list((out / "autograder").glob("*/tests/*.py"))) == calls >= 20
    assert "instructor-grade" in (out / "README.md").read_text()
    capsys.readouterr()
    assert main(["instructor-export", "--out", str(out)]) == 2  # not over an earlier export
    assert main(["instructor-grade", str(tmp_path / "missing.ipynb"), "--tests", str(out)]) == 2
    assert main(["instructor-grade", str(out / "README.md"), "--tests", str(out)]) == 2
    errors = capsys.readouterr().err
    assert errors.count("error: ") == 3 and "Traceback" not in errors


@pytest.mark.skipif(importlib.util.find_spec("otter") is None or not os.environ.get("MMSENT_OTTER_TEST"),
                    reason="otter-grader round trip: needs the instructor extra (not in CI) and "
                    "MMSENT_OTTER_TEST=1, as each otter run takes 20-45 s")
def test_otter_grader_reads_the_same_tests(exported, tmp_path):
    tests = exported / "autograder" / NOTEBOOK_11.stem / "tests"
    only_ex3 = tmp_path / "tests"
    only_ex3.mkdir()
    (only_ex3 / "ex3.py").write_text((tests / "ex3.py").read_text())
    otter = [sys.executable, "-m", "otter"]
    zip_path = tmp_path / "ag.zip"
    subprocess.run([*otter, "generate", "-t", str(only_ex3), "-o", str(zip_path), "--no-requirements",
                    "--no-environment", "--no-config"], check=True, cwd=tmp_path, capture_output=True)
    scores = {}
    student = exported / "student" / NOTEBOOK_11.name
    for name, code in [("right", solution_variety()),
                       ("wrong", solution_variety().replace("18 * pairs", "18 * per_cell ** 2"))]:
        results = tmp_path / name
        results.mkdir()
        notebook = submission(tmp_path, student, code, f"{name}.ipynb")
        subprocess.run([*otter, "run", "-a", str(zip_path), str(notebook), "-o", str(results), "--no-logo"],
                       check=True, cwd=tmp_path, capture_output=True)
        found = json.loads((results / "results.json").read_text())["tests"]
        scores[name] = [t["score"] for t in found if t["name"] == "nb11.ex3"]
    assert scores == {"right": [1.0], "wrong": [0]}
