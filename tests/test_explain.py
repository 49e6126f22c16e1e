"""Every explanation method on a model built so that only one patch of the photo matters.

The tiny profile's CLIP is rewired so that a grey patch (0 in normalised pixels) stays exactly 0
all the way up: no position embedding, no LayerNorm bias (and a LayerNorm eps of 1), and blocks
that pass their input through (attention outputs zeroed, the tower's own attention uniform, MLPs
without biases: quick_gelu(0) = 0). The cross-attention asks for the bright patch's key and
nothing else, and the classifier reads only the attended patch (no global embedding). A photo
grey everywhere but patch `HOT` then has exactly one patch that matters: every method must find it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from mmsent.cli import main as cli
from mmsent.data.synth import generate_reviews
from mmsent.encoders import clip_image_outputs, load_encoders
from mmsent.explain import METHODS, Review, as_weights, scores
from mmsent.explain.methods import logits_fn
from mmsent.explain.run import COLUMNS, NO_TRUTH
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig

LABELS = ["negative", "positive"]

HOT = 19  # row 2, column 3 of the 8 x 8 grid
SIDE = 8


def _zero(*tensors: torch.Tensor) -> None:
    for tensor in tensors:
        torch.nn.init.zeros_(tensor)


@pytest.fixture(scope="module", params=["fusion", "image_only"])
def one_patch(request) -> tuple[MultimodalSentimentModel, Review]:
    torch.manual_seed(0)
    encoders = load_encoders("tiny")  # built fresh: rewiring it touches no other test
    model_config = SentimentModelConfig(
        labels=LABELS, mode=request.param, dim=32, num_heads=2, dropout=0.0, global_embedding=False
    )
    model = MultimodalSentimentModel(model_config, encoders).eval()
    vision = model.image_model.vision_model
    with torch.no_grad():
        embeddings = vision.embeddings.position_embedding.weight
        _zero(embeddings, vision.pre_layrnorm.bias, vision.post_layernorm.bias)
        for norm in vision.modules():  # a LayerNorm ignores its input's scale, so a path from a grey photo
            if isinstance(norm, torch.nn.LayerNorm):  # would jump at once; an eps of 1 makes it smooth
                norm.eps = 1.0
        for block in vision.encoder.layers:
            attention = block.self_attn
            _zero(block.layer_norm1.bias, block.layer_norm2.bias, attention.out_proj.weight,
                  attention.out_proj.bias, block.mlp.fc1.bias, block.mlp.fc2.bias, attention.q_proj.weight,
                  attention.q_proj.bias, attention.k_proj.weight, attention.k_proj.bias)
        pixels = torch.zeros(1, 3, 64, 64)
        row, column = divmod(HOT, SIDE)
        pixels[..., row * 8:(row + 1) * 8, column * 8:(column + 1) * 8] = 1.5
        _, tokens = clip_image_outputs(model.image_model, pixels)
        assert tokens[0, :HOT].abs().max() == 0 and tokens[0, HOT].abs().max() > 0  # grey stays 0
        cross = model.cross_attention
        _zero(cross.key.bias, cross.query.weight)  # the query is its bias, whatever the text
        wanted = cross.key(tokens[0, HOT])  # grey keys are 0: ask for this one, hard
        cross.query.bias.copy_(40 * wanted / wanted.norm() ** 2 * wanted.numel() ** 0.5)
        cross.value.weight.mul_(30.0)  # amplify the hot token, so the photo moves the logits
        _zero(cross.gate[-1].weight)  # the gate open and constant: at random init its MLP can shut it,
        cross.gate[-1].bias.fill_(4.0)  # and a shut gate hides the photo from every method
        if model.uses_text:
            _zero(model.text_proj.weight, model.text_proj.bias)  # the text says nothing
    if model.uses_text:
        tokens = encoders.tokenizer(["Well. It arrived."], return_tensors="pt")
        review = Review(tokens["input_ids"], tokens["attention_mask"], pixels)
    else:
        review = Review(None, None, pixels)
    return model, review


def _photo_and_grey_logits(model: MultimodalSentimentModel, review: Review) -> torch.Tensor:
    """Logits [2, classes] of the review with its photo, then with an all-grey photo."""
    with torch.no_grad():
        photos = torch.cat([review.pixel_values, torch.zeros_like(review.pixel_values)])
        return logits_fn(model, review)(photos)


def _target(model: MultimodalSentimentModel, review: Review) -> int:
    """The class the hot patch pushes towards: higher with the photo than with a grey one."""
    logits = _photo_and_grey_logits(model, review)
    return int((logits[0] - logits[1]).argmax())


def test_the_attention_looks_only_at_the_hot_patch(one_patch):
    model, review = one_patch
    weights = METHODS["attention"](model, review, 0)
    assert weights.shape == (64,) and weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert weights[HOT] > 0.99


@pytest.mark.parametrize("name", [name for name in METHODS if name != "random"])
def test_every_method_puts_the_hot_patch_on_top(one_patch, name):
    model, review = one_patch
    relevance = METHODS[name](model, review, _target(model, review))
    assert relevance.shape == (64,) and np.isfinite(relevance).all()
    assert int(np.argmax(relevance)) == HOT, (name, relevance[HOT], np.sort(relevance)[-3:])
    others = np.delete(relevance, HOT)
    assert relevance[HOT] > 0 and (relevance[HOT] > 3 * np.abs(others).max() or name == "attention rollout")


def test_integrated_gradients_is_exactly_zero_on_grey_patches_and_sums_to_the_logit_change(one_patch):
    from mmsent.explain.methods import integrated_gradients

    model, review = one_patch
    target = _target(model, review)
    relevance = integrated_gradients(model, review, target, steps=32)
    assert np.abs(np.delete(relevance, HOT)).max() == 0  # IG is (x - baseline) x ...: grey patches get 0
    logits = _photo_and_grey_logits(model, review)
    change = float(logits[0, target] - logits[1, target])
    assert relevance.sum() == pytest.approx(change, rel=0.05)  # completeness


def test_the_random_map_is_seeded_by_the_photo_and_says_nothing(one_patch):
    model, review = one_patch
    first, again = METHODS["random"](model, review, 0), METHODS["random"](model, review, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, METHODS["random"](model, review, 0, seed=1))
    other_photo = review._replace(pixel_values=review.pixel_values.flip(-1))
    assert not np.array_equal(first, METHODS["random"](model, other_photo, 0))


def test_scores_of_a_map_on_the_damage_and_of_one_beside_it():
    mask = np.zeros((64, 64), dtype=bool)
    row, column = divmod(HOT, SIDE)
    mask[row * 8:(row + 1) * 8, column * 8:(column + 1) * 8] = True  # the damage is the hot patch
    on, beside = np.zeros(64), np.zeros(64)
    on[HOT], beside[HOT + 1] = 1.0, 1.0
    assert scores.pointing_hit(on, mask) and not scores.pointing_hit(beside, mask)
    assert scores.mass_on_damage(on, mask) == pytest.approx((1.0, 64.0))
    assert scores.mass_on_damage(beside, mask) == pytest.approx((0.0, 0.0))
    assert scores.mass_on_damage(-on, mask)[1] == pytest.approx(1.0)  # nothing positive: a flat map
    np.testing.assert_allclose(as_weights(np.full(64, -1.0)), 1 / 64)


def test_deletion_of_the_hot_patch_first_drops_the_probability_at_once(one_patch):
    model, review = one_patch
    target = _target(model, review)
    hot_first = np.zeros(64)
    hot_first[HOT] = 1.0
    hot_last = -hot_first
    faithful = scores.deletion_curve(model, review, target, hot_first, steps=64)
    unfaithful = scores.deletion_curve(model, review, target, hot_last, steps=64)
    assert faithful.shape == (65,) and faithful[0] == pytest.approx(unfaithful[0])
    assert faithful[1] < faithful[0] - 0.05  # the first patch removed is the one that matters
    np.testing.assert_allclose(faithful[1:], faithful[-1], atol=1e-6)  # nothing else matters
    np.testing.assert_allclose(unfaithful[:-1], unfaithful[0], atol=1e-6)
    assert scores.curve_auc(faithful) < scores.curve_auc(unfaithful) - 0.04
    assert scores.curve_auc(np.ones(9)) == pytest.approx(1.0)


def test_randomizing_the_head_changes_the_attention_but_not_the_random_map(one_patch):
    model, review = one_patch
    before = model.cross_attention.query.bias.clone()
    head = scores.randomized(model, "head", seed=0)
    tower = scores.randomized(model, "head + tower", seed=0)
    assert torch.equal(model.cross_attention.query.bias, before)  # the original is untouched
    assert not torch.equal(head.cross_attention.query.bias, before)
    layer = model.image_model.vision_model.encoder.layers[0].self_attn.out_proj.weight  # zeroed above
    assert torch.equal(head.image_model.vision_model.encoder.layers[0].self_attn.out_proj.weight, layer)
    assert tower.image_model.vision_model.encoder.layers[0].self_attn.out_proj.weight.abs().sum() > 0
    assert METHODS["attention"](head, review, 0)[HOT] < 0.5  # was > 0.99: the map followed the weights
    random_before, random_after = METHODS["random"](model, review, 0), METHODS["random"](head, review, 0)
    assert scores.rank_correlation(random_before, random_after) == pytest.approx(1.0)  # it ignores the model
    assert scores.rank_correlation(np.arange(64), -np.arange(64.0) ** 3) == pytest.approx(-1.0)
    assert np.isnan(scores.rank_correlation(np.zeros(64), np.arange(64)))
    with pytest.raises(ValueError, match="part"):
        scores.randomized(model, "everything")


@pytest.fixture(scope="module")
def bundled_kind(tmp_path_factory):
    """A tiny-profile fusion model trained one epoch on 100 generated reviews (photos with masks)."""
    folder = tmp_path_factory.mktemp("explain")
    generate_reviews(n=100, seed=0, out_dir=folder / "data")
    argv = ["train", "--data", str(folder / "data" / "reviews.csv"), "--profile", "tiny", "--epochs", "1",
            "--batch-size", "16", "--models", "fusion,text_only", "--report-dir", str(folder / "r"),
            "--no-progress"]
    assert cli.main(argv) == 0
    return folder


def test_evaluate_explanations_writes_the_table_and_the_gallery(bundled_kind, capsys):
    argv = ["evaluate", "--model", str(bundled_kind / "r" / "model"), "--data",
            str(bundled_kind / "data" / "reviews.csv"), "--split", "all", "--explanations",
            "--explain-reviews", "2"]
    assert cli.main(argv) == 0
    out = bundled_kind / "r" / "explanations"
    table = pd.read_csv(out / "explanations.csv", index_col="method")
    assert list(table.index) == list(METHODS) and list(table.columns) == list(COLUMNS)
    assert table["pointing game"].between(0, 1).all() and (table["lift"] >= 0).all()  # masks were found
    assert table.loc["random", "AUC below random"] == 0
    assert table.loc["random", "rank corr. head re-init"] == pytest.approx(1.0)
    summary = json.loads((out / "explanations.json").read_text())
    assert len(summary["reviews"]) == 2 and summary["note"] == ""
    for picture in ("gallery.png", "deletion.png", "sanity.png"):
        assert (out / picture).stat().st_size > 10_000, picture
    assert "| attention rollout |" in capsys.readouterr().out


def test_explanations_of_other_data_skip_the_truth_and_say_why(bundled_kind, tiny_csv, capsys, monkeypatch):
    import matplotlib
    from matplotlib import pyplot

    from mmsent.explain.report import write_explanations
    from mmsent.models import MultimodalSentimentModel

    def refuse(*_, **__):
        raise AssertionError("write_explanations switched the matplotlib backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    monkeypatch.setattr(pyplot, "switch_backend", refuse)
    model = MultimodalSentimentModel.from_pretrained(bundled_kind / "r" / "model")
    csv = tiny_csv(n=4)  # plain coloured squares: no generator wrote them, so no masks
    frame = pd.read_csv(csv)
    paths = [str(csv.parent / path) for path in frame["image_path"]]
    mine = pyplot.figure()  # the caller's figure, open before: it stays open, and nothing else is left
    figures = pyplot.get_fignums()
    explained = write_explanations(model, frame, paths, bundled_kind / "other", limit=2, progress=False)
    assert pyplot.get_fignums() == figures and pyplot.fignum_exists(mine.number)
    pyplot.close(mine)
    assert explained.note == NO_TRUTH and "need the truth" in capsys.readouterr().out
    assert explained.table["pointing game"].isna().all() and explained.table["deletion AUC"].notna().all()


def test_a_text_only_model_has_no_photo_to_explain(bundled_kind, capsys):
    argv = ["evaluate", "--model", str(bundled_kind / "r" / "model_text_only"), "--data",
            str(bundled_kind / "data" / "reviews.csv"), "--explanations", "--explain-reviews", "1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "error: --explanations" in err and "text-only" in err and "Traceback" not in err
