"""The problems found in a review table: one record per problem, a readable report, one warning.

`ProblemLog` addresses each problem by the file line its row starts on (the header is line 1 when the file
starts with it; blank lines and the extra lines of a multi-line cell count, as in a text editor) and
review id; `describe_problems` turns the records into one line per kind of problem.
Rows that cannot be used are reported by count and id, never dropped silently.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

# Problem names and actions in `ReviewTable.problems`. Image problems are named in images.py.
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"
SKIPPED = "skipped"
TEXT_ONLY = "kept text-only"
PROBLEM_COLUMNS = ("row", "review_id", "column", "problem", "action", "detail")


def is_missing(value: Any) -> bool:
    """None, NaN or a string with nothing visible: blank, whitespace, or only invisible format and
    control characters (a zero-width space U+200B, a byte-order mark U+FEFF, ...)."""
    if isinstance(value, str):
        return all(char.isspace() or unicodedata.category(char) in ("Cf", "Cc") for char in value)
    return value is None or bool(pd.isna(value))


class ProblemLog:
    """Collects one record per problem, addressed by CSV row number and review id."""

    def __init__(self, raw: pd.DataFrame, lines: np.ndarray | None = None) -> None:
        """`lines`: `[rows]` the file line each row starts on (`mmsent.data.csvfile.record_lines`); None
        numbers them as a spreadsheet does (the header is row 1), from `raw`'s index, so a chunk of a
        longer file (its index continues the chunks before it) keeps the file's numbers."""
        self.rows = lines if lines is not None else np.asarray(raw.index, dtype=np.int64) + 2
        ids = raw["review_id"] if "review_id" in raw.columns else pd.Series([None] * len(raw))
        self.review_ids = [
            rid if not is_missing(rid) else f"row{row}" for rid, row in zip(ids, self.rows, strict=True)
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


def _where(row: int, review_id: str) -> str:
    return f"row {row}" if review_id == f"row{row}" else f"row {row} ({review_id})"


def shorten(items: list[Any], limit: int) -> str:
    shown = ", ".join(str(item) for item in items[:limit])
    return shown + (f", ... and {len(items) - limit} more" if len(items) > limit else "")


def describe_problems(problems: pd.DataFrame, max_ids: int) -> str:
    """One line per (problem, action) with its count and the rows it hit."""
    if problems.empty:
        return "  No problems found."
    lines = [f"  {len(problems)} problem(s):"]
    for (problem, action), group in problems.groupby(["problem", "action"], sort=False):
        where = [_where(row, rid) for row, rid in zip(group["row"], group["review_id"], strict=True)]
        lines.append(f"    - {problem} [{action}], {len(group)} row(s): {shorten(where, max_ids)}")
    return "\n".join(lines)


def warn_about_problems(problems: pd.DataFrame, csv_path: Path) -> None:
    """One summary warning per load, so problems are never silent."""
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
        csv_path,
        skipped,
        text_only,
        "; ".join(first),
    )
