"""Host the course in a fork: point every Colab badge, set-up cell, link and the README's table at it.

    python tools/retarget_course.py --repo-url https://github.com/me/mmsent [--branch main] [--root .]

An authoring tool for instructors, run in a checkout (it is not part of the installed kit): it rewrites
`REPO_URL` / `REPO_BRANCH` in mmsent/course/conventions.py and everything generated from them. Commit
and push the result; running it again with the old address undoes it, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's mmsent, installed or not

from mmsent.course.conventions import (  # noqa: E402
    GITHUB_REPO,
    REPO_BRANCH,
    colab_badge,
    setup_cell_source,
    toc_markdown,
)
from mmsent.errors import UsageError  # noqa: E402

CONVENTIONS = Path("mmsent") / "course" / "conventions.py"  # where REPO_URL and REPO_BRANCH are written


def retarget(repo_url: str, branch: str = REPO_BRANCH, root: str | Path = ROOT) -> list[Path]:
    """Point the course at another repository (a fork): every badge, set-up cell, link and the README's table.

    Rewrites, under the checkout `root`: `REPO_URL` / `REPO_BRANCH` in mmsent/course/conventions.py, the badge
    (second cell), the set-up cell (first code cell) and the links to the repository's rendered files
    (`mmsent.course.syllabus.rendered_url`) of every notebook, and the table of notebooks in README.md.
    `repo_url` must be a GitHub address (Colab opens notebooks from GitHub). Returns the files it changed;
    running it again with the old address restores them exactly.
    """
    if not GITHUB_REPO.fullmatch(repo_url):
        raise UsageError(f"repository address {repo_url!r}: give it as https://github.com/OWNER/NAME "
                         "(Colab opens notebooks from GitHub).")
    if not re.fullmatch(r"[\w./-]+", branch) or ".." in branch or branch.startswith(("/", "-", ".")):
        raise UsageError(
            f"branch {branch!r}: use letters, digits and . _ / - only (no '..'; not first: / - .)."
        )
    root = Path(root)
    changed = []

    def write(path: Path, text: str) -> None:
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)

    code = (root / CONVENTIONS).read_text(encoding="utf-8")
    old_pages = "{}/blob/{}/".format(*(re.search(rf'^{name} = "(.*)"$', code, re.MULTILINE).group(1)
                                       for name in ("REPO_URL", "REPO_BRANCH")))
    new_pages = f"{repo_url}/blob/{branch}/"  # the rendered files notebooks link to (mmsent.course.syllabus)
    code = re.sub(r'^REPO_URL = ".*"$', f'REPO_URL = "{repo_url}"', code, count=1, flags=re.MULTILINE)
    write(root / CONVENTIONS,
          re.sub(r'^REPO_BRANCH = ".*"$', f'REPO_BRANCH = "{branch}"', code, count=1, flags=re.MULTILINE))
    for path in sorted((root / "notebooks").rglob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        relpath = path.relative_to(root).as_posix()
        badge = colab_badge(relpath, repo_url, branch)
        cells = notebook["cells"]
        first_code = next(cell for cell in cells if cell["cell_type"] == "code")
        cells[1]["source"] = badge.splitlines(keepends=True)
        first_code["source"] = setup_cell_source(repo_url, branch).splitlines(keepends=True)
        for cell in (cell for cell in cells[2:] if cell["cell_type"] == "markdown"):
            cell["source"] = "".join(cell["source"]).replace(old_pages, new_pages).splitlines(keepends=True)
        write(path, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    readme = (root / "README.md").read_text(encoding="utf-8")
    table = toc_markdown(root / "notebooks", repo_url=repo_url, branch=branch)
    table_block = re.compile(r"(<!-- NOTEBOOKS -->\n)(\|.*\n)+")
    write(root / "README.md", table_block.sub(lambda found: found.group(1) + table + "\n", readme))
    return changed


def main(argv: list[str] | None = None) -> int:
    """Parse `argv`, rewrite the checkout; 0 on success, 2 with one error line on a bad address."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--repo-url", required=True, help="the fork's address, https://github.com/OWNER/NAME")
    parser.add_argument("--branch", default="main", help="the branch learners open (default main)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to rewrite (default: this one)")
    args = parser.parse_args(argv)
    try:
        changed = retarget(args.repo_url, args.branch, args.root)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"rewrote {path}")
    print(f"{len(changed)} files now point at {args.repo_url} (branch {args.branch}); commit and push them.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
