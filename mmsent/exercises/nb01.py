"""Notebook 01 (why multimodal): checks for its exercises, and its quiz.

    from mmsent.exercises import nb01
    nb01.ex1.check(ceilings, reviews=reviews)   # {"rating": ..., "rating + text kind": ...,
                                                #  "rating + photo state": ...}, each 0-1
    nb01.ex2.check(by_kind, reviews=reviews)    # the bag of words' test accuracy per text_kind
    nb01.ex3.check((points, share_positive), reviews=reviews)  # ambiguous texts in 2-D, share positive each
    nb01.quiz
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mmsent.exercises.framework import Exercise, Mistake, expect
from mmsent.exercises.nb00 import ceiling, match_ceiling
from mmsent.exercises.quiz import quiz

READERS = {"rating": ["rating"], "rating + text kind": ["rating", "text_kind"],
           "rating + photo state": ["rating", "photo_state"]}


def _check_ceilings(answer: Mapping, reviews: pd.DataFrame) -> str:
    expect(isinstance(answer, Mapping | pd.Series), f"you passed a {type(answer).__name__}; pass a "
           f"dictionary (or Series) with the keys {list(READERS)}")
    missing = [name for name in READERS if name not in answer]
    expect(not missing, f"no ceiling for {missing}: the exercise asks for {list(READERS)}")
    unfilled = [name for name in READERS if answer[name] is None]
    expect(not unfilled, f"no answer yet for {unfilled}: replace None by the number you computed")
    for name, columns in READERS.items():
        match_ceiling(float(answer[name]), reviews, columns, repr(name))
    got = {name: ceiling(reviews, columns) for name, columns in READERS.items()}
    best = max(["rating + text kind", "rating + photo state"], key=got.get)
    return (", ".join(f"{name} {value:.3f}" for name, value in got.items())
            + f"; the rating complements the {best.removeprefix('rating + ')} best")


def _check_by_kind(answer: Mapping, reviews: pd.DataFrame) -> str:
    expect(isinstance(answer, Mapping | pd.Series), f"you passed a {type(answer).__name__}; pass the test "
           "accuracy per text_kind, e.g. test.assign(right=right).groupby('text_kind')['right'].mean()")
    kinds = sorted(reviews["text_kind"].unique())
    missing = [kind for kind in kinds if kind not in answer]
    expect(not missing, f"no accuracy for {missing}: group the test reviews by text_kind ({kinds})")
    values = {kind: float(answer[kind]) for kind in kinds}
    expect(all(0 <= v <= 1 for v in values.values()),
           f"your accuracies {values} are not all between 0 and 1: give fractions, not percentages or counts")
    clear = [kind for kind in kinds if kind != "ambiguous"]
    weak = [kind for kind in clear if values[kind] < 0.9]
    if weak:
        raise Mistake(f"your model gets only {values[weak[0]]:.2f} of the {weak[0]} texts right: a clear "
                      "text's words decide its label, so a bag of words reads nearly all of them; is it "
                      "fitted on the training texts and their labels (train['text'], train['label'])?")
    test = reviews[(reviews["split"] == "test") & (reviews["text_kind"] == "ambiguous")]
    best_possible = ceiling(test, ["text"])  # a reader that memorised each test text's majority label
    expect(
        values["ambiguous"] <= best_possible + 1e-9,
        f"your model gets {values['ambiguous']:.2f} of the ambiguous test texts right, more than any text "
        f"reader can ({best_possible:.2f}: the same texts carry both labels); are you measuring on the "
        "training split, or reading the photo too?",
    )
    worst_clear = min(values[kind] for kind in clear)
    return (f"clear texts {worst_clear:.2f} or better, ambiguous {values['ambiguous']:.2f}: a coin flip "
            "where the words do not hold the label")


ex1 = Exercise(
    "Notebook 01, exercise 1 (how far can the stars go?)",
    _check_ceilings,
    hints=(
        "The ceiling of a reader of some columns: for each combination of their values, predict the most "
        "common label; the ceiling is the share of reviews that gets right.",
        "reviews.groupby(columns)['label'].value_counts().unstack(fill_value=0) gives one row per "
        "combination; .max(axis=1).sum() is how many reviews the best reader gets right.",
    ),
    solution_code="""
def ceiling(frame, columns):
    counts = frame.groupby(columns)["label"].value_counts().unstack(fill_value=0)  # [cells, labels]
    return counts.max(axis=1).sum() / len(frame)

ceilings = {"rating": ceiling(reviews, ["rating"]),
            "rating + text kind": ceiling(reviews, ["rating", "text_kind"]),
            "rating + photo state": ceiling(reviews, ["rating", "photo_state"])}
nb01.ex1.check(ceilings, reviews=reviews)
""",
)

ex2 = Exercise(
    "Notebook 01, exercise 2 (a better text reader?)",
    _check_by_kind,
    hints=(
        "make_pipeline(CountVectorizer(), LogisticRegression(max_iter=1000)).fit(train_texts, train_labels); "
        "the default CountVectorizer drops emoji: token_pattern=r'[^\\s.,!?:;]+' keeps them.",
        "Compare predictions with the test labels, then group by text_kind: "
        "test_reviews.assign(right=right).groupby('text_kind')['right'].mean().",
    ),
    solution_code="""
from sklearn.feature_extraction.text import CountVectorizer

train_reviews, test_reviews = reviews[reviews["split"] == "train"], reviews[reviews["split"] == "test"]
bag_of_words = make_pipeline(CountVectorizer(token_pattern=r"[^\\s.,!?:;]+", ngram_range=(1, 2), min_df=2),
                             LogisticRegression(max_iter=1000))
bag_of_words.fit(train_reviews["text"], train_reviews["label"])
right = bag_of_words.predict(test_reviews["text"]) == test_reviews["label"].to_numpy()
by_kind = test_reviews.assign(right=right).groupby("text_kind")["right"].mean()
nb01.ex2.check(by_kind, reviews=reviews)
""",
)

def share_positive_by_text(reviews: pd.DataFrame) -> pd.Series:
    """The share (0-1) of positive reviews of each distinct ambiguous text, indexed by the text."""
    ambiguous = reviews[reviews["text_kind"] == "ambiguous"]
    return ambiguous.groupby("text")["label"].apply(lambda labels: (labels == "positive").mean())


def _check_points(answer: tuple, reviews: pd.DataFrame) -> str:
    expect(isinstance(answer, tuple) and len(answer) == 2,
           "pass two things, (points, share_positive): the 2-D points of the texts and each text's share")
    points, share = answer
    right = share_positive_by_text(reviews)
    ambiguous = int((reviews["text_kind"] == "ambiguous").sum())
    expect(isinstance(share, pd.Series), f"share_positive is a {type(share).__name__}; make it a Series "
           "indexed by the text: ambiguous.groupby('text')['label'].apply(...)")
    expect(len(share) != ambiguous or ambiguous == len(right),
           f"you have one share per review ({len(share)}); the exercise asks for one per distinct text "
           f"({len(right)}): group the ambiguous reviews by their text")
    clear = sorted(set(share.index) - set(right.index))
    expect(not clear, f"{len(clear)} of your texts are not ambiguous ones (e.g. {clear[0]!r}); keep only "
           "text_kind == 'ambiguous'" if clear else "")
    expect(len(share) == len(right), f"you have {len(share)} texts, but there are {len(right)} distinct "
           "ambiguous texts: each once")
    share = share.astype(float).reindex(right.index)
    if np.allclose(share, 1 - right):
        raise Mistake("that is the share of NEGATIVE reviews of each text; count the positive ones")
    off = right[~np.isclose(share, right)]
    expect(off.empty, f"{len(off)} of your shares are off, e.g. {off.index[0]!r}: yours "
           f"{share[off.index[0]]:.3f}, its reviews give {off.iloc[0]:.3f} positive" if len(off) else "")
    points = np.asarray(points.detach().cpu() if hasattr(points, "detach") else points, dtype=float)
    expect(points.shape == (len(right), 2), f"your points have shape {points.shape}; one 2-D point per "
           f"distinct text: ({len(right)}, 2), in the order of share_positive's index")
    spread = points.std(axis=0)
    expect(bool(np.all(np.abs(points.mean(axis=0)) < 1e-3 * (1 + spread.max()))),
           "your points are not centred on 0, so they are not a PCA projection (PCA subtracts the mean); "
           "use PCA(n_components=2).fit_transform(vectors)")
    expect(spread[0] >= spread[1] - 1e-9, "your second coordinate varies more than your first: PCA's "
           "first component is the direction of largest variance, so keep the columns in PCA's order")
    correlations = [abs(np.corrcoef(points[:, k], right.to_numpy())[0, 1]) for k in range(2)]
    return (f"{len(right)} distinct ambiguous texts; |correlation| of the share positive with PC1 "
            f"{correlations[0]:.2f}, with PC2 {correlations[1]:.2f}: where a text lies says little about its "
            "label, because each text is written under both labels")


ex3 = Exercise(
    "Notebook 01, exercise 3 (sarcasm in vector space)",
    _check_points,
    hints=(
        "ambiguous.groupby('text')['label'].apply(lambda labels: (labels == 'positive').mean()) gives one "
        "share per distinct text; its index is the list of texts to encode.",
        "text_embeddings(encoders, share_positive.index.tolist()) encodes them; "
        "PCA(n_components=2).fit_transform(vectors) gives the points, in the same order.",
    ),
    solution_code="""
ambiguous = reviews[reviews["text_kind"] == "ambiguous"]
share_positive = ambiguous.groupby("text")["label"].apply(lambda labels: (labels == "positive").mean())
vectors = text_embeddings(encoders, share_positive.index.tolist()).numpy()
points = PCA(n_components=2, random_state=0).fit_transform(vectors)
nb01.ex3.check((points, share_positive), reviews=reviews)
""",
)


quiz = quiz(
    "01 · Why multimodal",
    (
        "What is the ceiling (Bayes accuracy) of a modality?",
        [
            ("The best accuracy any model can reach when it reads only that modality.", True,
             "When identical inputs carry different labels, no model can tell them apart; the best it can "
             "do is predict the majority label of each input. That bound holds for every architecture, "
             "which is why no better text encoder can pass the text ceiling of 0.80."),
            ("The accuracy of the best model trained so far on that modality.", False,
             "A trained model's accuracy is a lower bound that improves with better models; the ceiling "
             "is a property of the data, the same for every model."),
            ("The accuracy on the training split, which is always higher than on the test split.", False,
             "The ceiling is about what the inputs can tell, not about memorising; it is computed on any "
             "split from the labels of identical inputs."),
        ],
    ),
    (
        "Text alone reaches 0.80 and the photo alone 0.81. Why can reading both reach 1.0, not just 0.81?",
        [
            ("Each modality fails on different reviews, so one covers the other's blind spot, review by "
             "review.", True,
             "The text fails on ambiguous texts, where the photo decides; the photo fails on generic and "
             "contradicting photos, where the text decides. Since the failures do not overlap, together "
             "they leave no review undecided."),
            ("Because two models average away each other's noise.", False,
             "Averaging helps when errors are random; here the gain comes from information one modality "
             "has and the other lacks, not from less noise."),
            ("Because a model with more inputs has more parameters.", False,
             "More parameters cannot pass a ceiling; only more information can. A huge text-only model "
             "still stops at 0.80."),
        ],
    ),
    (
        "\"This phone is 🔥🔥🔥\" appears under both labels. What does a text-only model do with it?",
        [
            ("It gives every review with these words the same answer, so it gets some of them wrong, "
             "whatever it learns.", True,
             "A text-only model is a function of the text: same input, same output. With both labels "
             "under the same words, one group is always wrong; the photo (a burnt phone) is what tells them "
             "apart."),
            ("It learns from the emoji that the customer is excited.", False,
             "The emoji are used for praise and for burns alike; the BERT tokenizer even reads them as "
             "[UNK], the same token for every emoji."),
            ("It can learn the label if trained long enough.", False,
             "Longer training cannot separate identical inputs; it only memorises the training labels, "
             "which does not carry over to the test reviews."),
        ],
    ),
    (
        "The image model on frozen photo vectors stays below the photo's ceiling. What does that say?",
        [
            ("One vector per photo misses some damage: the information is in the photo, but the summary "
             "loses part of it.", True,
             "The ceiling assumes a perfect reader of the photo's state. A single frozen vector for the "
             "whole picture can blur small damage away; notebook 05 keeps the patches so that attention "
             "can find it."),
            ("The photo ceiling is computed wrongly.", False,
             "The ceiling follows from the data's labels and photo states; the model is what falls short."),
            ("Photos carry less information than texts.", False,
             "The photo's ceiling (0.81) is as high as the text's; the gap is the encoder's summary, not "
             "the modality."),
        ],
    ),
)
