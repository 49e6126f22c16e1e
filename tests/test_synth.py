"""Tests for the synthetic review set (mmsent.data.synth) and its committed copy under data/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmsent.cli import main as cli
from mmsent.data import SPLITS, synth
from mmsent.data.synth.canvas import draws_committed_pixels

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
COMMITTED_CSV = DATA_DIR / "reviews.csv"
CONTRACT_COLUMNS = [
    "review_id", "product", "scenario", "text", "image_path", "label", "rating", "price",
    "verified_purchase", "helpful_votes", "photo_state", "photo_detail", "text_kind", "split",
]


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return synth.generate_reviews(n=300, seed=3)


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    # keep_default_na=False: an intact photo's detail is "" and must stay "", not NaN
    return pd.read_csv(COMMITTED_CSV, keep_default_na=False)


def test_same_seed_same_frame_other_seed_other_frame(small):
    pd.testing.assert_frame_equal(small, synth.generate_reviews(n=300, seed=3))
    other = synth.generate_reviews(n=300, seed=4)
    assert (other.text != small.text).mean() > 0.5


def test_columns_are_the_contract(small, committed):
    assert list(small.columns) == CONTRACT_COLUMNS == list(synth.COLUMNS)
    assert list(committed.columns) == CONTRACT_COLUMNS
    assert small.review_id.is_unique
    assert (small.image_path == "images/" + small.review_id + ".png").all()
    assert set(small.label) == {"positive", "negative"}
    assert set(small.text_kind) == set(synth.TEXT_KINDS)
    assert set(small.photo_state) == set(synth.STATES)


@pytest.mark.parametrize(("text_kind", "photo_state", "label"), [
    ("clear_positive", "damaged", "positive"),
    ("clear_negative", "intact", "negative"),
    ("clear_positive", "generic", "positive"),
    ("ambiguous", "intact", "positive"),
    ("ambiguous", "damaged", "negative"),
])
def test_label_rule_table(text_kind, photo_state, label):
    assert synth.label_rule(text_kind, photo_state) == label


def test_label_rule_refuses_ambiguous_text_with_generic_photo():
    with pytest.raises(ValueError, match="generic"):
        synth.label_rule("ambiguous", "generic")


@pytest.mark.parametrize("frame_name", ["small", "committed"])
def test_every_row_follows_the_rule_and_its_scenario(frame_name, request):
    frame = request.getfixturevalue(frame_name)
    expected = [synth.label_rule(t, s) for t, s in zip(frame.text_kind, frame.photo_state, strict=True)]
    assert (frame.label == expected).all()
    assert not ((frame.text_kind == "ambiguous") & (frame.photo_state == "generic")).any()
    ambiguous = frame.text_kind == "ambiguous"
    assert (frame.scenario[ambiguous] == "ambiguous_" + frame.photo_state[ambiguous]).all()
    contradicting = frame[frame.scenario == "clear_contradicting"]
    assert ((contradicting.label == "positive") == (contradicting.photo_state == "damaged")).all()
    for state, details in synth.DETAILS.items():
        assert set(frame.photo_detail[frame.photo_state == state]) <= set(details)


def test_ceilings_of_a_hand_made_frame():
    frame = pd.DataFrame({
        "text_kind": ["ambiguous", "ambiguous", "clear_positive", "clear_negative"],
        "photo_state": ["intact", "damaged", "damaged", "generic"],
        "label": ["positive", "negative", "positive", "negative"],
    })
    assert synth.theoretical_ceilings(frame) == {"text_only": 0.75, "image_only": 0.75, "fusion": 1.0}


def test_committed_ceilings_leave_room_for_fusion(committed):
    ceilings = synth.theoretical_ceilings(committed)
    assert 0.75 <= ceilings["text_only"] <= 0.85
    assert 0.75 <= ceilings["image_only"] <= 0.85
    assert ceilings["fusion"] == 1.0
    assert ceilings["fusion"] - max(ceilings["text_only"], ceilings["image_only"]) > 0.10
    assert len(committed) >= 2000
    assert (committed.label.value_counts() == len(committed) // 2).all()


def test_splits_are_stratified_and_disjoint(committed):
    assert set(committed.split) == set(SPLITS)
    assert committed.image_path.is_unique  # each review its own photo: none shared across splits
    for _, cell in committed.groupby(["label", "scenario"]):
        shares = cell.split.value_counts() / len(cell)
        for split, fraction in synth.SPLIT_FRACTIONS.items():
            assert abs(shares.get(split, 0.0) - fraction) <= 1 / len(cell) + 1e-9


def test_committed_csv_is_the_regeneration(tmp_path, committed):
    frame = synth.generate_reviews(n=len(committed), seed=0)
    synth.write_csv(frame, tmp_path / "reviews.csv")
    assert (tmp_path / "reviews.csv").read_bytes() == COMMITTED_CSV.read_bytes()
    exact = draws_committed_pixels()  # Pillow >= 12.2; older ones rasterise a few edge pixels otherwise
    for _, row in frame.groupby("photo_detail").head(1).iterrows():  # one photo of each kind, redrawn
        with Image.open(DATA_DIR / row.image_path) as saved:
            assert saved.mode == "RGB" and saved.size == (128, 128)
            on_disk, redrawn = np.asarray(saved), np.asarray(synth.review_photo(row, seed=0))
        if exact:
            assert np.array_equal(on_disk, redrawn), row.photo_detail
        else:  # the same picture: a few edge pixels differ (Pillow 11.0: at most 0.2% of a photo's)
            assert (on_disk != redrawn).any(axis=-1).mean() <= 0.01, row.photo_detail
    assert all((DATA_DIR / path).is_file() for path in committed.image_path)


def test_showcase_fire_emoji_phone(committed):
    fire = committed[(committed.text == "This phone is 🔥🔥🔥") & (committed.split == "test")]
    burnt = fire[(fire.photo_detail == "burn") & (fire["product"] == "phone")]
    intact = fire[(fire.photo_state == "intact") & (fire["product"] == "phone")]
    assert (burnt.label == "negative").any() and (intact.label == "positive").any()


def test_tabular_columns_are_plausible(committed):
    assert committed.rating.between(1, 5).all()
    negative = committed[committed.label == "negative"]
    assert (negative.rating == 5).mean() > 0.05  # some angry 5-star reviews
    assert committed.groupby("label").rating.mean()["positive"] > 3.5 > negative.rating.mean()
    price = committed.groupby("product").price.median()
    assert price["mug"] < price["sneaker"] < price["phone"] < price["laptop"]
    assert set(committed.verified_purchase) == {0, 1} and (committed.helpful_votes >= 0).all()


def test_no_leak_through_words_or_tabular_columns(committed):
    ceilings = synth.theoretical_ceilings(committed)
    numbers = synth.sanity_baselines(committed)
    assert numbers["bow_text"] <= ceilings["text_only"] + 0.02  # words alone reach the text ceiling, no more
    assert numbers["bow_text_ambiguous"] <= 0.56  # chance on ambiguous texts
    assert numbers["best_single_word"] <= 0.70
    assert 0.65 <= numbers["tabular"] <= 0.85


def test_ambiguous_texts_do_not_depend_on_the_photo(committed):
    ambiguous = committed[committed.text_kind == "ambiguous"]
    shares = pd.crosstab(ambiguous.text.str.len() <= 6, ambiguous.photo_state, normalize="columns")
    assert abs(shares.loc[True, "intact"] - shares.loc[True, "damaged"]) < 0.08
    common = ambiguous.text.value_counts().index[:10]
    for text in common:  # the frequent ambiguous texts come with both kinds of photo
        assert set(ambiguous.photo_state[ambiguous.text == text]) == {"intact", "damaged"}


@pytest.mark.parametrize("product", synth.PRODUCTS)
def test_every_photo_kind_draws_and_damage_shows_at_64px(product):
    def photo(state: str, detail: str, seed: int = 0) -> np.ndarray:
        image = synth.draw_photo(product, state, detail, np.random.default_rng(seed), size=64)
        assert image.mode == "RGB" and image.size == (64, 64)
        return np.asarray(image).astype(int)

    for detail in ("crack", "burn", "dent"):  # same random stream: the same scene, plus the damage
        differences = [np.abs(photo("damaged", detail, seed) - photo("intact", "", seed)).sum(axis=2)
                       for seed in range(4)]
        changed = np.mean([(difference > 60).mean() for difference in differences])
        assert changed > 0.012, f"{detail} on a {product} changes only {changed:.1%} of the pixels"
    for state, detail in (("damaged", "torn_box"), ("generic", "logo"), ("generic", "parcel")):
        photo(state, detail)
    assert (photo("generic", "stock")[0, 0] == 255).all()  # the white studio backdrop


def test_draw_photo_rejects_unknown_names():
    with pytest.raises(ValueError, match="product"):
        synth.draw_photo("toaster", "intact", "", np.random.default_rng(0))
    with pytest.raises(ValueError, match="state/detail"):
        synth.draw_photo("phone", "damaged", "stock", np.random.default_rng(0))


def test_caption_pairs():
    pairs = synth.caption_pairs(30, seed=1, size=64)
    assert len(pairs) == 30
    for image, caption, state in pairs:
        assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (64, 64)
        assert state in synth.STATES and isinstance(caption, str) and caption.startswith("a")
    assert {state for _, _, state in pairs} == set(synth.STATES)
    again = synth.caption_pairs(30, seed=1, size=64)
    assert [c for _, c, _ in again] == [c for _, c, _ in pairs]
    assert np.array_equal(np.asarray(again[5][0]), np.asarray(pairs[5][0]))
    damaged_words = ("cracked", "burnt", "dented", "crushed", "crumpled", "torn", "ripped", "damaged",
                     "broken", "shattered", "scorched", "melted")
    for _, caption, state in pairs:
        words = set(caption.replace(",", "").split())  # whole words: "undamaged" is not "damaged"
        assert bool(words & set(damaged_words)) == (state == "damaged"), caption


def test_command_line_writes_identical_bytes_twice(tmp_path, capsys):
    flags = ["--n", "110", "--seed", "1", "--no-baselines"]
    for run in ("first", "second"):
        assert cli.main(["make-data", "--out", str(tmp_path / run), *flags]) == 0
    assert "ceilings" in capsys.readouterr().out
    first = sorted((tmp_path / "first").rglob("*.*"))
    assert len(first) == 111
    for path in first:
        assert path.read_bytes() == (tmp_path / "second" / path.relative_to(tmp_path / "first")).read_bytes()
    again = ["make-data", "--out", str(tmp_path / "first"), "--n", "100", "--seed", "1", "--no-baselines"]
    assert cli.main(again) == 2  # the existing data set is not replaced by accident
    assert cli.main([*again, "--overwrite"]) == 0
    assert len(list((tmp_path / "first" / "images").glob("*.png"))) == 100  # no stale photos left
