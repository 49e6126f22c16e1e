"""Train / validation / test splits: from the table's `split` column, or random and stratified by label."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mmsent.choices import SPLITS
from mmsent.data.problems import shorten
from mmsent.data.table import ReviewTable
from mmsent.errors import DataError

logger = logging.getLogger(__name__)

def split_table(
    table: ReviewTable | pd.DataFrame, val_frac: float = 0.15, test_frac: float = 0.15, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """{"train", "val", "test"} -> rows, from the `split` column when there is one.

    Without a `split` column the split is random (seeded) and stratified by label: each class
    is shuffled and cut by the fractions, and every split gets at least one review of every
    class that has three or more. A split with a positive fraction must not come out empty.
    """
    frame = table.frame if isinstance(table, ReviewTable) else table
    if "split" in frame.columns:
        parts = _splits_from_column(frame)
        fractions = dict.fromkeys(SPLITS, 1.0)  # every named split must have rows
    else:
        if min(val_frac, test_frac) < 0 or val_frac + test_frac >= 1:
            raise DataError(
                f"Need 0 <= val_frac, test_frac and val_frac + test_frac < 1; got {val_frac} and {test_frac}."
            )
        parts = _stratified_split(frame, val_frac, test_frac, seed)
        fractions = {"train": 1.0, "val": val_frac, "test": test_frac}
    source = "split column" if "split" in frame.columns else f"val_frac={val_frac}, test_frac={test_frac}"
    for name, part in parts.items():
        if part.empty and fractions[name] > 0:
            fix = (
                "mark some rows with that split, or drop the split column for a random split"
                if "split" in frame.columns
                else "or raise val_frac / test_frac"
            )
            raise DataError(
                f"The '{name}' split would be empty ({len(frame)} usable rows, {source}). Add reviews, {fix}."
            )
    _warn_missing_classes(frame, parts)
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def _splits_from_column(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    names = frame["split"].fillna("")  # load_reviews already stripped and lower-cased them
    bad = ~names.isin(SPLITS)
    if bad.any():
        rows = frame.loc[bad, "csv_row"].tolist() if "csv_row" in frame.columns else frame.index[bad].tolist()
        raise DataError(
            f"Column 'split' has value(s) {sorted(set(frame.loc[bad, 'split'].fillna('<blank>')))} in rows "
            f"{shorten(rows, 10)}; use 'train', 'val' or 'test', or drop the column for a random split."
        )
    return {name: frame[names == name] for name in SPLITS}


def _stratified_split(
    frame: pd.DataFrame, val_frac: float, test_frac: float, seed: int
) -> dict[str, pd.DataFrame]:
    by_label = frame["label"].fillna("") if "label" in frame.columns else pd.Series("", index=frame.index)
    assignment = stratified_assignment(
        by_label.groupby(by_label.values).indices,
        len(frame),
        np.random.default_rng(seed),
        lambda n: _split_sizes(n, val_frac, test_frac),
    )
    return {name: frame[assignment == name] for name in SPLITS}


def stratified_assignment(
    cells: Mapping[Any, np.ndarray],
    n_rows: int,
    rng: np.random.Generator,
    sizes: Callable[[int], tuple[int, int]],
) -> np.ndarray:
    """One of "train" / "val" / "test" per row ([n_rows], dtype object), stratified by cell.

    `cells`: {cell key: the positions of its rows}, visited in sorted key order; each cell is shuffled with
    `rng`, its first `sizes(n)[0]` rows go to "val", the next `sizes(n)[1]` to "test", the rest stay in
    "train". The same cells, sizes and seed give the same split (`split_table`, and the generated sets'
    `split` column: `mmsent.data.synth.allocation.stratified_splits`).
    """
    assignment = np.full(n_rows, "train", dtype=object)
    for _, positions in sorted(cells.items()):
        order = rng.permutation(positions)
        n_val, n_test = sizes(len(order))
        assignment[order[:n_val]] = "val"
        assignment[order[n_val : n_val + n_test]] = "test"
    return assignment


def _split_sizes(n: int, val_frac: float, test_frac: float) -> tuple[int, int]:
    """(val, test) counts for a class of n rows: at least 1 each, but never all of train."""
    n_val = max(round(n * val_frac), 1 if val_frac > 0 else 0)
    n_test = max(round(n * test_frac), 1 if test_frac > 0 else 0)
    while n_val + n_test > max(n - 1, 0):
        if n_test >= n_val:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _warn_missing_classes(frame: pd.DataFrame, parts: dict[str, pd.DataFrame]) -> None:
    if "label" not in frame.columns or frame["label"].isna().all():
        return
    classes = set(frame["label"].dropna())
    for name, part in parts.items():
        absent = sorted(classes - set(part["label"].dropna()))
        if absent and not part.empty:
            logger.warning(
                "The '%s' split has no review of class(es) %s; its metrics miss them.", name, absent
            )
