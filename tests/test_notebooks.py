"""The course's notebook conventions, checked on every notebook (notebooks/**/*.ipynb, solutions included).

Each `check_*` function takes a notebook (the parsed JSON) and its path relative to the repository
root, and returns a list of problems (empty when the notebook follows the convention). The rules are
explained for authors in notebooks/README.md. Running the notebooks themselves is a separate step:
`pytest --nbval-lax --nbval-current-env notebooks/`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from mmsent.course import conventions as course
from mmsent.course import syllabus
from mmsent.paths import REPO_DIR

NOTEBOOKS_DIR = REPO_DIR / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NAME_PATTERN = re.compile(r"^(\d{2})_[a-z0-9]+(_[a-z0-9]+)*\.ipynb$")  # NN_short_title.ipynb


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _markdown(nb: dict) -> list[str]:
    return [_source(cell) for cell in nb["cells"] if cell["cell_type"] == "markdown"]


def _h2_headings(nb: dict) -> list[str]:
    return [line.strip() for text in _markdown(nb) for line in text.splitlines() if line.startswith("## ")]


def _header_cells(nb: dict) -> list[dict]:
    """The cells before the first code cell."""
    header = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            break
        header.append(cell)
    return header


# -- the checks ---------------------------------------------------------------------------------------


def check_valid_nbformat(nb: dict, relpath: str) -> list[str]:
    try:
        nbformat.validate(nbformat.from_dict(nb))
    except nbformat.ValidationError as error:
        return [f"not a valid notebook: {error.message}"]
    return [] if nb.get("nbformat") == 4 else [f"nbformat {nb.get('nbformat')}, expected 4"]


def check_no_outputs(nb: dict, relpath: str) -> list[str]:
    return [
        f"cell {index} has stored outputs or an execution count: clear them before committing"
        for index, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]


def check_metadata(nb: dict, relpath: str) -> list[str]:
    expected = course.notebook_metadata()
    return [
        f"metadata[{key!r}] is {nb['metadata'].get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if key != "language_info" and nb["metadata"].get(key) != value
    ]


def check_title(nb: dict, relpath: str) -> list[str]:
    number = Path(relpath).name[:2]
    first = nb["cells"][0] if nb["cells"] else {"cell_type": "none"}
    if first["cell_type"] != "markdown" or not _source(first).startswith(f"# {number} · "):
        return [f"the first cell must be a markdown title '# {number} · Title'"]
    return []


def check_colab_badge(nb: dict, relpath: str) -> list[str]:
    cells = nb["cells"]
    if (
        len(cells) < 2
        or cells[1]["cell_type"] != "markdown"
        or _source(cells[1]) != course.colab_badge(relpath)
    ):
        return [f"the second cell must be the markdown badge course.colab_badge({relpath!r})"]
    return []


def check_goal_and_prerequisites(nb: dict, relpath: str) -> list[str]:
    header = "\n".join(_source(cell) for cell in _header_cells(nb) if cell["cell_type"] == "markdown")
    return [
        f"no line starting with '{marker}' before the first code cell"
        for marker in ("**Goal:**", "**Prerequisites:**")
        if not re.search(rf"^{re.escape(marker)}", header, re.MULTILINE)
    ]


def check_setup_cell(nb: dict, relpath: str) -> list[str]:
    code = [_source(cell) for cell in nb["cells"] if cell["cell_type"] == "code"]
    if not code or code[0] != course.SETUP_CELL:
        return ["the first code cell must be exactly mmsent.course.conventions.SETUP_CELL (paste it in)"]
    if course.SETUP_CELL in code[1:]:
        return ["the set-up cell appears twice: keep only the first"]
    return []


def check_recap_and_exercises(nb: dict, relpath: str) -> list[str]:
    headings = _h2_headings(nb)
    if "## Recap" not in headings or "## Exercises" not in headings:
        return ["missing a '## Recap' or an '## Exercises' section"]
    if headings[-2:] != ["## Recap", "## Exercises"]:
        return ["the last two sections must be '## Recap' then '## Exercises'"]
    exercises = next(text for text in _markdown(nb) if re.search(r"^## Exercises\s*$", text, re.MULTILINE))
    count = len(re.findall(r"^\d+\.\s", exercises.split("## Exercises", 1)[1], re.MULTILINE))
    return [] if 2 <= count <= 4 else [f"{count} exercises in the '## Exercises' cell, expected 2 to 4"]


def check_nothing_skipped(nb: dict, relpath: str) -> list[str]:
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if re.search(r"NBVAL_(SKIP|RAISES_EXCEPTION)", _source(cell)):
            problems.append(f"cell {index} carries an NBVAL marker: every cell must run")
        tags = cell.get("metadata", {}).get("tags", [])
        if any("skip" in tag or "raises-exception" in tag for tag in tags):
            problems.append(f"cell {index} is tagged {tags}: show errors with try/except instead")
    return problems


def check_no_installs(nb: dict, relpath: str) -> list[str]:
    return [
        f"cell {index} installs packages: dependencies belong in pyproject.toml"
        for index, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code"
        and _source(cell) != course.SETUP_CELL
        and re.search(r"pip install|conda install", _source(cell))
    ]


# Each glossary entry of notebooks/README.md (`<a id="glossary-KEY"></a>**Term**`), and how the term is spelt.
GLOSSARY_TERMS = {
    "ablation": r"ablations?",
    "adamw": r"AdamW",
    "attention-weights": r"attention weights?",
    "attention-lift": r"(?:attention )?lift",
    "cross-entropy": r"cross[- ]entropy",
    "dropout": r"dropout",
    "embedding": r"embeddings?",
    "epoch": r"epochs?",
    "gate": r"gates?",
    "logits": r"logits?",
    "macro-average": r"macro",
    "mlp": r"MLPs?",
    "nats": r"nats",
    "patch-tokens": r"patch tokens?",
    "softmax": r"softmax(?:es)?",
    "warm-up": r"warm[- ]?ups?",
}
_NOT_PROSE = re.compile(
    r"```.*?```"  # a fenced code block
    r"|`[^`\n]*`"  # inline code
    r"|\$\$.*?\$\$|\$[^$\n]*\$"  # maths
    r"|<[^>\n]*>"  # an HTML tag
    r"|^#[^\n]*$",  # a heading: no links there
    re.DOTALL | re.MULTILINE,
)
_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]*)\)")


def first_glossary_uses(nb: dict) -> list[tuple[str, int, int, int, str]]:
    """(key, cell index, start, end, link target or "") of the first prose use of each glossary term.

    Code, maths, HTML and headings are not prose; a use inside a link's text reports that link's target.
    """
    found = {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = _source(cell)
        prose = _NOT_PROSE.sub(lambda m: " " * len(m.group()), text)
        links = [(m.start(1), m.end(1), m.group(2)) for m in _LINK.finditer(text)]
        for link in _LINK.finditer(prose):  # link targets are not prose either
            prose = prose[: link.start(2)] + " " * len(link.group(2)) + prose[link.end(2) :]
        for key, spelling in GLOSSARY_TERMS.items():
            match = key not in found and re.search(rf"(?i)(?<![\w-]){spelling}(?![\w-])", prose)
            if match:
                target = next((t for start, end, t in links if start <= match.start() < end), "")
                found[key] = (key, index, match.start(), match.end(), target)
    return sorted(found.values(), key=lambda use: use[1:3])


def glossary_link(key: str, relpath: str) -> str:
    """The link from a notebook (any, `relpath` unused: links are absolute) to the glossary entry `key`."""
    return syllabus.glossary_url(key)


def check_links_are_absolute(nb: dict, relpath: str) -> list[str]:
    """Links work where a notebook is opened alone (Colab): absolute, to the repository's rendered files."""
    return [
        f"cell {index}: link {target!r} is relative, dead on Colab: "
        "use mmsent.course.syllabus.rendered_url(...) "
        f"({syllabus.rendered_url('notebooks/README.md')}, ...)"
        for index, cell in enumerate(nb["cells"]) if cell["cell_type"] == "markdown"
        for target in (found.group(2) for found in _LINK.finditer(_source(cell)))
        if not target.startswith(("https://", "http://", "mailto:"))
    ]


# IPython-only syntax: a line starting with ! or % (shell, magics), or a call into IPython's shell.
_IPYTHON_ONLY = re.compile(r"^\s*[!%]|get_ipython\(\)", re.MULTILINE)


def check_plain_python(nb: dict, relpath: str) -> list[str]:
    """Every code cell is plain Python: `!pip`, `%magic` and `get_ipython()` fail under nbval or "Run all"
    outside IPython's own front-ends (and `!pip` on Colab installs behind the set-up cell's back)."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if _IPYTHON_ONLY.search(_source(cell)):
            problems.append(f"cell {index} uses shell or IPython magics (! or %): write it in Python")
            continue
        try:
            compile(_source(cell), f"cell {index}", "exec")
        except SyntaxError as error:
            problems.append(f"cell {index} is not valid Python: {error.msg} (line {error.lineno})")
    return problems


def check_numbers_checked_by_path(nb: dict, relpath: str) -> list[str]:
    """Prose numbers go through `mmsent.course.references.reference` (exact on their path, claims everywhere),
    never through a hand-written branch on the budget that skips the check elsewhere. (A branch on the
    profile stays legitimate for work only one profile can do, such as notebook 08's hub download.)"""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        source = _source(cell) if cell["cell_type"] == "code" else ""
        if re.search(r"\bif\b[^\n]*\bbudget\([^)]*\)\s*[!=]=", source):
            problems.append(f"cell {index} branches on the budget: use mmsent.course.references.reference")
        if "reference(" in source and "profile=profile" not in source:
            problems.append(f"cell {index} calls reference() without profile=profile (setup()'s profile)")
    return problems


def check_glossary_links(nb: dict, relpath: str) -> list[str]:
    def word(index: int, start: int, end: int) -> str:
        return _source(nb["cells"][index])[start:end]

    return [
        f"cell {index}: the first use of glossary term {key!r} ({word(index, start, end)!r}) "
        f"must link to the glossary: [{word(index, start, end)}]({glossary_link(key, relpath)})"
        for key, index, start, end, target in first_glossary_uses(nb)
        if target != glossary_link(key, relpath)
    ]


CHECKS = (
    check_valid_nbformat,
    check_no_outputs,
    check_metadata,
    check_title,
    check_colab_badge,
    check_goal_and_prerequisites,
    check_setup_cell,
    check_recap_and_exercises,
    check_nothing_skipped,
    check_no_installs,
    check_glossary_links,
    check_links_are_absolute,
    check_plain_python,
    check_numbers_checked_by_path,
)


def problems_in(nb: dict, relpath: str) -> list[str]:
    """Every convention problem of one notebook."""
    return [problem for check in CHECKS for problem in check(nb, relpath)]


# -- every notebook follows every convention ------------------------------------------------------------


def _relpath(path: Path) -> str:
    return path.relative_to(REPO_DIR).as_posix()


def test_there_are_notebooks():
    assert (NOTEBOOKS_DIR / "00_welcome_and_setup.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.removeprefix("check_"))
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_relpath)
def test_notebook_convention(path: Path, check):
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = check(nb, _relpath(path))
    assert not problems, f"{_relpath(path)}: " + "; ".join(problems)


def test_notebook_names():
    bad = [_relpath(path) for path in NOTEBOOKS if not NAME_PATTERN.match(path.name)]
    assert not bad, f"notebook names must look like NN_short_title.ipynb: {bad}"


def test_numbering_is_contiguous_from_00():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS_DIR.glob("*.ipynb")]
    assert sorted(numbers) == list(range(len(numbers))), f"notebook numbers {sorted(numbers)}"


def test_solutions_match_a_notebook():
    main = {path.name for path in NOTEBOOKS_DIR.glob("*.ipynb")}
    orphans = [path.name for path in (NOTEBOOKS_DIR / "solutions").glob("*.ipynb") if path.name not in main]
    assert not orphans, f"solutions/ notebooks must share the name of a notebook: {orphans}"


def test_every_glossary_entry_has_its_spelling_here():
    guide = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    assert sorted(re.findall(r'<a id="glossary-([a-z-]+)"></a>', guide)) == sorted(GLOSSARY_TERMS)


def test_instructor_guide_lists_every_notebook():
    guide = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    missing = [path.name for path in NOTEBOOKS_DIR.glob("*.ipynb") if path.name not in guide]
    assert not missing, f"notebooks/README.md does not mention {missing}"


def test_readme_table_of_notebooks_is_in_sync():
    text = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    assert "<!-- NOTEBOOKS -->" in text, "README.md lost its table of notebooks (its <!-- NOTEBOOKS --> mark)"
    missing = [line for line in course.toc_markdown().splitlines() if line not in text.splitlines()]
    assert not missing, (
        "README.md's table of notebooks is stale; paste mmsent.course.conventions.toc_markdown():\n"
        + "\n".join(missing)
    )
