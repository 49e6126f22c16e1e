"""Notebooks 07-12's self-checks: each passes the solution's answer and names the mistake in a wrong one.

The answers that are functions come from the solution notebooks themselves (their definitions only are run);
the answers that are numbers or tables are built as the solutions build them, on small stand-in data.
Every exercise of the modules is covered (test_every_exercise_has_a_case)."""

from __future__ import annotations

import ast
import importlib
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mmsent.exercises import Exercise

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"
LATE = ("nb07", "nb08", "nb09", "nb10", "nb11", "nb12")


def module(name: str):
    """The exercise module `name` (nb07, ...)."""
    return importlib.import_module(f"mmsent.exercises.{name}")


def solution_function(stem: str, name: str, **namespace):
    """The function `name` as the solution notebook `stem` defines it (only its definition is run)."""
    notebook = json.loads(next(SOLUTIONS.glob(f"{stem}_*.ipynb")).read_text())
    namespace = {"np": np, "torch": torch, "nn": nn, "math": math, "F": nn.functional, **namespace}
    from PIL import Image

    namespace.setdefault("Image", Image)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    exec(compile(ast.Module([node], []), stem, "exec"), namespace)
                    return namespace[name]
    raise AssertionError(f"{stem}'s solution notebook no longer defines {name}")


def from_solution_code(exercise: Exercise, name: str, **namespace):
    """Run the exercise's own worked solution (what .solution() prints) on stand-in data -> `name`."""
    namespace = {"np": np, "pd": pd, "torch": torch, **namespace}
    exec(exercise.solution_code, namespace)
    return namespace[name]


def softmax_rows(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    return torch.randn(rows, columns, generator=torch.Generator().manual_seed(seed)).softmax(-1).numpy()


def reviews_frame() -> pd.DataFrame:
    scenarios = ["clear_matching", "clear_contradicting", "clear_generic", "ambiguous_damaged"]
    rng = np.random.default_rng(0)
    return pd.DataFrame({"scenario": np.repeat(scenarios, 5), "gate": rng.random(20) ** 3})


def call_table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "scenario": np.repeat(["ambiguous_angry", "clear_matching", "clear_unclear"], 6),
        "text only": rng.random(18) > 0.3, "cross-modal attention": rng.random(18) > 0.1,
        "voice_state": np.tile(["angry", "calm"], 9), "text_kind": np.repeat(["ambiguous", "clear_escalate",
                                                                              "clear_routine"], 6),
        "gate": rng.random(18),
    })


class Gated(nn.Module):
    """A stand-in for a Flamingo-style layer: its two gates."""

    def __init__(self, attention: float, mlp: float) -> None:
        super().__init__()
        self.gate_attention = nn.Parameter(torch.tensor(attention))
        self.gate_mlp = nn.Parameter(torch.tensor(mlp))


def flamingo() -> nn.Module:
    model = nn.Module()
    model.cross = nn.ModuleList([Gated(0.8, -0.3), Gated(1.5, 0.2)])
    return model


def cases():
    """(module, exercise, right answer, wrong answer, words of the wrong answer's message, context)."""
    from mmsent.data.synth import STATES
    from mmsent.exercises.nb08 import START
    from mmsent.models.clip_pretrain import clip_loss

    heads = softmax_rows(4, 64)
    side = 8
    grey_out = solution_function("07", "grey_out", side=side)

    def swapped(image, patches):  # rows and columns exchanged
        return grey_out(image, [(p % side) * side + p // side for p in patches])

    reviews = reviews_frame()
    gates_07 = from_solution_code(module("nb07").ex3, "gates", reviews=reviews)
    device = torch.device("cpu")
    scores_07 = SimpleNamespace(table=pd.DataFrame(  # explain_reviews' table, two of its columns
        {"AUC below random": [0.21, 0.08, -0.04, 0.0, 0.0],
         "rank corr. head re-init": [0.1, 0.3, 0.2, 0.93, 1.0]},
        index=["occlusion", "Integrated Gradients", "attention", "attention rollout", "random"]))

    def loss(image_embeds, text_embeds, logit_scale):  # the notebook's clip_contrastive_loss
        unit = nn.functional.normalize
        logits = logit_scale.exp() * unit(image_embeds, dim=-1) @ unit(text_embeds, dim=-1).T
        targets = torch.arange(len(logits))
        cross_entropy = nn.functional.cross_entropy
        return (cross_entropy(logits, targets) + cross_entropy(logits.T, targets)) / 2

    learn_scale = solution_function("08", "learn_scale", device=device, clip_contrastive_loss=loss)
    generator = torch.Generator().manual_seed(0)
    image9, text8 = torch.randn(9, 6, generator=generator), torch.randn(8, 6, generator=generator)
    text9, scale = torch.cat([text8, text8[:1]]), torch.tensor(math.log(1 / 0.07))  # caption 8 = caption 0
    captions9 = [f"caption {i}" for i in range(8)] + ["caption 0"]
    logits9 = scale.exp() * nn.functional.normalize(image9, dim=-1) @ nn.functional.normalize(text9, dim=-1).T
    losses = {"plain": loss(image9, text9, scale).item(),
              "clip_loss": clip_loss(logits9, torch.tensor([captions9.index(c) for c in captions9])).item()}
    one_way = dict(losses, plain=nn.functional.cross_entropy(logits9, torch.arange(9)).item())
    probabilities = softmax_rows(6, 3)
    fused = pd.DataFrame(probabilities, columns=[f"p_{s}" for s in STATES])
    coverage = solution_function("08", "shape_coverage")
    calls = call_table()
    models = ["text only", "cross-modal attention"]
    by_scenario = calls.groupby("scenario")[models].mean()  # the solution's last line (its models need data)
    gates_10 = from_solution_code(module("nb10").ex3, "gates", test_calls=calls)
    by_steps = pd.DataFrame({"steps": [2, 4, 8, 12, 24], "state_accuracy": [0.82, 0.86, 0.89, 0.85, 0.82],
                             "clip_score": [67.0, 77, 76, 75, 74]})
    captions = ["a burnt mug", "a dented phone", "a cracked watch", "a brand logo", "a parcel"]
    per_caption = pd.Series([1.0, 0.125, 0.5, 0.5, 1.0], index=captions)
    variety = solution_function("11", "variety")
    sizes = pd.DataFrame({"model.safetensors (MB)": [2.1, 6.9, 92.0],
                          "text encoder numbers (M)": [0.0, 1.2, 22.7], "heads numbers (M)": [0.5, 0.5, 0.5]},
                         index=pd.Index([0, 2, "all"], dtype=object))
    asked = pd.DataFrame({"label": ["negative", "positive", "negative"], "gate": [0.9, 0.2, 0.3]},
                         index=["This phone is 🔥🔥🔥", "Great phone, love it", "Terrible, it broke"])
    new = pd.DataFrame({"review_id": [f"r{i}" for i in range(5)], "text": ["a", "", "b", "c", "d"],
                        "image_path": ["x.png", "y.png", None, "z.png", "w.png"]})
    status = ["ok", "skipped: empty text", "text-only: no image path", "ok", "ok"]
    predictions = new[["review_id"]].assign(status=status)
    return [
        ("nb07", "ex1", heads, heads.mean(axis=0), "that is one map", {"heat_map": heads.mean(axis=0)}),
        ("nb07", "ex2", grey_out, swapped, "swapped rows and columns", {"side": side}),
        ("nb07", "ex3", gates_07, reviews.groupby("scenario")["gate"].median(), "is the median",
         {"reviews": reviews}),
        ("nb07", "ex4_1", from_solution_code(module("nb07").ex4_1, "reading", image_only_scores=scores_07),
         {"beat random": ["attention"], "survive head re-init": ["attention rollout"]},
         "'AUC below random' is negative", {"table": scores_07.table}),
        ("nb07", "ex4_2", solution_function("07", "hidden_for_insertion"), lambda order, count: order[:count],
         "that is deletion", {}),
        ("nb08", "ex1", learn_scale, lambda i, t, steps: [math.log(START)] * steps, "that is logit_scale",
         {"device": device}),
        ("nb08", "ex1_2", pd.Series(losses), one_way, "the photo -> caption direction only",
         {"logits": logits9, "captions": captions9}),  # a Series of the two, as the solution displays them
        ("nb08", "ex2", solution_function("08", "class_centroids"),
         lambda units, classes, n: torch.stack([units[classes == k].mean(0) for k in range(n)]),
         "normalise the mean", {}),
        ("nb08", "ex3", fused, np.log(fused), "log-probabilities", {}),
        ("nb08", "ex4", coverage, lambda train, samples, radius: coverage(samples, train, radius),
         "the share of samples", {}),
        ("nb09", "ex1", {"greedy": 0.1, "T = 0.5": 0.12, "T = 1.0": 0.2, "T = 2.0": 0.6},
         {"greedy": 0.1, "T = 0.5": 0.1, "T = 1.0": 0.1, "T = 2.0": 0.1}, "decodes greedily", {}),
        ("nb09", "ex2", {"product": 0.3, "damaged": 0.5}, {"product": 0.3, "damaged": 0.9},
         "beats the blind ceiling", {"ceilings": {"product": 0.35, "damaged": 0.55}}),
        ("nb09", "ex3", from_solution_code(module("nb09").ex3, "gates",
                                           models={"flamingo": flamingo()}),
         [(0.8, -0.3), (1.5, 0.2)], "raw gate parameters", {"model": flamingo()}),
        ("nb09", "ex3_2", 0.5, 0.9, "beats the blind ceiling", {"ceilings": {"damaged": 0.55},
                                                                "model": flamingo()}),
        ("nb10", "ex1", by_scenario, 100 * by_scenario, "percentages",
         {"test_calls": calls, "models": models}),
        ("nb10", "ex2", solution_function("10", "silence"),
         lambda tokens, shouted: torch.where(torch.as_tensor(shouted)[:, None], tokens.mean(0), tokens),
         "ALL the call's tokens", {}),
        ("nb10", "ex3", gates_10, calls.groupby("text_kind")["gate"].mean(), "gates of every call",
         {"test_calls": calls}),
        ("nb11", "ex1", by_steps, by_steps.iloc[:4], "no row for [24]", {}),
        ("nb11", "ex2", per_caption, per_caption * 0.9, "multiple of 1/8", {}),
        ("nb11", "ex3", variety,
         lambda pictures, per_cell: variety(pictures, per_cell) * (per_cell - 1) / per_cell,
         "per_cell ** 2", {}),
        ("nb12", "ex1", sizes, sizes.assign(**{"text encoder numbers (M)": [22.7, 22.7, 22.7]}),
         "nothing of the frozen encoder", {}),
        ("nb12", "ex2", "checkpoint: encoder_fingerprint does not match the encoders given", "",
         "accepted the changed encoders", {}),
        ("nb12", "ex3", asked, asked.assign(label=["negative", "positive", "positive"]), "came back positive",
         {"classes": ["negative", "positive"]}),
        ("nb12", "ex4", predictions, predictions.drop(index=2), "output rows for", {"new": new}),
    ]


CASES = cases()


@pytest.mark.parametrize("name, exercise, right, wrong, message, context", CASES,
                         ids=[f"{name}.{exercise}" for name, exercise, *_ in CASES])
def test_check_passes_the_solution_and_names_the_mistake(name, exercise, right, wrong, message, context):
    check = getattr(importlib.import_module(f"mmsent.exercises.{name}"), exercise)
    passed = check.evaluate(right, **context)
    assert passed, passed.message
    failed = check.evaluate(wrong, **context)
    assert not failed and message in failed.message, failed.message
    unfilled = check.evaluate(..., **context)  # the exercise cell as the learner finds it
    assert not unfilled and "no answer yet" in unfilled.message


def test_every_exercise_has_a_case():
    covered = {(name, exercise) for name, exercise, *_ in CASES}
    defined = {(name, attribute) for name in LATE
               for attribute, value in vars(module(name)).items() if isinstance(value, Exercise)}
    assert covered == defined


@pytest.mark.parametrize("name", LATE)
def test_the_notebooks_call_every_check(name):
    """The student notebook calls each check; the solution notebook asserts that each passes. Both show the
    quiz."""
    module = importlib.import_module(f"mmsent.exercises.{name}")
    exercises = [attribute for attribute, value in vars(module).items() if isinstance(value, Exercise)]
    stem = name[2:]
    for folder, call in [(SOLUTIONS.parent, "check"), (SOLUTIONS, "evaluate")]:
        text = next(folder.glob(f"{stem}_*.ipynb")).read_text()
        assert f"{name}.quiz" in text, f"{folder.name}/{stem}: no quiz"
        missing = [exercise for exercise in exercises if f"{name}.{exercise}.{call}(" not in text]
        assert not missing, f"{folder.name}/{stem}: no {call} call for {missing}"
