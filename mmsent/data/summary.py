"""What a model was trained on, in numbers: the model card's data section, metadata and limits.

`TrainingData.from_table(table, splits)` counts what `train` read: the file and where it came from
(the course's bundled set, an Amazon Reviews 2023 import by `import-amazon`, or the user's own CSV),
rows read, usable, skipped and kept text-only, the class balance and the split sizes.
`accuracy_interval` is the 95 % (Wilson) interval of an accuracy measured on `n` reviews.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmsent.data import ReviewTable
from mmsent.data.amazon import imported_from
from mmsent.data.problems import SKIPPED, TEXT_ONLY
from mmsent.paths import reviews_csv

BUNDLED = "bundled"
AMAZON = "amazon-reviews-2023"
USER = "user-csv"
BUNDLED_NAME = "mmsent synthetic product reviews"
AMAZON_HUB_ID = "McAuley-Lab/Amazon-Reviews-2023"  # the data set's page on the Hugging Face Hub


@dataclass
class TrainingData:
    """The counts of a training table (see the module docstring); JSON-able with `asdict`."""

    csv_name: str
    kind: str  # BUNDLED, AMAZON or USER
    source: str | None = None  # for AMAZON: the reviews file that was imported
    rows_read: int = 0
    usable: int = 0
    skipped: int = 0  # rows with no usable text (or label): not trained on
    text_only: int = 0  # usable rows whose photo could not be used
    classes: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: ReviewTable, splits: dict[str, Any]) -> TrainingData:
        csv = Path(table.csv_path)
        source = imported_from(csv)
        kind = BUNDLED if csv.resolve() == reviews_csv().resolve() else AMAZON if source else USER
        problems = table.problems
        skipped = int(problems.loc[problems["action"] == SKIPPED, "row"].nunique())
        counts = table.frame["label"].value_counts()
        return cls(
            csv_name=csv.name,
            kind=kind,
            source=source,
            rows_read=len(table.frame) + skipped,
            usable=len(table.frame),
            skipped=skipped,
            text_only=int(problems.loc[problems["action"] == TEXT_ONLY, "row"].nunique()),
            classes={name: int(counts.get(name, 0)) for name in table.classes},
            splits={name: len(frame) for name, frame in splits.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def name(self) -> str:
        """The data set's name, as the model-index files the scores under."""
        if self.kind == BUNDLED:
            return BUNDLED_NAME
        if self.kind == AMAZON:
            return f"Amazon Reviews 2023 ({self.source}, imported as {self.csv_name})"
        return f"the user's review table {self.csv_name}"

    @property
    def hub_id(self) -> str:
        """The model-index's dataset type: a Hub id where there is one."""
        return {BUNDLED: "mmsent-reviews", AMAZON: AMAZON_HUB_ID}.get(self.kind, "csv")

    def paragraph(self) -> str:
        """The card's data section."""
        where = {
            BUNDLED: "the course's bundled synthetic review set (generated text and drawn photos, "
            "`data/README.md`)",
            AMAZON: f"real Amazon Reviews 2023 reviews: `{self.source}`, imported with "
            f"`python -m mmsent import-amazon` into `{self.csv_name}` (labels from the star rating)",
            USER: f"the user's own review table `{self.csv_name}`",
        }[self.kind]
        balance = ", ".join(f"{n} {name} ({n / max(self.usable, 1):.0%})" for name, n in self.classes.items())
        parts = " / ".join(f"{name} {n}" for name, n in self.splits.items())
        return (
            f"Trained on {where}. {self.rows_read} rows read: {self.usable} used ({balance}); "
            f"{self.skipped} skipped (no usable text or label: not trained on); {self.text_only} of the used "
            f"rows kept text-only (their photo missing or unusable). Split train / val / test: {parts}; the "
            "rows of each split are in split.json."
        )


def accuracy_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy measured on `n` reviews."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))
