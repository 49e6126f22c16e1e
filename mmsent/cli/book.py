"""`python -m mmsent book`: the course as a static website, notebooks with their outputs.

Sphinx + MyST-NB + sphinx-book-theme (what Jupyter Book 1 is made of; the optional extra `.[book]`),
configured by `notebooks/book/conf.py`. The sources are staged into OUT/src in the repository's layout
(README.md, notebooks/, notebooks/solutions/, data/README.md, data/calls/README.md, plus the book's own
pages and a page of every quiz), so every relative link between them works as it does on GitHub; a link to
anything else in the repository (a script, a CSV) is pointed at the repository on GitHub (`REPO_URL`).

    python -m mmsent book                       # execute every notebook (cached: only changed ones rerun)
    python -m mmsent book --no-execute          # no notebook runs: pages without outputs, in about a minute
    python -m mmsent book --execute-only 00_welcome_and_setup    # CI: one cheap notebook runs
The site is OUT/html (default build/book/html); the execution cache OUT/jupyter_cache survives rebuilds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from mmsent.course.conventions import REPO_BRANCH, REPO_URL
from mmsent.errors import UsageError
from mmsent.paths import REPO_DIR

BOOK_DIR = REPO_DIR / "notebooks" / "book"  # conf.py and the book's own pages
PAGES = ["README.md", "notebooks/README.md", "data/README.md", "data/calls/README.md"]
NOTEBOOK_GLOBS = ["notebooks/[0-9]*.ipynb", "notebooks/solutions/[0-9]*.ipynb"]
BADGE = re.compile(r"!\[Open In Colab\]\([^)]*\)")  # an image on the web: the book says it in words
QUIZ_CELL = re.compile(r"^(nb\d\d)\.quiz\s*\Z", re.MULTILINE)  # the last line of a notebook's quiz cell
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")  # a Markdown link or image target: ](path#anchor)
TITLE = re.compile(r"""\b(?:title|suptitle|set_title)\(\s*f?(["'])(.+?)(?<!\\)\1""")  # a plot's literal title
MARKUP = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*`#>]|<[^>]+>")  # a link (its text is kept), emphasis, tags


def require_sphinx() -> None:
    """Fail at once, with the fix, when the book extra is not installed."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline"):
        if importlib.util.find_spec(module) is None:
            raise UsageError(f'the book needs {module}: pip install -e ".[book]"')


def _github_link(target: Path, root: Path) -> str:
    kind = "tree" if target.is_dir() else "blob"
    return f"{REPO_URL}/{kind}/{REPO_BRANCH}/{target.relative_to(root).as_posix()}"


def _retarget_links(text: str, page: Path, root: Path, staged: set[Path]) -> str:
    """Relative links to files that are not in the book -> the file on GitHub; images are copied along."""

    def replace(match: re.Match) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("mailto:", "/")):
            return match.group(0)
        source = (root / page.parent / target).resolve()
        if source in staged or not source.is_relative_to(root):
            return match.group(0)
        if source.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg"} and source.is_file():
            return match.group(0)  # copied by _stage, shown in the page
        return f"{match.group(1)}{_github_link(source, root)}{match.group(3) or ''}{match.group(4)}"

    return LINK.sub(replace, BADGE.sub("Open in Colab", text))


def _stage(root: Path, src: Path) -> list[str]:
    """Copy the book's sources into `src` (the repository's layout) -> the staged notebooks' paths."""
    notebooks = sorted({p.relative_to(root).as_posix() for g in NOTEBOOK_GLOBS for p in root.glob(g)})
    staged = {(root / path).resolve() for path in PAGES + notebooks}
    for path in PAGES + notebooks:
        text = (root / path).read_text(encoding="utf-8")
        if path.endswith(".ipynb"):
            notebook = json.loads(text)
            previous = ""  # the text of the last Markdown cell: what the next figure shows
            for cell in notebook["cells"]:
                if cell["cell_type"] == "markdown":
                    previous = "".join(cell["source"])
                    cell["source"] = _retarget_links(previous, Path(path), root, staged)
                elif cell["cell_type"] == "code":
                    _show_quiz(cell)
                    _describe_images(cell, previous)
            text = json.dumps(notebook, indent=1, ensure_ascii=False)
        else:
            text = _retarget_links(text, Path(path), root, staged)
        for image in LINK.finditer(text):  # images a page shows travel with it
            source = (root / Path(path).parent / image.group(2)).resolve()
            if source.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg"} and source.is_file():
                _write_if_changed(src / source.relative_to(root), source.read_bytes())
        _write_if_changed(src / path, text.encode("utf-8"))
    for page in BOOK_DIR.glob("*.md"):
        _write_if_changed(src / page.name, page.read_bytes())
    _write_if_changed(src / "quizzes.md", _quiz_page().encode("utf-8"))
    return notebooks


def _show_quiz(cell: dict) -> None:
    """A notebook's quiz cell (it ends with `nbNN.quiz`) gets the quiz as its output, so that the page shows
    the quiz even when the book does not execute that notebook (an executed one shows the same HTML)."""
    found = QUIZ_CELL.search("".join(cell["source"]))
    if found and not cell.get("outputs"):
        quiz = importlib.import_module(f"mmsent.exercises.{found.group(1)}").quiz
        cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                            "data": {"text/html": quiz._repr_html_(), "text/plain": f"Quiz: {quiz.title}"}}]


def _describe_images(cell: dict, previous: str) -> None:
    """Alt text for the pictures a code cell draws (MyST-NB's cell option `mystnb.image.alt`): the literal
    titles the cell gives its plots, else the Markdown just above it (its heading and first sentence)."""
    literal = TITLE.findall("".join(cell["source"]))
    titles = [_plain(re.sub(r"\{[^}]*\}|\([^)]*\)|\\n|\\", " ", title)) for _, title in literal]
    text = "; ".join(title for title in titles if len(re.findall(r"[A-Za-z]{2,}", title)) >= 3)
    if not text:
        heading = [_plain(line.lstrip("#")) for line in previous.splitlines() if line.startswith("#")]
        body = [_plain(p) for p in re.split(r"\n\s*\n", previous) if p.strip() and not p.startswith("#")]
        sentence = _first_sentence(body[0]) if body else ""
        text = " - ".join(part for part in (heading[-1] if heading else "", sentence) if part)
    options = cell.setdefault("metadata", {}).setdefault("mystnb", {}).setdefault("image", {})
    text = text if len(text) <= 200 else text[:199].rsplit(" ", 1)[0] + "…"
    options.setdefault("alt", f"Figure: {text}" if text else "Figure drawn by this notebook's code")


def _first_sentence(text: str) -> str:
    """The text up to its first full stop that is not inside quotes."""
    sentence = ""
    for part in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text):
        sentence = f"{sentence} {part}".strip()
        if sentence.count('"') % 2 == 0:
            break
    return sentence


def _plain(markdown: str) -> str:
    """Markdown -> plain text on one line: link texts kept; emphasis, tags, empty quotes, numbering gone."""
    text = " ".join(MARKUP.sub(lambda m: m.group(1) or "", markdown).split())
    text = re.sub(r"^\d+(\.\d+)*\.?\s+|[\"'] *[\"']", "", text)
    return re.sub(r"\s+([:;,.])", r"\1", text).strip(" :;,(")


def _quiz_page() -> str:
    from mmsent.exercises import NOTEBOOKS

    quizzes = [importlib.import_module(f"mmsent.exercises.{name}").quiz for name in NOTEBOOKS]
    intro = "Each notebook ends with its quiz. Pick an answer, then click it: is it right, and why?"
    return "\n\n".join(["# Quizzes", intro, *(quiz.to_markdown() for quiz in quizzes)]) + "\n"


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write only what changed, so that Sphinx rebuilds only the pages whose source changed."""
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build(out: Path, execute: str = "all", root: Path = REPO_DIR) -> Path:
    """Stage the sources and build the site -> OUT/html/index.html.

    execute: "all" (every notebook, cached), "none", or the stem of the one notebook to execute.
    """
    require_sphinx()
    out = out.resolve()
    notebooks = _stage(root, out / "src")
    if execute not in ("all", "none") and not any(Path(nb).stem == execute for nb in notebooks):
        raise UsageError(f"--execute-only {execute}: no such notebook; use a name like 00_welcome_and_setup")
    not_executed = [nb for nb in notebooks if execute not in ("all", Path(nb).stem)]
    env = dict(
        os.environ,
        MMSENT_BOOK_EXECUTE="off" if execute == "none" else "cache",
        MMSENT_BOOK_NOT_EXECUTED=",".join(not_executed),
        MMSENT_BOOK_CACHE=str(out / "jupyter_cache"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(BOOK_DIR),
               str(out / "src"), str(out / "html")]
    if subprocess.run(command, env=env, cwd=root / "notebooks").returncode:
        raise UsageError("sphinx-build failed: see its messages above")
    return out / "html" / "index.html"


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `book` to the command line's sub-commands."""
    book = commands.add_parser(
        "book",
        help="build the course as a static website, notebooks with their outputs (the extra .[book])",
        description="Build the course book with Sphinx + MyST-NB: the notebooks (executed, with a cache so "
        "that a rebuild reruns only the notebooks that changed), the README, the instructor's guide, the "
        "datasheets, the quizzes and the API reference. Needs: pip install -e \".[book]\".",
    )
    mode = book.add_mutually_exclusive_group()
    mode.add_argument("--execute", dest="execute", action="store_const", const="all", default="all",
                      help="execute every notebook that changed since the last build (default)")
    mode.add_argument("--no-execute", dest="execute", action="store_const", const="none",
                      help="execute nothing: notebook pages without outputs")
    mode.add_argument("--execute-only", dest="execute", metavar="NOTEBOOK",
                      help="execute only this notebook (e.g. 00_welcome_and_setup); the others: no outputs")
    book.add_argument("--out", type=Path, default=Path("build/book"),
                      help="build folder (default build/book); the site is OUT/html")


def cmd_book(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    index = build(args.out, args.execute)
    print(f"built {index} in {time.perf_counter() - started:.0f} s; open it in a browser, or serve it with "
          f"python -m http.server -d {index.parent}")
    return 0


COMMANDS = {"book": cmd_book}
