"""mmsent.exercises: every check passes the solution notebook's answer and names the mistake in wrong ones;
every quiz is well formed (3-5 questions, one right choice each, every choice explained)."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mmsent.exercises import NOTEBOOKS, Exercise
from mmsent.models import CrossModalAttention, MultiModalNet

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"
DIMS = {"image_dim": 12, "text_dim": 10, "tabular_dim": 4, "num_classes": 2}


def solution_definitions(stem: str, *names: str) -> dict:
    """The classes `names` as the solution notebook `stem` defines them (only the definitions are run)."""
    notebook = json.loads(next(SOLUTIONS.glob(f"{stem}_*.ipynb")).read_text())
    namespace = {"torch": torch, "nn": nn, "math": __import__("math"), "F": nn.functional,
                 "CrossModalAttention": CrossModalAttention, "MultiModalNet": MultiModalNet, **DIMS}
    exec("from typing import NamedTuple", namespace)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.parse("".join(cell["source"])).body:
            if isinstance(node, ast.ClassDef) and (node.name in names or node.name == "AttentionResult"):
                exec(compile(ast.Module([node], []), stem, "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{stem}'s solution notebook no longer defines {missing}"
    return namespace


class OnConcatenation(nn.Module):
    """A network over torch.cat([image, text]), fed a features dictionary (as the solution's NoTowers)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: dict) -> torch.Tensor:
        return self.net(torch.cat([x["image"], x["text"]], dim=-1))


def passes(exercise: Exercise, answer, **context) -> None:
    feedback = exercise.evaluate(answer, **context)
    assert feedback.passed, feedback.message


def fails(exercise: Exercise, answer, message: str, **context) -> None:
    feedback = exercise.evaluate(answer, **context)
    assert not feedback.passed and message in feedback.message, feedback.message
    assert str(feedback).startswith("Not yet: ")


def test_nb03_width_counts_every_bias():
    from mmsent.exercises import nb03

    dims = {k: DIMS[k] for k in ("image_dim", "text_dim", "num_classes")}
    right = {h: sum(p.numel() for p in MultiModalNet(12, 10, h, 2).parameters()) for h in (8, 32, 128)}
    passes(nb03.ex1, right, **dims)
    no_bias = {h: sum(p.numel() for n, p in MultiModalNet(12, 10, h, 2).named_parameters() if "weight" in n)
               for h in right}
    fails(nb03.ex1, no_bias, "without the biases", **dims)
    fails(nb03.ex1, {8: right[8]}, "no count for hidden_dim [32, 128]", **dims)
    fails(nb03.ex1, {h: n + 1 for h, n in right.items()}, "+1 off", **dims)


def test_nb03_networks_pass_as_the_solution_writes_them_and_fail_with_the_reason():
    from mmsent.exercises import nb03

    solution = solution_definitions("03", "NoTowers", "ThreeTowers")
    two = {"image_dim": 12, "text_dim": 10}
    learners = solution["NoTowers"](16)
    passes(nb03.ex2, learners, **two)
    assert learners.training  # the check put the learner's network back in training mode
    fails(nb03.ex2, MultiModalNet(12, 10, 16, 2), "that is a tower", **two)
    ignores_text = nn.Sequential(nn.Linear(22, 16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():
        ignores_text[0].weight[:, 12:] = 0  # reads the concatenation, but gives the text no weight
    fails(nb03.ex2, lambda image, text: ignores_text(torch.cat([image, text], -1)), "an nn.Module", **two)
    fails(nb03.ex2, OnConcatenation(ignores_text), "ignores the text features", **two)
    wide = OnConcatenation(nn.Sequential(nn.Linear(22, 16), nn.ReLU(), nn.Linear(16, 3)))
    fails(nb03.ex2, wide, "shape (5, 3)", **two)

    three = dict(two, tabular_dim=4)
    passes(nb03.ex3, solution["ThreeTowers"](16), **three)
    fails(nb03.ex3, solution["NoTowers"](16), "no layer reads the tabular features", **three)


def test_nb05_unscaled_layer_from_the_solution_passes_and_the_scaled_one_is_named():
    from mmsent.exercises import nb05

    solution = solution_definitions("05", "MyCrossModalAttention")
    layer = solution["MyCrossModalAttention"]
    passes(nb05.ex2, layer(10, 12, dim=16, num_heads=2, scaled=False))
    fails(nb05.ex2, layer(10, 12, dim=16, num_heads=2, scaled=True), "still divides the scores")

    class OverTheBatch(CrossModalAttention):  # softmax over the batch axis: the classic slip
        def forward(self, text, patches, image_present=None):
            out = super().forward(text, patches, image_present)
            return out._replace(head_weights=out.head_weights.softmax(dim=0))

    over_the_batch = OverTheBatch(10, 12, dim=16, num_heads=2)
    fails(nb05.ex2, over_the_batch, "sum to 1 over the batch, not over the patches")


def test_nb05_learned_query_and_batch_test():
    from mmsent.exercises import nb05

    solution = solution_definitions("05", "LearnedQueryAttention")
    passes(nb05.ex3, solution["LearnedQueryAttention"](12, dim=16, num_heads=2), text_dim=10, image_dim=12)
    fails(nb05.ex3, CrossModalAttention(10, 12, dim=16, num_heads=2), "still reads the text",
          text_dim=10, image_dim=12)

    namespace = {"torch": torch}
    exec(nb05.ex4.solution_code.split("nb05.ex4.check")[0], namespace)
    passes(nb05.ex4, namespace["batch_independent"])

    def without_eval(layer, text, patches):  # dropout stays on
        first, second = layer(text[[0, 1]], patches[[0, 1]]), layer(text[[0, 2]], patches[[0, 2]])
        assert torch.allclose(first.attended[0], second.attended[0])

    fails(nb05.ex4, without_eval, "Call layer.eval() first")

    def shape_only(layer, text, patches):  # asserts nothing about the batch
        assert layer.eval()(text, patches).attended.shape[0] == len(text)

    fails(nb05.ex4, shape_only, "passes a layer that mixes the batch")


def test_a_crashing_answer_is_reported_not_raised(capsys):
    from mmsent.exercises import nb05

    def broken(layer, text, patches):
        raise ValueError("oops")

    feedback = nb05.ex4.evaluate(broken)
    assert not feedback and "raised ValueError: oops" in feedback.message
    nb05.ex4.check(broken)
    nb05.ex4.hint()
    nb05.ex4.solution()
    printed = capsys.readouterr().out
    assert "Not yet" in printed and "Hint 1 of 2" in printed and "def batch_independent" in printed


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_quiz_is_well_formed_and_renders(name):
    quiz = importlib.import_module(f"mmsent.exercises.{name}").quiz
    assert quiz.problems() == []
    rendered, markdown = quiz._repr_html_(), quiz.to_markdown()
    for question in quiz.questions:
        for choice in question.choices:
            assert choice.explanation.split()[0] in rendered and choice.explanation.split()[0] in markdown
    assert rendered.count("<details>") == sum(len(q.choices) for q in quiz.questions)


def test_a_malformed_quiz_is_caught():
    from mmsent.exercises.quiz import quiz

    two_right = ("Q?", [("a", True, "explained in eight words, as it should be."),
                        ("b", True, "explained in eight words, as it should be."), ("c", False, "short")])
    problems = quiz("bad", two_right).problems()
    assert "1 questions, not 3 to 5" in problems and "question 1 has 2 right answers, not 1" in problems
    assert "question 1, choice c has no explanation" in problems
