"""Notebook 02 (fusion strategies): checks for its exercises, and its quiz.

    from mmsent.exercises import nb02
    nb02.ex1.check(no_photo, features=features["test"])   # the test features with every photo zeroed
    nb02.ex2.check(without_stars, features=features["test"], labels=labels["test"])  # trained on text + image
    nb02.ex3.check(few, train_size=len(labels["train"]))  # a random 10% of the training rows
    nb02.ex4.check((early_count, late_count))             # each: (dims, hidden, classes) -> parameters
    nb02.quiz

The accuracies of exercises 2 and 3 depend on the run, so their checks test what the learner builds: the
models of exercise 2 (fed text and image only, each evaluated on the test split, no training here), and the
rows of exercise 3 (a random tenth of the training split, without repeats).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from mmsent.exercises.framework import (
    Exercise,
    Mistake,
    accuracy_of,
    evaluation_mode,
    expect,
    expect_trained,
    returned,
)
from mmsent.exercises.quiz import quiz
from mmsent.models import EarlyFusion, LateFusion

CASES = [({"text": 10, "image": 12, "tabular": 4}, 8, 2), ({"text": 384, "image": 512}, 32, 3),
         ({"image": 7}, 5, 2)]  # (input widths, hidden width H, classes C)


def _check_no_photo(answer: Mapping, features: Mapping[str, torch.Tensor]) -> str:
    expect(isinstance(answer, Mapping), f"you passed a {type(answer).__name__}; pass a dictionary of "
           "feature tensors, like features['test'], with the image vectors replaced")
    missing = sorted(set(features) - set(answer))
    expect(not missing, f"your features have no {missing}: keep every modality, replace only the image")
    image, real = answer["image"], features["image"]
    expect(isinstance(image, torch.Tensor) and image.shape == real.shape,
           f"your image features have shape {tuple(getattr(image, 'shape', ()))}, not {tuple(real.shape)}: "
           "one zero vector per review, as wide as the real ones (torch.zeros_like)")
    expect(bool(real.abs().sum() > 0),
           "the original features['test']['image'] is all zeros now: you zeroed it in place, so the "
           "'with photos' accuracy is gone too; build a new tensor with torch.zeros_like instead")
    expect(not bool(image.abs().sum() > 0), "your image features are not all zeros: use "
           "torch.zeros_like(features['test']['image'])")
    changed = [name for name in features if name != "image" and not torch.equal(answer[name], features[name])]
    expect(not changed, f"your {changed} features differ from the originals: only the photo goes missing")
    return "every photo gone, text and stars as they were"


def count(model: nn.Module) -> int:
    """The number of parameters of `model`."""
    return sum(p.numel() for p in model.parameters())


def _check_counts(answer: tuple[Callable, Callable]) -> str:
    expect(isinstance(answer, tuple | list) and len(answer) == 2 and all(map(callable, answer)),
           "pass your two functions as a pair: (early_count, late_count)")
    early_count, late_count = answer
    for dims, hidden, classes in CASES:
        call = f"({dims}, hidden={hidden}, classes={classes})"
        early = returned(early_count(dict(dims), hidden, classes), f"early_count{call}")
        late = returned(late_count(dict(dims), hidden, classes), f"late_count{call}")
        right_early = count(EarlyFusion(dims, classes, hidden))
        right_late = count(LateFusion(dims, classes, hidden))
        modalities = len(dims)
        if early != right_early:
            if early == right_early - hidden - classes:
                raise Mistake(f"early_count{call} = {early:,}: you forgot the biases, one per output of "
                              "each Linear (H + C)")
            raise Mistake(f"early_count{call} = {early:,}, but EarlyFusion has {right_early:,} parameters; "
                          "it is one MLP over the concatenated inputs: (D*H + H) + (H*C + C), D the sum of "
                          "the widths")
        if late != right_late:
            slips = {
                right_late - modalities: "you forgot the vote weights, one per modality (M)",
                right_late - modalities * (hidden + classes): "you forgot the biases (H + C per modality)",
                right_early: "that is early fusion's count; late fusion has one MLP PER modality, each "
                             "with its own output layer, plus M vote weights",
            }
            raise Mistake(f"late_count{call} = {late:,}: " + slips.get(
                late, f"LateFusion has {right_late:,}; sum over the modalities of (D_m*H + H + H*C + C), "
                      "plus one vote weight per modality"))
    return "both formulas match EarlyFusion and LateFusion for every width, hidden size and class count tried"


ex1 = Exercise(
    "Notebook 02, exercise 1 (a photo goes missing)",
    _check_no_photo,
    hints=(
        "Copy the test features and replace one entry: {**features['test'], 'image': ...}.",
        "torch.zeros_like(features['test']['image']) is a new tensor of zeros with the same shape; it leaves "
        "the original untouched.",
    ),
    solution_code="""
no_photo = {**features["test"], "image": torch.zeros_like(features["test"]["image"])}
nb02.ex1.check(no_photo, features=features["test"])
# then: accuracy of each trained model on features["test"] and on no_photo
""",
)

ex4 = Exercise(
    "Notebook 02, exercise 4 (counting parameters)",
    _check_counts,
    hints=(
        "A Linear from a to b numbers has a * b weights and b biases.",
        "EarlyFusion: Linear(D, H) then Linear(H, C), D the sum of the input widths. LateFusion: that MLP "
        "once per modality, over its own width D_m, plus one vote weight per modality.",
    ),
    solution_code="""
def linear(a, b):
    return a * b + b

def early_count(dims, hidden, classes):
    return linear(sum(dims.values()), hidden) + linear(hidden, classes)

def late_count(dims, hidden, classes):
    return sum(linear(d, hidden) + linear(hidden, classes) for d in dims.values()) + len(dims)

nb02.ex4.check((early_count, late_count))
""",
)

def _check_without_stars(answer: Mapping, features: Mapping[str, torch.Tensor], labels: torch.Tensor) -> str:
    expect(isinstance(answer, Mapping) and all(isinstance(m, nn.Module) for m in answer.values()),
           f"you passed a {type(answer).__name__}; pass a dictionary of your trained models, "
           "{'early fusion': model, 'late fusion': model, 'hybrid fusion': model}")
    expect(len(answer) == 3, f"you passed {len(answer)} models; the exercise retrains all three strategies")
    text_and_image = {name: features[name] for name in ("text", "image")}
    scores = {}
    for name, model in answer.items():
        with evaluation_mode(model) as device:
            inputs = {m: x.to(device) for m, x in text_and_image.items()}
            try:
                logits = model(inputs)
            except KeyError as error:
                raise Mistake(f"your {name} model asks for more than text and image ({error}): build it over "
                              "['text', 'image'] only, and train it on those features") from None
            blank = model(dict(inputs, image=torch.zeros_like(inputs["image"])))
        expect(not torch.allclose(logits, blank), f"your {name} model ignores the image: build it over both "
               "'text' and 'image'")
        scores[name] = accuracy_of(model, text_and_image, labels)
        expect_trained(scores[name], f"{name} model", "on features['train'], text and image")
    return ("test accuracy without the stars: " + ", ".join(f"{n} {s:.3f}" for n, s in scores.items())
            + "; compare each with the same strategy on all three modalities")


def _check_few(answer: object, train_size: int) -> str:
    rows = np.asarray(answer.cpu() if isinstance(answer, torch.Tensor) else answer)
    if rows.dtype == bool:  # a mask over the training reviews
        expect(len(rows) == train_size, f"your mask has {len(rows)} entries, not {train_size}")
        rows = np.flatnonzero(rows)
    expect(rows.ndim == 1 and np.issubdtype(rows.dtype, np.integer),
           f"pass the row numbers you drew (integers): torch.randperm({train_size})[:{train_size // 10}]")
    wanted = {train_size // 10, round(train_size / 10)}
    expect(len(rows) in wanted, f"you drew {len(rows)} reviews; 10% of the {train_size} training reviews is "
           f"{train_size // 10}")
    expect(rows.min() >= 0 and rows.max() < train_size,
           f"row {rows.max()} does not exist: the training split has {train_size} reviews (0 to "
           f"{train_size - 1}); draw from the training features, not the whole table")
    repeats = len(rows) - len(np.unique(rows))
    expect(repeats == 0, f"{repeats} of your rows are drawn twice: draw without replacement "
           "(torch.randperm(n)[:k], not torch.randint)")
    expect(not np.array_equal(np.sort(rows), np.arange(len(rows))),
           f"these are the first {len(rows)} training rows, not a random draw: any order in the table (by "
           "product, by time) would leak into your sample; shuffle first with torch.randperm")
    return (f"{len(rows)} different training reviews, drawn at random; train the six models on them with the "
            "same epochs")


ex2 = Exercise(
    "Notebook 02, exercise 2 (without the stars)",
    _check_without_stars,
    hints=(
        "Build each strategy over {'text': ..., 'image': ...} only: strategy({m: input_dims[m] for m in "
        "['text', 'image']}, num_classes).",
        "Train each on {m: features['train'][m] for m in ['text', 'image']}, then pass the three trained "
        "models in a dictionary.",
    ),
    solution_code="""
text_and_image = ["text", "image"]
without_stars = {}
for name, strategy in {"early fusion": EarlyFusion, "late fusion": LateFusion,
                       "hybrid fusion": HybridFusion}.items():
    torch.manual_seed(0)
    model = strategy({m: input_dims[m] for m in text_and_image}, num_classes)
    train(model, {m: features["train"][m] for m in text_and_image}, labels["train"])
    without_stars[name] = model
nb02.ex2.check(without_stars, features=features["test"], labels=labels["test"])
""",
)

ex3 = Exercise(
    "Notebook 02, exercise 3 (little data)",
    _check_few,
    hints=(
        "torch.randperm(n) shuffles the row numbers 0 to n - 1; the first n // 10 of them are a random 10%.",
        "Seed a generator (torch.Generator().manual_seed(0)) so that every model trains on the same rows.",
    ),
    solution_code="""
generator = torch.Generator().manual_seed(0)
few = torch.randperm(len(labels["train"]), generator=generator)[: len(labels["train"]) // 10]
nb02.ex3.check(few, train_size=len(labels["train"]))
# then train each model on {m: features["train"][m][few] ...} and labels["train"][few]
""",
)


quiz = quiz(
    "02 · Fusion strategies",
    (
        "Early fusion concatenates the feature vectors and trains one MLP. What can it do that late fusion "
        "cannot?",
        [
            ("Learn interactions between modalities from the first layer, such as \"ambiguous words AND a "
             "damaged photo mean negative\".", True,
             "Its first layer mixes numbers of every modality, so one hidden unit can respond to a "
             "combination. Late fusion's experts each see one modality and only their opinions meet, at "
             "the end."),
            ("Cope with a missing photo.", False,
             "The opposite: a missing or zeroed photo changes the input of early fusion's single MLP, so "
             "every decision is affected; late fusion's other experts are untouched."),
            ("Use fewer parameters.", False,
             "Both counts are dominated by the first layers (D*H); the difference between the strategies "
             "is which numbers can interact, not how many weights there are."),
        ],
    ),
    (
        "Late fusion combines its experts with a weighted mean of log-probabilities. An unsure text expert "
        "says 50/50, a sure image expert 5/95. What does the vote do?",
        [
            ("It leans towards the sure expert: a product of experts lets a confident opinion outweigh an "
             "unsure one.", True,
             "log(0.5) is the same for both classes, so the text expert adds nothing to the difference; the "
             "image expert's log(0.95) versus log(0.05) decides. A plain mean of probabilities would "
             "dilute the sure opinion more."),
            ("It returns 50/50: the two experts cancel out.", False,
             "An unsure expert gives no reason either way; it cannot cancel a sure one. Only an expert sure "
             "of the opposite could."),
            ("It ignores the image expert because text is the main modality.", False,
             "No modality is the main one; the learned vote weights start equal and the log-probabilities "
             "carry each expert's confidence."),
        ],
    ),
    (
        "Every fusion strategy beats every single modality on our reviews. How should you choose between "
        "them?",
        [
            ("By what the task needs: interactions, robustness to a missing modality, data size and cost.",
             True,
             "On this data their accuracies are close, often within the noise of a seed. The choice then "
             "rests on properties: early fusion learns interactions, late fusion survives a missing photo "
             "and small data, hybrid fusion has both at the price of size."),
            ("Always hybrid fusion: it combines the two others, so it is always best.", False,
             "Hybrid fusion is the largest model; with little data or a tight budget it can lose to the "
             "smaller ones, and the notebook's differences are within the noise."),
            ("By the test accuracy of one run, to the third decimal.", False,
             "One review of 360 is 0.28 points, and another seed moves each number by about as much; a "
             "single run cannot rank strategies that close."),
        ],
    ),
)
