"""Every check of notebooks 00-06 passes its worked solution (`Exercise.solution_code`, run here) and fails
at least one wrong answer with the message that names the mistake; an unfilled placeholder is reported,
not raised. Notebooks 00-06 and their solutions show the quiz before the exercises; the notebooks call every
check under them, and their solutions assert every check. Cheap: the review table is read as a plain CSV,
every model is tiny (and trains on one thread)."""

from __future__ import annotations

import importlib
import json
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from learners import (  # tests/learners.py
    AttentionClassifier,
    PairAsDict,
    Unpacked,
    attention_data,
    fit_quickly,
)
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from mmsent.data import LabelVocab, load_reviews, open_rgb
from mmsent.exercises import Exercise
from mmsent.paths import REPO_DIR, REVIEWS_CSV

NOTEBOOKS_DIR = REPO_DIR / "notebooks"


@cache
def reviews() -> pd.DataFrame:
    """The course's reviews, with every column the checks read (no photo is opened)."""
    return pd.read_csv(REVIEWS_CSV)


def solved(exercise: Exercise, **namespace) -> dict:
    """The namespace after running the exercise's worked solution (its own check call left out)."""
    code = "\n".join(line for line in exercise.solution_code.splitlines() if ".check(" not in line)
    exec(code, namespace)
    return namespace


def nb00_ex1(nb):
    frame = reviews()
    right = solved(nb.ex1, pd=pd, reviews=frame)["contradicting"]
    one_way = frame.query("text_kind == 'clear_positive' and photo_state == 'damaged'")
    with_ambiguous = frame.query("photo_state == 'damaged' and text_kind != 'clear_negative'")
    return {"reviews": frame}, right, [(one_way, "you miss"), (with_ambiguous, "ambiguous text")]


def nb00_ex2(nb):
    namespace = solved(nb.ex2, reviews=reviews())
    gallery, guesses = namespace["gallery"], namespace["my_guesses"]
    clear = reviews().sample(9, random_state=1)
    return {"reviews": reviews()}, (gallery, guesses), [
        ((clear, guesses), "have a clear text"), ((gallery, guesses[:8]), "8 guesses for 9 photos"),
        ((gallery, ["happy"] * 9), "not a label"), ((gallery, None), "no guesses yet")]


def nb00_ex3(nb):
    frame = reviews()
    right = solved(nb.ex3, pd=pd, reviews=frame)["rating_only"]
    majority = frame["label"].value_counts().max() / len(frame)
    return {"reviews": frame}, right, [(100 * right, "a percentage"), (majority, "most common label overall")]


def nb01_ex1(nb):
    right = solved(nb.ex1, reviews=reviews())["ceilings"]
    percent = {name: 100 * value for name, value in right.items()}
    only_one = {"rating": right["rating"]}
    half_done = dict(right, **{"rating + photo state": None})
    return {"reviews": reviews()}, right, [(percent, "a percentage"), (only_one, "no ceiling"),
                                           (half_done, "no answer yet for ['rating + photo state']")]


def nb01_ex2(nb):
    namespace = solved(nb.ex2, reviews=reviews(), make_pipeline=make_pipeline,
                       LogisticRegression=LogisticRegression)
    cheat = dict.fromkeys(["ambiguous", "clear_negative", "clear_positive"], 1.0)
    weak = dict(namespace["by_kind"], clear_positive=0.5)
    return {"reviews": reviews()}, namespace["by_kind"], [(cheat, "more than any text reader can"),
                                                           (weak, "fitted on the training texts")]


def nb01_ex3(nb):
    share = nb.share_positive_by_text(reviews())
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(len(share), 8, generator=generator).numpy()  # stand-ins for the text vectors
    namespace = solved(nb.ex3, reviews=reviews(), PCA=PCA, encoders=None,
                       text_embeddings=lambda encoders, texts: torch.tensor(vectors))
    points, share_positive = namespace["points"], namespace["share_positive"]
    ambiguous = reviews()[reviews()["text_kind"] == "ambiguous"]
    return {"reviews": reviews()}, (points, share_positive), [
        ((points, 1 - share_positive), "share of NEGATIVE reviews"),
        ((vectors[:, :2], share_positive), "not centred"),
        ((points, (ambiguous["label"] == "positive").astype(float)), "one share per review"),
        ((points[:, ::-1], share_positive), "second coordinate varies more")]


def nb02_ex1(nb):
    torch.manual_seed(0)
    features = {"text": torch.randn(6, 5), "image": torch.randn(6, 4), "tabular": torch.randn(6, 2)}
    right = solved(nb.ex1, torch=torch, features={"test": features})["no_photo"]
    in_place = {name: x.clone() for name, x in features.items()}
    zeroed = {**in_place, "image": in_place["image"].zero_()}
    ones = {**features, "image": torch.ones_like(features["image"])}
    return {"features": features}, right, [(zeroed, "in place", {"features": in_place}),
                                           (ones, "not all zeros"), ({"image": right["image"]}, "have no")]


def nb02_ex2(nb):
    from mmsent.models import EarlyFusion, HybridFusion, LateFusion

    torch.manual_seed(0)
    widths = {"text": 5, "image": 4, "tabular": 2}
    splits = {split: {name: torch.randn(200, width) for name, width in widths.items()}
              for split in ("train", "test")}
    labels = {split: (x["text"][:, 0] + x["image"][:, 0] > 0).long() for split, x in splits.items()}
    input_dims = {name: x.shape[1] for name, x in splits["train"].items()}
    namespace = solved(nb.ex2, torch=torch, EarlyFusion=EarlyFusion, LateFusion=LateFusion,
                       HybridFusion=HybridFusion, features=splits, labels=labels, input_dims=input_dims,
                       num_classes=2, train=fit_quickly)
    right = namespace["without_stars"]
    untrained = {name: type(model)({"text": 5, "image": 4}, 2) for name, model in right.items()}
    text_only = dict(right, **{"late fusion": fit_quickly(LateFusion({"text": 5}, 2), splits["train"],
                                                          labels["train"])})
    all_three = dict(right, **{"early fusion": EarlyFusion(input_dims, 2)})
    context = {"features": splits["test"], "labels": labels["test"]}
    return context, right, [(untrained, "about what a coin gets"),
                            (text_only, "late fusion model ignores the image"),
                            (all_three, "asks for more than text and image"),
                            (dict(list(right.items())[:2]), "you passed 2 models")]


def nb02_ex3(nb):
    right = solved(nb.ex3, torch=torch, labels={"train": torch.zeros(1680)})["few"]
    context = {"train_size": 1680}
    return context, right, [(torch.arange(168), "the first 168 training rows"),
                            (torch.randint(0, 1680, (168,), generator=torch.Generator().manual_seed(0)),
                             "drawn twice"),
                            (torch.randperm(2400)[:168], "does not exist"),
                            (right[:16], "you drew 16 reviews")]


def nb02_ex4(nb):
    namespace = solved(nb.ex4)
    early, late = namespace["early_count"], namespace["late_count"]

    def late_without_votes(dims, hidden, classes):
        return late(dims, hidden, classes) - len(dims)

    def unfilled(dims, hidden, classes):
        ...

    return {}, (early, late), [((early, late_without_votes), "vote weights"),
                               ((early, early), "early fusion's"), ((unfilled, late), "returned None")]


def nb03_ex1_2(nb):
    from mmsent.models import MultiModalNet

    torch.manual_seed(0)
    image, text = torch.randn(200, 6), torch.randn(200, 5)
    labels = (image[:, 0] - text[:, 0] > 0).long()

    def train(model, verbose=True):  # the notebook's train(), on made-up features
        fit_quickly(PairAsDict(model), {"image": image, "text": text}, labels)

    right = solved(nb.ex1_2, torch=torch, MultiModalNet=MultiModalNet, image_dim=6, text_dim=5,
                   num_classes=2, device="cpu", train=train)["trained"]
    untrained = {**right, 32: MultiModalNet(6, 5, 32, 2)}
    same_width = {width: right[8] for width in right}
    context = {"test": (image, text, labels)}
    return context, right, [(untrained, "hidden_dim 32 gets"), (same_width, "for hidden_dim 32 has"),
                            ({8: right[8]}, "no network for hidden_dim [32, 128]")]


def nb04_ex1(nb):
    right = solved(nb.ex1)["padding_fraction"]

    def per_batch(loader):
        shares = [1 - float(b["attention_mask"].float().mean()) for b in loader]
        return sum(shares) / len(shares)

    return {}, right, [(per_batch, "mean of the batches'"),
                       (lambda loader: 100 * right(loader), "a percentage")]


def nb04_ex2(nb):
    right = solved(nb.ex2)["emoji_as_words"]

    def glued(text):
        return "".join(unicodedata.name(c).lower() if unicodedata.category(c) == "So" else c for c in text)

    return {}, right, [(glued, "run together"), (lambda text: text, "emoji are left"),
                       (lambda text: text.replace("🔥", " fire "), "does not spell 🤯")]


def nb04_ex3(nb, tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), (200, 40, 40)).save(photo)
    reviews = pd.DataFrame({"image_path": [str(photo)]})
    namespace = solved(nb.ex3, reviews=reviews, pd=pd, load_reviews=load_reviews, open_rgb=open_rgb)
    folder, right = namespace["folder"], namespace["odd"]
    Image.open(folder / "rgba.png").convert("RGB").convert("RGBA").save(folder / "opaque.png")
    without_empty = pd.DataFrame({"text": ["a", "b", "c"], "label": ["positive", "negative", "positive"],
                                  "image_path": ["gray.png", "opaque.png", "cmyk.jpg"]})
    without_empty.to_csv(folder / "opaque.csv", index=False)
    full = without_empty.assign(image_path=["gray.png", "rgba.png", "cmyk.jpg"])
    full.to_csv(folder / "full.csv", index=False)
    return {}, right, [(load_reviews(folder / "opaque.csv"), "no transparent pixel"),
                       (load_reviews(folder / "full.csv"), "empty file"), (reviews, "pass the table")]


def nb04_ex4(nb, tmp_path):
    ratings = [1, 2, 3, 3, 4, 4, 5, 5]
    pd.DataFrame({"reviewText": [f"review {i}" for i in range(len(ratings))], "overall": ratings,
                  "photo": ""}).to_csv(tmp_path / "stars.csv", index=False)
    right = solved(nb.ex4, load_reviews=load_reviews, folder=tmp_path, print=lambda *a: None)["stars"]
    sentiment = SimpleNamespace(labels=LabelVocab.fit(["negative", "positive"]))
    no_three = SimpleNamespace(labels=LabelVocab.fit([1, 2, 4, 5]))
    return {}, right, [(sentiment, "still the sentiment"), (no_three, "miss 3 stars")]


def nb05_ex1(nb):
    def train_classifier(model, data, epochs):
        fit_quickly(Unpacked(model), data, data["labels"], steps=epochs)

    encoders = SimpleNamespace(text_dim=6, image_dim=5)
    right = solved(nb.ex1, torch=torch, AttentionClassifier=AttentionClassifier, encoders=encoders,
                   table=SimpleNamespace(classes=["negative", "positive"]), train_classifier=train_classifier,
                   train_cache=attention_data(0), epochs=40)["models"]
    wider = {**right, 8: AttentionClassifier(6, 5, 2, dim=64, num_heads=8)}
    train_classifier(wider[8], attention_data(0), 40)
    one_head = {**right, 4: right[1]}
    untrained = {**right, 2: AttentionClassifier(6, 5, 2, num_heads=2)}
    return {"data": attention_data(1)}, right, [(wider, "your models differ in size"),
                                                 (one_head, "model for 4 heads has 1"),
                                                 (untrained, "2-head model gets"),
                                                 (right[4], "pass your trained")]


def nb06_ex1(nb):
    val = reviews()[reviews()["split"] == "val"]
    kinds = val["text_kind"].to_numpy()
    rows = pd.Series(range(len(val)))
    correct = {"text encoder frozen": pd.Series(kinds != "ambiguous") | rows.mod(3).eq(0),
               "top 1 layers trained": rows.mod(5).ne(0)}
    right = {name: hits.groupby(kinds).mean() for name, hits in correct.items()}  # the solution's recipe
    test = reviews()[reviews()["split"] == "test"].iloc[:100]
    other_split = {name: hits.iloc[:100].groupby(test["text_kind"].to_numpy()).mean()
                   for name, hits in correct.items()}
    percent = {name: 100 * accuracy for name, accuracy in right.items()}
    return {"val": val}, right, [(other_split, "not a whole number"), (percent, "percentages"),
                                 ({"text encoder frozen": right["text encoder frozen"]}, "1 model(s)")]


def nb06_ex2(nb):
    right = solved(nb.ex2, print=lambda *a: None)["stop_after_first_epoch"]

    def always(line):
        raise RuntimeError("stop")

    def ctrl_c(line):
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    return {}, right, [(always, "resumed run would stop"), (print, "let it go on"),
                       (ctrl_c, "ordinary exception")]


def nb06_ex3(nb):
    class Tiny(nn.Module):  # returns .logits, as the course's model does
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(16, 2)

        def forward(self, x):
            return SimpleNamespace(logits=self.linear(x))

    torch.manual_seed(0)
    inputs = {"x": 3 * torch.randn(32, 16)}
    right = solved(nb.ex3, torch=torch, model=Tiny().eval(), inputs=inputs)["difference"]
    return {}, right, [(0.0, "both passes ran in fp32"), (-0.1, "below 0"), (3.0, "more than bf16")]


CASES: dict[str, Callable] = {case.__name__.replace("_", ".", 1): case for case in (
    nb00_ex1, nb00_ex2, nb00_ex3, nb01_ex1, nb01_ex2, nb01_ex3,
    nb02_ex1, nb02_ex2, nb02_ex3, nb02_ex4,
    nb03_ex1_2,
    nb04_ex1, nb04_ex2, nb04_ex3, nb04_ex4,
    nb05_ex1,
    nb06_ex1, nb06_ex2, nb06_ex3)}


@pytest.mark.parametrize("name", CASES)
def test_the_solution_passes_and_each_wrong_answer_is_named(name, tmp_path):
    module, exercise_name = name.split(".")
    notebook = importlib.import_module(f"mmsent.exercises.{module}")
    exercise = getattr(notebook, exercise_name)
    case = CASES[name]
    needs_folder = "tmp_path" in case.__code__.co_varnames
    context, right, wrongs = case(notebook, tmp_path) if needs_folder else case(notebook)
    feedback = exercise.evaluate(right, **context)
    assert feedback.passed, feedback.message
    for wrong, message, *own_context in wrongs:  # a wrong answer may come with its own context
        feedback = exercise.evaluate(wrong, **(own_context[0] if own_context else context))
        assert not feedback.passed and message in feedback.message, (message, feedback.message)
    unfilled = exercise.evaluate(None, **context)
    assert not unfilled.passed and unfilled.message.startswith("no answer yet"), unfilled.message


# the checks whose cases are in tests/test_exercises.py, with the networks of the solution notebooks
TESTED_ELSEWHERE = {"nb03.ex1", "nb03.ex2", "nb03.ex3", "nb05.ex2", "nb05.ex3", "nb05.ex4"}


@pytest.mark.parametrize("module", ["nb00", "nb01", "nb02", "nb03", "nb04", "nb05", "nb06"])
def test_every_exercise_of_the_notebook_is_tested_here(module):
    notebook = importlib.import_module(f"mmsent.exercises.{module}")
    exercises = {f"{module}.{name}" for name, value in vars(notebook).items() if isinstance(value, Exercise)}
    tested = set(CASES) | TESTED_ELSEWHERE
    assert exercises and exercises <= tested, exercises - tested


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


@pytest.mark.parametrize("module", ["nb00", "nb01", "nb02", "nb03", "nb04", "nb05", "nb06"])
def test_the_notebook_asks_its_quiz_and_checks_every_exercise_and_its_solution_asserts_them(module):
    """The quiz comes before the Exercises section, in the notebook and in its solution."""
    number, notebook = module.removeprefix("nb"), importlib.import_module(f"mmsent.exercises.{module}")
    exercises = [name for name, value in vars(notebook).items() if isinstance(value, Exercise)]
    student = next(NOTEBOOKS_DIR.glob(f"{number}_*.ipynb"))
    for path in (student, next((NOTEBOOKS_DIR / "solutions").glob(f"{number}_*"))):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(cell["source"]) for cell in cells]
        quiz_at = [i for i, text in enumerate(sources) if text.rstrip().endswith(f"{module}.quiz")]
        exercises_at = next(i for i, text in enumerate(sources) if text.startswith("## Exercises"))
        assert quiz_at and quiz_at[0] < exercises_at, f"{path.name}: the quiz comes before the Exercises"
    sources = ["".join(cell["source"]) for cell in json.loads(student.read_text(encoding="utf-8"))["cells"]]
    exercises_at = next(i for i, text in enumerate(sources) if text.startswith("## Exercises"))
    checked = " ".join(sources[exercises_at:])
    asserted = " ".join(text for text in _code_cells(next((NOTEBOOKS_DIR / "solutions").glob(f"{number}_*")))
                        if "assert feedback" in text)
    for name in exercises:
        assert f"{module}.{name}.check(" in checked, f"{student.name}: no cell checks {name}"
        assert f"{module}.{name}.evaluate(" in asserted, f"solution {student.name} does not assert {name}"
