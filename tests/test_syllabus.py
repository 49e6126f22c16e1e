"""The course tells one story about itself: the notebooks on disk, their count, their "Next:" lines, the
end of the course and the workshop plans all follow `mmsent.course.syllabus.NOTEBOOKS`."""

from __future__ import annotations

import json
import re

import pytest

from mmsent.course import conventions as course
from mmsent.course import syllabus
from mmsent.paths import REPO_DIR

NOTEBOOKS_DIR = REPO_DIR / "notebooks"
GUIDE = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
STEMS = [notebook.stem for notebook in syllabus.NOTEBOOKS]


def _markdown(stem: str) -> str:
    cells = json.loads((NOTEBOOKS_DIR / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


def _section(text: str, heading: str) -> str:
    """The text under `heading` (a markdown heading line), up to the next heading of any level."""
    start = text.index(heading + "\n") + len(heading) + 1
    following = re.search(r"^#{1,6} ", text[start:], re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


def test_the_list_is_the_notebooks_on_disk():
    on_disk = sorted(path.stem for path in NOTEBOOKS_DIR.glob("*.ipynb"))
    assert STEMS == on_disk, "mmsent.course.syllabus.NOTEBOOKS must list notebooks/*.ipynb, in order"
    assert [notebook.number for notebook in syllabus.NOTEBOOKS] == [f"{n:02d}" for n in range(len(STEMS))]
    solutions = sorted(path.stem for path in (NOTEBOOKS_DIR / "solutions").glob("*.ipynb"))
    assert solutions == STEMS, "every notebook has its solutions notebook, of the same name"


def test_the_count_in_words_is_the_length_of_the_list():
    said = {
        "notebook 00": re.findall(r"\b(\w+) short notebooks\b", _markdown(STEMS[0])),
        "the instructor's guide": re.findall(r"^(\w+) notebooks take a learner", GUIDE, re.MULTILINE),
    }
    for where, words in said.items():
        assert [word.lower() for word in words] == [syllabus.count_in_words()], (
            f"{where} gives the course's size as {words}, but mmsent.course.syllabus.NOTEBOOKS holds "
            f"{len(syllabus.NOTEBOOKS)} ({syllabus.count_in_words()})"
        )
    assert syllabus.count_in_words(12) == "twelve" and syllabus.count_in_words(40) == "40"


def test_only_the_last_notebook_ends_the_course():
    ending = {stem for stem in STEMS if re.search(r"end of the course", _markdown(stem), re.IGNORECASE)}
    assert ending == {STEMS[-1]}, f"'end of the course' is said by {sorted(ending)}, expected {STEMS[-1]}"
    assert syllabus.END_OF_COURSE in _markdown(STEMS[-1])


@pytest.mark.parametrize("notebook", syllabus.NOTEBOOKS, ids=STEMS)
def test_each_notebook_sends_the_learner_to_the_next_one(notebook):
    lines = [line for line in _markdown(notebook.stem).splitlines() if line.startswith(syllabus.NEXT_PREFIX)]
    following = syllabus.next_notebook(notebook.stem)
    if following is None:
        assert lines == [], f"the last notebook has no '{syllabus.NEXT_PREFIX}' line: {lines}"
        return
    expected = syllabus.NEXT_PREFIX + syllabus.link(following)
    assert len(lines) == 1 and lines[0].startswith(expected), (
        f"{notebook.stem}: expected one line starting {expected!r}, found {lines}"
    )


def test_the_guide_lists_the_notebooks_in_order():
    rows = re.findall(r"^\| (\d\d) \| `([\w]+)\.ipynb` \|", _section(GUIDE, "## The notebooks"), re.MULTILINE)
    assert rows == [(notebook.number, notebook.stem) for notebook in syllabus.NOTEBOOKS]


def test_links_point_at_the_repositorys_rendered_files():
    pages = f"{course.REPO_URL}/blob/{course.REPO_BRANCH}/"
    assert syllabus.rendered_url("notebooks/05_x.ipynb") == pages + "notebooks/05_x.ipynb"
    assert syllabus.glossary_url("gate").endswith("/notebooks/README.md#glossary-gate")
    assert syllabus.glossary_url("gate").startswith("https://github.com/")


@pytest.mark.parametrize("notebook", [n for n in syllabus.NOTEBOOKS if n.extras], ids=lambda n: n.stem)
def test_a_notebook_that_needs_an_extra_makes_it_usable_first(notebook):
    """The set-up cell installs the kit alone; a notebook that needs an extra calls install_extra for it
    (on Colab it installs it, keeping what Colab has; elsewhere it says the pip command)."""
    path = REPO_DIR / notebook.relpath
    code = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]
    for extra in notebook.extras:
        assert any(f'install_extra("{extra}")' in source for source in code), (notebook.stem, extra)


# -- the workshop plans ----------------------------------------------------------------------------------

PLANS = ("**Three hours**", "**Full day**")
SLOT_SHARE = 2 / 3  # a slot is at least this share of the notebook's own **Time** (one exercise together)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return 60 * int(hours) + int(minutes)


def _plan(title: str) -> list[tuple[int, str]]:
    """(start minute, first cell of the row: 'NN Title' or '*Break*') of each row of the plan's table."""
    table = GUIDE[GUIDE.index(title) :].split("\n\n", 2)[1]
    rows = re.findall(r"^\| (\d+:\d\d) \| ([^|]+?) \|", table, re.MULTILINE)
    return [(_minutes(clock), what) for clock, what in rows]


def _done_before() -> set[str]:
    checklist = _section(GUIDE, "### Before the workshop (every learner, at home)")
    return set(re.findall(r"notebook (\d\d)", checklist))


def _prerequisites(stem: str) -> set[str]:
    paragraph = re.search(r"^\*\*Prerequisites:\*\*(.+?)(?:\n\n|\Z)", _markdown(stem), re.M | re.DOTALL)
    return set(re.findall(r"\[(\d\d) · ", paragraph.group(1)))


@pytest.mark.parametrize("title", PLANS)
def test_a_workshop_plan_fits_its_slots_and_keeps_prerequisites_first(title):
    rows = _plan(title)
    assert rows and rows[-1][1] == "*End*" and [start for start, _ in rows] == sorted({s for s, _ in rows})
    if title == "**Three hours**":
        assert rows[-1][0] == 180, "the three-hour plan ends at 3:00"
    minutes = {notebook.number: syllabus.learner_minutes(notebook) for notebook in syllabus.NOTEBOOKS}
    seen = _done_before()
    assert seen, "the guide's pre-workshop checklist names the notebooks run at home"
    for (start, what), (end, _) in zip(rows[:-1], rows[1:], strict=True):
        number = what[:2]
        if not number.isdigit():
            continue
        assert number in minutes, f"{title}: {what!r} is not a notebook of mmsent.course.syllabus.NOTEBOOKS"
        missing = _prerequisites(STEMS[int(number)]) - seen
        assert not missing, f"{title}: {what} comes before its prerequisites {sorted(missing)}"
        if number not in _done_before():
            assert end - start >= SLOT_SHARE * minutes[number], (
                f"{title}: {what} gets {end - start} min, under {SLOT_SHARE:.2f} of its {minutes[number]} min"
            )
        seen.add(number)


def test_the_plan_check_catches_a_skipped_prerequisite():
    assert _prerequisites("05_cross_modal_attention") == {"03", "04"}
    assert _prerequisites("06_full_trainer") >= {"04", "05"}
