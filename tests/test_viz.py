"""Pictures and explorers: heat maps keep their mass, explanations match predict(), widgets redraw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mmsent import viz  # noqa: E402
from mmsent.data import ReviewDataset, load_reviews  # noqa: E402
from mmsent.encoders import load_encoders  # noqa: E402
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig  # noqa: E402
from mmsent.train import predict  # noqa: E402

LABELS = ["negative", "positive"]


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")


@pytest.fixture
def reviews(tiny_csv, encoders):
    """(table, dataset) of 6 reviews, the third one without its photo."""

    def drop_one_photo(frame):
        frame.loc[2, "image_path"] = None
        return frame

    table = load_reviews(tiny_csv(n=6, edit=drop_one_photo))
    dataset = ReviewDataset(table.frame, encoders.tokenizer, encoders.image_processor, max_length=16)
    return table, dataset


@pytest.fixture
def model(encoders):
    return MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=0), encoders).eval()


def test_attention_map_keeps_the_mass_and_the_layout():
    weights = np.zeros(16, dtype=np.float32)
    weights[1] = 1.0  # top row, second patch
    heat = viz.attention_map(weights, (32, 32))
    assert heat.shape == (32, 32) and heat.sum() == pytest.approx(1.0)
    assert heat[:8, 8:16].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="square grid"):
        viz.attention_map(np.ones(15), (32, 32))


def test_plain_text_spells_out_emoji_and_shortens():
    assert viz.plain_text("This phone is 🔥") == "This phone is [fire]"
    assert viz.plain_text("❤️ it") == "[heavy black heart] it"  # the variation selector is dropped
    assert viz.plain_text("abcdefghij", width=6) == "abc..."


def test_explain_review_agrees_with_predict(model, reviews):
    table, dataset = reviews
    expected = predict(model, dataset)
    for row in (0, 2):
        path = dataset.image_paths[row]
        shown = viz.explain_review(model, table.labels, dataset.frame["text"][row], path, "positive")
        assert list(shown.probabilities) == table.labels.classes
        assert list(shown.probabilities.values()) == pytest.approx(
            expected.probabilities[row].tolist(), abs=1e-5
        )
        assert shown.predicted == table.labels.classes[expected.labels[row]]
        assert shown.gate == pytest.approx(float(expected.gate[row]), abs=1e-5)
    assert shown.image is None and shown.attention is None and shown.gate == 0.0  # row 2 has no photo
    assert "true label positive" in shown.summary()


def test_explain_review_text_only_model_has_no_gate(encoders, reviews):
    table, dataset = reviews
    model_config = SentimentModelConfig(labels=LABELS, mode="text_only", train_text_layers=0)
    text_only = MultimodalSentimentModel(model_config, encoders).eval()
    shown = viz.explain_review(text_only, table.labels, "fine", dataset.image_paths[0])
    assert shown.gate is None and shown.attention is None and shown.image is not None
    figure = viz.plot_explanation(shown)
    assert figure.axes[1].get_xlabel() == "probability"
    plt.close(figure)


def test_review_explorer_follows_its_slider(model, reviews):
    table, dataset = reviews
    explorer = viz.review_explorer(model, dataset, table.labels, rows=[4, 2])
    assert explorer.last.text == dataset.frame["text"][4]  # drawn once when built
    explorer.controls["review"].value = 1  # what moving the slider does
    assert explorer.last.text == dataset.frame["text"][2] and explorer.last.gate == 0.0
    shown = explorer.update()
    assert shown.attention is None and shown.true_label == dataset.frame["label"][2]
    with pytest.raises(ValueError, match="at least one row"):
        viz.review_explorer(model, dataset, table.labels, rows=[])
    plt.close("all")


def test_try_your_own_reads_the_text_and_the_photo(model, reviews):
    table, dataset = reviews
    playground = viz.try_your_own(model, table.labels, {"first photo": dataset.image_paths[0]})
    assert playground.controls["photo"].value == dataset.image_paths[0]  # the last photo is picked first
    assert playground.last.attention.shape == (model.encoders.num_patches,)
    assert playground.last.attention.sum() == pytest.approx(1.0, abs=1e-4)
    playground.controls["text"].value = "Great, just great."
    playground.controls["photo"].value = None
    shown = playground.update()
    assert shown.text == "Great, just great." and shown.image is None and shown.gate == 0.0
    plt.close("all")


def test_attention_grid_puts_every_map_on_one_scale_with_a_colour_bar(reviews):
    _, dataset = reviews
    flat, peaked = np.full(16, 1 / 16), np.eye(16)[5]
    images = [dataset[0]["image"], dataset[1]["image"]]
    figure = viz.attention_grid(images, [flat, peaked], ["flat", "peaked"], columns=2)
    flat_ax, peaked_ax, colour_bar = figure.axes
    for ax in (flat_ax, peaked_ax):
        assert ax.images[-1].get_clim() == (0.0, 16.0)  # the peaked map's peak, in even-split units
        assert ax.get_xlabel() == ax.get_ylabel() == ""  # no label on axes without ticks
    assert flat_ax.images[-1].get_array().max() == pytest.approx(1.0)  # a flat map is 1 everywhere
    assert colour_bar.get_ylabel() == viz.ATTENTION_LABEL
    plt.close(figure)


def test_history_plot_shows_scores_on_the_whole_zero_to_one_scale():
    import pandas as pd

    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.5, 0.4], "val_loss": [0.45, 0.44],
                            "val_accuracy": [0.8775, 0.8782]})
    figure = viz.plot_history(history)
    assert figure.axes[1].get_ylim() == (0.0, 1.02)  # a 0.0007 change stays a flat line
    plt.close(figure)
