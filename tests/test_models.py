"""Tests for mmsent.models: shapes, the attention lessons, the gate, freezing, and rebuilding."""

import json
from dataclasses import asdict, replace

import pytest
import torch

from mmsent.encoders import load_encoders
from mmsent.models import (
    MODES,
    CrossModalAttention,
    EarlyFusion,
    HybridFusion,
    LateFusion,
    MultiModalNet,
    MultimodalSentimentModel,
    NaiveCrossAttention,
    SentimentModelConfig,
    batch_mixing_attention,
)

BATCH = 4
FUSION_DIMS = {"text": 12, "image": 10, "tabular": 4}


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")


def make_batch(encoders, seed: int = 0) -> dict[str, torch.Tensor]:
    """Token ids with some padding and random pixels, as collate_fn would give them."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 1000, (BATCH, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    input_ids[attention_mask == 0] = encoders.tokenizer.pad_token_id
    size = encoders.image_model.config.vision_config.image_size
    pixel_values = torch.randn(BATCH, 3, size, size, generator=generator)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixel_values}


def build(encoders, mode: str = "fusion", **kwargs) -> MultimodalSentimentModel:
    torch.manual_seed(0)
    config = SentimentModelConfig(labels=["bad", "so-so", "good"], mode=mode, dim=16, num_heads=2, **kwargs)
    return MultimodalSentimentModel(config, encoders)


def modality_features(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(BATCH, dim, generator=generator) for name, dim in FUSION_DIMS.items()}


def assert_every_trainable_parameter_learns(model: torch.nn.Module, loss: torch.Tensor) -> None:
    loss.backward()
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    silent = [name for name, p in trainable if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, f"no gradient reaches {silent}"


# --- MultiModalNet and the fusion strategies --------------------------------------------------


def test_multimodal_net_shapes_and_gradients():
    torch.manual_seed(0)
    net = MultiModalNet(image_dim=10, text_dim=12, hidden_dim=8, num_classes=3)
    logits = net(torch.randn(BATCH, 10), torch.randn(BATCH, 12))
    assert logits.shape == (BATCH, 3)
    assert_every_trainable_parameter_learns(net, logits.logsumexp(-1).sum())


@pytest.mark.parametrize("fusion_class", [EarlyFusion, LateFusion, HybridFusion])
def test_fusion_strategies_share_one_interface(fusion_class):
    torch.manual_seed(0)
    model = fusion_class(FUSION_DIMS, num_classes=3, hidden_dim=8)
    logits = model(modality_features())
    assert logits.shape == (BATCH, 3)
    assert_every_trainable_parameter_learns(
        model, torch.nn.functional.cross_entropy(logits, torch.arange(BATCH) % 3)
    )
    with pytest.raises(KeyError, match="tabular"):
        model({"text": torch.randn(BATCH, 12), "image": torch.randn(BATCH, 10)})
    with pytest.raises(ValueError, match="expected \\[batch, 4\\]"):
        model({**modality_features(), "tabular": torch.randn(BATCH, 5)})


@pytest.mark.parametrize("fusion_class", [LateFusion, HybridFusion])
def test_votes_start_as_a_plain_mean_of_log_probabilities(fusion_class):
    torch.manual_seed(0)
    model = fusion_class(FUSION_DIMS, num_classes=3, hidden_dim=8).eval()
    weights = model.vote_weights()
    assert list(weights) == model.experts and model.experts[-3:] == list(FUSION_DIMS)
    assert weights == pytest.approx({name: 1 / len(model.experts) for name in model.experts})
    if fusion_class is LateFusion:
        features = modality_features()
        per_modality = [model.classifiers[name](features[name]).log_softmax(-1) for name in FUSION_DIMS]
        torch.testing.assert_close(model(features), torch.stack(per_modality).mean(0))


def test_late_fusion_cannot_learn_interactions_but_early_fusion_can():
    """Late fusion's logits are a sum of per-modality terms: changing the text moves them by the
    same amount whatever the image is. Early fusion's MLP mixes the two."""
    torch.manual_seed(0)
    dims = {"text": 6, "image": 6}
    text_a, text_b, image_a, image_b = torch.randn(4, BATCH, 6)

    def text_effect(model, image):
        return model({"text": text_a, "image": image}) - model({"text": text_b, "image": image})

    late, early = LateFusion(dims, 2, hidden_dim=8).eval(), EarlyFusion(dims, 2, hidden_dim=8).eval()
    torch.testing.assert_close(text_effect(late, image_a), text_effect(late, image_b))
    assert not torch.allclose(text_effect(early, image_a), text_effect(early, image_b))


# --- the two wrong attentions -----------------------------------------------------------------


def test_naive_cross_attention_weight_is_always_one_and_ignores_the_query():
    torch.manual_seed(0)
    naive = NaiveCrossAttention(text_dim=12, image_dim=10, dim=8)
    image = torch.randn(BATCH, 10)
    attended, weights = naive(torch.randn(BATCH, 12) * 100, image)
    other_query_attended, _ = naive(torch.randn(BATCH, 12), image)
    assert attended.shape == (BATCH, 8) and weights.shape == (BATCH, 1, 1)
    assert torch.equal(weights, torch.ones(BATCH, 1, 1))
    torch.testing.assert_close(attended, other_query_attended)
    torch.testing.assert_close(attended, naive.value(image))


def test_batch_mixing_attention_spreads_each_review_over_the_batch():
    torch.manual_seed(0)
    text, image = torch.randn(BATCH, 8), torch.randn(BATCH, 8)
    weights = batch_mixing_attention(text, image)
    assert weights.shape == (BATCH, BATCH)
    torch.testing.assert_close(weights.sum(-1), torch.ones(BATCH))
    assert (weights.diagonal() < 1).all()  # every review looks at other reviews' photos
    other_batch = image.clone()
    other_batch[1:] = torch.randn(BATCH - 1, 8)
    assert not torch.allclose(batch_mixing_attention(text, other_batch)[0], weights[0])
    with pytest.raises(ValueError, match="same H"):
        batch_mixing_attention(text, torch.randn(BATCH, 5))


# --- CrossModalAttention -----------------------------------------------------------------------


def test_cross_modal_attention_outputs_and_heat_map():
    torch.manual_seed(0)
    layer = CrossModalAttention(query_dim=12, key_dim=10, dim=8, num_heads=2).eval()
    text, patches = torch.randn(BATCH, 12), torch.randn(BATCH, 5, 10)
    out = layer(text, patches)
    assert out.attended.shape == (BATCH, 8)
    assert out.attention_weights.shape == (BATCH, 5) and out.head_weights.shape == (BATCH, 2, 5)
    torch.testing.assert_close(out.attention_weights.sum(-1), torch.ones(BATCH))
    torch.testing.assert_close(out.attention_weights, out.head_weights.mean(1))
    assert out.gate.shape == (BATCH, 1) and ((out.gate >= 0) & (out.gate <= 1)).all()
    # The returned weights are the ones the weighted sum used: recompute it by hand.
    values = layer.value(patches).view(BATCH, 5, 2, 4).transpose(1, 2)  # [B, heads, P, head_dim]
    by_hand = (out.head_weights.unsqueeze(2) @ values).squeeze(2).reshape(BATCH, 8)
    torch.testing.assert_close(out.attended, layer.out(by_hand))
    # Unlike the naive version, the text decides where to look.
    assert not torch.allclose(layer(torch.randn(BATCH, 12), patches).attention_weights, out.attention_weights)


def test_cross_modal_attention_matches_pytorchs_fused_attention():
    """The layer computes its weights once and sums with them; PyTorch's fused kernel gives the same."""
    torch.manual_seed(1)
    layer = CrossModalAttention(query_dim=12, key_dim=10, dim=8, num_heads=2).eval()
    text, patches = torch.randn(BATCH, 12), torch.randn(BATCH, 5, 10)
    q = layer.query(text).view(BATCH, 1, 2, 4).transpose(1, 2)  # [B, heads, 1, head_dim]
    k = layer.key(patches).view(BATCH, 5, 2, 4).transpose(1, 2)
    v = layer.value(patches).view(BATCH, 5, 2, 4).transpose(1, 2)
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(BATCH, 8)
    torch.testing.assert_close(layer(text, patches).attended, layer.out(fused), rtol=1e-5, atol=1e-6)


def test_cross_modal_attention_switches_a_missing_image_off_completely():
    torch.manual_seed(0)
    layer = CrossModalAttention(query_dim=12, key_dim=10, dim=8, num_heads=2)
    patches = torch.randn(BATCH, 5, 10)
    patches[2] = float("nan")  # a missing image may hold anything
    present = torch.tensor([True, True, False, True])
    out = layer(torch.randn(BATCH, 12), patches, present)
    assert out.gate[2].item() == 0.0 and torch.equal(out.attended[2], torch.zeros(8))
    assert torch.equal(out.attention_weights[2], torch.zeros(5))
    assert torch.isfinite(out.attended).all() and (out.gate[present] > 0).all()


# --- MultimodalSentimentModel ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_sentiment_model_shapes_per_mode(encoders, mode):
    model = build(encoders, mode).eval()
    out = model(**make_batch(encoders))
    assert out.logits.shape == (BATCH, 3)
    if mode == "text_only":
        assert out.attention_weights is None and out.gate is None
        assert not hasattr(model, "image_model") and not hasattr(model, "cross_attention")
    else:
        assert out.attention_weights.shape == (BATCH, encoders.num_patches)
        torch.testing.assert_close(out.attention_weights.sum(-1), torch.ones(BATCH))
        assert out.gate.shape == (BATCH, 1) and ((out.gate >= 0) & (out.gate <= 1)).all()
    if mode == "image_only":
        assert not hasattr(model, "text_model") and not hasattr(model, "text_proj")


@pytest.mark.parametrize("mode", MODES)
def test_missing_image_cannot_leak_into_the_prediction(encoders, mode):
    model = build(encoders, mode).eval()
    batch = make_batch(encoders)
    present = torch.tensor([True, False, True, True])
    out = model(**batch, image_present=present)
    batch["pixel_values"][1] = float("nan")  # replace the missing photo by anything at all
    replaced = model(**batch, image_present=present)
    torch.testing.assert_close(replaced.logits, out.logits, rtol=0, atol=0)
    if mode != "text_only":
        assert out.gate[1].item() == 0.0 and (out.gate[present] > 0).all()


def test_a_batch_without_any_photo(encoders):
    model = build(encoders).eval()
    batch = make_batch(encoders)
    del batch["pixel_values"]
    out = model(**batch, image_present=torch.zeros(BATCH, dtype=torch.bool))
    assert torch.equal(out.gate, torch.zeros(BATCH, 1)) and torch.isfinite(out.logits).all()
    with pytest.raises(ValueError, match="needs images"):
        model(**batch)


@pytest.mark.parametrize(
    "mode, options",
    [
        ("fusion", {}),
        ("text_only", {}),
        ("image_only", {}),
        ("fusion", {"freeze_image": False, "train_text_layers": 1}),
    ],
)
def test_gradients_reach_every_trainable_part(encoders, mode, options):
    model = build(encoders, mode, **options).train()
    out = model(**make_batch(encoders))
    assert_every_trainable_parameter_learns(
        model, torch.nn.functional.cross_entropy(out.logits, torch.arange(BATCH) % 3)
    )


def test_frozen_image_encoder_gets_no_gradient_and_stays_in_eval_mode(encoders):
    model = build(encoders).train()
    out = model(**make_batch(encoders))
    out.logits.sum().backward()
    assert not model.image_model.training and all(not m.training for m in model.image_model.modules())
    assert model.text_model.training and model.cross_attention.training
    assert all(not p.requires_grad and p.grad is None for p in model.image_model.parameters())
    embeds, patches = model.encode_images(make_batch(encoders)["pixel_values"])
    assert embeds.shape == (BATCH, encoders.image_embed_dim) and not embeds.requires_grad
    assert patches.shape == (BATCH, encoders.num_patches, encoders.image_dim) and not patches.requires_grad


def test_unfrozen_image_encoder_trains_only_its_vision_half_on_a_copy(encoders):
    model = build(encoders, freeze_image=False).train()
    assert model.image_model is not encoders.image_model and model.image_model.training
    trainable = {
        name.split(".")[1]
        for name, p in model.named_parameters()
        if p.requires_grad and name.startswith("image_model.")
    }
    assert trainable == {"vision_model", "visual_projection"}
    assert not any(p.requires_grad for p in encoders.image_model.parameters())


@pytest.mark.parametrize("train_text_layers", [0, 1, None])
def test_train_text_layers_picks_the_trainable_text_parameters(encoders, train_text_layers):
    model = build(encoders, train_text_layers=train_text_layers).train()
    names = [name for name, _ in model.text_model.named_parameters()]
    trainable = {name for name, p in model.text_model.named_parameters() if p.requires_grad}
    if train_text_layers == 0:
        expected = set()
    elif train_text_layers == 1:
        expected = {name for name in names if name.startswith("encoder.layer.1.")}
    else:
        expected = {name for name in names if not name.startswith("pooler.")}
    assert trainable == expected
    assert expected or train_text_layers == 0  # the expected set itself is not empty by mistake
    # Frozen: shared with `encoders` and kept in eval mode; trained: a private copy.
    assert (model.text_model is encoders.text_model) == (train_text_layers == 0)
    # What is frozen (embeddings, bottom layers) stays in eval mode, without dropout; the rest trains.
    text = model.text_model
    modes = [m.training for m in (text.embeddings, *text.encoder.layer)]
    assert modes == {0: [False] * 3, 1: [False, False, True], None: [True] * 3}[train_text_layers]


def test_invalid_settings_are_refused(encoders):
    with pytest.raises(ValueError, match="mode must be one of"):
        build(encoders, "image_first")
    with pytest.raises(ValueError, match="train_text_layers"):
        build(encoders, train_text_layers=3)
    with pytest.raises(RuntimeError, match="text_only"):
        build(encoders, "text_only").encode_images(make_batch(encoders)["pixel_values"])


@pytest.mark.parametrize("mode", ["fusion", "image_only"])
def test_cached_image_features_give_the_same_logits_as_pixels(encoders, mode):
    model = build(encoders, mode).eval()
    batch = make_batch(encoders)
    present = torch.tensor([True, True, False, True])
    image_embeds, patch_tokens = model.encode_images(batch.pop("pixel_values"))
    from_pixels = model(**batch, pixel_values=make_batch(encoders)["pixel_values"], image_present=present)
    from_cache = model(**batch, image_embeds=image_embeds, patch_tokens=patch_tokens, image_present=present)
    for pixel_tensor, cache_tensor in zip(from_pixels, from_cache, strict=True):
        torch.testing.assert_close(cache_tensor, pixel_tensor)


def test_one_config_builds_the_model_and_round_trips_through_json(encoders):
    model = build(encoders, "fusion", train_text_layers=1, dropout=0.2).eval()
    assert (model.config.profile, model.config.text_encoder) == ("tiny", encoders.text_name)  # filled in
    assert model.mode == "fusion" and model.num_classes == 3 and model.train_text_layers == 1
    config = SentimentModelConfig(**json.loads(json.dumps(asdict(model.config))))
    assert config == model.config
    rebuilt = MultimodalSentimentModel(config, encoders)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    batch = make_batch(encoders)
    torch.testing.assert_close(rebuilt(**batch).logits, model(**batch).logits)
    with pytest.raises(ValueError, match="same profile"):
        MultimodalSentimentModel(replace(config, image_encoder="openai/clip-vit-base-patch32"), encoders)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MultimodalSentimentModel(SentimentModelConfig(labels=["only"]), encoders)


def test_global_embedding_is_an_option_and_old_configs_keep_it(encoders):
    pointing = build(encoders, "fusion", global_embedding=False).eval()
    assert not hasattr(pointing, "image_proj")
    shortcut = build(encoders, "fusion", global_embedding=True).eval()
    assert shortcut.classifier[0].in_features == pointing.classifier[0].in_features + shortcut.config.dim
    batch = make_batch(encoders)
    embeds, patches = shortcut.encode_images(batch.pop("pixel_values"))
    changed = shortcut(**batch, image_embeds=embeds + 1.0, patch_tokens=patches).logits
    assert not torch.allclose(changed, shortcut(**batch, image_embeds=embeds, patch_tokens=patches).logits)
    # without the shortcut, CLIP's pooled embedding has no way into the prediction
    unchanged = pointing(**batch, image_embeds=embeds + 1.0, patch_tokens=patches).logits
    torch.testing.assert_close(unchanged, pointing(**batch, image_embeds=embeds, patch_tokens=patches).logits)
    assert not MultimodalSentimentModel(pointing.config, encoders).global_embedding
    saved_before_the_option = {k: v for k, v in asdict(pointing.config).items() if k != "global_embedding"}
    older = SentimentModelConfig(**saved_before_the_option)
    assert MultimodalSentimentModel(older, encoders).global_embedding
