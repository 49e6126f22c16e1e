"""The trainer: metrics, fit / evaluate / predict, cached features, checkpoints, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mmsent import train as training
from mmsent.data import ReviewDataset, load_reviews, split_table
from mmsent.data import dataset as dataset_module
from mmsent.encoders import load_encoders
from mmsent.errors import CheckpointError
from mmsent.features import text_states, vectors
from mmsent.features.cached import CachedFeatures
from mmsent.features.vectors import encode_dataset_images
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig
from mmsent.runtime import seed_everything
from mmsent.train import loop

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")


@pytest.fixture
def datasets(tiny_csv, encoders):
    """48 reviews of two classes whose texts carry the label."""

    def say_the_label(frame):
        return frame.assign(text=[f"{label} {label} review {i}" for i, label in enumerate(frame["label"])])

    table = load_reviews(tiny_csv(n=48, edit=say_the_label))
    frames = split_table(table, seed=0)
    return table, {
        name: ReviewDataset(frame, encoders.tokenizer, encoders.image_processor, max_length=16)
        for name, frame in frames.items()
    }


def small_config(**overrides) -> training.TrainConfig:
    return training.TrainConfig(**{"epochs": 2, "batch_size": 8, "seed": 0, "head_lr": 3e-3, **overrides})


def test_classification_metrics_known_values():
    metrics = training.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    assert metrics["accuracy"] == pytest.approx(0.75)
    # class 0: P 1, R 0.5; class 1: P 2/3, R 1 -> macro P 5/6, macro R 3/4
    assert metrics["precision"] == pytest.approx(5 / 6)
    assert metrics["recall"] == pytest.approx(0.75)
    f1_0, f1_1 = 2 * 1 * 0.5 / 1.5, 2 * (2 / 3) / (5 / 3)
    assert metrics["f1"] == pytest.approx((f1_0 + f1_1) / 2)


def test_classification_metrics_and_confusion_equal_scikit_learns():
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    generator = np.random.default_rng(0)
    cases = [([0, 0, 1, 1], [0, 1, 1, 1]), ([2, 2, 2], [0, 0, 0]), ([1], [1])]  # a class never predicted
    cases += [tuple(generator.integers(0, 4, size=(2, 50))) for _ in range(20)]
    for labels, predictions in cases:
        metrics = training.classification_metrics(labels, predictions)
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, predictions, average="macro", zero_division=0
        )
        expected = {"accuracy": accuracy_score(labels, predictions), "precision": precision, "recall": recall}
        assert metrics == pytest.approx({**expected, "f1": f1}, abs=1e-12)
        expected_counts = confusion_matrix(labels, predictions, labels=range(4))
        assert np.array_equal(training.confusion_counts(labels, predictions, 4), expected_counts)
    with pytest.raises(ValueError, match="at least one"):
        training.classification_metrics([], [])


def test_fit_returns_history_and_learns(datasets, encoders):
    _, data = datasets
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), encoders)
    history = training.fit(
        model, data["train"], data["val"], small_config(epochs=4), progress=False, log=lambda _: None
    )
    assert isinstance(history, pd.DataFrame)
    assert list(history["epoch"]) == [1, 2, 3, 4]
    for column in (
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_precision",
        "val_recall",
        "val_f1",
        "seconds",
    ):
        assert column in history
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


def test_same_seed_same_metrics(datasets, encoders):
    _, data = datasets
    runs = []
    for _ in range(2):
        seed_everything(0)
        model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), encoders)
        history = training.fit(
            model, data["train"], data["val"], small_config(), progress=False, log=lambda _: None
        )
        runs.append(history.drop(columns="seconds"))
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_fit_takes_what_is_cached_and_encodes_nothing_again(datasets, encoders, monkeypatch):
    _, data = datasets
    splits = {"train": data["train"], "val": data["val"]}
    seed_everything(0)
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=1), encoders)
    cached = CachedFeatures(
        {name: vectors.encode_dataset_images(model, part, progress=False) for name, part in splits.items()},
        {name: text_states.encode_frozen_text(model, part, progress=False) for name, part in splits.items()},
    )
    quiet = dict(progress=False, log=lambda _: None)
    seed_everything(0)
    fresh = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=1), encoders)
    computed = training.fit(fresh, data["train"], data["val"], small_config(epochs=1), **quiet)

    def refuse(*_, **__):
        raise AssertionError("encoded again although cached")

    monkeypatch.setattr(loop, "encode_dataset_images", refuse)
    monkeypatch.setattr(loop, "encode_frozen_text", refuse)
    given = training.fit(model, data["train"], data["val"], small_config(epochs=1), cached=cached, **quiet)
    pd.testing.assert_frame_equal(given.drop(columns="seconds"), computed.drop(columns="seconds"), atol=1e-6)


def test_cached_features_match_the_pixel_path(datasets, encoders):
    _, data = datasets
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), encoders).eval()
    features = encode_dataset_images(model, data["test"], progress=False)
    assert features.patches.shape == (len(data["test"]), encoders.num_patches, encoders.image_dim)
    cached = training.predict(model, data["test"], features=features)
    direct = training.predict(model, data["test"])
    np.testing.assert_allclose(cached.probabilities, direct.probabilities, atol=1e-5)
    np.testing.assert_allclose(cached.attention, direct.attention, atol=1e-5)


def test_predict_shapes(datasets, encoders):
    _, data = datasets
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), encoders)
    result = training.predict(model, data["test"])
    n = len(data["test"])
    assert result.probabilities.shape == (n, 2)
    np.testing.assert_allclose(result.probabilities.sum(1), 1.0, atol=1e-5)
    assert result.attention.shape == (n, encoders.num_patches)
    assert result.gate.shape == (n,)
    assert ((result.gate >= 0) & (result.gate <= 1)).all()
    model_config = SentimentModelConfig(labels=LABELS, mode="text_only")
    text_only = training.predict(MultimodalSentimentModel(model_config, encoders), data["test"])
    assert text_only.attention is None and text_only.gate is None


def test_a_checkpoint_is_a_model_folder_that_loads_to_identical_predictions(datasets, encoders, tmp_path):
    table, data = datasets
    model = MultimodalSentimentModel(SentimentModelConfig(labels=table.labels.classes), encoders)
    recipe = small_config(epochs=1)
    folder = tmp_path / "checkpoint"
    training.fit(model, data["train"], None, recipe, checkpoint_dir=folder, progress=False,
                 log=lambda _: None)
    names = {p.name for p in folder.iterdir()}
    assert names == {"model.safetensors", "config.json", "manifest.json", "README.md", "training_state.pt"}
    loaded = MultimodalSentimentModel.from_pretrained(folder, encoders=load_encoders("tiny"), device="cpu")
    assert loaded.config.labels == table.labels.classes and loaded.config.recipe["epochs"] == 1
    before = training.predict(model.eval(), data["test"]).probabilities
    after = training.predict(loaded, data["test"]).probabilities
    np.testing.assert_array_equal(before, after)


def test_loading_a_folder_without_a_model_names_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="not an mmsent checkpoint"):
        MultimodalSentimentModel.from_pretrained(tmp_path)


def test_resume_matches_an_unbroken_run(datasets, encoders, tmp_path):
    table, data = datasets
    config = small_config(epochs=2)

    def fresh():
        seed_everything(0)
        return MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), load_encoders("tiny"))

    unbroken = training.fit(fresh(), data["train"], data["val"], config, progress=False, log=lambda _: None)

    class Crash(Exception):
        pass

    def crash_after_first_epoch(line: str) -> None:
        raise Crash(line)

    # The run dies after its first epoch (once the checkpoint is written) ...
    with pytest.raises(Crash):
        training.fit(
            fresh(),
            data["train"],
            data["val"],
            config,
            checkpoint_dir=tmp_path,
            progress=False,
            log=crash_after_first_epoch,
        )
    # ... and a fresh process continues from the checkpoint.
    resumed = training.fit(
        fresh(),
        data["train"],
        data["val"],
        config,
        checkpoint_dir=tmp_path,
        resume=True,
        progress=False,
        log=lambda _: None,
    )
    assert list(resumed["epoch"]) == [1, 2]
    np.testing.assert_allclose(resumed["train_loss"], unbroken["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(resumed["val_accuracy"], unbroken["val_accuracy"])


def test_predict_reviews_with_and_without_photo(datasets, encoders, tiny_csv):
    table, _ = datasets
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS), encoders).eval()
    photo = table.frame["image_path"].iloc[0]
    result = training.predict_reviews(model, ["nice", "bad"], [photo, None], table.labels)
    assert result.probabilities.shape == (2, 2)
    assert result.gate[1] == 0.0  # no photo: the image is not used at all


def test_attention_targets_teach_the_attention_where_to_look(datasets, encoders):
    _, data = datasets
    patches = encoders.num_patches
    targets = torch.zeros(len(data["train"]), patches)
    targets[::2, 0] = 1.0  # every other training photo: "look at the first patch"; the rest: no target
    mass = {}
    for name, given in [("with targets", targets), ("without", None)]:
        torch.manual_seed(0)
        model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=0), encoders)
        # 8 epochs: with 4, the mass learned on the first patch varies from 5x to 33x the even split
        # across torch / transformers versions (their tiny random encoders differ); with 8 it is ~63x in each
        config = small_config(epochs=8, head_lr=3e-2, attention_loss_weight=5.0)
        quiet = {"progress": False, "log": lambda _: None}
        training.fit(model, data["train"], None, config, attention_targets=given, **quiet)
        mass[name] = training.predict(model, data["test"]).attention[:, 0].mean()
    assert mass["with targets"] > 10 / patches and mass["without"] < 2 / patches  # even split: 1 / patches
    no_target = torch.zeros(4, patches)
    assert training.attention_loss(torch.full((4, patches), 1 / patches), no_target) == 0.0


def test_a_text_only_model_never_opens_a_photo(datasets, encoders, monkeypatch):
    """Training and scoring a text-only model read no pixels: each photo would cost a decode per epoch."""
    _, data = datasets
    opened = []
    open_rgb = dataset_module.open_rgb
    monkeypatch.setattr(dataset_module, "open_rgb", lambda path: opened.append(path) or open_rgb(path))
    model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, mode="text_only"), encoders)
    quiet = {"progress": False, "log": lambda _: None}
    training.fit(model, data["train"], data["val"], small_config(epochs=1), **quiet)
    training.predict(model, data["test"])
    assert opened == []
    model_config = SentimentModelConfig(labels=LABELS, mode="image_only")
    training.predict(MultimodalSentimentModel(model_config, encoders), data["test"])
    # the spy does see a model that looks at photos
    assert len(opened) == data["test"].frame["image_path"].notna().sum()


@pytest.mark.parametrize("damage", ["truncated", "history not a list", "another model"])
def test_a_damaged_training_state_is_refused_not_half_restored(damage, encoders, tmp_path):
    from mmsent.train.checkpoints import TRAINING_STATE_FILE, load_checkpoint, save_checkpoint

    def parts(mode: str = "fusion"):
        model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, mode=mode), encoders)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        return model, optimizer, scheduler, torch.amp.GradScaler("cpu", enabled=False)

    model, *rest = parts()
    recipe = small_config(epochs=1)
    save_checkpoint(tmp_path, model, recipe, epoch=1, history=[{"epoch": 1}], optimizer=rest[0],
                    scheduler=rest[1], scaler=rest[2])
    assert load_checkpoint(tmp_path, *parts()) == (1, [{"epoch": 1}])  # the intact state resumes
    if damage == "truncated":
        data = (tmp_path / TRAINING_STATE_FILE).read_bytes()
        (tmp_path / TRAINING_STATE_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "history not a list":
        save_checkpoint(tmp_path, model, recipe, epoch=1, history={"epoch": 1}, optimizer=rest[0],
                        scheduler=rest[1], scaler=rest[2])
    target = parts("text_only" if damage == "another model" else "fusion")
    before = {name: value.clone() for name, value in target[0].state_dict().items()}
    with pytest.raises(CheckpointError, match=f"cannot be resumed.*delete {tmp_path}") as raised:
        load_checkpoint(tmp_path, *target)
    assert "\n" not in str(raised.value)
    assert all(torch.equal(before[name], value) for name, value in target[0].state_dict().items())
