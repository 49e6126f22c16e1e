"""The package's import graph: imports only go down (DESIGN §2), so there is no cycle.

Every module of `mmsent` is listed in `LAYERS`, bottom first. A module may import (at the top or
inside a function) only modules of an earlier layer, or of its own layer that come before it in the
list; a package's `__init__` comes after the submodules it gathers. Imports under `TYPE_CHECKING`
(type hints only, never executed) are listed in `TYPE_ONLY` when they point up. A new module must be
placed here, so the test also fails on a module nobody placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmsent"

LAYERS: list[list[str]] = [
    # the bottom: no mmsent imports but these
    ["mmsent", "errors", "paths", "choices", "config", "runtime", "progress", "compat", "replace",
     "interrupts"],
    ["model_folder", "manifest", "report_dir", "cache"],
    # data: tables, photos, labels, splits, datasets; the synthetic sets and importers that make them
    ["data.csvfile", "data.images", "data.photo_paths", "data.url_policy", "data.photo_store",
     "data.labels", "data.problems",
     "data.table", "data.splits", "data.dataset", "data",
     "data.synth.vocabulary", "data.synth.allocation", "data.synth.canvas", "data.synth.products",
     "data.synth.damage", "data.synth.photos", "data.synth.captions", "data.synth.texts",
     "data.synth.reviews", "data.synth.ceilings", "data.synth.make", "data.synth", "amazon"],
    ["encoders"],
    # checks and set-up: they read environment and encoders, nothing that trains
    ["validate", "doctor", "colab", "course", "syllabus", "references"],
    ["model_source", "data_summary", "model_card", "checkpoint_check", "hub"],
    ["text_cache", "features",
     "audio", "audio.voice", "audio.spans", "audio.calls", "audio.features", "audio.encoder",
     "audio.pretrain", "audio.store"],
    ["models.fusion", "models.attention", "models.sentiment", "models", "audio.fusion"],
    ["heldout", "distributed"],
    ["train.metrics", "train.steps", "train.evaluation", "train.checkpoints", "train.loop", "train"],
    ["viz", "attention_check", "explain.methods", "explain.scores", "explain.run", "explain.report",
     "explain", "robustness", "clip_pretrain",
     "generation", "generation.unet", "generation.flow", "generation.pixels", "generation.prompts",
     "generation.grading", "generation.pretrain",
     "vlm.truth", "vlm.text", "vlm.tokenizer", "vlm.decoder", "vlm.cross_attention", "vlm.model",
     "vlm.generate",
     "vlm.features", "vlm.card", "vlm.evaluate", "vlm.training", "vlm.pretrain", "vlm.ask", "vlm"],
    ["pipeline", "batch_predict", "inference"],
    # the course's feedback: exercise checks and quizzes (they run the learner's models)
    ["exercises.quiz", "exercises.framework", "exercises.nb03", "exercises.nb05", "exercises"],
    # the command line and the demo
    ["run_config", "run_log", "cli_common", "predict_cli", "book",
     "space_pins", "demo", "kit_cli", "import_cli", "robustness_cli", "demo_cli", "audio.cli",
     "generation.commands", "vlm.commands", "cli",
     "__main__"],
]
# Type hints that name a class from above (never imported at run time): module -> what it names.
TYPE_ONLY = {"cache": {"encoders"}, "text_cache": {"models"}, "model_card": {"hub"}}

ORDER = [name for layer in LAYERS for name in layer]
RANK = {name: index for index, name in enumerate(ORDER)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "mmsent"


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported at run time, modules imported for type checking only), as names in ORDER."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: tuple[set[str], set[str]] = (set(), set())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mmsent":
            if node.module == "mmsent":  # from mmsent import viz, __version__
                names = [f"mmsent.{alias.name}" for alias in node.names]
                names = [n if n.removeprefix("mmsent.") in RANK else "mmsent" for n in names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.split(".")[0] == "mmsent"]
        else:
            continue
        target = found[1] if id(node) in type_only_nodes else found[0]
        target.update(name.removeprefix("mmsent.") if name != "mmsent" else "mmsent" for name in names)
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_place_in_the_layers():
    assert sorted(set(MODULES) - set(ORDER)) == [], "place the new module(s) in LAYERS"
    assert sorted(set(ORDER) - set(MODULES)) == [], "LAYERS names a module that no longer exists"
    assert len(ORDER) == len(set(ORDER))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_only_go_down(name):
    runtime, type_only = imports(MODULES[name])
    upward = sorted(other for other in runtime if RANK[other] >= RANK[name] and other != name)
    assert upward == [], f"mmsent.{name} imports {upward}, which come after it in LAYERS"
    hinted = sorted(other for other in type_only if RANK[other] >= RANK[name])
    assert set(hinted) <= TYPE_ONLY.get(name, set()), f"mmsent.{name} names {hinted} in type hints only"


def test_the_graph_has_no_cycle():
    """Follows every run-time import edge: a cycle would need an edge that goes up, which the test above
    refuses; this checks the graph itself, so the declared order cannot hide one."""
    graph = {name: imports(path)[0] - {name} for name, path in MODULES.items()}
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
