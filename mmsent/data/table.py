"""Load any review table (a CSV), validate it at the edge, encode its labels and split it.

The format is the bundled set's: one review per row with `text`, `image_path` (relative to
the CSV's folder, or absolute) and `label` (strings or integers, two classes or more); any
other column (rating, price, `split`, ...) is kept. Problems are handled in two tiers:

- fatal (`DataError`): no file, missing columns, an empty table, fewer than two classes,
  fewer usable rows than `min_rows`, a label the given `LabelEncoder` does not know;
- per row (never silent): the row is skipped or kept without its photo, and recorded in
  `ReviewTable.problems` with its CSV row number and review id. `load_reviews` logs one
  summary warning, and `ReviewTable.report()` spells it out.

Image paths: a relative path is resolved against `root` (default: the CSV's folder). The
photo's real path (symlinks resolved) must stay inside `root`, so "../../etc/passwd", a symlink
to /etc and an absolute path elsewhere on disk are refused and reported, unless
`allow_outside_paths=True` (`--allow-outside-paths`). An `http(s)://` URL is downloaded once into
a photo store (`mmsent.data.photo_store`) and read from there; a failed download is reported by row
with its URL and reason, and the review kept text-only. The header is checked first
(`mmsent.data.csvfile`: the delimiter is sniffed, duplicate columns and impossible `columns` renames
are refused) and label cells are normalised as `mmsent.data.labels` describes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmsent.data.csvfile import check_header, pandas_engine, read_header
from mmsent.data.images import DataError, ImageProblem, check_image
from mmsent.data.labels import label_name, merge_case_variants
from mmsent.data.photo_paths import resolve_image_path
from mmsent.data.photo_store import PhotoStore, describe_download_failures, fetch_urls, photo_url
from mmsent.paths import REVIEWS_CSV

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("text", "image_path", "label")
SPLITS = ("train", "val", "test")
# Columns read as strings whatever they look like: ids such as "00017" keep their zeros, and
# integer labels become the class names "0", "1", ...
STRING_COLUMNS = ("review_id", "text", "image_path", "label", "split")

# Problem names and actions in `ReviewTable.problems`. Image problems are named in images.py.
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"
SKIPPED = "skipped"
TEXT_ONLY = "kept text-only"
PROBLEM_COLUMNS = ("row", "review_id", "column", "problem", "action", "detail")


# ----------------------------------------------------------------------------- labels


@dataclass
class LabelEncoder:
    """Class names <-> integer ids; saved as JSON beside every model.

    `LabelEncoder.fit(["pos", "neg", "pos"]).classes == ["neg", "pos"]`. Integer labels become
    strings sorted by value (`[2, 10, 1] -> ["1", "2", "10"]`), so ids follow the numbers.
    """

    classes: list[str]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [label_name(name) for name in self.classes]
        if None in names:
            raise DataError(f"LabelEncoder classes must be names, not missing values; got {self.classes}.")
        self.classes = names
        duplicates = sorted({name for name in self.classes if self.classes.count(name) > 1})
        if duplicates:
            raise DataError(f"LabelEncoder classes must be unique; {duplicates} appear more than once.")
        self._index = {name: i for i, name in enumerate(self.classes)}

    @classmethod
    def fit(cls, values: Iterable[Any]) -> LabelEncoder:
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
    def from_dict(cls, data: Mapping[str, Any]) -> LabelEncoder:
        if "classes" not in data:
            raise DataError(f"Not a label encoder: expected a 'classes' list, found keys {sorted(data)}.")
        return cls(list(data["classes"]))

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelEncoder:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _is_missing(value: Any) -> bool:
    """None, NaN or a blank / whitespace-only string."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or bool(pd.isna(value))


def _natural_order(name: str) -> tuple[int, int, str]:
    """Sort key: integer names first, by value, then the other names alphabetically."""
    if re.fullmatch(r"[+-]?\d+", name):
        return (0, int(name), "")
    return (1, 0, name)


# ----------------------------------------------------------------------------- the table


@dataclass
class ReviewTable:
    """A validated review table.

    `frame` holds the usable rows: `text`, `image_path` (absolute path str, or None when the
    review has no usable photo), `label` (class name), `label_id` (int, -1 without labels),
    `review_id` (str; "row<N>" when the CSV has none), `csv_row`, and every other CSV column.
    `problems` has one row per problem: `row` (as a spreadsheet numbers it: the header is row
    1), `review_id`, `column`, `problem`, `action` ("skipped" / "kept text-only"), `detail`.
    """

    frame: pd.DataFrame
    problems: pd.DataFrame
    label_encoder: LabelEncoder | None
    csv_path: Path
    root: Path
    notes: list[str] = field(default_factory=list)  # e.g. label spellings merged into one class

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def classes(self) -> list[str]:
        return [] if self.label_encoder is None else list(self.label_encoder.classes)

    def split(self, name: str) -> pd.DataFrame:
        """The rows of split `name` ("train", "val" or "test"), as `split_table(self)` gives them."""
        return split_table(self)[name]

    def report(self, max_ids: int = 20) -> str:
        """A readable summary: rows read and kept, class counts, and every problem by kind."""
        skipped = self.problems.loc[self.problems["action"] == SKIPPED, "row"].nunique()
        lines = [f"Review table {self.csv_path} (photos under {self.root})"]
        counts = self.frame["label"].value_counts().reindex(self.classes, fill_value=0)
        per_class = ", ".join(f"{count} {name}" for name, count in counts.items()) or "unlabelled"
        lines.append(f"  {len(self.frame) + skipped} rows read, {len(self.frame)} usable ({per_class}).")
        no_photo = int(self.frame["image_path"].isna().sum())
        lines.append(f"  {no_photo} usable reviews have no usable photo (text-only).")
        lines.extend(f"  Note: {note}." for note in self.notes)
        lines.append(_describe_problems(self.problems, max_ids))
        downloads = describe_download_failures(self.problems)
        return "\n".join(lines + [downloads] if downloads else lines)


def load_reviews(
    csv_path: str | os.PathLike = REVIEWS_CSV,
    *,
    root: str | os.PathLike | None = None,
    label_encoder: LabelEncoder | None = None,
    min_rows: int = 1,
    check_images: bool = True,
    columns: Mapping[str, str] | None = None,
    require_labels: bool = True,
    allow_outside_paths: bool = False,
    photos: PhotoStore | None = None,
) -> ReviewTable:
    """Read and validate a review CSV; see the module docstring for the rules.

    Args:
        csv_path: the CSV file (default: the bundled `data/reviews.csv`).
        root: the folder relative image paths start from (default: the CSV's folder).
        label_encoder: the classes to expect (e.g. the one saved with a model, for
            evaluation); default: fit one on this table, which needs at least 2 classes.
        min_rows: fewest usable rows accepted, typically one batch.
        check_images: open and decode every photo now, so broken ones are reported here
            instead of failing in the middle of training.
        columns: renames applied first, e.g. `{"review": "text", "stars": "label"}`.
        require_labels: False accepts a table without a `label` column (for prediction);
            its rows get `label` None and `label_id` -1.
        allow_outside_paths: accept photos whose real path lies outside `root`.
        photos: where `http(s)://` photo URLs are downloaded to (default: `PhotoStore()`, in the
            feature cache); `PhotoStore(offline=True)` uses stored photos only.
    Raises:
        DataError: on a fatal problem (what, where, and what to do are in the message).
    """
    csv_path = Path(csv_path)
    raw = _read_csv(csv_path, columns)
    _check_columns(raw, csv_path, require_labels)
    if raw.empty:
        raise DataError(f"{csv_path} has a header but no reviews. Add one review per row below the header.")
    root = Path(os.path.normpath(Path(root if root is not None else csv_path.parent).absolute()))
    log = _ProblemLog(raw)

    usable = _rows_with_text(raw, log)
    if "label" in raw.columns:
        usable &= _rows_with_label(raw, log)
    image_paths = _locate_images(
        raw["image_path"], usable, root, log, check_images, allow_outside_paths, photos
    )

    frame = _usable_frame(raw, usable, image_paths, log)
    problems = log.frame()
    if frame.empty:
        raise DataError(
            f"No usable reviews in {csv_path}: all {len(raw)} rows were skipped. Fix the rows below.\n"
            + _describe_problems(problems, 10)
        )
    notes: list[str] = []
    if "label" in raw.columns:
        encoder = _encode_labels(frame, csv_path, label_encoder, problems, notes)
    else:  # require_labels=False: a table to predict on
        frame["label_id"] = -1
        encoder = label_encoder
    if len(frame) < max(min_rows, 1):
        raise DataError(
            f"Only {len(frame)} usable reviews in {csv_path} ({len(raw)} rows read), fewer than "
            f"min_rows={min_rows} (one batch). Add reviews, fix the rows below, or use a smaller batch "
            f"size.\n{_describe_problems(problems, 10)}"
        )
    table = ReviewTable(frame, problems, encoder, csv_path, root, notes)
    _warn_about_problems(table)
    return table


def _read_csv(csv_path: Path, columns: Mapping[str, str] | None) -> pd.DataFrame:
    """The raw table, all cells of STRING_COLUMNS as str; only a blank cell counts as missing."""
    if csv_path.is_dir():
        raise DataError(
            f"{csv_path} is a folder; pass the review CSV inside it, e.g. {csv_path / 'reviews.csv'}."
        )
    if not csv_path.exists():
        raise DataError(
            f"No review table at {csv_path}. Pass the path of a CSV with columns 'text', 'image_path' "
            "and 'label', or regenerate the bundled set with `python -m mmsent.data.synth`."
        )
    if not csv_path.is_file():
        raise DataError(f"{csv_path} is not a regular file (a pipe or a device?). Pass a CSV file.")
    names, delimiter = read_header(csv_path)
    check_header(names, csv_path, columns)
    try:
        # keep_default_na=False: a review that reads "NA" or "None" is text, not a missing cell.
        raw = pd.read_csv(
            csv_path,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            engine=pandas_engine(csv_path),  # a NUL in a cell: the engine that keeps it
        )
    except pd.errors.EmptyDataError as error:
        raise DataError(
            f"{csv_path} is empty (not even a header row). Start it with the line text,image_path,label."
        ) from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(
            f"{csv_path} is not a readable UTF-8 CSV ({error}). Re-save it as 'CSV UTF-8'."
        ) from error
    raw = raw.rename(columns=dict(columns or {}))
    # Numeric extra columns (rating, price, ...) get their usual dtypes back.
    for name in raw.columns.difference(STRING_COLUMNS):
        try:
            raw[name] = pd.to_numeric(raw[name])
        except (ValueError, TypeError):
            pass  # text stays text
    return raw


def _check_columns(raw: pd.DataFrame, csv_path: Path, require_labels: bool) -> None:
    """Raise a DataError listing the columns found and the ones needed."""
    needed = [c for c in REQUIRED_COLUMNS if require_labels or c != "label"]
    missing = [c for c in needed if c not in raw.columns]
    if not missing:
        return
    found = [str(c) for c in raw.columns]
    near = [(c, m) for m in missing for c in found if c.strip().lower() == m] or [("review", "text")]
    example = "{" + ", ".join(f"'{c}': '{m}'" for c, m in near) + "}"
    flag = ",".join(f"{c}={m}" for c, m in near)
    raise DataError(
        f"{csv_path} is missing column(s) {missing}. Found columns: {found}. The table needs 'text', "
        f"'image_path' and 'label'; rename your columns, or pass columns={example} to load_reviews "
        f"(on the command line: --columns {flag})."
    )


class _ProblemLog:
    """Collects one record per problem, addressed by CSV row number and review id."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.rows = np.arange(len(raw)) + 2  # the header is row 1 in a spreadsheet
        ids = raw["review_id"] if "review_id" in raw.columns else pd.Series([None] * len(raw))
        self.review_ids = [
            rid if not _is_missing(rid) else f"row{row}" for rid, row in zip(ids, self.rows, strict=True)
        ]
        self.records: list[dict[str, Any]] = []

    def add(self, position: int, column: str, problem: str, action: str, detail: str = "") -> None:
        self.records.append(
            dict(
                row=int(self.rows[position]),
                review_id=self.review_ids[position],
                column=column,
                problem=problem,
                action=action,
                detail=detail,
            )
        )

    def frame(self) -> pd.DataFrame:
        problems = pd.DataFrame(self.records, columns=list(PROBLEM_COLUMNS))
        return problems.sort_values("row", kind="stable").reset_index(drop=True)


def _rows_with_text(raw: pd.DataFrame, log: _ProblemLog) -> np.ndarray:
    """Bool mask `[rows]`; a blank, whitespace-only or missing text skips the row."""
    keep = np.array([not _is_missing(text) for text in raw["text"]])
    for position in np.flatnonzero(~keep):
        log.add(position, "text", EMPTY_TEXT, SKIPPED, "the review text is blank or missing")
    return keep


def _rows_with_label(raw: pd.DataFrame, log: _ProblemLog) -> np.ndarray:
    """Bool mask `[rows]`; a missing label (blank, "NaN", "N/A", ...: see `mmsent.data.labels`)
    skips the row, since it cannot be trained or scored."""
    cells = raw["label"].tolist()
    keep = np.array([label_name(label) is not None for label in cells])
    for position in np.flatnonzero(~keep):
        cell = cells[position]
        detail = "the label cell is blank" if _is_missing(cell) else f"the label cell reads {cell!r}"
        log.add(position, "label", MISSING_LABEL, SKIPPED, detail)
    return keep


def _locate_images(
    cells: pd.Series,
    usable: np.ndarray,
    root: Path,
    log: _ProblemLog,
    check_images: bool,
    allow_outside: bool = False,
    photos: PhotoStore | None = None,
) -> list[str | None]:
    """Absolute photo path per row, or None (reported) when the photo cannot be used."""
    paths: list[str | None] = [None] * len(cells)
    fetched = fetch_urls(cells.to_numpy()[usable], photos)  # photo URLs -> files in the photo store
    for position, cell in zip(np.flatnonzero(usable), cells.to_numpy()[usable], strict=True):
        url = photo_url(cell)
        path, problem, detail = fetched[url] if url else resolve_image_path(cell, root, allow_outside)
        error = _image_problem(path) if path is not None and check_images else None
        if error is not None:
            path, problem = None, error.problem
            detail = f"{error.path}: {error.detail}" if error.detail else error.path
        if problem is not None:
            log.add(position, "image_path", problem, TEXT_ONLY, detail)
        paths[position] = path
    return paths


def _image_problem(path: str) -> ImageProblem | None:
    """The problem `check_image` finds with a photo, or None (about 0.5 ms per small PNG)."""
    try:
        check_image(path)
    except ImageProblem as error:
        return error
    return None


def _usable_frame(
    raw: pd.DataFrame, usable: np.ndarray, image_paths: list[str | None], log: _ProblemLog
) -> pd.DataFrame:
    """The usable rows with normalised text / image_path / label / review_id columns."""
    frame = raw.copy()
    frame["review_id"] = log.review_ids
    frame["csv_row"] = log.rows
    frame["image_path"] = pd.Series(image_paths, index=frame.index, dtype=object)
    if "label" in frame.columns:
        frame["label"] = [label_name(v) for v in frame["label"]]
    else:
        frame["label"] = None
    if "split" in frame.columns:
        frame["split"] = frame["split"].str.strip().str.lower()
    return frame.loc[usable].reset_index(drop=True)


def _encode_labels(
    frame: pd.DataFrame,
    csv_path: Path,
    encoder: LabelEncoder | None,
    problems: pd.DataFrame,
    notes: list[str],
) -> LabelEncoder:
    """Add `label_id` to `frame`, case variants merged (noted in `notes`); fit the encoder unless
    one is given. Fatal problems raise."""
    renames, merges = merge_case_variants(frame["label"], None if encoder is None else encoder.classes)
    for note in merges:
        logger.warning("%s: %s", csv_path, note)
    notes.extend(merges)
    frame["label"] = frame["label"].replace(renames)
    labels = frame["label"]
    if encoder is None:
        encoder = LabelEncoder.fit(labels)
        if len(encoder) < 2:
            raise DataError(
                f"{csv_path} has {len(encoder)} class(es) in column 'label' among {len(frame)} usable rows: "
                f"{encoder.classes}. A classifier needs at least 2 classes; add reviews of another class "
                "or check that 'label' is the right column."
                + (f"\n{_describe_problems(problems, 10)}" if len(problems) else "")
            )
    unknown = ~labels.isin(encoder.classes)
    if unknown.any():
        rows = frame.loc[unknown, "csv_row"].tolist()
        raise DataError(
            f"Unknown label(s) {sorted(set(labels[unknown]))} in {csv_path}, column 'label', rows "
            f"{_shorten(rows, 10)}. The label encoder (saved with the model) knows {encoder.classes}; "
            "relabel those rows or train a new model on these classes."
        )
    frame["label_id"] = encoder.encode(labels)
    return encoder


# ----------------------------------------------------------------------------- reporting


def _where(row: int, review_id: str) -> str:
    return f"row {row}" if review_id == f"row{row}" else f"row {row} ({review_id})"


def _shorten(items: list[Any], limit: int) -> str:
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f", ... and {len(items) - limit} more" if len(items) > limit else "")


def _describe_problems(problems: pd.DataFrame, max_ids: int) -> str:
    """One line per (problem, action) with its count and the rows it hit."""
    if problems.empty:
        return "  No problems found."
    lines = [f"  {len(problems)} problem(s):"]
    for (problem, action), group in problems.groupby(["problem", "action"], sort=False):
        where = [_where(row, rid) for row, rid in zip(group["row"], group["review_id"], strict=True)]
        lines.append(f"    - {problem} [{action}], {len(group)} row(s): {_shorten(where, max_ids)}")
    return "\n".join(lines)


def _warn_about_problems(table: ReviewTable) -> None:
    """One summary warning per load, so problems are never silent."""
    problems = table.problems
    if problems.empty:
        return
    skipped = problems.loc[problems["action"] == SKIPPED, "row"].nunique()
    text_only = int((problems["action"] == TEXT_ONLY).sum())
    head = problems.head(5)
    first = [
        f"{_where(r, rid)}: {p}"
        for r, rid, p in zip(head["row"], head["review_id"], head["problem"], strict=True)
    ]
    logger.warning(
        "%d problem(s) in %s: %d row(s) skipped, %d review(s) kept text-only. First: %s. "
        "See ReviewTable.report() or .problems.",
        len(problems),
        table.csv_path,
        skipped,
        text_only,
        "; ".join(first),
    )


# ----------------------------------------------------------------------------- splits


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
            raise DataError(
                f"The '{name}' split would be empty ({len(frame)} usable rows, {source}). Add reviews, "
                "mark some rows with that split, or drop the split column for a random split."
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
            f"{_shorten(rows, 10)}; use 'train', 'val' or 'test', or drop the column for a random split."
        )
    return {name: frame[names == name] for name in SPLITS}


def _stratified_split(
    frame: pd.DataFrame, val_frac: float, test_frac: float, seed: int
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    assignment = np.full(len(frame), "train", dtype=object)
    by_label = frame["label"].fillna("") if "label" in frame.columns else pd.Series("", index=frame.index)
    for _, positions in sorted(by_label.groupby(by_label.values).indices.items()):
        order = rng.permutation(positions)
        n_val, n_test = _split_sizes(len(order), val_frac, test_frac)
        assignment[order[:n_val]] = "val"
        assignment[order[n_val : n_val + n_test]] = "test"
    return {name: frame[assignment == name] for name in SPLITS}


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
