"""Locations are resolved when used: MMSENT_DATA_DIR set after `import mmsent` takes effect everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import mmsent.audio
from mmsent import paths
from mmsent.cli import pretrain as pretrain_cli
from mmsent.config import RunOptions


def test_data_dir_set_after_import_takes_effect(tmp_path, monkeypatch):
    before = paths.reviews_csv()
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    here = tmp_path.resolve()
    assert paths.data_dir() == here and paths.DATA_DIR == here
    assert paths.REVIEWS_CSV == paths.reviews_csv() == here / "reviews.csv" != before
    from mmsent.paths import GENERATOR_DIR, VLM_DIR  # the old names, as notebooks import them

    assert (GENERATOR_DIR, VLM_DIR) == (here / "generator-offline", here / "vlm-offline")
    assert RunOptions().data == here / "reviews.csv"  # the `train` default
    assert mmsent.audio.CALLS_CSV == mmsent.audio.calls_csv() == here / "calls" / "calls.csv"
    assert mmsent.audio.AUDIO_ENCODER_DIR == here / "audio-encoder"
    parser = argparse.ArgumentParser()
    pretrain_cli.add_parsers(parser.add_subparsers(dest="command"))  # the command line's defaults too
    assert parser.parse_args(["pretrain-audio"]).out == here / "audio-encoder"
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    assert paths.reviews_csv() == before


def test_offline_clip_falls_back_to_the_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path))
    packaged = tmp_path / "packaged"
    monkeypatch.setattr(paths, "PACKAGED_DIR", packaged)
    assert paths.offline_clip_dir() == tmp_path.resolve() / "clip-offline"  # neither: where it should be
    (packaged / "clip-offline").mkdir(parents=True)
    assert paths.offline_clip_dir() == packaged / "clip-offline"  # a wheel: data/ lacks it
    (tmp_path / "clip-offline").mkdir()
    assert paths.OFFLINE_CLIP_DIR == tmp_path.resolve() / "clip-offline"  # the data folder wins


def test_unknown_names_still_raise():
    with pytest.raises(AttributeError, match="NOT_A_PATH"):
        paths.NOT_A_PATH  # noqa: B018
    assert isinstance(paths.REPO_DIR, Path)
