"""The course's one list of notebooks, and every sentence and link that depends on it.

`NOTEBOOKS` is the order a learner follows. Adding a notebook is one entry here (and its file); the
tests (`tests/test_syllabus.py`) then check that the notebooks on disk, the count in notebook 00 and in
the instructor's guide, each notebook's "Next:" line, the one end-of-course sentence and the
workshop plans all agree with it.

Links in notebooks are absolute, to the repository's rendered files (`rendered_url`), so they work
where a notebook is opened alone (Colab): the address comes from `mmsent.course.conventions.REPO_URL`, the one
place it is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mmsent.course import conventions as course


@dataclass(frozen=True)
class Notebook:
    """One course notebook: its file stem (`NN_short_title`) and the pip extras it needs beyond the kit
    (it calls `mmsent.course.colab.install_extra` for each before using it)."""

    stem: str
    extras: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        return self.stem[:2]

    @property
    def relpath(self) -> str:
        """Its path from the repository root, e.g. 'notebooks/00_welcome_and_setup.ipynb'."""
        return f"notebooks/{self.stem}.ipynb"


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook("00_welcome_and_setup"),
    Notebook("01_why_multimodal"),
    Notebook("02_fusion_strategies"),
    Notebook("03_multimodalnet_toy"),
    Notebook("04_data_pipeline"),
    Notebook("05_cross_modal_attention"),
    Notebook("06_full_trainer"),
    Notebook("07_reading_the_attention"),
    Notebook("08_famous_models_and_beyond"),
    Notebook("09_models_that_talk_about_pictures"),
    Notebook("10_hearing_the_customer"),
    Notebook("11_from_words_to_pictures"),
    Notebook("12_ship_it", extras=("demo",)),
)

END_OF_COURSE = "This is the end of the course"  # said once, by the last notebook
NEXT_PREFIX = "Next: "  # the line that sends a learner on, in every notebook but the last
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen eighteen nineteen twenty").split()


def count_in_words(count: int | None = None) -> str:
    """How many notebooks the course has, as prose writes it ('twelve')."""
    count = len(NOTEBOOKS) if count is None else count
    return _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)


def rendered_url(relpath: str, anchor: str | None = None) -> str:
    """The repository's rendered page of `relpath` (from the repository root), optionally at `#anchor`."""
    url = f"{course.REPO_URL}/blob/{course.REPO_BRANCH}/{relpath.lstrip('/')}"
    return f"{url}#{anchor}" if anchor else url


def glossary_url(key: str) -> str:
    """The link to the glossary entry `key` of the instructor's guide (`<a id="glossary-KEY">`)."""
    return rendered_url("notebooks/README.md", f"glossary-{key}")


def title(notebook: Notebook, notebooks_dir: str | Path = course.NOTEBOOKS_DIR) -> str:
    """The notebook's title, from its `# NN · Title` heading."""
    return course.notebook_header(Path(notebooks_dir) / f"{notebook.stem}.ipynb")[0]


def link(notebook: Notebook, notebooks_dir: str | Path = course.NOTEBOOKS_DIR) -> str:
    """The markdown link '[NN · Title](rendered url)' to a notebook."""
    return f"[{notebook.number} · {title(notebook, notebooks_dir)}]({rendered_url(notebook.relpath)})"


def next_notebook(stem: str) -> Notebook | None:
    """The notebook after `stem` in the course, or None for the last one."""
    stems = [notebook.stem for notebook in NOTEBOOKS]
    index = stems.index(stem)
    return NOTEBOOKS[index + 1] if index + 1 < len(NOTEBOOKS) else None


def learner_minutes(notebook: Notebook, notebooks_dir: str | Path = course.NOTEBOOKS_DIR) -> int:
    """The minutes a learner needs for the notebook on their own: its `**Time:** about N minutes` line."""
    cells = json.loads((Path(notebooks_dir) / f"{notebook.stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    found = re.search(r"^\*\*Time:\*\* about (\d+) minutes", text, re.MULTILINE)
    if not found:
        raise ValueError(f"{notebook.stem}: no '**Time:** about N minutes' line")
    return int(found.group(1))
