"""The disk cache of image features: hits, invalidation, the off switch, concurrent writers."""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from mmsent.encoders import load_encoders
from mmsent.features import vectors as features
from mmsent.features.store import FeatureCache, encoder_key, resolve_cache
from mmsent.paths import default_cache_dir

REPO = Path(__file__).resolve().parent.parent


def assert_same_features(reencoded: torch.Tensor, reference: torch.Tensor) -> None:
    """Features encoded again, in a batch of another size, against the first encoding.

    Not bit for bit: a CPU's matrix kernels may sum in another order for another batch shape (an
    AMD Zen 4 does, for a batch of 2 against one of 6), so the last bits can differ. The tolerance is
    the one `torch.testing.assert_close` picks for the dtype (float32: rtol 1.3e-6, atol 1e-5): a few
    units in the last place, far below what a stale or damaged cache entry would change.
    """
    torch.testing.assert_close(reencoded, reference)


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")


@pytest.fixture
def photos(tmp_path) -> list[str | None]:
    """Six small PNGs of different colours, and one review without a photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    paths: list[str | None] = []
    for i in range(6):
        path = folder / f"p{i}.png"
        Image.new("RGB", (24, 24), (40 * i, 90, 200 - 30 * i)).save(path)
        paths.append(str(path))
    return [*paths, None]


@pytest.fixture
def encoded(monkeypatch) -> list[int]:
    """Counts the photos the image encoder runs on (one number per encoder call)."""
    calls: list[int] = []
    real = features.clip_image_outputs

    def counting(model, pixel_values):
        calls.append(len(pixel_values))
        return real(model, pixel_values)

    monkeypatch.setattr(features, "clip_image_outputs", counting)
    return calls


def test_second_run_encodes_nothing_and_gives_identical_features(tmp_path, encoders, photos, encoded):
    first = features.image_features(encoders, photos, batch_size=4, cache=FeatureCache(tmp_path / "c"))
    assert sum(encoded) == 6  # the review without a photo is never encoded
    encoded.clear()

    second_process = FeatureCache(tmp_path / "c")  # a new cache object: what another process would see
    second = features.image_features(encoders, photos, batch_size=4, cache=second_process)
    assert encoded == []
    assert second_process.hits == 6 and second_process.writes == 0
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)  # read back from disk: the very bytes that were written
    uncached = features.image_features(encoders, photos, batch_size=4, cache=False)
    for a, b in zip(first, uncached, strict=True):
        assert_same_features(b, a)


def test_an_edited_photo_is_encoded_again(tmp_path, encoders, photos, encoded):
    cache = FeatureCache(tmp_path / "c")
    before = features.image_features(encoders, photos, cache=cache)
    Image.new("RGB", (24, 24), (255, 0, 0)).save(photos[2])
    encoded.clear()
    after = features.image_features(encoders, photos, cache=cache)
    assert encoded == [1]
    assert not torch.allclose(before[1][2], after[1][2])
    assert torch.equal(before[1][3], after[1][3])  # a cache hit: the bytes written by the first call


def test_another_encoder_misses(tmp_path, encoders, photos, encoded):
    cache = FeatureCache(tmp_path / "c")
    features.image_features(encoders, photos, cache=cache)
    renamed = dataclasses.replace(encoders, image_name="someone/else")
    retrained = dataclasses.replace(encoders, image_model=copy.deepcopy(encoders.image_model))
    with torch.no_grad():
        retrained.image_model.vision_model.post_layernorm.weight.add_(0.5)  # same name, new weights
    resized = dataclasses.replace(encoders, image_processor=copy.deepcopy(encoders.image_processor))
    resized.image_processor.image_mean = [0.5, 0.5, 0.5]
    keys = {encoder_key(e) for e in (encoders, renamed, retrained, resized)}
    assert len(keys) == 4
    for other in (renamed, retrained):
        encoded.clear()
        features.image_features(other, photos, cache=cache)
        assert sum(encoded) == 6


def test_the_same_photo_under_two_names_is_stored_once(tmp_path, encoders, photos, encoded):
    copy_path = Path(photos[0]).with_name("copy.png")
    copy_path.write_bytes(Path(photos[0]).read_bytes())
    cache = FeatureCache(tmp_path / "c")
    embeds, _, _ = features.image_features(encoders, [photos[0], str(copy_path)], cache=cache)
    assert len(list(cache.root.rglob("*.safetensors"))) == 1
    assert_same_features(embeds[1], embeds[0])  # two rows of one batch: other positions in the kernels


def test_where_the_cache_lives_and_how_to_turn_it_off(tmp_path, monkeypatch):
    monkeypatch.delenv("MMSENT_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "mmsent"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mmsent"
    monkeypatch.setenv("MMSENT_CACHE_DIR", str(tmp_path / "mine"))
    assert resolve_cache(True).root == tmp_path / "mine"
    for off in ("off", "0", ""):
        monkeypatch.setenv("MMSENT_CACHE_DIR", off)
        assert resolve_cache(True) is None
    assert resolve_cache(False) is None
    mine = FeatureCache(tmp_path)
    assert resolve_cache(mine) is mine


def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path, encoders, photos, encoded):
    cache = FeatureCache(tmp_path / "c")
    first = features.image_features(encoders, photos, cache=cache)
    entry = cache.entry(encoder_key(encoders), photos[1])
    entry.write_bytes(entry.read_bytes()[:50])  # truncated, e.g. by a full disk
    encoded.clear()
    again = features.image_features(encoders, photos, cache=cache)
    assert encoded == [1]
    assert_same_features(again[1], first[1])  # encoded alone, first in a batch of 6
    assert load_file(entry)["patch_tokens"].shape == first[1][1].shape


# Each writer saves the same 8 entries over and over, every file filled with its own number.
WRITER = """
import sys, time, torch
from pathlib import Path
from mmsent.features.store import FeatureCache
cache, me, go = FeatureCache(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for _ in range(20):
    for i in range(8):
        entry = cache.root / "enc" / f"{i:02d}.safetensors"
        cache.save(entry, {"image_embeds": torch.full((512,), me), "patch_tokens": torch.full((49, 64), me)})
"""


def test_two_processes_writing_at_once_leave_only_whole_entries(tmp_path):
    root, go = tmp_path / "c", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(me), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for me in (1, 2)
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    go.touch()
    entries = [root / "enc" / f"{i:02d}.safetensors" for i in range(8)]
    reads = 0
    while any(w.poll() is None for w in writers):
        for entry in entries:
            if entry.exists():  # once it exists a reader must always find a whole, unmixed entry
                tensors = load_file(entry)
                assert tensors["patch_tokens"].shape == (49, 64)
                assert tensors["image_embeds"].unique().tolist() == tensors["patch_tokens"].unique().tolist()
                assert len(tensors["image_embeds"].unique()) == 1
                reads += 1
        time.sleep(0.002)
    assert [w.wait() for w in writers] == [0, 0]
    assert reads > 0
    assert all(load_file(entry)["image_embeds"][0].item() in (1.0, 2.0) for entry in entries)
    assert list(root.rglob("*.part")) == []


def test_a_writer_that_dies_midway_leaves_the_old_entry_whole(tmp_path, monkeypatch):
    from mmsent.features import store as cache_module

    cache = FeatureCache(tmp_path)
    entry = tmp_path / "enc" / "photo.safetensors"
    cache.save(entry, {"image_embeds": torch.ones(4)})

    def dies_midway(tensors, path, metadata=None):
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module, "save_file", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        cache.save(entry, {"image_embeds": torch.zeros(4)})
    assert torch.equal(cache.load(entry)["image_embeds"], torch.ones(4))
    assert [p.name for p in entry.parent.iterdir()] == ["photo.safetensors"]


def _flip_last_byte(entry: Path) -> None:
    """Damage the tensor bytes of an entry and leave its header intact (a bad copy, a flipped bit)."""
    data = bytearray(entry.read_bytes())
    data[-1] ^= 0x7F  # the last byte of the last tensor's data: the exponent byte of a float32
    entry.write_bytes(bytes(data))


def test_damaged_bytes_with_an_intact_header_are_a_miss_said_once(
    tmp_path, encoders, photos, encoded, caplog
):
    cache = FeatureCache(tmp_path / "c")
    first = features.image_features(encoders, photos, cache=cache)
    for i in (1, 3):
        _flip_last_byte(cache.entry(encoder_key(encoders), photos[i]))
    encoded.clear()
    with caplog.at_level("WARNING", logger="mmsent.features.store"):
        again = features.image_features(encoders, photos, cache=cache)
    assert encoded == [2] and cache.rejected == 2
    assert_same_features(again[1], first[1])  # two photos encoded again, in a batch of 2
    assert torch.isfinite(again[1]).all()
    warnings = [r for r in caplog.records if "unusable" in r.getMessage()]
    assert len(warnings) == 1 and "checksum" in warnings[0].getMessage()
    encoded.clear()
    features.image_features(encoders, photos, cache=cache)  # rewritten: all hits now
    assert encoded == []


def test_entries_of_other_shapes_or_with_nans_are_misses_not_errors(tmp_path, encoders, photos, encoded):
    cache = FeatureCache(tmp_path / "c")
    first = features.image_features(encoders, photos, cache=cache)
    key = encoder_key(encoders)
    cache.save(cache.entry(key, photos[0]), {"image_embeds": torch.ones(3), "patch_tokens": torch.ones(2, 5)})
    nan = {"image_embeds": torch.full_like(first[0][2], float("nan")), "patch_tokens": first[1][2]}
    cache.save(cache.entry(key, photos[2]), nan)
    encoded.clear()
    again = features.image_features(encoders, photos, cache=cache)
    assert encoded == [2] and cache.rejected == 2
    assert_same_features(again[0], first[0])  # two photos encoded again, in a batch of 2
    assert_same_features(again[1], first[1])


def test_a_cache_that_cannot_be_written_is_skipped_with_one_warning(tmp_path, encoders, photos, caplog):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    cache = FeatureCache(blocker / "cache")  # its parent is a file: nothing can be created there
    with caplog.at_level("WARNING", logger="mmsent.features.store"):
        embeds, _, present = features.image_features(encoders, photos, cache=cache)
    assert present.sum() == 6 and cache.writes == 0 and embeds[:6].abs().sum() > 0
    assert sum("Cannot write the feature cache" in r.getMessage() for r in caplog.records) == 1
