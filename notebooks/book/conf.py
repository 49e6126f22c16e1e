"""Sphinx configuration of the course book (`python -m mmsent book`): MyST-NB + sphinx-book-theme.

`mmsent.cli.book` stages the sources (this folder's pages, the README, the notebooks, the instructor's guide,
the datasheets, a generated quiz page) into the build folder, then runs Sphinx with this folder as its
configuration directory. Execution is set by environment variables that `mmsent.cli.book` fills in:
MMSENT_BOOK_EXECUTE = "cache" (execute what changed since the last build) or "off";
MMSENT_BOOK_NOT_EXECUTED = comma-separated notebooks shown without outputs; MMSENT_BOOK_CACHE = the
jupyter-cache folder.
"""

import os

from mmsent.course.conventions import REPO_BRANCH, REPO_URL

project = "mmsent: multimodal learning, a course"
author = "the mmsent authors"
copyright = "the mmsent authors, MIT licence"

# sphinx-mathjax-offline: MathJax from the site itself, not from a CDN, so formulas render offline too
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx-mathjax-offline"]
root_doc = "index"
exclude_patterns = ["**/.ipynb_checkpoints", "html", ".jupyter_cache", "jupyter_execute"]
html_title = "mmsent"
html_favicon = "favicon.svg"
html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPO_URL,  # the one place that holds the address: mmsent.course.conventions
    "repository_branch": REPO_BRANCH,
    "path_to_docs": "",  # the staged sources mirror the repository's layout
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "home_page_in_toc": True,
}
html_static_path: list[str] = []
html_context = {"default_mode": "light"}  # the theme's light/dark switch starts somewhere (no console error)

myst_enable_extensions = ["dollarmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
# The glossary's terms are HTML anchors (<a id="glossary-gate">), which MyST cannot see but the browser can:
# tests/test_book.py checks that every internal link, anchors included, resolves in the built site.
suppress_warnings = ["myst.xref_missing"]

nb_execution_mode = os.environ.get("MMSENT_BOOK_EXECUTE", "off")
nb_execution_cache_path = os.environ.get("MMSENT_BOOK_CACHE", ".jupyter_cache")
nb_execution_excludepatterns = [p for p in os.environ.get("MMSENT_BOOK_NOT_EXECUTED", "").split(",") if p]
os.environ.setdefault("TQDM_DISABLE", "1")  # the kernels inherit it: no frozen progress bar on a page
nb_execution_allow_errors = False  # a cell that raises fails the build: no page shows an error output
nb_execution_raise_on_error = True
nb_execution_timeout = 900
nb_merge_streams = True

autodoc_member_order = "bysource"


def _docstring_as_written(app, what, name, obj, options, lines: list[str]) -> None:
    """mmsent's docstrings are plain text (shape diagrams, aligned examples), not reStructuredText: show
    them as written, in a literal block, so that no docstring can break the page's markup."""
    if any(line.strip() for line in lines):
        lines[:] = [".. code-block:: text", ""] + [f"   {line}" for line in lines] + [""]


def setup(app) -> None:
    app.connect("autodoc-process-docstring", _docstring_as_written)
autodoc_mock_imports = ["gradio"]
