"""`python -m mmsent book`: the built site, served on 127.0.0.1 and read by a real headless Chromium.

One build for the module, with execution off except notebook 00 (cheap: no encoder), as CI builds it:
every page reached from the home page loads without console errors, every image loads and has alt text
(plots: their titles or the Markdown above them, `book._describe_images`), every internal link
(anchor included) resolves, the search finds "gate", the executed notebook shows its plot and its quiz
(a choice clicked open shows its explanation), every notebook page shows its quiz whether executed or not,
and the Colab button comes from mmsent.course.conventions.REPO_URL. Screenshots of the home page,
notebook 00 (and its quiz) and notebook 07 are kept in build/test-artifacts/. Needs the book extra
(`pip install -e ".[book,browser]"`) and Debian's `chromium`.
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
import threading
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

for _module in ("myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline"):
    pytest.importorskip(_module, reason='the book extra is not installed: pip install -e ".[book]"')
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[browser]'")

from mmsent.cli import book  # noqa: E402
from mmsent.course.conventions import REPO_URL  # noqa: E402
from mmsent.exercises import NOTEBOOKS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("MMSENT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "build" / "test-artifacts"
EXECUTED = "00_welcome_and_setup"  # the one notebook the test build runs: no encoder, a few seconds


class _Links(HTMLParser):
    """The href of every <a> and the id of every element of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"])
        if attributes.get("id"):
            self.ids.add(attributes["id"])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The book built into a temporary folder and served on a free local port -> its base URL."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set MMSENT_CHROMIUM)")
    index = book.build(tmp_path_factory.mktemp("book"), execute=EXECUTED)
    handler = functools.partial(_QuietHandler, directory=str(index.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test output
        pass


@functools.cache
def parsed(url: str) -> _Links:
    with urllib.request.urlopen(url, timeout=10) as response:
        links = _Links()
        links.feed(response.read().decode("utf-8"))
        return links


def crawl(base: str) -> list[str]:
    """Every HTML page reachable from the home page through internal links (Sphinx's indexes included)."""
    seen, queue = set(), [base + "index.html"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        for href in parsed(url).hrefs:
            target, _ = urldefrag(urljoin(url, href))
            if target.startswith(base) and target.endswith(".html") and target not in seen:
                queue.append(target)
    return sorted(seen)


def test_every_internal_link_and_anchor_resolves(site):
    pages = crawl(site)
    assert len(pages) > 20, pages  # the course, 2 x the notebooks, guide, datasheets, quizzes, API
    broken = []
    for page in pages:
        for href in parsed(page).hrefs:
            target, anchor = urldefrag(urljoin(page, href))
            if not target.startswith(site):
                continue
            if not target.endswith(".html"):  # a download, a source file, a folder
                try:
                    urllib.request.urlopen(target, timeout=10).close()
                except OSError as error:
                    broken.append(f"{page} -> {href}: {error}")
                continue
            try:
                if anchor and anchor not in parsed(target).ids:
                    broken.append(f"{page} -> {href}: no id {anchor!r}")
            except OSError as error:
                broken.append(f"{page} -> {href}: {error}")
    assert not broken, "\n".join(broken[:20])


def test_every_page_loads_in_chromium_without_errors_and_with_its_images(site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    slug = urlparse(REPO_URL).path.strip("/")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: console: {m.text}"))
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on("requestfailed", lambda r: problems.append(f"{page.url}: could not load {r.url}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"{page.url}: {r.status} {r.url}"))
        for url in crawl(site):
            page.goto(url, wait_until="load")
            broken_images = page.eval_on_selector_all(
                "img", "images => images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            problems += [f"{url}: image did not load: {src}" for src in broken_images]
            unnamed = page.eval_on_selector_all(  # alt text that says nothing: none, or the file's name
                "img", r"images => images.filter(i => !/[a-z]{3}/i.test(i.alt)"
                r" || /\.(png|jpe?g|gif|svg)$/i.test(i.alt)).map(i => i.src)"
            )
            problems += [f"{url}: image without alt text: {src}" for src in unnamed]
            if page.locator(".output.error, .output .traceback").count():
                problems.append(f"{url}: shows an error output")
        assert not problems, "\n".join(problems[:20])

        page.goto(site + "index.html")
        page.screenshot(path=ARTIFACTS / "book-home.png")

        page.goto(f"{site}notebooks/{EXECUTED}.html")
        question = page.locator(".mmsent-quiz details").first  # the executed quiz cell's output
        question.locator("summary").click()
        quiz_opens = question.evaluate("d => d.open") and question.locator("p").is_visible()
        page.locator(".mmsent-quiz").first.screenshot(path=ARTIFACTS / f"book-{EXECUTED}-quiz.png")
        plots = page.locator(".cell_output img")
        plots.first.wait_for(timeout=10_000)
        width = plots.first.evaluate("i => i.naturalWidth")
        alt = plots.first.get_attribute("alt")  # from the plot's title in the notebook's code
        page.screenshot(path=ARTIFACTS / f"book-{EXECUTED}.png", full_page=False)
        plots.first.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / f"book-{EXECUTED}-plot.png")
        progress_bars = page.locator("progress, .widget-html-content").count()

        page.goto(site + "notebooks/07_reading_the_attention.html")
        colab = page.locator("a[href*='colab.research.google.com']").first.get_attribute("href")
        page.screenshot(path=ARTIFACTS / "book-07.png")

        page.goto(site + "search.html?q=gate")
        page.locator("p.search-summary", has_text="Search finished").wait_for(timeout=30_000)
        titles = page.locator("#search-results ul.search li").all_inner_texts()  # every result, shown
        browser.close()
    assert width > 200 and progress_bars == 0 and quiz_opens
    assert alt == "Figure: Nine bundled reviews with their photos; one row per kind of text", alt
    assert colab == f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/07_reading_the_attention.ipynb"
    assert any("Instructor" in title or "Glossary" in title for title in titles), titles[:10]
    for name in ("book-home.png", f"book-{EXECUTED}.png", f"book-{EXECUTED}-quiz.png", "book-07.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_quiz_is_on_its_notebook_page_executed_or_not_and_on_the_quiz_page(site, name):
    quiz = importlib.import_module(f"mmsent.exercises.{name}").quiz
    stem = next((ROOT / "notebooks").glob(f"{name.removeprefix('nb')}_*.ipynb")).stem
    with urllib.request.urlopen(f"{site}notebooks/{stem}.html", timeout=10) as response:
        notebook_page = response.read().decode("utf-8")
    with urllib.request.urlopen(f"{site}quizzes.html", timeout=10) as response:
        quiz_page = response.read().decode("utf-8")
    choices = sum(len(question.choices) for question in quiz.questions)
    shown = notebook_page.split("mmsent-quiz", 1)[-1]
    assert "mmsent-quiz" in notebook_page and shown.count("<details>") >= choices, stem
    assert quiz.title in quiz_page


def test_an_unknown_notebook_is_refused_with_the_fix(tmp_path):
    command = [sys.executable, "-m", "mmsent", "book", "--execute-only", "99_nothing", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: --execute-only 99_nothing: no such notebook" in result.stderr
    assert not (tmp_path / "html").exists()
