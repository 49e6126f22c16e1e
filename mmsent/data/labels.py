"""How a label cell becomes a class name: one normalisation for training, evaluation and prediction.

`label_name` applies, in this order:

1. a missing cell is no label: None, NaN, a blank cell, and the spellings in `MISSING_LABELS`
   ("NaN", "None", "N/A", "NA", "null", "nil", "-", "?", any case) -> None;
2. Unicode NFKC normalisation (full-width "１" -> "1", ligatures, non-breaking spaces), then
   leading / trailing whitespace stripped and inner runs of whitespace collapsed to one space;
3. numbers that are whole are written as integers: 1, 1.0, "1.0", "+1", "01" -> "1" (a pandas
   export of an integer column with a gap writes "1.0").

`merge_case_variants` then folds case: labels that differ only in case ("Positive", "positive")
become one class, spelled as the most frequent variant, and the merge is reported. It never
merges classes that a given label encoder keeps apart (an encoder with both "A" and "a" is
matched exactly).

`LabelVocab` maps class names to integer ids and back, and is saved as JSON beside every model
(named apart from scikit-learn's `LabelEncoder`, which does a similar job with another interface).
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmsent.errors import DataError

MISSING_LABELS = frozenset({"", "nan", "none", "null", "nil", "n/a", "na", "<na>", "nat", "-", "?"})
_WHOLE_NUMBER = re.compile(r"[+-]?\d+(\.0*)?")


def label_name(value: Any) -> str | None:
    """The class name of a label cell, or None when the cell holds no label (see the module doc)."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        if float(value).is_integer():
            value = int(value)
    text = " ".join(unicodedata.normalize("NFKC", str(value)).split())
    if text.casefold() in MISSING_LABELS:
        return None
    if _WHOLE_NUMBER.fullmatch(text):
        text = str(int(text.split(".")[0]))
    return text


def merge_case_variants(
    labels: Iterable[str], known: Sequence[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """({spelling: class name} for labels to rename, one note per merge) for folding case.

    Without `known` classes, variants of one label ("Positive" x3, "positive" x5) become the most
    frequent spelling ("positive"; ties: the lower-case one, else the first in sorted order).
    With `known` classes (a saved label encoder), a label missing from them is renamed to the one
    known class equal to it up to case; nothing is renamed when the known classes themselves
    differ only by case.
    """
    counts = Counter(labels)
    groups: dict[str, list[str]] = {}
    for name in sorted(counts):
        groups.setdefault(name.casefold(), []).append(name)
    renames: dict[str, str] = {}
    notes: list[str] = []
    if known is not None:
        folded = Counter(name.casefold() for name in known)
        if any(n > 1 for n in folded.values()):
            return {}, []  # the encoder itself separates case variants: exact matches only
        by_fold = {name.casefold(): name for name in known}
        for key, spellings in groups.items():
            target = by_fold.get(key)
            for name in spellings:
                if target is not None and name != target:
                    renames[name] = target
                    notes.append(f"label {name!r} ({counts[name]} rows) read as the model's class {target!r}")
        return renames, notes
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        # the most frequent; on a tie the lower-case spelling, else the first in sorted order
        target = max(spellings, key=lambda name: (counts[name], name == name.lower()))
        renames.update({name: target for name in spellings if name != target})
        merged = " and ".join(f"{name!r} ({counts[name]} rows)" for name in spellings)
        notes.append(f"labels {merged} differ only in case: merged into one class {target!r}")
    return renames, notes


@dataclass
class LabelVocab:
    """Class names <-> integer ids; saved as JSON beside every model.

    `LabelVocab.fit(["pos", "neg", "pos"]).classes == ["neg", "pos"]`. Integer labels become
    strings sorted by value (`[2, 10, 1] -> ["1", "2", "10"]`), so ids follow the numbers.
    """

    classes: list[str]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [label_name(name) for name in self.classes]
        if None in names:
            raise DataError(f"LabelVocab classes must be names, not missing values; got {self.classes}.")
        self.classes = names
        duplicates = sorted({name for name in self.classes if self.classes.count(name) > 1})
        if duplicates:
            raise DataError(f"LabelVocab classes must be unique; {duplicates} appear more than once.")
        self._index = {name: i for i, name in enumerate(self.classes)}

    @classmethod
    def fit(cls, values: Iterable[Any]) -> LabelVocab:
        """The encoder of the distinct non-missing `values`, sorted (numbers by value)."""
        names = {label_name(value) for value in values} - {None}
        return cls(sorted(names, key=_natural_order))

    def encode(self, values: Iterable[Any]) -> np.ndarray:
        """Class ids `[n]` (int64) of `values`; raises `DataError` naming unknown labels."""
        names = [label_name(value) for value in values]
        unknown = sorted({name for name in names if name not in self._index})
        if unknown:
            raise DataError(
                f"Unknown label(s) {unknown}; this label encoder knows {self.classes}. "
                "Relabel those rows, or train a new model on these classes."
            )
        return np.array([self._index[name] for name in names], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Class names of integer ids (a list, tensor or array of shape `[n]`)."""
        return [self.classes[int(i)] for i in ids]

    def __len__(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, list[str]]:
        return {"classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelVocab:
        if "classes" not in data:
            raise DataError(f"Not a label encoder: expected a 'classes' list, found keys {sorted(data)}.")
        return cls(list(data["classes"]))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelVocab:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _natural_order(name: str) -> tuple[int, int, str]:
    """Sort key: integer names first, by value, then the other names alphabetically."""
    if re.fullmatch(r"[+-]?\d+", name):
        return (0, int(name), "")
    return (1, 0, name)
