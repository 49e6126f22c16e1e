"""The package's architecture, checked: folders are layers, imports only go down, and there is no cycle.

ARCHITECTURE.md draws it. A handful of modules sit at the top level of `mmsent/` (the foundations every
layer may use, in `ROOT`'s order); everything else lives in a folder, and `FOLDERS` lists the folders
bottom first. A module may import (at run time, inside a function, or for type hints only) the
top-level modules, its own folder, and the folders below its own. Each folder's `__init__` says its
job and, on a ``May import:`` line, the folders and top-level modules it uses: the test holds the
code to that line. Inside a folder, and over the whole package, the import graph (type-only imports
included) has no cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmsent"

# The top-level modules, bottom first: each imports only those before it ("mmsent" is __init__).
ROOT = ["mmsent", "errors", "paths", "choices", "config", "runtime", "progress", "compat"]
# One top-level module sits higher: the encoders fetch their weights under data's download policy.
ABOVE_DATA = ["encoders"]
# The folders, bottom first; `__main__` (python -m mmsent) sits above them all.
FOLDERS = [
    "files",  # writing where the user's files are: atomically, never replacing by accident
    "data",  # review tables, photos, labels, splits, datasets; the synthetic sets and the importer
    "course",  # the notebooks' conventions: set-up cell, Colab, budgets, the syllabus, doctor
    "hub",  # a model folder: its config, trust boundary, manifest, card, save / load / push
    "models",  # the networks: fusion, cross-modal attention, the sentiment model, the offline CLIP
    "features",  # frozen encoders' outputs, computed once: the disk store, image features, text states
    "train",  # the loop, metrics, evaluation, checkpoints, data-parallel
    "viz",  # pictures of training and of attention
    "analysis",  # the main run (ablation + report), robustness, attention lift
    "explain",  # explanation methods scored against the truth
    "audio",  # the audio modality
    "generation",  # text-to-image
    "vlm",  # models that talk about pictures
    "apply",  # using a trained model: one review, a whole CSV, the web demo
    "exercises",  # the learner's self-checks and quizzes
    "cli",  # python -m mmsent: one parser, a module per command group
]
UNITS = [*ROOT, *FOLDERS[:2], *ABOVE_DATA, *FOLDERS[2:], "__main__"]
RANK = {unit: index for index, unit in enumerate(UNITS)}
MAX_TOP_LEVEL = 10  # modules at the top level of mmsent/, __init__ and __main__ included


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "mmsent"


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def unit_of(module: str) -> str:
    """The layer a module belongs to: its folder, or itself at the top level."""
    first = module.split(".")[0]
    return first if first in FOLDERS else module


def imports(path: Path) -> set[str]:
    """The mmsent modules `path` imports, at run time or for type hints, as names in MODULES."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mmsent":
            base = node.module.removeprefix("mmsent").removeprefix(".")
            for alias in node.names:  # `from mmsent.viz import attention`: the submodule, if it is one
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.add(candidate if candidate in MODULES else base or "mmsent")
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("mmsent.") for a in node.names if a.name.startswith("mmsent."))
    return found


def declared(folder: str) -> set[str]:
    """The units named on the ``May import:`` line of the folder's __init__ docstring."""
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8"))) or ""
    line = re.search(r"^May import: (.+?)\.?(?:\n\n|\Z)", doc, re.M | re.S)
    assert line, f"mmsent/{folder}/__init__.py: its docstring needs a 'May import: ...' paragraph"
    names = " ".join(line.group(1).split())
    return set() if names == "nothing else in mmsent" else {name.strip() for name in names.split(",")}


def test_the_top_level_is_small_and_every_module_has_a_layer():
    top = sorted(path.stem for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, f"{len(top)} modules at the top level of mmsent/: {top}"
    assert sorted({*ROOT, *ABOVE_DATA} - {"mmsent"}) == sorted(set(top) - {"__init__", "__main__"})
    folders = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
    assert folders == sorted(FOLDERS), "place the new folder in FOLDERS"
    assert not [p for p in PACKAGE.glob("*/") if p.is_dir() and not (p / "__init__.py").exists()
                and any(p.rglob("*.py"))], "a folder of modules without an __init__"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_go_down(name):
    """Run-time and type-only imports alike: a type hint that points up is a cycle waiting to happen."""
    mine = RANK[unit_of(name)]
    upward = sorted(other for other in imports(MODULES[name]) if RANK[unit_of(other)] > mine)
    assert upward == [], f"mmsent.{name} imports {upward}, which sit above it (tests/test_layers.py)"


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_says_what_it_may_import(folder):
    used = {
        unit_of(other)
        for name, path in MODULES.items()
        if unit_of(name) == folder
        for other in imports(path)
        if unit_of(other) != folder
    }
    allowed = declared(folder)
    assert {u for u in allowed if u not in RANK or RANK[u] >= RANK[folder]} == set(), (
        f"mmsent/{folder}/__init__.py may only name units below it"
    )
    assert used <= allowed, f"mmsent.{folder} imports {sorted(used - allowed)}, not on its 'May import:' line"
    assert allowed <= used, f"mmsent/{folder}'s 'May import:' line names {sorted(allowed - used)}, unused"


def test_the_graph_has_no_cycle():
    """Every import edge, type-only included, module by module: no circle of any kind, inside a folder
    or across."""
    graph = {name: imports(path) - {name} for name, path in MODULES.items()}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != "open", "import cycle: " + " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert set(state) == set(graph)


def test_architecture_page_lists_the_layers_in_this_order():
    """ARCHITECTURE.md's layer table: its folders, bottom first, are FOLDERS; it names every top module."""
    page = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = re.search(r"\| layer \(bottom first\).*?\n\n", page, re.DOTALL).group(0)
    rows = [row.split("|")[1] for row in table.strip().splitlines()[2:]]
    assert [name for row in rows for name in re.findall(r"`(\w+)/`", row)] == FOLDERS
    top = table.splitlines()[2]
    assert all(f"`{module}`" in top for module in [*ROOT[2:], *ABOVE_DATA]), top
