"""How far can each modality go? Bayes ceilings from the latent columns, and leak checks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from mmsent.choices import SPLITS
from mmsent.data.synth.reviews import (
    SCENARIOS,
)
from mmsent.data.synth.vocabulary import (
    PRODUCTS,
)


def _bayes_accuracy(frame: pd.DataFrame, by: list[str]) -> float:
    """Accuracy of the best classifier that sees only the columns `by`: the majority label per cell."""
    counts = frame.groupby(by)["label"].value_counts().unstack(fill_value=0)
    return float(counts.max(axis=1).sum() / len(frame))


def theoretical_ceilings(frame: pd.DataFrame) -> dict[str, float]:
    """Bayes-optimal accuracy of a model that perfectly reads the text / the photo / both.

    A perfect text reader knows `text_kind` and nothing about the photo; a perfect photo reader
    knows `photo_state`. Returns {"text_only": ..., "image_only": ..., "fusion": ...}.
    """
    return {
        "text_only": _bayes_accuracy(frame, ["text_kind"]),
        "image_only": _bayes_accuracy(frame, ["photo_state"]),
        "fusion": _bayes_accuracy(frame, ["text_kind", "photo_state"]),
    }


def _tokens(text: str) -> list[str]:
    """Lower-case words and emoji (scikit-learn's default pattern would drop the emoji)."""
    return re.findall(r"[^\s.,!?:;]+", text.lower())


def _tabular_features(part: pd.DataFrame) -> pd.DataFrame:
    numbers = pd.DataFrame({"rating": part.rating.to_numpy(), "log_price": np.log(part.price.to_numpy()),
                            "verified": part.verified_purchase.to_numpy(),
                            "log_votes": np.log1p(part.helpful_votes.to_numpy())})
    products = pd.get_dummies(pd.Categorical(part["product"], categories=PRODUCTS), dtype=float)
    return pd.concat([numbers, products], axis=1)


def _best_single_word(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Test accuracy of the best rule "contains word w -> one label, else the other", w chosen on train."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False, binary=True)
    has_word = words.fit_transform(train.text).toarray().astype(bool)  # [reviews, vocabulary]
    positive = (train.label == "positive").to_numpy()[:, None]
    agreement = (has_word == positive).mean(axis=0)  # accuracy of "word present -> positive"
    best = int(np.argmax(np.maximum(agreement, 1 - agreement)))
    test_has = words.transform(test.text).toarray()[:, best].astype(bool)
    predicted_positive = test_has if agreement[best] >= 0.5 else ~test_has
    return float((predicted_positive == (test.label == "positive").to_numpy()).mean())


def sanity_baselines(frame: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Leak checks: cross-validated accuracy (stratified `folds`-fold) of simple scikit-learn models.

    - bow_text: bag-of-words (words + word pairs) logistic regression on the text. It should sit
      at the text ceiling, not above it: ambiguous texts must not give the label away.
    - bow_text_ambiguous: the same out-of-fold predictions, on ambiguous reviews only: chance (0.5).
    - best_single_word: the best "contains this word -> label" rule (chosen on train, scored on
      test); far below the text ceiling.
    - tabular: logistic regression on rating, price, verified purchase, helpful votes and product;
      well below fusion's ceiling.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    bow = make_pipeline(CountVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False,
                                        ngram_range=(1, 2)), LogisticRegression(max_iter=2000))
    bow_correct = cross_val_predict(bow, frame.text, frame.label, cv=splitter) == frame.label
    tabular = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    tabular_predictions = cross_val_predict(tabular, _tabular_features(frame), frame.label, cv=splitter)
    tabular_correct = tabular_predictions == frame.label
    return {
        "bow_text": float(bow_correct.mean()),
        "bow_text_ambiguous": float(bow_correct[frame.text_kind == "ambiguous"].mean()),
        "best_single_word": _best_single_word(frame[frame.split == "train"], frame[frame.split == "test"]),
        "tabular": float(tabular_correct.mean()),
    }


def summary(frame: pd.DataFrame) -> str:
    """A printable summary: scenario counts, class balance per split and the ceilings."""
    scenarios = frame.scenario.value_counts().reindex([s.name for s in SCENARIOS])
    per_split = pd.crosstab(frame.split, frame.label, margins=True).reindex([*SPLITS, "All"])
    ceilings = theoretical_ceilings(frame)
    return "\n".join(["scenarios:", scenarios.to_string(), "splits x labels:", per_split.to_string(),
                      "ceilings:", *(f"  {name}: {value:.4f}" for name, value in ceilings.items())])
