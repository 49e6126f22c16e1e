"""Scores of a classifier: accuracy and macro-averaged precision, recall and F1."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support


def classification_metrics(labels: Iterable[int], predictions: Iterable[int]) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 (every class counts equally)."""
    labels, predictions = np.asarray(list(labels)), np.asarray(list(predictions))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
