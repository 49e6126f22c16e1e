"""save_pretrained / from_pretrained / push_to_hub, the config dataclass and the model card (tiny profile)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mmsent import train as training
from mmsent.data import ReviewDataset, load_reviews, split_table
from mmsent.encoders import load_encoders
from mmsent.errors import CheckpointError
from mmsent.hub.card import read_card_metadata
from mmsent.hub.config import SentimentModelConfig
from mmsent.hub.manifest import write_manifest
from mmsent.hub.pretrained import encoder_fingerprint
from mmsent.models import MultimodalSentimentModel

LABELS = ["negative", "positive"]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "model_folders"

METRICS = {
    "fusion": {"accuracy": 0.95, "precision": 0.951, "recall": 0.95, "f1": 0.949, "attention_lift": 1.1},
    "text_only": {"accuracy": 0.797, "precision": 0.805, "recall": 0.797, "f1": 0.796},
    "image_only": {"accuracy": 0.722, "precision": 0.724, "recall": 0.722, "f1": 0.722},
}


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")


@pytest.fixture(scope="module")
def trained(encoders, tmp_path_factory):
    """(model trained 1 epoch, top text layer fine-tuned; labels; recipe; test set; saved folder)."""
    folder = tmp_path_factory.mktemp("hub")
    from conftest import write_tiny_csv

    table = load_reviews(write_tiny_csv(folder / "data", n=32))
    splits = split_table(table, seed=0)
    data = {
        k: ReviewDataset(f, encoders.tokenizer, encoders.image_processor, max_length=16)
        for k, f in splits.items()
    }
    recipe = training.TrainConfig(epochs=1, batch_size=8, seed=0)
    torch.manual_seed(0)
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=1), encoders)
    training.fit(model, data["train"], data["val"], recipe, progress=False, log=lambda _: None)
    saved = model.save_pretrained(
        folder / "model", table.labels, recipe, METRICS, "Trained on 32 reviews."
    )
    return model, table.labels, recipe, data["test"], saved


def test_from_pretrained_gives_identical_predictions(trained, encoders):
    model, labels, _, test_set, folder = trained
    loaded = MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
    before, after = training.predict(model, test_set), training.predict(loaded, test_set)
    assert np.array_equal(before.probabilities, after.probabilities)
    assert np.array_equal(before.attention, after.attention) and np.array_equal(before.gate, after.gate)
    assert loaded.config.labels == labels.classes == ["negative", "positive"]
    assert training.TrainConfig.from_dict(loaded.config.recipe) == trained[2]
    assert not loaded.training  # eval mode, ready to predict


def test_only_the_trained_weights_are_stored(trained):
    model, *_, folder = trained
    stored = load_file(folder / "model.safetensors")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert set(stored) == trainable
    assert any(name.startswith("text_model.encoder.layer.1.") for name in stored)  # the fine-tuned top layer
    assert not any(
        name.startswith(("image_model.", "text_model.encoder.layer.0.", "text_model.embeddings."))
        for name in stored
    )
    everything = sum(p.numel() for p in model.state_dict().values())
    assert sum(t.numel() for t in stored.values()) < everything / 2
    assert {p.name for p in folder.iterdir()} == {
        "config.json",
        "model.safetensors",
        "README.md",
        "manifest.json",
    }


def test_config_is_a_dataclass_naming_encoders_heads_labels_and_recipe(trained):
    *_, folder = trained
    values = json.loads((folder / "config.json").read_text())
    config = SentimentModelConfig.from_dict(values, folder / "config.json")
    assert config.profile == "tiny" and config.text_encoder == "tiny-bert-random-0"
    assert config.image_encoder == "tiny-clip-random-0" and "random weights" in config.text_source
    assert (config.dim, config.num_heads, config.train_text_layers) == (256, 4, 1)
    assert config.recipe["epochs"] == 1 and len(config.encoder_fingerprint) == 64
    with pytest.raises(CheckpointError, match="unknown \\['colour'\\]"):
        SentimentModelConfig.from_dict({**values, "colour": "red"}, folder / "config.json")


def test_the_model_card_has_metadata_metrics_ablations_limits_and_loading(trained):
    *_, folder = trained
    card = (folder / "README.md").read_text()
    meta = read_card_metadata(card)
    assert meta["license"] == "mit" and "multimodal" in meta["tags"] and meta["library_name"] == "pytorch"
    results = meta["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in results} == {
        "accuracy": 0.95,
        "precision": 0.951,
        "recall": 0.95,
        "f1": 0.949,
    }
    assert "| text only (ablation) | 0.797 | 0.805 | 0.797 | 0.796 |" in card
    assert "| photo only (ablation) | 0.722 |" in card and "Trained on 32 reviews." in card
    assert "synthetic" in card and "MultimodalSentimentModel.from_pretrained(" in card
    assert '"epochs": 1' in card  # the recipe


def test_encoders_other_than_the_saved_ones_are_refused(trained, tmp_path):
    *_, folder = trained
    other = load_encoders("tiny")
    with torch.no_grad():
        other.image_model.vision_model.embeddings.patch_embedding.weight.add_(0.01)
    with pytest.raises(CheckpointError, match="encoder_fingerprint"):
        MultimodalSentimentModel.from_pretrained(folder, encoders=other)


def test_damaged_or_foreign_weights_are_named(trained, tmp_path):
    *_, folder = trained
    copy = Path(shutil.copytree(folder, tmp_path / "model"))
    weights = load_file(copy / "model.safetensors")
    weights.pop("classifier.3.bias")
    from safetensors.torch import save_file

    save_file(weights, copy / "model.safetensors")
    with pytest.raises(CheckpointError, match="truncated or replaced"):  # not the file that was written
        MultimodalSentimentModel.from_pretrained(copy)
    write_manifest(copy, exclude=("README.md",))
    with pytest.raises(CheckpointError, match=r"does not fit .*missing \['classifier.3.bias'\]"):
        MultimodalSentimentModel.from_pretrained(copy)


def test_an_older_checkpoint_is_converted_in_place_and_loads_again(tmp_path):
    """The older whole-state-dict format (tests/fixtures/model_folders/checkpoint-v0) is read once, and
    saved over, it becomes a model folder: labels.json gone, only the trained weights kept."""
    old = Path(shutil.copytree(FIXTURES / "checkpoint-v0", tmp_path / "old"))
    before = (old / "model.safetensors").stat().st_size
    loaded = MultimodalSentimentModel.from_pretrained(old, encoders=load_encoders("tiny"))
    assert loaded.config.labels == ["negative", "neutral", "positive"] and loaded.config.recipe["seed"] == 7
    loaded.save_pretrained(old)
    assert not (old / "labels.json").exists() and (old / "model.safetensors").stat().st_size < before
    assert json.loads((old / "config.json").read_text())["format"] == "mmsent-sentiment-model/1"
    again = MultimodalSentimentModel.from_pretrained(old, encoders=loaded.encoders)
    assert again.config == loaded.config


def test_save_pretrained_checks_the_labels_it_is_given(encoders, tmp_path):
    model = MultimodalSentimentModel(SentimentModelConfig(labels=["bad", "so-so", "good"]), encoders)
    with pytest.raises(ValueError, match="2 labels"):
        model.save_pretrained(tmp_path, ["a", "b"])
    model.save_pretrained(tmp_path)  # the config's own labels
    assert json.loads((tmp_path / "config.json").read_text())["labels"] == ["bad", "so-so", "good"]


def test_push_to_hub_uploads_the_saved_folder(trained, monkeypatch):
    """The hub client of `PyTorchModelHubMixin.push_to_hub` is replaced by a recorder: what would be
    uploaded is the save_pretrained folder, card included."""
    from types import SimpleNamespace

    from huggingface_hub import hub_mixin

    model, labels, recipe, *_ = trained
    calls = {}

    class Recorder:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private, exist_ok):
            calls["repo"] = (repo_id, private, exist_ok)
            return SimpleNamespace(repo_id=repo_id)

        def upload_folder(self, repo_id, folder_path, commit_message, **_):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            calls["config"] = json.loads((Path(folder_path) / "config.json").read_text())
            calls["card"] = (Path(folder_path) / "README.md").read_text()
            return "https://huggingface.co/me/reviews/commit/abc"

    monkeypatch.setattr(hub_mixin, "HfApi", Recorder)
    url = model.push_to_hub("me/reviews", token="t", private=False, labels=labels, recipe=recipe,
                            metrics=METRICS)
    assert url.endswith("/commit/abc") and calls["repo"] == ("me/reviews", False, True)
    assert "0.950" in calls["card"] or "0.95" in calls["card"]
    assert calls["files"] == ["README.md", "config.json", "manifest.json", "model.safetensors"]
    assert calls["config"]["labels"] == ["negative", "positive"] and calls["token"] == "t"


def test_hub_ids_are_what_huggingface_hub_accepts(monkeypatch, tmp_path):
    from mmsent.hub.source import is_hub_id

    monkeypatch.chdir(tmp_path)
    assert is_hub_id("me/reviews") and is_hub_id("Me-2/reviews.v1")
    assert not any(is_hub_id(name) for name in ("reviews", "a/b/c", "me/re--views", "me/re..views", "-me/x"))
    (tmp_path / "me").mkdir()  # a folder here: a local path with a typing mistake, never sent to the hub
    assert not is_hub_id("me/reviews")


def test_a_hub_id_that_cannot_be_fetched_says_so(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="no such model folder, and the Hugging Face hub is off"):
        MultimodalSentimentModel.from_pretrained("nobody/no-such-model")


def test_the_fingerprint_covers_frozen_weights_only(encoders):
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=1), encoders)
    before = encoder_fingerprint(model)
    with torch.no_grad():
        model.classifier[0].weight.add_(1.0)  # trained: not part of the encoders' identity
    assert encoder_fingerprint(model) == before


def test_the_weights_file_has_the_mode_of_the_other_files(trained):
    """safetensors writes 0600; the folder's other files (and any new file) get 0666 less the umask."""
    *_, folder = trained
    modes = {path.name: path.stat().st_mode & 0o777 for path in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == modes["README.md"], modes
