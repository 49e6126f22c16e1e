"""Load any review table (a CSV), validate it at the edge, encode its labels and split it.

The format is the bundled set's: one review per row with `text`, `image_path` (relative to
the CSV's folder, or absolute) and `label` (strings or integers, two classes or more); any
other column (rating, price, `split`, ...) is kept. Problems are handled in two tiers:

- fatal (`DataError`): no file, missing columns, an empty table, fewer than two classes,
  fewer usable rows than `min_rows`, a label the given `LabelVocab` does not know;
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

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mmsent.data.csvfile import check_header, pandas_engine, read_header, record_lines
from mmsent.data.images import DataError, ImageProblem, check_image
from mmsent.data.labels import LabelVocab, label_name, merge_case_variants
from mmsent.data.photo_paths import resolve_image_path
from mmsent.data.photo_store import PhotoStore, describe_download_failures, fetch_urls, photo_url
from mmsent.data.problems import (
    EMPTY_TEXT,
    MISSING_LABEL,
    SKIPPED,
    TEXT_ONLY,
    ProblemLog,
    describe_problems,
    is_missing,
    shorten,
    warn_about_problems,
)
from mmsent.paths import reviews_csv

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("text", "image_path", "label")
# Columns read as strings whatever they look like: ids such as "00017" keep their zeros, and
# integer labels become the class names "0", "1", ...
STRING_COLUMNS = ("review_id", "text", "image_path", "label", "split")


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
    labels: LabelVocab | None
    csv_path: Path
    root: Path
    notes: list[str] = field(default_factory=list)  # e.g. label spellings merged into one class

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def classes(self) -> list[str]:
        return [] if self.labels is None else list(self.labels.classes)

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
        lines.append(describe_problems(self.problems, max_ids))
        downloads = describe_download_failures(self.problems)
        return "\n".join(lines + [downloads] if downloads else lines)


def load_reviews(
    csv_path: str | os.PathLike | None = None,
    *,
    root: str | os.PathLike | None = None,
    labels: LabelVocab | None = None,
    min_rows: int = 1,
    check_images: bool = True,
    columns: Mapping[str, str] | None = None,
    require_labels: bool = True,
    allow_outside_paths: bool = False,
    photos: PhotoStore | None = None,
) -> ReviewTable:
    """Read and validate a review CSV; see the module docstring for the rules.

    Args:
        csv_path: the CSV file (default: the bundled `data/reviews.csv`, `mmsent.paths.reviews_csv()`).
        root: the folder relative image paths start from (default: the CSV's folder).
        labels: the classes to expect (e.g. the one saved with a model, for
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
    csv_path = Path(csv_path if csv_path is not None else reviews_csv())
    raw = _read_csv(csv_path, columns)
    _check_columns(raw, csv_path, require_labels)
    if raw.empty:
        raise DataError(f"{csv_path} has a header but no reviews. Add one review per row below the header.")
    root = photo_root(csv_path, root)
    frame, problems = validate_rows(
        raw, root, check_images, allow_outside_paths, photos, record_lines(csv_path, len(raw))
    )
    if frame.empty:
        raise DataError(
            f"No usable reviews in {csv_path}: all {len(raw)} rows were skipped. Fix the rows below.\n"
            + describe_problems(problems, 10)
        )
    notes: list[str] = []
    if "label" in raw.columns:
        encoder = _encode_labels(frame, csv_path, labels, problems, notes)
    else:  # require_labels=False: a table to predict on
        frame["label_id"] = -1
        encoder = labels
    if len(frame) < max(min_rows, 1):
        raise DataError(
            f"Only {len(frame)} usable reviews in {csv_path} ({len(raw)} rows read), fewer than "
            f"min_rows={min_rows} (one batch). Add reviews, fix the rows below, or use a smaller batch "
            f"size.\n{describe_problems(problems, 10)}"
        )
    table = ReviewTable(frame, problems, encoder, csv_path, root, notes)
    warn_about_problems(table.problems, table.csv_path)
    return table


def photo_root(csv_path: Path, root: str | os.PathLike | None = None) -> Path:
    """The absolute folder relative photo paths start from: `root`, else the CSV's folder."""
    return Path(os.path.normpath(Path(root if root is not None else csv_path.parent).absolute()))


def validate_rows(
    raw: pd.DataFrame,
    root: Path,
    check_images: bool = True,
    allow_outside_paths: bool = False,
    photos: PhotoStore | None = None,
    lines: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-row tier of the rules on raw cells (a whole table, or one chunk of it read with
    `read_chunks`: the CSV row numbers follow `raw`'s index). Returns (usable rows, problems) as
    `ReviewTable.frame` (without `label_id`) and `ReviewTable.problems`; raises nothing per row.
    `lines`: `[rows]` the file line each row starts on (see `ProblemLog`)."""
    log = ProblemLog(raw, lines)
    usable = _rows_with_text(raw, log)
    if "label" in raw.columns:
        usable &= _rows_with_label(raw, log)
    image_paths = _locate_images(
        raw["image_path"], usable, root, log, check_images, allow_outside_paths, photos
    )
    return _usable_frame(raw, usable, image_paths, log), log.frame()


def read_chunks(
    csv_path: str | os.PathLike,
    chunk_rows: int,
    columns: Mapping[str, str] | None = None,
    require_labels: bool = False,
) -> Iterator[pd.DataFrame]:
    """The raw cells of a review CSV, `chunk_rows` rows at a time, read and checked like
    `load_reviews` reads them (header, delimiter, renames, required columns); each chunk's index
    continues the previous one's, so `validate_rows` numbers the rows as in the whole file."""
    csv_path = Path(csv_path)
    reader = _read_csv(csv_path, columns, chunk_rows)
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise _unreadable(csv_path, error) from error
        _check_columns(raw, csv_path, require_labels)
        yield raw


def _read_csv(csv_path: Path, columns: Mapping[str, str] | None, chunk_rows: int | None = None):
    """The raw table (or, with `chunk_rows`, an iterator of its chunks), all cells of STRING_COLUMNS
    as str; only a blank cell counts as missing."""
    if csv_path.is_dir():
        raise DataError(
            f"{csv_path} is a folder; pass the review CSV inside it, e.g. {csv_path / 'reviews.csv'}."
        )
    if not csv_path.exists():
        raise DataError(
            f"No review table at {csv_path}. Pass the path of a CSV with columns 'text' and 'image_path' "
            "('label' too, to train or evaluate), or regenerate the bundled set with `python -m mmsent "
            "make-data`."
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
            chunksize=chunk_rows,
        )
    except pd.errors.EmptyDataError as error:
        raise DataError(
            f"{csv_path} is empty (not even a header row). Start it with the line text,image_path,label."
        ) from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise _unreadable(csv_path, error) from error
    if chunk_rows is not None:
        return (_typed(chunk, columns) for chunk in raw)
    return _typed(raw, columns)


def _unreadable(csv_path: Path, error: Exception) -> DataError:
    if isinstance(error, UnicodeDecodeError):
        return DataError(f"{csv_path} is not a readable UTF-8 CSV ({error}). Re-save it as 'CSV UTF-8'.")
    # the encoding is fine: the CSV's structure is not
    return DataError(
        f"{csv_path} cannot be read as a table ({str(error).strip()}): a row has more cells than the "
        "header, or a quote is not closed. Fix that line: put a cell that holds the delimiter or a "
        'line break in double quotes ("..."), and double a quote inside one ("").'
    )


def _typed(raw: pd.DataFrame, columns: Mapping[str, str] | None) -> pd.DataFrame:
    """`raw` with `columns` renamed and numeric extra columns (rating, price, ...) as numbers."""
    raw.columns = [str(name).strip() for name in raw.columns]  # as read_header names them
    raw = raw.rename(columns=dict(columns or {}))
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

def _rows_with_text(raw: pd.DataFrame, log: ProblemLog) -> np.ndarray:
    """Bool mask `[rows]`; a blank, whitespace-only or missing text skips the row."""
    keep = np.array([not is_missing(text) for text in raw["text"]])
    for position in np.flatnonzero(~keep):
        log.add(position, "text", EMPTY_TEXT, SKIPPED, "the review text is blank or missing")
    return keep


def _rows_with_label(raw: pd.DataFrame, log: ProblemLog) -> np.ndarray:
    """Bool mask `[rows]`; a missing label (blank, "NaN", "N/A", ...: see `mmsent.data.labels`)
    skips the row, since it cannot be trained or scored."""
    cells = raw["label"].tolist()
    keep = np.array([label_name(label) is not None for label in cells])
    for position in np.flatnonzero(~keep):
        cell = cells[position]
        detail = "the label cell is blank" if is_missing(cell) else f"the label cell reads {cell!r}"
        log.add(position, "label", MISSING_LABEL, SKIPPED, detail)
    return keep


def _locate_images(
    cells: pd.Series,
    usable: np.ndarray,
    root: Path,
    log: ProblemLog,
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
    raw: pd.DataFrame, usable: np.ndarray, image_paths: list[str | None], log: ProblemLog
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
    encoder: LabelVocab | None,
    problems: pd.DataFrame,
    notes: list[str],
) -> LabelVocab:
    """Add `label_id` to `frame`, case variants merged (noted in `notes`); fit the encoder unless
    one is given. Fatal problems raise."""
    renames, merges = merge_case_variants(frame["label"], None if encoder is None else encoder.classes)
    for note in merges:
        logger.warning("%s: %s", csv_path, note)
    notes.extend(merges)
    frame["label"] = frame["label"].replace(renames)
    labels = frame["label"]
    if encoder is None:
        encoder = LabelVocab.fit(labels)
        if len(encoder) < 2:
            raise DataError(
                f"{csv_path} has {len(encoder)} class(es) in column 'label' among {len(frame)} usable rows: "
                f"{encoder.classes}. A classifier needs at least 2 classes; add reviews of another class "
                "or check that 'label' is the right column."
                + (f"\n{describe_problems(problems, 10)}" if len(problems) else "")
            )
    unknown = ~labels.isin(encoder.classes)
    if unknown.any():
        rows = frame.loc[unknown, "csv_row"].tolist()
        raise DataError(
            f"Unknown label(s) {sorted(set(labels[unknown]))} in {csv_path}, column 'label', rows "
            f"{shorten(rows, 10)}. The label encoder (saved with the model) knows {encoder.classes}; "
            "relabel those rows or train a new model on these classes."
        )
    frame["label_id"] = encoder.encode(labels)
    return encoder
