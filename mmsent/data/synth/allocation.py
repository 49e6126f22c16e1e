"""How the synthetic sets share out their rows: exact counts per scenario, stratified splits.

Both generated sets (the reviews of `mmsent.data.synth.reviews`, the calls of `mmsent.audio.calls`)
draw a scenario for every row in exact proportions, then cut each (label, scenario) cell into
train / validation / test in the same fractions, so that every split has the same ceilings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmsent.data.splits import stratified_assignment

SPLIT_FRACTIONS: dict[str, float] = {"train": 0.70, "val": 0.15, "test": 0.15}


def exact_counts(n: int, shares: Sequence[float]) -> list[int]:
    """Split `n` into integer counts proportional to `shares` (largest remainders get the leftovers)."""
    raw = np.asarray(shares, dtype=float) / sum(shares) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def stratified_splits(frame: pd.DataFrame, rng: np.random.Generator,
                      by: Sequence[str] = ("label", "scenario")) -> list[str]:
    """One of train / val / test per row of `frame`, in `SPLIT_FRACTIONS` within every cell of `by`.

    Cells are visited in sorted order and each is shuffled with `rng`, so the same frame and seed
    give the same splits (`mmsent.data.splits.stratified_assignment`, as `split_table`).
    """
    split = stratified_assignment(
        frame.groupby(list(by)).indices,
        len(frame),
        rng,
        lambda n: (round(n * SPLIT_FRACTIONS["val"]), round(n * SPLIT_FRACTIONS["test"])),
    )
    return split.tolist()
