"""Label a whole CSV of new reviews: `python -m mmsent predict --data new.csv --out predictions.csv`.

The table is read `chunk_rows` rows at a time with the loader's own rules (`mmsent.data.table`:
`read_chunks` + `validate_rows`; a `label` column is optional and never needed), each chunk is
predicted in batches, and its rows are appended to the output before the next chunk is read, so
memory stays flat however long the file is (`bench/predict_csv.py` measures it). The output has one
row per input row, in input order:

    review_id, csv_row, [label: the input's, when it has one], predicted_label,
    p_<class> for each class, gate, status

`csv_row` is the file line the row starts on, as train and evaluate report it (blank lines and the
extra lines of a multi-line cell count).

`status` is `ok`, `text-only: <why>` (the photo could not be used, so the review was scored on its
text alone; its gate is 0) or `skipped: <why>` (no prediction: e.g. the text is blank; the
prediction columns are empty). The file is written beside `out` and renamed into place when every
row is done, so a stopped run never leaves half a file under the final name.

A model with a frozen image encoder sees each distinct photo of a chunk once, not once per row: its
features are computed (or read from the disk feature cache of `mmsent.features.store`, keyed by the photo's
SHA-256, so a photo seen in an earlier chunk or run is not encoded again) and shared by the rows that
name it (`mmsent.features.vectors.shared_image_features`); the predictions are those of pixels, within float
rounding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from mmsent.config import TrainConfig
from mmsent.data import DataError, LabelVocab, ReviewDataset
from mmsent.data.csvfile import record_starts
from mmsent.data.photo_store import PhotoStore
from mmsent.data.problems import SKIPPED, ProblemLog
from mmsent.data.table import photo_root, read_chunks, validate_rows
from mmsent.features.vectors import caches_image_features, shared_image_features
from mmsent.files.replace import written_aside
from mmsent.models import MultimodalSentimentModel
from mmsent.progress import progress_bar
from mmsent.train.evaluation import predict

CHUNK_ROWS = 2048  # rows read, validated and predicted at a time
OK = "ok"


@dataclass
class BatchSummary:
    """What a `predict_csv` run did: rows read, and how many were scored, text-only or skipped."""

    rows: int = 0
    scored: int = 0
    text_only: int = 0
    skipped: int = 0
    per_label: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.per_label.items())
        return (
            f"{self.rows} rows: {self.scored} predicted ({counts or 'none'}), of which {self.text_only} "
            f"on their text alone; {self.skipped} skipped (no prediction)"
        )


def predict_csv(
    model: MultimodalSentimentModel,
    csv_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    labels: LabelVocab,
    config: TrainConfig | None = None,
    columns: dict[str, str] | None = None,
    allow_outside_paths: bool = False,
    photos: PhotoStore | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: bool = True,
) -> BatchSummary:
    """Predict every row of `csv_path` into `out_path` (see the module docstring for the columns).

    Raises:
        DataError: the table cannot be read (header, columns, encoding) or has no rows.
    """
    csv_path, out_path = Path(csv_path), Path(out_path)
    config = config or TrainConfig()
    root = photo_root(csv_path)
    summary = BatchSummary(per_label=dict.fromkeys(labels.classes, 0))
    bar = progress_bar(desc="predicting rows", enabled=progress)
    try:
        with written_aside(out_path) as partial, open(partial, "w", newline="", encoding="utf-8") as out:
            starts = record_starts(csv_path)  # the file line of each row, as train and evaluate say
            for raw in read_chunks(csv_path, chunk_rows, columns):
                lines = np.array(list(islice(starts, len(raw))), dtype=np.int64)
                lines = lines if len(lines) == len(raw) else None  # the csv module read it otherwise
                rows = _predict_chunk(model, raw, root, labels, config, allow_outside_paths, photos, lines)
                rows.to_csv(out, index=False, header=summary.rows == 0, float_format="%.6g")
                _count(summary, rows)
                bar.update(len(raw))
            if summary.rows == 0:
                raise DataError(f"{csv_path} has a header but no reviews. Add one review per row below it.")
    finally:
        bar.close()
    return summary


def _predict_chunk(
    model: MultimodalSentimentModel,
    raw: pd.DataFrame,
    root: Path,
    labels: LabelVocab,
    config: TrainConfig,
    allow_outside_paths: bool,
    photos: PhotoStore | None,
    lines: np.ndarray | None = None,
) -> pd.DataFrame:
    """The output rows of one chunk of the input, in its order; `lines`: the file line each row starts on
    (None: numbered as a spreadsheet does, from the chunk's index)."""
    given = raw.pop("label") if "label" in raw.columns else None  # carried through, never needed
    frame, problems = validate_rows(raw, root, True, allow_outside_paths, photos, lines)
    # The loader's review ids ("row<N>" where the input has none) and rows, so they match its reports.
    log = ProblemLog(raw, lines)
    out = pd.DataFrame({"review_id": log.review_ids, "csv_row": log.rows}, index=raw.index)
    if given is not None:
        out["label"] = given
    out["predicted_label"] = None
    for name in labels.classes:
        out[f"p_{name}"] = np.nan
    out["gate"] = np.nan
    out["status"] = _statuses(out["csv_row"], problems)
    if len(frame):
        frame["label_id"] = 0  # a placeholder: predict() returns the targets, nothing reads them here
        encoders = model.encoders
        dataset = ReviewDataset(frame, encoders.tokenizer, encoders.image_processor, config.max_length)
        features = None
        if caches_image_features(model, config):  # each distinct photo encoded once (disk cache: ever)
            features = shared_image_features(encoders, dataset.image_paths, config.batch_size)
        result = predict(model, dataset, features=features, config=config)
        at = pd.Series(raw.index, index=log.rows).loc[frame["csv_row"]].to_numpy()  # the rows predicted
        out.loc[at, "predicted_label"] = labels.decode(result.labels)
        out.loc[at, [f"p_{name}" for name in labels.classes]] = result.probabilities
        if result.gate is not None:
            out.loc[at, "gate"] = result.gate
    return out.reset_index(drop=True)


def _statuses(csv_rows: pd.Series, problems: pd.DataFrame) -> list[str]:
    """`ok`, `skipped: <problems>` or `text-only: <problems>` for each row."""
    status = dict.fromkeys(csv_rows.tolist(), OK)
    for row, group in problems.groupby("row", sort=False):
        action = "skipped" if (group["action"] == SKIPPED).any() else "text-only"
        status[int(row)] = f"{action}: " + "; ".join(dict.fromkeys(group["problem"]))
    return list(status.values())


def _count(summary: BatchSummary, rows: pd.DataFrame) -> None:
    summary.rows += len(rows)
    skipped = rows["status"].str.startswith("skipped")
    summary.skipped += int(skipped.sum())
    summary.scored += int((~skipped).sum())
    summary.text_only += int(rows["status"].str.startswith("text-only").sum())
    for name, n in rows.loc[~skipped, "predicted_label"].value_counts().items():
        summary.per_label[name] += int(n)
