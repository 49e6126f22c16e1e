"""The header of a review CSV, checked before pandas reads the body.

- The delimiter is sniffed from the header line: a header with no comma but with semicolons,
  tabs or vertical bars is read with that delimiter (spreadsheets in many locales export
  "CSV" with semicolons), and the choice is logged.
- Two columns with the same name are refused (pandas would silently rename the second "x.1").
- `--columns` renames are checked against the header: a name that is not in the file, a new
  name that another column already has, or two columns renamed to one name are refused, with
  the file's columns listed.
- A file with a NUL character anywhere is read by pandas' Python engine (`pandas_engine`):
  the C engine of some pandas versions (2.0, for one) ends a cell at a NUL, so a damaged photo
  path would be reported as "not found" instead of as the NUL it holds.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from mmsent.errors import DataError

logger = logging.getLogger(__name__)

DELIMITERS = {";": "semicolon", "\t": "tab", "|": "vertical bar"}


def read_header(csv_path: Path) -> tuple[list[str], str]:
    """(column names, delimiter) of the CSV's first line; raises `DataError` on an unusable file."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            line = next((line for line in handle if line.strip()), "")  # pandas skips blank lines too
    except UnicodeDecodeError as error:
        raise DataError(
            f"{csv_path} is not a readable UTF-8 CSV ({error}). Re-save it as 'CSV UTF-8'."
        ) from error
    except OSError as error:
        raise DataError(
            f"Cannot read {csv_path}: {error.strerror or error}. Check the path and its permissions."
        ) from error
    if not line.strip():  # blank or missing: no header
        raise DataError(
            f"{csv_path} is empty (not even a header row). Start it with the line text,image_path,label."
        )
    delimiter = ","
    if "," not in line:
        found = [d for d in DELIMITERS if d in line]
        if found:
            delimiter = max(found, key=line.count)
            logger.info(
                "%s: no comma in the header; reading it as %s-separated", csv_path, DELIMITERS[delimiter]
            )
    # A header cell's surrounding spaces are not part of its name (" text" is the column text).
    names = [name.strip() for name in next(csv.reader([line], delimiter=delimiter))]
    return names, delimiter


def record_lines(csv_path: Path, rows: int) -> np.ndarray | None:
    """`[rows]` the file line on which each data row starts (`record_starts`); None when the file's
    records do not come out as `rows` rows (then rows are numbered as a spreadsheet would)."""
    starts = list(record_starts(csv_path))
    return np.array(starts) if len(starts) == rows else None


def record_starts(csv_path: Path) -> Iterator[int]:
    """The file line on which each data row of `csv_path` starts (1 = the file's first line), one row at a
    time, counting the blank lines that pandas skips and the extra lines of a quoted multi-line cell; it
    ends early where the csv module cannot read on (a count that falls short of the rows says so)."""
    _, delimiter = read_header(csv_path)
    end, header_seen = 0, False
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # a blank line: pandas skips it
                if header_seen:
                    yield start
                header_seen = True
        except (csv.Error, UnicodeDecodeError):
            return


def pandas_engine(csv_path: Path, chunk_bytes: int = 1 << 20) -> str:
    """The pandas engine for this file: "python" if it holds a NUL byte anywhere (that engine keeps
    it in the cell), else "c"."""
    with open(csv_path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            if b"\x00" in chunk:
                return "python"
    return "c"


def check_header(names: list[str], csv_path: Path, columns: Mapping[str, str] | None) -> None:
    """Raise `DataError` for duplicate column names or `columns` renames that cannot apply."""
    doubled = sorted(name for name, n in Counter(names).items() if n > 1)
    if doubled:
        raise DataError(
            f"{csv_path} has more than one column named {doubled} (header: {names}). Rename or delete "
            "the extra column(s) so that each name appears once."
        )
    if not columns:
        return
    absent = [old for old in columns if old not in names]
    if absent:
        raise DataError(
            f"--columns names {absent}, not found in {csv_path}; its columns are {names}. "
            "Use YOUR_NAME=OUR_NAME with YOUR_NAME spelled as in the file's header."
        )
    after = [columns.get(name, name) for name in names]
    clashes = sorted(name for name, n in Counter(after).items() if n > 1)
    if clashes:
        sources = {new: [old for old in names if columns.get(old, old) == new] for new in clashes}
        raise DataError(
            f"--columns would give {csv_path} two columns named {clashes} (from {sources}); its columns "
            f"are {names}. Rename only one of them, e.g. drop the pair or also rename the existing "
            "column (text=old_text)."
        )
