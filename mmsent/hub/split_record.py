"""Which rows `train` used for what, recorded with the model so that `evaluate` scores the same
held-out test rows on a CSV without a `split` column.

`split_record` describes the split (seed, data file and its SHA-256, and the review ids of each
part); `train` saves it as the checkpoint's split.json (`save_split_record`). `rows_to_score`
picks the rows `evaluate` scores and says which, or raises `DataError` naming ``--split all``
when it cannot know them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mmsent.data import DataError, ReviewTable
from mmsent.hub.config import SPLIT_FILE
from mmsent.hub.folder_check import folder_file, read_small_json
from mmsent.paths import file_sha256, reviews_csv


def split_record(table: ReviewTable, splits: dict[str, pd.DataFrame], seed: int) -> dict[str, Any]:
    """The JSON-able record of a train / val / test split of `table`.

    Rows are named by their review ids when the CSV has unique ones (they then match in an edited or
    reordered copy of the file), else by their CSV row numbers (valid for the same file only).
    """
    ids = table.frame["review_id"]
    real_ids = ids.is_unique and not (ids == "row" + table.frame["csv_row"].astype(str)).all()
    key = "review_id" if real_ids else "csv_row"
    return {
        "data": str(table.csv_path),
        "data_sha256": file_sha256(table.csv_path),
        "by": "split column"
        if "split" in table.frame.columns
        else f"random, stratified by label (seed {seed})",
        "seed": seed,
        "key": key,
        "rows": {name: frame[key].tolist() for name, frame in splits.items()},
    }


def save_split_record(
    table: ReviewTable, splits: dict[str, pd.DataFrame], seed: int, checkpoint: Path
) -> None:
    """Write `split_record` as the checkpoint folder's split.json (before the checkpoint itself,
    so that the checkpoint's manifest covers it)."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    record = split_record(table, splits, seed)
    (checkpoint / SPLIT_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def load_split_record(checkpoint: Path) -> dict[str, Any] | None:
    """The checkpoint's split record, or None when it has none (a checkpoint saved outside `train`)."""
    path = checkpoint / SPLIT_FILE
    if not (path.exists() or path.is_symlink()):
        return None
    return read_small_json(folder_file(checkpoint, SPLIT_FILE))  # a regular file inside the folder


def scored_file(data: Path | None, record: dict[str, Any] | None) -> tuple[Path, str | None]:
    """(the CSV `evaluate` scores, a line saying why when it is not simply `data`): `data` if given,
    else the file the model was trained on (its record), else the bundled set; the line also says when
    `data` is not the training file."""
    trained_on = Path(record["data"]) if record and record.get("data") else None
    if data is None:
        why = "the file the model was trained on (split.json)" if trained_on else "the bundled data set"
        data = trained_on or reviews_csv()
        return data, f"evaluating on {data}: {why}"
    if trained_on is not None and record.get("data_sha256") != _sha256_if_file(data):
        return data, f"note: {data} is not the file the model was trained on ({trained_on}, in split.json)"
    return data, None


def _sha256_if_file(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


def rows_to_score(table: ReviewTable, split: str, record: dict[str, Any] | None) -> tuple[pd.DataFrame, str]:
    """(rows of `table` to score for `split`, a sentence saying which rows they are)."""
    frame, csv_path = table.frame, table.csv_path
    if split == "all":
        return frame, f"all {len(frame)} usable rows of {csv_path} (training rows included, if any)"
    if "split" in frame.columns:
        rows = frame[frame["split"] == split]
        if rows.empty:
            raise DataError(
                f"No rows of split {split!r} in {csv_path} (its 'split' column); use --split all."
            )
        return rows, f"{len(rows)} rows of split {split!r} of {csv_path} (its 'split' column)"
    if record is not None and (record.get("key") not in ("review_id", "csv_row") or "rows" not in record):
        record = None  # not a record this version can read
    same_file = record is not None and record.get("data_sha256") == file_sha256(csv_path)
    if record is None or not (same_file or record.get("key") == "review_id"):
        why = (
            "the checkpoint does not record which rows train held out"
            if record is None
            else f"it is not the file the model was trained on ({record.get('data')}), whose rows were "
            "recorded by row number (no unique review_id column)"
        )
        raise DataError(
            f"{csv_path} has no 'split' column, and {why}, so its {split} rows are unknown. Pass --split all "
            "to score every row (training rows included), or add a 'split' column (train / val / test)."
        )
    key = record["key"]
    ids = set(record["rows"].get(split) or [])
    rows = frame[frame[key].isin(ids)]
    if rows.empty:
        raise DataError(
            f"None of the {len(ids)} {split} rows train held out (by {key}, recorded with the model) is in "
            f"{csv_path}. Pass --split all to score every row, or the CSV the model was trained on."
        )
    found = "" if len(rows) == len(ids) else f" ({len(ids) - len(rows)} of them are not in this file)"
    return rows, (
        f"{len(rows)} rows of {csv_path}: the {split} rows train held out ({record.get('by')}), by the "
        f"{key} recorded with the model{found}"
    )
