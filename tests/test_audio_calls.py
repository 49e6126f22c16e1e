"""Tests for the call-centre set (mmsent.audio.voice, calls, store) and its committed table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from mmsent.audio import CALLS_CSV
from mmsent.audio import calls as gen
from mmsent.audio.store import AUDIO_CACHE_KEY, call_waveforms, load_calls
from mmsent.audio.voice import CLIP_SAMPLES, CLIP_SECONDS, SAMPLE_RATE, plan_voice, render_voice
from mmsent.errors import DataError
from mmsent.features.store import FeatureCache


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return gen.generate_calls(n=200, seed=3, with_digests=False)


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    return load_calls()


def test_same_seed_same_table_other_seed_other_table(small):
    pd.testing.assert_frame_equal(small, gen.generate_calls(n=200, seed=3, with_digests=False))
    other = gen.generate_calls(n=200, seed=4, with_digests=False)
    assert (other.shout_spans != small.shout_spans).mean() > 0.3


def test_committed_table_is_what_the_generator_draws(committed):
    assert len(committed) == 1000 and list(committed.columns) == list(gen.COLUMNS)
    fresh = gen.generate_calls(n=1000, seed=0, with_digests=False)
    columns = [c for c in gen.COLUMNS if c != "audio_sha256"]
    pd.testing.assert_frame_equal(committed[columns], fresh[columns], check_dtype=False)


def test_audio_is_regenerated_byte_for_byte(committed):
    for _, row in committed.iloc[[0, 1, 2, 500, 999]].iterrows():
        samples = gen.call_audio(row)
        assert samples.dtype == np.int16 and samples.shape == (CLIP_SAMPLES,) == (SAMPLE_RATE * 3,)
        assert gen.audio_digest(samples) == row.audio_sha256


def test_label_rule_and_every_scenario(committed):
    for _, row in committed.iterrows():
        assert row.label == gen.label_rule(row.text_kind, row.voice_state)
    with pytest.raises(ValueError, match="no label"):
        gen.label_rule("ambiguous", "unclear")
    assert committed.groupby("scenario").size().to_dict() == {
        "clear_matching": 260, "clear_unclear": 300, "clear_contradicting": 40,
        "ambiguous_calm": 200, "ambiguous_angry": 200}
    assert (committed.label == "escalate").sum() == 500


def test_ceilings_each_modality_capped_both_together_perfect(committed):
    for part in (committed, *(group for _, group in committed.groupby("split"))):
        ceilings = gen.theoretical_ceilings(part)
        assert ceilings["text_only"] <= 0.88 and ceilings["audio_only"] <= 0.88
        assert ceilings["fusion"] == 1.0
    ceilings = gen.theoretical_ceilings(committed)
    assert (ceilings["text_only"], round(ceilings["audio_only"], 3)) == (0.8, 0.81)


def test_ambiguous_transcripts_say_nothing_about_the_label(committed):
    ambiguous = committed[committed.text_kind == "ambiguous"]
    by_label = ambiguous.groupby("label").transcript.apply(set)
    assert by_label["escalate"] == by_label["routine"] == set(gen.AMBIGUOUS_TRANSCRIPTS)
    assert committed.groupby(["voice_state", "label"]).size().loc["unclear"].tolist() == [150, 150]


def test_a_bag_of_words_model_stops_at_the_transcript_ceiling(committed):
    leaks = gen.transcript_leak_check(committed)
    assert 0.78 <= leaks["bow_transcript"] <= 0.82
    assert 0.4 <= leaks["bow_transcript_ambiguous"] <= 0.6


def test_splits_are_stratified(committed):
    shares = pd.crosstab([committed.label, committed.scenario], committed.split, normalize="index")
    assert (shares["test"] - 0.15).abs().max() < 0.02 and (shares["train"] - 0.70).abs().max() < 0.03


def test_spans_only_for_angry_voices_inside_the_clip_on_the_tick(committed):
    for _, row in committed.iterrows():
        spans = gen.parse_spans(row.shout_spans)
        assert bool(spans) == (row.voice_state == "angry")
        for start, end in spans:
            assert 0 <= start < end <= CLIP_SECONDS
            assert abs(start * 100 - round(start * 100)) < 1e-6 and abs(end * 100 - round(end * 100)) < 1e-6
    assert gen.format_spans(gen.parse_spans("0.73-1.36;2.10-2.50")) == "0.73-1.36;2.10-2.50"


def test_the_spans_are_where_the_voice_is_loud():
    """Inside a shouted span the snippet is louder (RMS) than in the rest of the speech: 1.7 to 3 times."""
    for index in range(8):
        rng = np.random.default_rng([11, index])
        plan = plan_voice("shouting", rng)
        samples = render_voice(plan, rng).astype(float)
        inside = np.zeros(CLIP_SAMPLES, dtype=bool)
        for start, end in plan.shout_spans:
            inside[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)] = True
        speaking = np.zeros(CLIP_SAMPLES, dtype=bool)
        for syllable in plan.syllables:
            begin = round(syllable.start * SAMPLE_RATE)
            speaking[begin:begin + round(syllable.duration * SAMPLE_RATE)] = True
        loudness = {part: np.sqrt((samples[where] ** 2).mean())
                    for part, where in (("shouted", inside), ("spoken", speaking & ~inside))}
        assert loudness["shouted"] > 1.5 * loudness["spoken"]


def test_waveforms_are_cached_and_read_back(committed, tmp_path, caplog):
    rows = committed.iloc[:4]
    cache = FeatureCache(tmp_path)
    first = call_waveforms(rows, cache=cache)
    assert cache.writes == 4 and first.dtype.is_floating_point is False
    again = call_waveforms(rows, cache=cache)
    assert cache.hits == 4 and bool((again == first).all())
    assert len(list((tmp_path / AUDIO_CACHE_KEY).rglob("*.safetensors"))) == 4
    edited = rows.copy()
    edited.loc[edited.index[0], "audio_sha256"] = "0" * 64  # a table another NumPy would have written
    with caplog.at_level(logging.WARNING):
        third = call_waveforms(edited, cache=cache)
    assert bool((third == first).all()) and "1 snippets" in caplog.text


def test_load_calls_says_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="make-calls"):
        load_calls(tmp_path / "nowhere.csv")
    pd.DataFrame({"call_id": ["c0001"]}).to_csv(tmp_path / "calls.csv", index=False)
    with pytest.raises(DataError, match="columns"):
        load_calls(tmp_path / "calls.csv")
    assert CALLS_CSV.is_file()


def test_make_calls_command_writes_the_table_and_refuses_a_bad_n(tmp_path, capsys):
    from mmsent.cli import main as cli

    assert cli.main(["make-calls", "--n", "120", "--seed", "2", "--out", str(tmp_path)]) == 0
    written = load_calls(tmp_path / "calls.csv")
    assert len(written) == 120 and written.audio_sha256.str.len().eq(64).all()
    assert "ceilings" in capsys.readouterr().out
    assert cli.main(["make-calls", "--n", "5", "--out", str(tmp_path / "small")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error:") and "n >= 100" in error and "Traceback" not in error
