"""The notebook checks of tests/test_notebooks.py catch what they should: a conforming notebook has no
problem, and each spoiled copy is caught by its check."""

from __future__ import annotations

import json

import nbformat
import pytest
from test_notebooks import (  # tests/ is on the path: the checks are defined once, there
    check_colab_badge,
    check_glossary_links,
    check_goal_and_prerequisites,
    check_links_are_absolute,
    check_metadata,
    check_no_installs,
    check_no_outputs,
    check_nothing_skipped,
    check_numbers_checked_by_path,
    check_plain_python,
    check_recap_and_exercises,
    check_setup_cell,
    check_title,
    first_glossary_uses,
    problems_in,
)

from mmsent.course import conventions as course
from mmsent.course import syllabus


def _good_notebook(relpath: str = "notebooks/00_welcome_and_setup.ipynb") -> dict:
    cells = [
        nbformat.v4.new_markdown_cell("# 00 · Welcome"),
        nbformat.v4.new_markdown_cell(course.colab_badge(relpath)),
        nbformat.v4.new_markdown_cell("**Goal:** learn.\n\n**Prerequisites:** none."),
        nbformat.v4.new_code_cell(course.SETUP_CELL),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("## Recap\n\n- things"),
        nbformat.v4.new_markdown_cell("## Exercises\n\n1. One.\n2. Two.\n   1. a sub-step\n"),
    ]
    return json.loads(
        nbformat.writes(nbformat.v4.new_notebook(cells=cells, metadata=course.notebook_metadata()))
    )


def test_a_conforming_notebook_has_no_problems():
    assert problems_in(_good_notebook(), "notebooks/00_welcome_and_setup.ipynb") == []


def _append_cell(source: str):
    return lambda nb: nb["cells"].append(nbformat.v4.new_markdown_cell(source))


def _set(index: int, **fields):
    return lambda nb: nb["cells"][index].update(fields)


SPOILS = {  # name: (how to break the good notebook, the check that must notice)
    "execution count": (_set(4, execution_count=3), check_no_outputs),
    "stored output": (
        _set(4, outputs=[{"output_type": "stream", "name": "stdout", "text": "1"}]),
        check_no_outputs,
    ),
    "no GPU asked": (lambda nb: nb["metadata"].pop("accelerator"), check_metadata),
    "wrong number": (_set(0, source="# 01 · Welcome"), check_title),
    "hand-made badge": (_set(1, source="[Open in Colab](https://example.com)"), check_colab_badge),
    "no prerequisites": (_set(2, source="**Goal:** learn."), check_goal_and_prerequisites),
    "edited setup cell": (_set(3, source=course.SETUP_CELL + "\n"), check_setup_cell),
    "second setup cell": (_set(4, source=course.SETUP_CELL), check_setup_cell),
    "no recap": (lambda nb: nb["cells"].pop(5), check_recap_and_exercises),
    "one exercise": (_set(6, source="## Exercises\n\n1. Only one."), check_recap_and_exercises),
    "exercises not last": (_append_cell("## Appendix"), check_recap_and_exercises),
    "NBVAL_SKIP": (_set(4, source="# NBVAL_SKIP\nx = 1"), check_nothing_skipped),
    "raises-exception tag": (_set(4, metadata={"tags": ["raises-exception"]}), check_nothing_skipped),
    "pip install": (_set(4, source="!pip install torch"), check_no_installs),
    "shell magic": (_set(4, source="x = 1\n!ls data"), check_plain_python),
    "line magic": (_set(4, source="%matplotlib inline\nx = 1"), check_plain_python),
    "get_ipython": (_set(4, source="get_ipython().system('ls')"), check_plain_python),
    "budget branch": (_set(4, source='if budget() == "cpu":\n    x = 1'), check_numbers_checked_by_path),
    "relative link": (_append_cell("See [the guide](README.md#timings)."), check_links_are_absolute),
    "unlinked term": (
        _append_cell("Dropout, then [dropout](README.md#glossary-dropout)."), check_glossary_links
    ),
}


@pytest.mark.parametrize("spoil, check", SPOILS.values(), ids=SPOILS.keys())
def test_each_check_catches_its_violation(spoil, check):
    nb = _good_notebook()
    spoil(nb)
    assert check(nb, "notebooks/00_welcome_and_setup.ipynb")


def test_a_term_is_found_and_linked_only_in_prose():
    nb = _good_notebook()
    logits, dropout = syllabus.glossary_url("logits"), syllabus.glossary_url("dropout")
    nb["cells"].append(nbformat.v4.new_markdown_cell(
        f"## Dropout\n\n`dropout=0.1` and $dropout$ are not prose; [logits]({logits}), "
        f"then **[dropout]({dropout})**, then logits again."
    ))  # fmt: skip
    uses = [(key, target) for key, _, _, _, target in first_glossary_uses(nb)]
    assert uses == [("logits", logits), ("dropout", dropout)]
    assert check_glossary_links(nb, "notebooks/00_welcome_and_setup.ipynb") == []
    assert check_glossary_links(nb, "notebooks/solutions/00_welcome_and_setup.ipynb") == []  # absolute, alike
    nb["cells"][-1]["source"] = "## Dropout\n\n[dropout](README.md#glossary-dropout), relative"
    assert check_glossary_links(nb, "notebooks/00_welcome_and_setup.ipynb")
    assert check_links_are_absolute(nb, "notebooks/00_welcome_and_setup.ipynb")
