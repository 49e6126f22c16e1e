"""Notebook 00 (welcome and set-up): checks for its exercises, and its quiz.

    from mmsent.exercises import nb00
    nb00.ex1.check(contradicting, reviews=reviews)   # the reviews whose photo disagrees with their clear text
    nb00.ex2.check((gallery, my_guesses), reviews=reviews)  # nine ambiguous reviews, a guess from each photo
    nb00.ex3.check(rating_only, reviews=reviews)     # best accuracy of a reader of the star rating alone
    nb00.quiz

Exercise 2's check counts the learner's right guesses and names the photos behind the wrong ones.
`reviews` is the notebook's table (`load_reviews(REVIEWS_CSV).frame`); the checks compute the right
answer from it, so they hold for any version of the data.
"""

from __future__ import annotations

import numbers

import pandas as pd

from mmsent.exercises.framework import Exercise, Mistake, expect
from mmsent.exercises.quiz import quiz


def contradicting_rows(reviews: pd.DataFrame) -> pd.DataFrame:
    """The reviews whose clear text and photo disagree: clear positive + damaged, clear negative + intact."""
    return reviews[
        ((reviews["text_kind"] == "clear_positive") & (reviews["photo_state"] == "damaged"))
        | ((reviews["text_kind"] == "clear_negative") & (reviews["photo_state"] == "intact"))
    ]


def _check_contradicting(answer: pd.DataFrame, reviews: pd.DataFrame) -> str:
    expect(
        isinstance(answer, pd.DataFrame) and {"review_id", "text_kind", "photo_state"} <= set(answer.columns),
        f"you passed a {type(answer).__name__}; pass the rows of `reviews` you selected (a DataFrame, "
        "e.g. reviews.query(...))",
    )
    right = contradicting_rows(reviews)
    chosen = set(answer["review_id"])
    expect(not answer.empty, "your selection is empty: check the spelling of the values "
           "(text_kind 'clear_positive', photo_state 'damaged', ...)")
    kinds = set(answer["text_kind"])
    expect("ambiguous" not in kinds,
           "you kept reviews with an ambiguous text: an ambiguous text says nothing clear, so no photo can "
           "contradict it; keep text_kind 'clear_positive' and 'clear_negative' only")
    expect("generic" not in set(answer["photo_state"]),
           "you kept generic photos: a stock picture shows neither damage nor an intact product, so it "
           "cannot disagree with the text; keep 'damaged' and 'intact' photos only")
    agreeing = answer[answer["review_id"].isin(set(reviews["review_id"]) - set(right["review_id"]))]
    expect(agreeing.empty,
           f"{len(agreeing)} of your reviews have a photo that agrees with their text (e.g. a clear "
           "positive text with an intact photo); a contradiction is clear_positive + damaged or "
           "clear_negative + intact")
    missing = right[~right["review_id"].isin(chosen)]
    if not missing.empty:
        side = missing["text_kind"].iloc[0]
        raise Mistake(
            f"you miss {len(missing)} of the {len(right)} contradicting reviews, e.g. those with a {side} "
            "text; "
            "a photo can contradict either way: clear_positive + damaged, and clear_negative + intact"
        )
    follows_text = (right["label"] == right["text_kind"].str.removeprefix("clear_")).mean()
    return (f"all {len(right)} reviews ({len(right) / len(reviews):.0%} of the data); "
            f"{follows_text:.0%} of them carry the label of their text, as data/README.md's rule says")


def ceiling(frame: pd.DataFrame, columns: list[str]) -> float:
    """Best accuracy (0-1) of any model that reads only `columns`: the majority label of each cell."""
    counts = frame.groupby(columns)["label"].value_counts().unstack(fill_value=0)  # [cells, labels]
    return counts.max(axis=1).sum() / len(frame)


def ceiling_slips(frame: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """What common slips give instead of `ceiling(frame, columns)`: {what went wrong: the number it gives}."""
    counts = frame.groupby(columns)["label"].value_counts().unstack(fill_value=0)
    right = counts.max(axis=1).sum() / len(frame)
    return {
        "that is a percentage; give the accuracy as a fraction between 0 and 1": 100 * right,
        "that is the mean of the groups' accuracies, but the groups hold different numbers of reviews; "
        "add up the reviews each group gets right, then divide by all reviews": (
            counts.max(axis=1) / counts.sum(axis=1)
        ).mean(),
        f"that is the share of the most common label overall, a reader that ignores {' and '.join(columns)}; "
        "take the most common label of EACH group": counts.sum().max() / len(frame),
        "that is the share a perfect reader gets WRONG: 1 minus your number is the accuracy": 1 - right,
    }


def match_ceiling(value: float, frame: pd.DataFrame, columns: list[str], name: str) -> None:
    """Nothing if `value` is the ceiling of `columns`; else a Mistake that names the slip (if a known one)."""
    if abs(value - ceiling(frame, columns)) < 1e-3:
        return
    for slip, number in ceiling_slips(frame, columns).items():
        if abs(value - number) < 1e-3:
            raise Mistake(f"for {name} you have {value:.3f}: {slip}")
    raise Mistake(
        f"for {name} you have {value:.3f}, not the best possible accuracy; group the reviews by {columns}, "
        "predict the most common label of each group, and divide the reviews that gets right by all reviews"
    )


def _check_rating_only(answer: float, reviews: pd.DataFrame) -> str:
    expect(isinstance(answer, numbers.Real), f"you passed a {type(answer).__name__}; pass one number, the "
           "accuracy (0-1) of the best model that reads only the rating")
    match_ceiling(float(answer), reviews, ["rating"], "the rating alone")
    best = ceiling(reviews, ["rating"])
    return f"{best:.3f}: about three reviews in four, far below the 1.0 that text and photo allow"


ex1 = Exercise(
    "Notebook 00, exercise 1 (a clear text with a photo that disagrees)",
    _check_contradicting,
    hints=(
        "Two columns say it: text_kind (how the text was written) and photo_state (what the photo shows).",
        "A contradiction goes either way: clear_positive with a damaged photo, or clear_negative with an "
        "intact one. Join the two conditions with `or` inside reviews.query(...).",
    ),
    solution_code="""
contradicting = reviews.query(
    "(text_kind == 'clear_positive' and photo_state == 'damaged') or "
    "(text_kind == 'clear_negative' and photo_state == 'intact')"
)
pd.crosstab(contradicting["text_kind"], contradicting["label"])   # every one follows its text
nb00.ex1.check(contradicting, reviews=reviews)
""",
)

ex3 = Exercise(
    "Notebook 00, exercise 3 (the star rating and the label)",
    _check_rating_only,
    hints=(
        "pd.crosstab(reviews['rating'], reviews['label']) counts the labels of each rating.",
        "A model that reads only the rating can do no better than predict the most common label of each "
        "rating: .max(axis=1) of the table gives how many reviews that gets right, per rating.",
    ),
    solution_code="""
by_rating = pd.crosstab(reviews["rating"], reviews["label"])
rating_only = by_rating.max(axis=1).sum() / len(reviews)   # the majority label of each rating
nb00.ex3.check(rating_only, reviews=reviews)
""",
)

GALLERY = 9  # reviews in the exercise's gallery


def _check_guesses(answer: tuple, reviews: pd.DataFrame) -> str:
    expect(isinstance(answer, tuple) and len(answer) == 2,
           "pass two things, (gallery, my_guesses): the nine reviews you drew and your nine guessed labels")
    gallery, guesses = answer
    expect(isinstance(gallery, pd.DataFrame) and "review_id" in gallery.columns,
           f"your gallery is a {type(gallery).__name__}; draw it from the table, e.g. "
           "reviews.query(\"text_kind == 'ambiguous'\").sample(9)")
    expect(guesses is not None and guesses is not Ellipsis, "no guesses yet: look at the nine photos (not at "
           "their labels!) and write down the label you would give each, e.g. ['positive', 'negative', ...]")
    expect(len(gallery) == GALLERY and gallery["review_id"].is_unique,
           f"your gallery holds {len(gallery)} rows ({gallery['review_id'].nunique()} distinct reviews); "
           f"draw {GALLERY} different reviews (.sample(9) draws without replacement)")
    rows = reviews.set_index("review_id").loc[gallery["review_id"]]
    clear = int((rows["text_kind"] != "ambiguous").sum())
    expect(clear == 0, f"{clear} of your reviews have a clear text: the exercise is about reviews whose "
           "words say nothing, text_kind == 'ambiguous'")
    guesses = [str(guess) for guess in guesses]
    classes = sorted(reviews["label"].unique())
    expect(len(guesses) == GALLERY, f"you made {len(guesses)} guesses for {GALLERY} photos: one per photo, "
           "in the gallery's order")
    unknown = sorted(set(guesses) - set(classes))
    expect(not unknown, f"{unknown} is not a label; guess one of {classes} per photo")
    wrong = rows[rows["label"].to_numpy() != guesses]
    missed = "; ".join(f"{review_id}: the photo is {row['photo_state']}"
                       + (f" ({row['photo_detail']})" if isinstance(row["photo_detail"], str) else "")
                       + f", so {row['label']}" for review_id, row in wrong.iterrows())
    return (f"nine ambiguous reviews and a guess for each; you read {GALLERY - len(wrong)} of the {GALLERY} "
            "photos right. An ambiguous text never comes with a generic photo, "
            "so the photo alone decides each of these labels (damaged: negative, intact: positive)"
            + (f"; you missed {missed}" if missed else "")
            + ". An image-only model that sees the damage gets every one right: the text adds nothing here")


ex2 = Exercise(
    "Notebook 00, exercise 2 (guess an ambiguous review from its photo)",
    _check_guesses,
    hints=(
        "reviews.query(\"text_kind == 'ambiguous'\").sample(9) draws the gallery; plot it as the notebook "
        "does, but leave the label out of the titles.",
        "Write your guesses in the gallery's order, then pass both: (gallery, my_guesses).",
    ),
    solution_code="""
gallery = reviews.query("text_kind == 'ambiguous'").sample(9, random_state=0)
# look at each photo (not at its label): a damaged product means negative, an intact one positive
my_guesses = gallery["photo_state"].map({"damaged": "negative", "intact": "positive"}).tolist()
nb00.ex2.check((gallery, my_guesses), reviews=reviews)
""",
)


quiz = quiz(
    "00 · Welcome and set-up",
    (
        "A review's text is ambiguous (\"Great, just great.\") and its photo shows a cracked screen. "
        "What is its label, by the course data's rule?",
        [
            ("Negative: when the text is ambiguous, the photo decides.", True,
             "The data's rule (data/README.md) gives a clear text the last word, and leaves an ambiguous "
             "text to the photo: damaged means negative, intact means positive. That is exactly why a "
             "model must read both."),
            ("Positive: the words \"great\" decide.", False,
             "The words are the same under happy and unhappy customers; read alone they are a coin flip. "
             "Sarcasm is only visible next to the photo."),
            ("It depends on the star rating.", False,
             "The rating leans with the label but does not define it; the label follows the text when it "
             "is clear and the photo when it is not."),
        ],
    ),
    (
        "Why does the course build its data so that text alone and photo alone each hit a ceiling?",
        [
            ("So that only a model that reads both can get every review right, and the gain of fusion is "
             "measurable.", True,
             "Ambiguous texts need the photo, generic photos need the text. With known ceilings (0.80 for "
             "the text, 0.81 for the photo, 1.0 for both), every later notebook can say how much of the "
             "gap its fusion closes."),
            ("To make the models train faster.", False,
             "The ceilings change what a model can learn, not how fast it learns; training time depends "
             "on the model and the data size."),
            ("Because real reviews never have a clear text.", False,
             "Most real reviews have a clear text; the synthetic data mixes clear and ambiguous ones on "
             "purpose, so that both modalities matter."),
        ],
    ),
    (
        "You run a notebook on a laptop without a GPU. What does the set-up cell do about it?",
        [
            ("It picks the CPU and the profile, and `scale()` shrinks the heavy work (epochs, samples) so "
             "the notebook still runs in minutes.", True,
             "setup() chooses cuda, then mps, then cpu, and a profile; scale(cpu=..., gpu=...) gives each "
             "notebook a CPU budget. The numbers differ a little from a GPU run, the lessons do not."),
            ("It stops with an error: the course needs a GPU.", False,
             "Every notebook runs on a CPU; the GPU only makes the larger budgets fast."),
            ("It downloads smaller models from the hub at every run.", False,
             "The offline profile uses models packaged with the kit, so nothing is downloaded; the full "
             "profile downloads hub models once."),
        ],
    ),
)
