"""Import the Amazon Reviews 2023 JSON Lines format into a review table the kit trains on.

The public release (McAuley Lab, 2023) has one review per line::

    {"rating": 4.0, "title": "...", "text": "...", "images": [{"small_image_url": ..., "medium_image_url":
     ..., "large_image_url": ..., "attachment_type": "IMAGE"}], "asin": "B0...", "parent_asin": "B0...",
     "user_id": "AE...", "timestamp": 1588687728923, "helpful_vote": 0, "verified_purchase": true}

and a separate meta file, one product per line (`parent_asin`, `title`, `price`, `store`, `images` with a
`variant` "MAIN" photo, `categories`, ...). `import_amazon` streams the reviews (any size: one line in
memory at a time, the CSV written as it goes; the meta file is indexed in a temporary SQLite file, not in
memory) and writes `reviews.csv` with
- `review_id`: "a" + 16 hex digits of SHA-256(user_id, asin, timestamp): the same review gets the same id
  in every import, whatever the file's order;
- `text`: the review's title and text joined ("Title. Text"), `label` by `LABEL_RULE` and `rating`;
- `image_path`: the review's first photo (its medium-size URL; downloaded by `train` into the photo store),
  blank when the reviewer posted none; `product_image_path`: the product's MAIN catalogue photo from the
  meta file, so "customer photo" and "stock photo" can be compared;
- `verified_purchase` (0/1), `helpful_votes`, `price`, `product_title`, `store`, `asin`, `parent_asin`,
  `timestamp`; the meta columns are blank for a product the meta file does not have.

Every input line is accounted for: imported, dropped by the rating rule (3 stars, unless `three_classes`),
a duplicate (the same user, item, time and text as an earlier line: kept once), or reported as malformed
with its line number and reason (not JSON, not UTF-8 (a lone surrogate escape "\\ud800" included), longer
than `MAX_LINE_BYTES` (never read whole, gzip included), a missing field, a value of another JSON type
than the format's (`FIELD_TYPES`: a boolean is no rating, an object no asin), a rating outside 1..5, no
text: a title and text with nothing visible, as `mmsent.data.problems.is_missing` says); the counts go to
the log and to `import_report.txt`. An existing `reviews.csv` is replaced only with `overwrite`, and only
by a complete import that yielded reviews (`mmsent.files.replace`); a failed one leaves no folder it made.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import math
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsent.data.problems import is_missing
from mmsent.errors import DataError
from mmsent.files.replace import replacing

logger = logging.getLogger(__name__)

# Stars -> label. 3 stars says neither: dropped, or "neutral" with three_classes.
LABEL_RULE = {1: "negative", 2: "negative", 3: None, 4: "positive", 5: "positive"}
NEUTRAL = "neutral"
REVIEW_PHOTO_SIZES = ("medium_image_url", "large_image_url", "small_image_url")  # first found is used
PRODUCT_PHOTO_SIZES = ("large", "hi_res", "thumb")
COLUMNS = (
    "review_id", "text", "image_path", "label", "rating", "product_image_path", "verified_purchase",
    "helpful_votes", "price", "product_title", "store", "asin", "parent_asin", "timestamp",
)  # fmt: skip
REPORT_LINES = 200  # malformed lines listed one by one in the report (all are counted)
MAX_LINE_BYTES = 4 << 20  # a review is a few KiB; a longer line is reported without being read whole
# The JSON types the format gives each field (absent or null is allowed where the code has a default).
FIELD_TYPES: dict[str, type] = {
    "user_id": str, "asin": str, "parent_asin": str, "timestamp": int, "title": str, "text": str,
    "images": list, "helpful_vote": int, "verified_purchase": bool,
}  # fmt: skip
TYPE_NAMES = {str: "a string", int: "a whole number", list: "a list", bool: "true or false"}
IMPORT_REPORT = "import_report.txt"  # written beside reviews.csv; its first line names the source file
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # how JSON spells half of a surrogate pair


class Malformed(Exception):
    """A line that cannot be imported; the message says why."""


@dataclass
class ImportReport:
    """What became of every line: `imported + dropped_neutral + len(malformed) == lines`."""

    reviews_path: Path
    csv_path: Path
    lines: int = 0
    imported: int = 0
    dropped_neutral: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line number, the line it repeats)
    labels: Counter = field(default_factory=Counter)
    with_photo: int = 0
    with_meta: int = 0
    meta_products: int = 0
    meta_malformed: list[tuple[int, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"Imported {self.reviews_path} into {self.csv_path}",
            f"  {self.lines} lines: {self.imported} imported, {self.dropped_neutral} dropped by the rating "
            f"rule (3 stars), {len(self.duplicates)} duplicates (kept once), {len(self.malformed)} "
            "malformed.",
            f"  Labels: {', '.join(f'{n} {name}' for name, n in sorted(self.labels.items())) or 'none'}.",
            f"  {self.with_photo} imported reviews have a photo; {self.with_meta} found their product in the "
            f"meta file ({self.meta_products} products read).",
        ]
        if self.duplicates:
            lines.append("  Duplicate reviews (same user, item, time and text; line: the line kept):")
            lines.extend(f"    {number}: {first}" for number, first in self.duplicates[:REPORT_LINES])
        for what, bad in (("review", self.malformed), ("meta", self.meta_malformed)):
            if bad:
                lines.append(f"  Malformed {what} lines (line number: reason):")
                lines.extend(f"    {number}: {reason}" for number, reason in bad[:REPORT_LINES])
                if len(bad) > REPORT_LINES:
                    lines.append(f"    ... and {len(bad) - REPORT_LINES} more")
        return "\n".join(lines)


class EmptyImport(DataError):
    """No line became a review: nothing is written; `report` says what became of each line."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"No line of {report.reviews_path} became a review ({report.lines} lines: "
            f"{len(report.malformed)} malformed, {report.dropped_neutral} dropped by the rating rule); "
            f"nothing was written. Pass an Amazon Reviews 2023 reviews file (JSON Lines with 'rating', "
            "'text', 'asin', ...)."
        )
        self.report = report


def import_amazon(reviews_path: str | os.PathLike, out_dir: str | os.PathLike,
                  meta_path: str | os.PathLike | None = None, three_classes: bool = False,
                  overwrite: bool = False) -> ImportReport:  # fmt: skip
    """Write `out_dir/reviews.csv` and `out_dir/import_report.txt` from Amazon Reviews 2023 files.

    `reviews_path` and `meta_path` are JSON Lines, plain or gzip-compressed (`.jsonl` or `.jsonl.gz`).
    Raises `DataError` for a missing file, `UsageError` for an existing `reviews.csv` without
    `overwrite`, and `EmptyImport` when no line became a review (then nothing is written or replaced).
    """
    reviews_path, out_dir = Path(reviews_path), Path(out_dir)
    report = ImportReport(reviews_path, csv_path := out_dir / "reviews.csv")
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]  # deepest first
    try:
        with replacing([csv_path, out_dir / IMPORT_REPORT], overwrite, "--out") as work:
            meta = _MetaIndex(work / ".meta.sqlite", meta_path, report)
            try:
                _write_reviews(reviews_path, work / csv_path.name, meta, report, three_classes)
            finally:
                meta.close()
            if report.imported == 0:
                raise EmptyImport(report)
            (work / IMPORT_REPORT).write_text(report.text() + "\n", encoding="utf-8")
    except BaseException:
        for folder in (f for f in created if f.is_dir() and not any(f.iterdir())):
            folder.rmdir()  # a failed import leaves no folder it made
        raise
    logger.info("%s: %d lines, %d imported, %d dropped (3 stars), %d duplicates, %d malformed", reviews_path,
                report.lines, report.imported, report.dropped_neutral, len(report.duplicates),
                len(report.malformed))  # fmt: skip
    return report


def _write_reviews(
    reviews_path: Path, csv_path: Path, meta: _MetaIndex, report: ImportReport, three_classes: bool
) -> None:
    """Stream the reviews into `csv_path`, accounting for every line in `report`."""
    seen: dict[str, tuple[int, str]] = {}  # review_id -> (line number, SHA-256 of its text)
    with csv_path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for number, line in _lines(reviews_path):
            report.lines += 1  # each line ends as imported, dropped, a duplicate or malformed
            try:
                row = review_row(line, three_classes)
                if row is not None and _repeats(row, number, seen, report):
                    continue
            except Malformed as reason:
                report.malformed.append((number, str(reason)))
                continue
            if row is None:
                report.dropped_neutral += 1
                continue
            row.update((product := meta.get(row["parent_asin"])) or {})
            report.imported += 1
            report.labels[row["label"]] += 1
            report.with_photo += bool(row["image_path"])
            report.with_meta += product is not None
            writer.writerow(row)


def _repeats(row: dict[str, Any], number: int, seen: dict[str, tuple[int, str]], report: ImportReport
             ) -> bool:
    """True (and noted in `report`) when `row` repeats an earlier review; `Malformed` when an earlier line
    had the same user, item and time but another text (two reviews cannot share their id)."""
    digest = hashlib.sha256(row["text"].encode("utf-8")).hexdigest()
    first = seen.setdefault(row["review_id"], (number, digest))
    if first == (number, digest):
        return False
    if first[1] != digest:
        raise Malformed(f"the same user_id, asin and timestamp as line {first[0]} with another text")
    report.duplicates.append((number, first[0]))
    return True


def review_row(line: bytes, three_classes: bool = False) -> dict[str, Any] | None:
    """The CSV row of one review line; None when the rating rule drops it; raises `Malformed`."""
    review = _json_object(line)
    _check_types(review)
    rating = _rating(review.get("rating"))
    label = LABEL_RULE[rating] or (NEUTRAL if three_classes else None)
    missing = [key for key in ("user_id", "asin", "timestamp") if review.get(key) in (None, "")]
    if missing:
        raise Malformed(f"missing {', '.join(missing)} (needed for a stable review_id)")
    texts = (_clean(review.get(key)) for key in ("title", "text"))  # nothing visible (zero-width): no text
    title, body = ("" if is_missing(text) else text for text in texts)
    if not title and not body:
        raise Malformed("no title and no text")
    if label is None:
        return None
    key = "\x1f".join(str(review[name]) for name in ("user_id", "asin", "timestamp"))
    return {
        "review_id": "a" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16],
        "text": _join(title, body),
        "image_path": _first_review_photo(review.get("images")),
        "label": label,
        "rating": rating,
        "verified_purchase": int(review.get("verified_purchase") is True),
        "helpful_votes": max(review.get("helpful_vote") or 0, 0),
        "asin": review["asin"],
        "parent_asin": review.get("parent_asin") or review["asin"],
        "timestamp": review["timestamp"],
    }


def _lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """(line number from 1, raw line) of a plain or gzip JSON Lines file, one at a time; the line is None
    when it is longer than `MAX_LINE_BYTES` (it is skipped, never held in memory whole)."""
    if not path.is_file():
        raise DataError(f"No Amazon reviews file at {path}. Pass a .jsonl or .jsonl.gz file.")
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as file:
            number = 0
            while line := file.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
                    yield number, line
                    continue
                while (rest := file.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # the rest of the over-long line, a piece at a time
                yield number, None
    except (OSError, EOFError) as error:  # a cut-off .gz
        raise DataError(f"{path} cannot be read to the end ({error}); download it again.") from error


def _json_object(line: bytes | None) -> dict[str, Any]:
    if line is None:
        raise Malformed(f"longer than {MAX_LINE_BYTES:,} bytes: skipped without reading it whole")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Malformed(f"not UTF-8 ({error.reason} at byte {error.start})") from error
    if not text.strip():
        raise Malformed("blank line")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        # json's own message may end in "at" ("Unterminated string starting at"): say it once
        where = f"{error.msg.removesuffix(' at')} at column {error.colno}"
        raise Malformed(f"not JSON ({where})") from error
    if not isinstance(value, dict):
        raise Malformed(f"a JSON {type(value).__name__}, not an object")
    if SURROGATE_ESCAPE.search(line):  # valid JSON, but a lone half of a pair is no text UTF-8 can hold
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise Malformed(f"a value holds {ascii(error.object[error.start])}, half of a surrogate pair: "
                            "not text (re-export the file as UTF-8)") from None
    return value


def _check_types(review: dict[str, Any]) -> None:
    """Raise `Malformed` for a field whose JSON type is not the format's (`FIELD_TYPES`; null = absent)."""
    for name, kind in FIELD_TYPES.items():
        value = review.get(name)
        if value is None or (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))):
            continue
        raise Malformed(f"{name} is {json.dumps(value)[:40]}, not {TYPE_NAMES[kind]} as the format has it")


def _rating(value: Any) -> int:
    """1..5 from 5.0, 5 or "5"; raises `Malformed` otherwise (a JSON boolean is no rating)."""
    if isinstance(value, bool):
        raise Malformed(f"rating {json.dumps(value)} is not a number from 1 to 5")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Malformed(f"rating {value!r} is not a number from 1 to 5") from None
    if not math.isfinite(number) or number != round(number) or not 1 <= number <= 5:
        raise Malformed(f"rating {value!r} is not a number from 1 to 5")
    return int(number)


def _clean(value: Any) -> str:
    """A text field as one line of text (CSV-friendly: no line breaks, no surrounding spaces)."""
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _join(title: str, body: str) -> str:
    if not title or not body:
        return title or body
    return f"{title} {body}" if title[-1] in ".!?…。！？" else f"{title}. {body}"


def _first_review_photo(images: Any) -> str:
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict):
            for size in REVIEW_PHOTO_SIZES:
                if isinstance(image.get(size), str) and image[size].strip():
                    return image[size].strip()
    return ""


def _main_product_photo(images: Any) -> str:
    """The MAIN variant's photo (else the first one) of a meta line's `images`."""
    photos = [image for image in images if isinstance(image, dict)] if isinstance(images, list) else []
    photos.sort(key=lambda image: image.get("variant") != "MAIN")  # stable: MAIN first
    for image in photos:
        for size in PRODUCT_PHOTO_SIZES:
            if isinstance(image.get(size), str) and image[size].strip():
                return image[size].strip()
    return ""


def _price(value: Any) -> float | str:
    """A price as a number ("$12.99" -> 12.99), or "" when there is none ("None", "—", null)."""
    try:
        number = float(str(value).replace("$", "").replace(",", "").strip())
    except ValueError:
        return ""
    return number if math.isfinite(number) and number >= 0 else ""


META_COLUMNS = ("product_image_path", "price", "product_title", "store")


class _MetaIndex:
    """The meta file's columns by `parent_asin`, in a SQLite file (constant memory for any size)."""

    def __init__(self, path: Path, meta_path: str | os.PathLike | None, report: ImportReport) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE meta (parent_asin TEXT PRIMARY KEY, product_image_path TEXT, price, "
            "product_title TEXT, store TEXT)"
        )
        if meta_path is not None:
            self._load(Path(meta_path), report)

    def _load(self, meta_path: Path, report: ImportReport) -> None:
        for number, line in _lines(meta_path):
            try:
                product = _json_object(line)
                asin = product.get("parent_asin")
                if not isinstance(asin, str) or not asin:
                    raise Malformed("no parent_asin")
            except Malformed as reason:
                report.meta_malformed.append((number, str(reason)))
                continue
            report.meta_products += 1
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?, ?, ?, ?)",
                (asin, _main_product_photo(product.get("images")), _price(product.get("price")),
                 _clean(product.get("title")), _clean(product.get("store"))),
            )  # fmt: skip
        self.db.commit()

    def get(self, parent_asin: str) -> dict[str, Any] | None:
        found = self.db.execute(
            "SELECT product_image_path, price, product_title, store FROM meta WHERE parent_asin = ?",
            (str(parent_asin),),
        ).fetchone()
        return None if found is None else dict(zip(META_COLUMNS, found, strict=True))

    def close(self) -> None:
        self.db.close()


def imported_from(csv_path: str | os.PathLike) -> str | None:
    """The name of the Amazon reviews file `csv_path` was imported from (read from the import report
    beside it), or None when the CSV is not an `import_amazon` output."""
    report = Path(csv_path).parent / IMPORT_REPORT
    if not report.is_file():
        return None
    first = report.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
    if not first.startswith("Imported ") or " into " not in first:
        return None
    return Path(first.removeprefix("Imported ").rsplit(" into ", 1)[0]).name
