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
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

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
