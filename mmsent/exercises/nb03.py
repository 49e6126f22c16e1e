"""Notebook 03 (MultiModalNet, a two-tower toy): checks for its exercises, and its quiz.

    from mmsent.exercises import nb03
    nb03.ex1.check(widths["parameters (count)"], image_dim=image_dim, text_dim=text_dim, num_classes=2)
    nb03.ex1_2.check(trained, test=data["test"])  # {hidden_dim: trained network}, test (image, text, labels)
    nb03.ex2.check(NoTowers(64), image_dim=image_dim, text_dim=text_dim)
    nb03.ex3.check(ThreeTowers(64), image_dim=image_dim, text_dim=text_dim, tabular_dim=tabular_dim)
    nb03.quiz

Exercise 1's accuracies depend on the run, so its second check evaluates the learner's trained networks on
the test split (no training here): one per width, of the right size, and better than chance.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmsent.exercises.framework import (
    Exercise,
    Mistake,
    accuracy_of,
    evaluation_mode,
    expect,
    expect_trained,
    network_logits,
)
from mmsent.exercises.quiz import quiz

WIDTHS = (8, 32, 128)
BATCH = 5


def _linear(a: int, b: int, bias: bool = True) -> int:
    return a * b + (b if bias else 0)


def _count_variants(image_dim: int, text_dim: int, hidden: int, classes: int) -> dict[str, int]:
    """MultiModalNet's parameter count, and the counts that common slips give instead."""
    towers = _linear(image_dim, hidden) + _linear(text_dim, hidden)
    classifier = _linear(2 * hidden, hidden) + _linear(hidden, classes)
    no_bias = (
        _linear(image_dim, hidden, False) + _linear(text_dim, hidden, False)
        + _linear(2 * hidden, hidden, False) + _linear(hidden, classes, False)
    )
    narrow_classifier = towers + _linear(hidden, hidden) + _linear(hidden, classes)
    return {
        "right": towers + classifier,
        "that is the count without the biases: a Linear from a to b has a * b weights plus b biases": no_bias,
        "that is the two towers only: add the classifier (2 * hidden_dim -> hidden_dim -> classes)": towers,
        "that is the classifier only: add the two towers (image_dim -> hidden_dim, text_dim -> hidden_dim)": (
            classifier
        ),
        "your classifier reads hidden_dim numbers, but it reads the two tower outputs side by side: "
        "2 * hidden_dim": narrow_classifier,
    }


def _check_widths(counts: Mapping, image_dim: int, text_dim: int, num_classes: int = 2) -> str:
    counts = {int(width): int(count) for width, count in dict(counts).items()}
    missing = [width for width in WIDTHS if width not in counts]
    expect(not missing, f"no count for hidden_dim {missing}: the exercise asks for {list(WIDTHS)}")
    for width in WIDTHS:
        variants = _count_variants(image_dim, text_dim, width, num_classes)
        if counts[width] == variants["right"]:
            continue
        for slip, value in variants.items():
            if value == counts[width]:
                raise Mistake(f"for hidden_dim {width} you have {counts[width]:,}: {slip}")
        raise Mistake(
            f"for hidden_dim {width} you have {counts[width]:,}, {counts[width] - variants['right']:+,} off; "
            "count each Linear as in_features * out_features + out_features"
        )
    return f"{', '.join(f'{w}: {counts[w]:,}' for w in WIDTHS)} parameters, to the last bias"


def _check_network(model: nn.Module, dims: dict[str, int], num_classes: int) -> None:
    """Shape, batch rows and use of every input, for any network over the feature vectors in `dims`."""
    torch.manual_seed(0)
    with evaluation_mode(model) as device:
        inputs = {name: torch.randn(BATCH, dim, device=device) for name, dim in dims.items()}
        logits = network_logits(model, inputs)
        expect(
            tuple(logits.shape) == (BATCH, num_classes),
            f"for {BATCH} reviews your network returns shape {tuple(logits.shape)}; it must return one row "
            f"of logits per review: ({BATCH}, {num_classes})",
        )
        for name in dims:
            changed = dict(inputs, **{name: inputs[name] + torch.randn_like(inputs[name])})
            expect(
                not torch.allclose(network_logits(model, changed), logits),
                f"your network ignores the {name} features: changing them leaves the logits as they are",
            )


def _linears(model: nn.Module) -> list[nn.Linear]:
    expect(
        isinstance(model, nn.Module),
        f"you passed a {type(model).__name__}; pass your network, an nn.Module instance (e.g. NoTowers(64))",
    )
    return [module for module in model.modules() if isinstance(module, nn.Linear)]


def _check_no_towers(model: nn.Module, image_dim: int, text_dim: int, num_classes: int = 2) -> str:
    linears = _linears(model)
    expect(bool(linears), "your network has no nn.Linear layer: the classifier is Linear, ReLU, Linear")
    for name, dim in [("image", image_dim), ("text", text_dim)]:
        expect(
            all(layer.in_features != dim for layer in linears),
            f"a layer reads the {name} vector alone (in_features {dim}): that is a tower; without towers "
            f"the first layer reads the raw concatenation, {image_dim} + {text_dim} = {image_dim + text_dim}",
        )
    expect(
        linears[0].in_features == image_dim + text_dim,
        f"your first layer reads {linears[0].in_features} numbers; without towers it reads the raw image and "
        f"text vectors side by side: {image_dim} + {text_dim} = {image_dim + text_dim}",
    )
    _check_network(model, {"image": image_dim, "text": text_dim}, num_classes)
    return "early fusion: one classifier over the raw concatenated vectors"


def _check_three_towers(
    model: nn.Module, image_dim: int, text_dim: int, tabular_dim: int, num_classes: int = 2
) -> str:
    expect(
        any(layer.in_features == tabular_dim for layer in _linears(model)),
        f"no layer reads the tabular features on their own: the third tower is a Linear({tabular_dim}, "
        "hidden_dim) + ReLU, like the other two",
    )
    _check_network(model, {"image": image_dim, "text": text_dim, "tabular": tabular_dim}, num_classes)
    return "three towers, and every modality changes the logits"


ex1 = Exercise(
    "Notebook 03, exercise 1 (width)",
    _check_widths,
    hints=(
        "Count by hand first: a Linear from a to b has a * b weights and b biases.",
        "MultiModalNet has four Linear layers: image_dim -> h, text_dim -> h, 2h -> h, h -> classes.",
        "sum(p.numel() for p in model.parameters()) counts them for you; compare with your hand count.",
    ),
    solution_code="""
counts = {}
for hidden_dim in [8, 32, 128]:
    model = MultiModalNet(image_dim, text_dim, hidden_dim, num_classes)
    counts[hidden_dim] = sum(p.numel() for p in model.parameters())
nb03.ex1.check(counts, image_dim=image_dim, text_dim=text_dim, num_classes=num_classes)
""",
)

ex2 = Exercise(
    "Notebook 03, exercise 2 (no towers)",
    _check_no_towers,
    hints=(
        "No towers means the first layer sees torch.cat([image, text], dim=-1) directly.",
        "Keep the classifier: Linear(image_dim + text_dim, hidden_dim), ReLU, Dropout, "
        "Linear(hidden_dim, num_classes).",
    ),
    solution_code="""
class NoTowers(nn.Module):
    def __init__(self, hidden_dim):
        super().__init__()
        self.classifier = nn.Sequential(nn.Linear(image_dim + text_dim, hidden_dim), nn.ReLU(),
                                        nn.Dropout(0.1), nn.Linear(hidden_dim, num_classes))

    def forward(self, x):  # x: {'image': [B, image_dim], 'text': [B, text_dim]}
        return self.classifier(torch.cat([x["image"], x["text"]], dim=-1))
""",
)

ex3 = Exercise(
    "Notebook 03, exercise 3 (a third tower)",
    _check_three_towers,
    hints=(
        "Give the tabular features their own tower, Linear(tabular_dim, hidden_dim) + ReLU.",
        "The classifier then reads 3 * hidden_dim numbers: the three tower outputs side by side.",
    ),
    solution_code="""
class ThreeTowers(nn.Module):
    def __init__(self, hidden_dim):
        super().__init__()
        dims = {"image": image_dim, "text": text_dim, "tabular": tabular_dim}
        self.towers = nn.ModuleDict({name: nn.Sequential(nn.Linear(dim, hidden_dim), nn.ReLU())
                                     for name, dim in dims.items()})
        self.classifier = nn.Sequential(nn.Linear(3 * hidden_dim, hidden_dim), nn.ReLU(), nn.Dropout(0.1),
                                        nn.Linear(hidden_dim, num_classes))

    def forward(self, x):  # x: {'image', 'text', 'tabular'} -> logits [B, C]
        return self.classifier(torch.cat([tower(x[name]) for name, tower in self.towers.items()], dim=-1))
""",
)

def _check_width_models(models: Mapping, test: tuple) -> str:
    expect(isinstance(models, Mapping) and all(isinstance(m, nn.Module) for m in models.values()),
           f"you passed a {type(models).__name__}; pass your trained networks: {{8: net, 32: net, 128: net}}")
    models = {int(width): model for width, model in models.items()}
    missing = [width for width in WIDTHS if width not in models]
    expect(not missing, f"no network for hidden_dim {missing}: the exercise trains {list(WIDTHS)}")
    image, text, labels = test
    classes = int(labels.max()) + 1
    scores = {}
    for width in WIDTHS:
        parameters = sum(p.numel() for p in models[width].parameters())
        right = _count_variants(image.shape[1], text.shape[1], width, classes)["right"]
        expect(parameters == right, f"your network for hidden_dim {width} has {parameters:,} parameters, "
               f"MultiModalNet(hidden_dim={width}) has {right:,}: build each width with its own hidden_dim")
        scores[width] = accuracy_of(models[width], {"image": image, "text": text}, labels)
        expect_trained(scores[width], f"network for hidden_dim {width}", "train(model)")
    spread = max(scores.values()) - min(scores.values())
    return ("test accuracy " + ", ".join(f"hidden_dim {w}: {s:.3f}" for w, s in scores.items())
            + f"; {100 * spread:.1f} points between the best and the worst width")


ex1_2 = Exercise(
    "Notebook 03, exercise 1, second half (width: the test accuracy)",
    _check_width_models,
    hints=(
        "Build and train one MultiModalNet per width in a loop, and keep each trained network in a "
        "dictionary {hidden_dim: model}.",
        "Seed before each (torch.manual_seed(0)), so that the widths differ only by their width.",
    ),
    solution_code="""
trained = {}
for hidden_dim in [8, 32, 128]:
    torch.manual_seed(0)
    trained[hidden_dim] = MultiModalNet(image_dim, text_dim, hidden_dim, num_classes).to(device)
    train(trained[hidden_dim], verbose=False)
nb03.ex1_2.check(trained, test=data["test"])   # (image, text, labels) of the test split
""",
)


quiz = quiz(
    "03 · MultiModalNet",
    (
        "Why does MultiModalNet give each modality its own tower before concatenating?",
        [
            ("So that each modality is mapped to the same width, and a wide or large-valued vector cannot "
             "drown the other by size alone.", True,
             "Each tower maps its modality to hidden_dim numbers through its own Linear + ReLU, so the "
             "classifier sees two equally wide summaries whose scale was learned, not inherited."),
            ("Because torch.cat cannot join vectors of different widths.", False,
             "torch.cat joins vectors of any widths along the feature dimension; early fusion in notebook 02 "
             "does exactly that with the raw vectors."),
            ("Because the towers are pretrained encoders.", False,
             "The towers are small Linear layers trained from scratch here; the pretrained encoders "
             "(BERT, CLIP) ran before, once, to produce the cached feature vectors."),
        ],
    ),
    (
        "A Linear layer from 512 inputs to 64 outputs has how many parameters?",
        [
            ("512 * 64 + 64 = 32,832", True,
             "One weight per input-output pair (512 * 64) plus one bias per output (64). The whole network's "
             "count is the sum of such terms, which is how the notebook checks it by hand."),
            ("512 * 64 = 32,768", False,
             "That forgets the biases: every output unit has one, so 64 more parameters."),
            ("512 + 64 = 576", False,
             "That counts units, not connections: every input is connected to every output by its own "
             "weight."),
        ],
    ),
    (
        "The validation loss stops falling while the training loss keeps falling. What does it say?",
        [
            ("The network starts to overfit: it learns the training reviews, not the rule.", True,
             "The training loss measures reviews the network has seen; the validation loss measures new "
             "ones. When only the first keeps improving, more epochs memorise the training set."),
            ("The learning rate is too small.", False,
             "A too small learning rate slows both losses alike; here the training loss still falls fine."),
            ("The cached features are wrong.", False,
             "Wrong features would keep both losses high from the start, not make them part ways late."),
        ],
    ),
    (
        "Why can the package's MultiModalNet load the notebook's trained weights and give identical logits?",
        [
            ("Both are the same network: same layers, same names and shapes, same order of operations.", True,
             "load_state_dict is strict, so it only succeeds when every parameter name and shape matches; in "
             "evaluation mode (no dropout) the same weights then give bit-identical logits."),
            ("Because load_state_dict converts weights between architectures.", False,
             "It converts nothing: a missing, extra or differently shaped parameter is an error."),
            ("Because both were trained with the same seed.", False,
             "Only one network was trained; the package class received its weights, it was never trained."),
        ],
    ),
)
