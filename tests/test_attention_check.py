"""The attention lift test: twin photos give exact damage masks, the lift is 1 for a flat map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmsent.analysis.attention_lift import attention_lift, damage_lift, damage_targets, review_damage_mask
from mmsent.data.synth import generate_reviews, review_photo
from mmsent.features.store import FeatureCache


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return generate_reviews(n=120, seed=0)  # the table only: no photo is drawn


def test_a_flat_map_has_lift_one_and_a_map_on_the_mask_has_lift_one_over_its_area():
    mask = np.zeros((64, 64), dtype=bool)
    mask[:16, :16] = True  # the top-left 2 x 2 of an 8 x 8 patch grid: 1/16 of the photo
    assert attention_lift(np.full(64, 1 / 64), mask) == pytest.approx(1.0)
    on_mask = np.zeros(64)
    on_mask[[0, 1, 8, 9]] = 0.25
    assert attention_lift(on_mask, mask) == pytest.approx(16.0)
    with pytest.raises(ValueError, match="empty"):
        attention_lift(on_mask, np.zeros((64, 64), dtype=bool))


def test_a_damaged_review_has_a_mask_where_its_intact_twin_differs(reviews):
    damaged = reviews[reviews.photo_detail.isin(["crack", "burn", "dent"])]
    for _, row in damaged.head(6).iterrows():
        photo = review_photo(row, seed=0)
        mask = review_damage_mask(row, photo, seed=0)
        assert mask.shape == (128, 128) and 0.005 < mask.mean() < 0.6, row.photo_detail
    row = damaged.iloc[0]
    other_seed = review_photo(row, seed=1)  # not the photo the generator drew for this row
    assert review_damage_mask(row, other_seed, seed=0) is None
    intact = reviews[reviews.photo_state == "intact"].iloc[0]
    assert review_damage_mask(intact, review_photo(intact), seed=0) is None


def test_damage_lift_averages_ambiguous_damaged_reviews_and_skips_foreign_data(reviews, tmp_path):
    rows = reviews[(reviews.text_kind == "ambiguous") & reviews.photo_detail.isin(["crack", "dent"])].head(4)
    paths = []
    for _, row in rows.iterrows():
        path = tmp_path / f"{row.review_id}.png"
        review_photo(row).save(path)
        paths.append(str(path))
    lift, measured = damage_lift(rows, np.full((len(rows), 64), 1 / 64), paths)
    assert measured == len(rows) and lift == pytest.approx(1.0)
    assert damage_lift(rows.drop(columns="text_kind"), np.full((len(rows), 64), 1 / 64), paths) == (
        pytest.approx(np.nan, nan_ok=True),
        0,
    )


def test_damage_targets_are_kept_in_the_disk_cache_and_a_changed_photo_misses(reviews, tmp_path):
    rows = reviews[reviews.photo_detail.isin(["crack", "dent"])].head(3)
    paths = []
    for _, row in rows.iterrows():
        path = tmp_path / f"{row.review_id}.png"
        review_photo(row).save(path)
        paths.append(str(path))
    store = FeatureCache(tmp_path / "cache")
    drawn = damage_targets(rows, paths, 64, cache=False)
    assert (drawn.sum(dim=1) - 1).abs().max() < 1e-5  # every row has a mask: rows sum to 1
    assert torch.equal(damage_targets(rows, paths, 64, cache=store), drawn) and store.writes == 3
    assert torch.equal(damage_targets(rows, paths, 64, cache=store), drawn) and store.hits == 3
    # Another photo under the first one's name: its bytes differ, so its cached target is not used.
    review_photo(rows.iloc[0], seed=1).save(paths[0])
    again = damage_targets(rows, paths, 64, cache=store)
    assert store.hits == 5 and not again[0].any() and torch.equal(again[1:], drawn[1:])
