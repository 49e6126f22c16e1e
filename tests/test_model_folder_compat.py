"""Model folders written by an earlier mmsent still load, to the probabilities recorded at write time.

tests/fixtures/model_folders/ was written once (tiny profile, commit 2e07bbf, before the model took one
config object and the checkpoint formats became one):
- ``pretrained-v1``: ``save_pretrained`` of a 3-class fusion model (train_text_layers=1, dim=32, 2 heads);
- ``checkpoint-v0``: ``save_checkpoint`` (the older whole-state-dict format, what ``fit(checkpoint_dir=...)``
  wrote) of a 3-class image-only model (dim=16, 2 heads);
- ``inputs.safetensors``: three tokenised reviews and their photos (uint8, mapped to [-1, 1]), the third
  marked missing; ``probabilities.json``: each model's softmax on them at write time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file

from mmsent.encoders import load_encoders
from mmsent.errors import CheckpointError
from mmsent.hub.config import CONFIG_FILE, WEIGHTS_FILE
from mmsent.models import MultimodalSentimentModel

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "model_folders"
RECORDED = json.loads((FIXTURES / "probabilities.json").read_text(encoding="utf-8"))
# The tiny profile's random encoders are drawn by transformers' initialisers, and 4.x draws other weights than
# the 5.x that wrote the fixtures: a folder that stores only the trained weights then rightly refuses them.
SAME_TINY_ENCODERS = int(transformers.__version__.split(".")[0]) >= 5


def _probabilities(model: MultimodalSentimentModel) -> torch.Tensor:
    """[3, 3] softmax of `model` on the recorded inputs."""
    inputs = load_file(FIXTURES / "inputs.safetensors")
    with torch.no_grad():
        output = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            pixel_values=inputs["pixels_uint8"].float() / 255 * 2 - 1,
            image_present=inputs["image_present"],
        )
    return torch.softmax(output.logits, dim=-1)


@pytest.mark.parametrize("name", ["pretrained-v1", "checkpoint-v0"])
def test_a_folder_written_before_still_loads_to_the_same_probabilities(name, tmp_path):
    folder = Path(shutil.copytree(FIXTURES / name, tmp_path / name))
    if name == "pretrained-v1" and not SAME_TINY_ENCODERS:
        with pytest.raises(CheckpointError, match="encoder_fingerprint"):
            MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
        return
    model = MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
    assert model.config.labels == ["negative", "neutral", "positive"]
    torch.testing.assert_close(_probabilities(model), torch.tensor(RECORDED[name]), rtol=1e-4, atol=1e-5)
    # ... and saved again, it is a folder of today's format that loads to the same probabilities (on the
    # encoders it was loaded with: an older checkpoint brings its own frozen weights)
    again = model.save_pretrained(tmp_path / "again")
    assert (again / CONFIG_FILE).is_file() and (again / WEIGHTS_FILE).is_file()
    reloaded = MultimodalSentimentModel.from_pretrained(again, encoders=model.encoders, device="cpu")
    torch.testing.assert_close(_probabilities(reloaded), torch.tensor(RECORDED[name]), rtol=1e-4, atol=1e-5)


def _legacy_with(tmp_path: Path, section: str, change: dict) -> Path:
    """checkpoint-v0 with `change` in its config.json's `section` and a manifest that agrees."""
    from mmsent.hub.manifest import write_manifest

    folder = Path(shutil.copytree(FIXTURES / "checkpoint-v0", tmp_path / "old"))
    config = json.loads((folder / CONFIG_FILE).read_text())
    config[section].update(change)
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    write_manifest(folder)
    return folder


def test_an_older_folder_is_shape_checked_before_its_model_is_built(tmp_path, meta_builds_only):
    """model.dim 65536 (an allowed value) over weights of dim 16: refused on a meta skeleton; the real
    model (about 100 GB) is never built."""
    folder = _legacy_with(tmp_path, "model", {"dim": 65_536, "num_heads": 1})
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not fit .*other shapes.*\[65536"):
        MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
    assert meta_builds_only == ["meta"]


@pytest.mark.parametrize(("change", "field"), [({"batch_size": 0}, "batch_size"), ({"lr": "fast"}, "lr"),
                                               ({"mixed_precision": "fp8"}, "mixed_precision")])
def test_an_older_folders_recipe_is_checked_like_todays(tmp_path, change, field):
    folder = _legacy_with(tmp_path, "train", change)
    with pytest.raises(CheckpointError, match=rf"config\.json \(train\): field '{field}' is .*; it must"):
        MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
