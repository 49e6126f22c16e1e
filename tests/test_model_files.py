"""One save / load for the kit's other models (mmsent.hub.model_files): the audio encoder, the generator and
the vision-language models write the same folder, and the folders committed under data/ before it existed
(no manifest; the generator's config nested under "unet") still load."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from mmsent.audio.encoder import AudioEncoder
from mmsent.errors import CheckpointError
from mmsent.generation.pretrain import load_generator
from mmsent.hub.model_files import load_model_files, save_model_files
from mmsent.paths import DATA_DIR, GENERATOR_DIR, VLM_DIR
from mmsent.vlm.model import VisionLanguageModel


@dataclass
class LineConfig:
    width: int = 3


class Line(nn.Module):
    def __init__(self, config: LineConfig) -> None:
        super().__init__()
        self.config = config
        self.linear = nn.Linear(config.width, 1)


def test_a_saved_folder_has_config_weights_and_a_manifest_that_is_checked(tmp_path):
    torch.manual_seed(0)
    model = Line(LineConfig(width=5))
    save_model_files(tmp_path, model, model.config, {"training": {"epochs": 2}})
    (tmp_path / "vocab.json").write_text("{}")  # a file of its own (a tokenizer's): not in the manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "manifest.json", "model.safetensors", "vocab.json"
    ]
    listed = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert set(listed) == {"config.json", "model.safetensors"}
    loaded, extra = load_model_files(tmp_path, LineConfig, Line, "line", "pretrain-line")
    assert loaded.config == model.config and extra == {"training": {"epochs": 2}} and not loaded.training
    torch.testing.assert_close(loaded.linear.weight, model.linear.weight)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(CheckpointError, match="bytes"):
        load_model_files(tmp_path, LineConfig, Line, "line", "pretrain-line")


def test_the_committed_folders_load_with_or_without_a_manifest():
    for folder in (DATA_DIR / "audio-encoder", GENERATOR_DIR):
        assert not (folder / "manifest.json").exists(), folder  # written before the manifest existed
    assert (VLM_DIR / "llava" / "manifest.json").is_file()  # rebuilt since: checked when loaded
    audio = AudioEncoder.from_pretrained()
    assert audio.config.dim == json.loads((DATA_DIR / "audio-encoder" / "config.json").read_text())["dim"]
    generator = load_generator()
    assert generator.config.to_dict() == json.loads((GENERATOR_DIR / "config.json").read_text())["unet"]
    assert VisionLanguageModel.from_pretrained(VLM_DIR / "llava").config.kind == "llava"
