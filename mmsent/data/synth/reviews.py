"""The review table: latent facts -> label rule -> products, texts, tabular columns, splits -> CSV + PNGs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mmsent.data.synth.allocation import exact_counts, stratified_splits
from mmsent.data.synth.photos import draw_photo
from mmsent.data.synth.texts import SHOWCASE_TEXT, write_text
from mmsent.data.synth.vocabulary import (
    COLUMNS,
    DETAILS,
    META_STREAM,
    PHOTO_STREAM,
    PRODUCTS,
    pick,
)
from mmsent.errors import DataError


@dataclass(frozen=True)
class Scenario:
    """One way text and photo combine; `share` is its fraction of the data set."""

    name: str
    share: float
    text: str  # "clear" or "ambiguous"
    photo: str  # for clear text: "matching", "generic" or "contradicting"; else the photo state


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("clear_matching", 0.26, "clear", "matching"),
    Scenario("clear_generic", 0.30, "clear", "generic"),
    Scenario("clear_contradicting", 0.04, "clear", "contradicting"),
    Scenario("ambiguous_intact", 0.20, "ambiguous", "intact"),
    Scenario("ambiguous_damaged", 0.20, "ambiguous", "damaged"),
)  # never ambiguous text with a generic photo: nothing would tell its label, and fusion's ceiling is 1.0

BASE_PRICES: dict[str, float] = {
    "phone": 499.0, "laptop": 899.0, "headphones": 129.0, "mug": 14.0, "sneaker": 89.0, "watch": 199.0,
}
# P(rating = 1..5 | label): mostly consistent, with some 5-star angry and 1-star happy reviews.
RATING_PROBS: dict[str, tuple[float, ...]] = {
    "positive": (0.07, 0.07, 0.14, 0.32, 0.40),
    "negative": (0.38, 0.22, 0.16, 0.10, 0.14),
}
VERIFIED_RATE: dict[str, float] = {"positive": 0.90, "negative": 0.80}
MEAN_HELPFUL_VOTES: dict[str, float] = {"positive": 2.5, "negative": 5.0}  # complaints get read more


def label_rule(text_kind: str, photo_state: str) -> str:
    """The label of a review: clear text decides; otherwise the photo decides.

    | text_kind      | photo_state | label    |
    |----------------|-------------|----------|
    | clear_positive | any         | positive |
    | clear_negative | any         | negative |
    | ambiguous      | intact      | positive |
    | ambiguous      | damaged     | negative |
    | ambiguous      | generic     | never generated (nothing tells the label) |
    """
    if text_kind in ("clear_positive", "clear_negative"):
        return text_kind.removeprefix("clear_")
    if text_kind == "ambiguous" and photo_state in ("intact", "damaged"):
        return "positive" if photo_state == "intact" else "negative"
    raise ValueError(f"no label for text_kind={text_kind!r} with photo_state={photo_state!r}")


def _latent_rows(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Exact scenario counts (clear ones half positive, half negative), shuffled; labels by `label_rule`."""
    rows = []
    for scenario, count in zip(SCENARIOS, exact_counts(n, [s.share for s in SCENARIOS]), strict=True):
        if scenario.text == "ambiguous":
            rows += [("ambiguous", scenario.photo, scenario.name)] * count
            continue
        for sentiment, k in zip(("positive", "negative"), exact_counts(count, [1, 1]), strict=True):
            shows_good_product = (sentiment == "positive") != (scenario.photo == "contradicting")
            state = "intact" if shows_good_product else "damaged"
            if scenario.photo == "generic":
                state = "generic"
            rows += [(f"clear_{sentiment}", state, scenario.name)] * k
    frame = pd.DataFrame(rows, columns=["text_kind", "photo_state", "scenario"])
    frame = frame.iloc[rng.permutation(n)].reset_index(drop=True)
    frame["label"] = [label_rule(t, s) for t, s in zip(frame.text_kind, frame.photo_state, strict=True)]
    return frame


def _showcase_rows(frame: pd.DataFrame) -> list[int]:
    """Two test reviews that will say "This phone is 🔥🔥🔥": one with a burnt phone, one with an intact one.

    The same words with opposite labels: only the photo can tell them apart.
    """
    test = frame[frame.split == "test"]
    return [int(test.index[test.scenario == name][0]) for name in ("ambiguous_damaged", "ambiguous_intact")]


def _tabular(labels: pd.Series, products: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Star rating (noisy, follows the label), price (by product), verified purchase, helpful votes."""
    ratings = [int(rng.choice(5, p=RATING_PROBS[label])) + 1 for label in labels]
    prices = [max(0.99, round(BASE_PRICES[p] * rng.lognormal(0.0, 0.3)) - 0.01) for p in products]
    verified = [int(rng.random() < VERIFIED_RATE[label]) for label in labels]
    votes = [int(rng.negative_binomial(1, 1 / (1 + MEAN_HELPFUL_VOTES[label]))) for label in labels]
    return pd.DataFrame({"rating": ratings, "price": prices, "verified_purchase": verified,
                         "helpful_votes": votes}, index=labels.index)


def _review_table(n: int, seed: int) -> pd.DataFrame:
    """The review table, without drawing any photo (fast); columns `COLUMNS`."""
    if n < 100:
        raise DataError(f"n={n} is too small to put every scenario in every split; use n >= 100")
    rng = np.random.default_rng([seed, META_STREAM])
    frame = _latent_rows(n, rng)
    frame["photo_detail"] = [pick(rng, DETAILS[state]) for state in frame.photo_state]
    frame["product"] = [pick(rng, PRODUCTS) for _ in range(n)]
    frame["split"] = stratified_splits(frame, rng)
    showcase = _showcase_rows(frame)
    frame.loc[showcase, "product"] = "phone"
    frame.loc[showcase[0], "photo_detail"] = "burn"
    frame["text"] = [write_text(kind, product, rng)
                     for kind, product in zip(frame.text_kind, frame["product"], strict=True)]
    frame.loc[showcase, "text"] = SHOWCASE_TEXT
    frame = frame.join(_tabular(frame.label, frame["product"], rng))
    frame["review_id"] = [f"r{i + 1:05d}" for i in range(n)]
    frame["image_path"] = "images/" + frame.review_id + ".png"
    return frame[list(COLUMNS)]


def review_photo(row: pd.Series, seed: int = 0, size: int = 128) -> Image.Image:
    """Redraw one review's photo (at 128 px: identical to its PNG) from its own random stream."""
    index = int(str(row["review_id"]).lstrip("r")) - 1
    rng = np.random.default_rng([seed, PHOTO_STREAM, index])
    return draw_photo(row["product"], row["photo_state"], row["photo_detail"], rng, size=size)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write the table as UTF-8 CSV with fixed formatting, so regenerating gives identical bytes."""
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.2f", encoding="utf-8")


def generate_reviews(n: int = 2400, seed: int = 0, out_dir: Path | None = None) -> pd.DataFrame:
    """Draw the review set from `seed`; with `out_dir`, also write reviews.csv and images/<review_id>.png.

    Without `out_dir` no photo is drawn (a fraction of a second). Each review has its own photo,
    drawn from its own random stream, so no photo is shared across splits.

    Returns:
        DataFrame with one row per review and the columns `COLUMNS`.
    """
    frame = _review_table(n, seed)
    if out_dir is None:
        return frame
    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for stale in images.glob("r*.png"):  # a smaller n must not leave old photos behind
        if re.fullmatch(r"r\d{5}\.png", stale.name):
            stale.unlink()
    for _, row in frame.iterrows():
        review_photo(row, seed).save(Path(out_dir) / row["image_path"], format="PNG", compress_level=9)
    write_csv(frame, Path(out_dir) / "reviews.csv")
    return frame
