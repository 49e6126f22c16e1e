"""Scores of a classifier: accuracy and macro-averaged precision, recall and F1, and the confusion matrix.

Written out with numpy (the same numbers as scikit-learn's `accuracy_score`,
`precision_recall_fscore_support(average="macro", zero_division=0)` and `confusion_matrix`;
tests/test_train.py checks it): the formulas are short, and the trainer then does not pay
scikit-learn's import time on every run.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def classification_metrics(labels: Iterable[int], predictions: Iterable[int]) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 (every class counts equally).

    Classes are those that occur in `labels` or `predictions`. Per class c: precision = right
    predictions of c / predictions of c, recall = right predictions of c / reviews of class c,
    F1 = 2 x right / (predictions of c + reviews of c); a share with nothing to divide by is 0.
    """
    labels, predictions = np.asarray(list(labels)), np.asarray(list(predictions))
    if labels.shape != predictions.shape or labels.ndim != 1 or len(labels) == 0:
        raise ValueError(
            f"need as many predictions as labels, at least one: got {labels.shape} and {predictions.shape}"
        )
    classes, index = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    counts = confusion_counts(index[: len(labels)], index[len(labels) :], len(classes)).astype(np.float64)
    right, actual, predicted = np.diag(counts), counts.sum(axis=1), counts.sum(axis=0)
    return {
        "accuracy": float(np.mean(labels == predictions)),
        "precision": float(np.mean(_share(right, predicted))),
        "recall": float(np.mean(_share(right, actual))),
        "f1": float(np.mean(_share(2 * right, predicted + actual))),
    }


def confusion_counts(labels: Iterable[int], predictions: Iterable[int], num_classes: int) -> np.ndarray:
    """Confusion matrix [true class, predicted class] of counts, classes 0 .. num_classes - 1."""
    labels = np.asarray(list(labels), dtype=np.int64)
    predictions = np.asarray(list(predictions), dtype=np.int64)
    both = np.concatenate([labels, predictions])
    if labels.shape != predictions.shape or ((both < 0) | (both >= num_classes)).any():
        raise ValueError(f"need as many predictions as labels, each a class from 0 to {num_classes - 1}")
    pairs = labels * num_classes + predictions
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 0 where whole is 0."""
    return np.divide(part, whole, out=np.zeros_like(part), where=whole > 0)
