"""mmsent.course.conventions: the set-up cell, the Colab badge, the table of notebooks, the budgets and
the versions block every notebook starts with (the notebooks' own conventions: tests/test_notebooks.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmsent.course import conventions as course
from mmsent.paths import REPO_DIR
from mmsent.runtime import pick_device

NOTEBOOKS_DIR = REPO_DIR / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_setup_cell_is_plain_python_generated_from_the_repository_address():
    compile(course.SETUP_CELL, "setup cell", "exec")  # no IPython magics: it runs before mmsent exists
    assert course.REPO_URL in course.SETUP_CELL and f"--branch={course.REPO_BRANCH}" in course.SETUP_CELL
    fork = course.setup_cell_source("https://github.com/someone/fork", "dev")
    assert "https://github.com/someone/fork" in fork and "--branch=dev" in fork
    assert course.REPO_URL not in fork


def test_setup_cell_installs_nothing_locally(tmp_path):
    script = f"import os\n{course.SETUP_CELL}\nprint(repr(os.getcwd()), device.type, profile)"
    env = {**os.environ, "MMSENT_DEVICE": "cpu", "MMSENT_PROFILE": "tiny", "PYTHONPATH": str(REPO_DIR)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{str(tmp_path)!r} cpu tiny"
    assert "torch" in result.stdout and "profile" in result.stdout  # the versions block


def test_colab_badge_points_at_the_notebook_on_the_branch():
    badge = course.colab_badge("notebooks/solutions/03_multimodalnet_toy.ipynb")
    assert badge.startswith("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](")
    assert badge.endswith(
        "(https://colab.research.google.com/github/mmsent-course/mmsent/blob/main/"
        "notebooks/solutions/03_multimodalnet_toy.ipynb)"
    )
    absolute = REPO_DIR / "notebooks" / "00_x.ipynb"
    assert course.colab_badge(absolute) == course.colab_badge("notebooks/00_x.ipynb")
    with pytest.raises(ValueError, match="not a notebook under notebooks/"):
        course.colab_badge("README.md")


def test_toc_markdown_has_one_row_per_notebook_with_its_badge():
    rows = course.toc_markdown().splitlines()[2:]
    main = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    assert len(rows) == len(main)
    for row, path in zip(rows, main, strict=True):
        assert row.startswith(f"| {path.name[:2]} | [")
        assert course.colab_badge(f"notebooks/{path.name}") in row
    assert "| 00 | [Welcome and set-up](notebooks/00_welcome_and_setup.ipynb) |" in rows[0]


def test_scale_follows_the_budget(monkeypatch):
    import torch

    monkeypatch.setenv(course.BUDGET_ENV, "cpu")
    assert course.scale(cpu=1, gpu=5) == 1
    monkeypatch.setenv(course.BUDGET_ENV, "gpu")
    assert course.scale(cpu=1, gpu=5) == 5
    monkeypatch.setenv(course.BUDGET_ENV, "tpu")
    with pytest.raises(ValueError, match="MMSENT_BUDGET"):
        course.budget()
    monkeypatch.delenv(course.BUDGET_ENV)
    assert course.budget("cpu") == "cpu" and course.scale(cpu=1, gpu=5, device="cpu") == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert course.budget("cuda") == "gpu" and course.scale(cpu=1, gpu=5, device="cuda") == 5


def test_versions_block(capsys):
    course.show_versions(pick_device("cpu"), profile="offline", seed=0)
    lines = capsys.readouterr().out.splitlines()
    keys = [line.split("  ")[0] for line in lines]
    expected = [
        "python",
        "torch",
        "transformers",
        "mmsent",
        "device",
        "CPU threads",
        "profile",
        "budget",
        "seed",
    ]
    assert keys == expected
    column = len("transformers") + 2  # values start in one column, after the longest key
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines)


def test_importing_course_is_cheap():
    script = (
        "import sys, mmsent.course.conventions; "
        "print(sorted({'torch', 'transformers', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
