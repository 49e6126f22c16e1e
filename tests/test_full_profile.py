"""The full profile's code paths, on random weights and with no download.

`load_encoders("full")` is pointed at a stand-in built from the full profile's classes (`BertModel` with
the bert-base-uncased vocabulary, `CLIPModel`) and its shapes where the code depends on them (224-pixel
photos cut into 32-pixel patches: a 7 x 7 grid of 49 patches, where the offline profile has 8 x 8 = 64),
but tiny widths, so that the steps the notebooks take on the full profile run here in seconds: build,
forward, cached photo features and frozen text layers, attention targets on the 7 x 7 grid, fit, predict,
the attention check, robustness curves, explanations, zero-shot, checkpoints, `save_pretrained` /
`from_pretrained`, the model card, and `predict` from the terminal. Not covered: the download itself, the
real widths and weights, and CLIP's own tokenizer (the stand-in uses the course CLIP's, from disk).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from transformers import BertConfig, BertModel, CLIPConfig, CLIPModel

from mmsent import encoders as enc
from mmsent.analysis.attention_lift import damage_lift, damage_targets
from mmsent.analysis.robustness import REMOVED, robustness_table
from mmsent.cli import main as cli
from mmsent.compat import load_clip_tokenizer
from mmsent.data import LabelVocab, ReviewDataset, load_reviews, make_loader, split_table
from mmsent.explain import METHODS, Review, as_weights
from mmsent.features import CachedFeatures, image_features, text_embeddings
from mmsent.features.text_states import encode_frozen_text
from mmsent.features.vectors import encode_dataset_images
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig
from mmsent.models.clip_pretrain import zero_shot_evaluate
from mmsent.paths import OFFLINE_CLIP_DIR, REVIEWS_CSV
from mmsent.train import TrainConfig, fit, predict
from mmsent.viz import attention_map

PATCHES = 49  # ViT-B/32 on 224-pixel photos: (224 // 32) ** 2
ROWS = {"train": 40, "val": 8, "test": 16}  # reviews of the bundled set taken from each of its splits


def full_standin(seed: int = 0) -> enc.Encoders:
    """The full profile's classes, tokenizer vocabulary and patch grid, at tiny widths (random weights)."""
    tokenizer = enc._minilm_tokenizer()  # the bert-base-uncased WordPiece vocabulary, as the full profile's
    clip_tokenizer = load_clip_tokenizer(OFFLINE_CLIP_DIR)  # a CLIP tokenizer from disk (the real one: hub)
    small = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2)
    bert = BertConfig(vocab_size=tokenizer.vocab_size, num_hidden_layers=2, **small)
    clip = CLIPConfig(
        text_config=dict(vocab_size=len(clip_tokenizer), num_hidden_layers=1, max_position_embeddings=77,
                         pad_token_id=clip_tokenizer.pad_token_id, bos_token_id=clip_tokenizer.bos_token_id,
                         eos_token_id=clip_tokenizer.eos_token_id, **small),
        vision_config=dict(image_size=224, patch_size=32, num_hidden_layers=1, **small),
        projection_dim=16,
    )
    text_model, image_model = enc._random_models(bert, clip, seed)
    return enc._describe("full", text_model, tokenizer, image_model, enc.clip_image_processor(224),
                         enc.FULL_TEXT_NAME, enc.FULL_IMAGE_NAME, clip_tokenizer=clip_tokenizer)


@pytest.fixture(scope="module", autouse=True)
def full_is_the_standin():
    """`load_encoders("full")` (and so `from_pretrained` of a full-profile folder) builds the stand-in."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(enc, "_load_full", full_standin)
        yield


@pytest.fixture(scope="module")
def standin() -> enc.Encoders:
    return enc.load_encoders("full")


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 reviews of the bundled set (its generator's columns and split kept) and their photos, in a tmp
    folder; ambiguous reviews with a damaged photo first, so that attention targets and check have some."""
    bundled = pd.read_csv(REVIEWS_CSV, keep_default_na=False)
    order = (bundled["text_kind"] != "ambiguous") | ~bundled["photo_detail"].isin(["crack", "burn", "dent"])
    bundled = bundled.assign(_later=order).sort_values(["_later", "review_id"], kind="stable")
    rows = pd.concat([bundled[(bundled["split"] == split) & (bundled["label"] == label)].head(count // 2)
                      for split, count in ROWS.items() for label in ("negative", "positive")])
    rows = rows.drop(columns="_later")
    folder = tmp_path_factory.mktemp("full-profile") / "data"
    (folder / "images").mkdir(parents=True)
    for relative in rows["image_path"]:
        shutil.copy(REVIEWS_CSV.parent / relative, folder / relative)
    rows.to_csv(folder / "reviews.csv", index=False)
    return folder / "reviews.csv"


@pytest.fixture(scope="module")
def datasets(small_csv, standin) -> dict[str, ReviewDataset]:
    table = load_reviews(small_csv)
    frames = split_table(table)
    assert {name: len(frame) for name, frame in frames.items()} == ROWS  # the bundled set's own split, kept
    return {name: ReviewDataset(frame, standin.tokenizer, standin.image_processor)
            for name, frame in frames.items()}


@pytest.fixture(scope="module")
def trained(standin, datasets):
    """A stand-in fusion model fitted for an epoch as in the notebooks (cached photos, attention targets)."""
    torch.manual_seed(0)
    config = SentimentModelConfig(labels=["negative", "positive"], mode="fusion", train_text_layers=1)
    model = MultimodalSentimentModel(config, standin)
    features = {name: encode_dataset_images(model, dataset) for name, dataset in datasets.items()}
    train = datasets["train"]
    targets = damage_targets(train.frame, train.image_paths, standin.num_patches)
    history = fit(model, train, datasets["val"], TrainConfig(epochs=1, batch_size=8, seed=0),
                  attention_targets=targets, cached=CachedFeatures(features), progress=False,
                  log=lambda line: None)
    return model, features, targets, history


def test_the_standin_has_the_full_profiles_classes_vocabulary_and_grid(standin):
    assert standin.profile == "full" and standin.num_patches == PATCHES
    assert isinstance(standin.text_model, BertModel) and isinstance(standin.image_model, CLIPModel)
    assert standin.tokenizer.vocab_size == 30522  # bert-base-uncased's WordPiece vocabulary
    assert standin.image_processor.to_dict()["crop_size"] == {"height": 224, "width": 224}


def test_forward_and_cached_features_on_the_7x7_grid(standin, datasets, trained):
    model, features, _, _ = trained
    dataset = datasets["train"]
    batch = next(iter(make_loader(dataset, batch_size=8, pad_token_id=standin.tokenizer.pad_token_id)))
    assert batch["pixel_values"].shape[1:] == (3, 224, 224)
    model.eval()
    with torch.no_grad():
        from_pixels = model(batch["input_ids"], batch["attention_mask"], pixel_values=batch["pixel_values"])
        cached = features["train"].batch(batch["indices"], torch.device("cpu"))
        from_cache = model(batch["input_ids"], batch["attention_mask"], **cached)
        states = encode_frozen_text(model, dataset, progress=False)
        length = batch["input_ids"].shape[1]
        top_only = model(text_states=states.batch(batch["indices"], length, torch.device("cpu")),
                         attention_mask=batch["attention_mask"], **cached)
    assert cached["patch_tokens"].shape == (8, PATCHES, standin.image_dim)
    assert from_pixels.attention_weights.shape == (8, PATCHES)
    assert torch.allclose(from_pixels.attention_weights.sum(-1), torch.ones(8), atol=1e-5)
    assert torch.allclose(from_pixels.logits, from_cache.logits, atol=1e-4)
    assert torch.allclose(top_only.logits, from_cache.logits, atol=1e-4)


def test_fit_with_attention_targets_then_predict_and_check_the_attention(datasets, trained):
    model, features, targets, history = trained
    marked = targets.sum(dim=1) > 0
    assert targets.shape == (ROWS["train"], PATCHES) and marked.sum() >= 5  # damage found on the 7 x 7 grid
    assert torch.allclose(targets[marked].sum(dim=1), torch.ones(int(marked.sum())), atol=1e-5)
    assert len(history) == 1 and np.isfinite(history["train_loss"]).all() and "val_accuracy" in history
    test = datasets["test"]
    result = predict(model, test, features=features["test"])
    assert result.attention.shape == (ROWS["test"], PATCHES)
    assert result.probabilities.shape == (ROWS["test"], 2)
    assert np.allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
    assert ((result.gate >= 0) & (result.gate <= 1)).all()
    lift, measured = damage_lift(test.frame, result.attention, test.image_paths)
    assert measured >= 3 and np.isfinite(lift) and lift > 0
    assert attention_map(result.attention[0], (224, 224)).shape == (224, 224)


def test_robustness_curves(datasets, trained):
    model, features, _, _ = trained
    curves = robustness_table({"fusion": model}, datasets["test"], TrainConfig(batch_size=8),
                              removed=(0.0, 1.0), blur=(2.0,), jpeg=(20,), features=features["test"])
    assert len(curves) == 4 and curves["accuracy"].between(0, 1).all()
    assert curves.loc[curves["condition"] == REMOVED, "photos"].tolist() == [ROWS["test"], 0]


def test_a_checkpoint_and_save_pretrained_reload_to_the_same_predictions(tmp_path, standin, datasets, trained,
                                                                         capsys):
    model, features, _, _ = trained
    test = datasets["test"]
    before = predict(model, test, features=features["test"])
    labels = LabelVocab.fit(["negative", "positive"])
    folder = model.save_pretrained(tmp_path / "model", labels, TrainConfig())  # a checkpoint's format too
    loaded = MultimodalSentimentModel.from_pretrained(folder, encoders=standin)
    config = json.loads((folder / "config.json").read_text())
    assert config["profile"] == "full" and config["text_source"] == f"https://huggingface.co/{enc.FULL_TEXT_NAME}"
    assert "full profile" in (folder / "README.md").read_text()
    reloaded = MultimodalSentimentModel.from_pretrained(folder)  # its encoders from load_encoders("full")
    for again in (loaded, reloaded):
        after = predict(again, test, features=features["test"])
        assert np.array_equal(after.labels, before.labels)
        assert np.allclose(after.probabilities, before.probabilities, atol=1e-5)
    first = test.frame.iloc[0]  # and from the terminal, as `python -m mmsent predict`
    argv = ["predict", "--model", str(folder), "--text", first["text"], "--image", first["image_path"]]
    assert cli.main(argv) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] == labels.classes[before.labels[0]]
    assert answer["probabilities"][answer["label"]] == pytest.approx(before.probabilities[0].max(), abs=1e-3)


def test_every_explanation_method_scores_the_49_patches(datasets, trained):
    model, _, _, _ = trained
    row = datasets["test"].frame.iloc[0]
    photo = Image.open(row["image_path"]).convert("RGB")
    tokens = model.encoders.tokenizer([row["text"]], return_tensors="pt")
    pixels = model.encoders.image_processor(images=[photo], return_tensors="pt")["pixel_values"]
    review = Review(tokens["input_ids"], tokens["attention_mask"], pixels)
    for name, method in METHODS.items():
        weights = method(model, review, 0)
        assert weights.shape == (PATCHES,), name
        assert np.isfinite(weights).all() and abs(as_weights(weights).sum() - 1) < 1e-4, name


def test_features_of_the_fusion_notebooks_and_zero_shot(standin, datasets):
    frame = datasets["val"].frame
    texts = text_embeddings(standin, frame["text"].tolist())
    embeds, patches, present = image_features(standin, list(frame["image_path"]))
    assert texts.shape == (len(frame), standin.text_dim) and torch.isfinite(texts).all()
    assert embeds.shape == (len(frame), standin.image_embed_dim) and present.all()
    assert patches.shape[1:] == (PATCHES, standin.image_dim)
    scores = zero_shot_evaluate(standin, n_per_class=2)
    assert 0 <= scores["accuracy"] <= 1 and set(scores) == {"accuracy", "intact", "damaged", "generic"}
