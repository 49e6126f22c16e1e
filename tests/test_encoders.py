"""Encoders by profile, the CLIP feature shim, text pooling and the committed offline CLIP checkpoint."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest
import torch
from PIL import Image
from transformers import CLIPModel, PreTrainedTokenizerFast

from mmsent import encoders as enc
from mmsent.compat import clip_text_states
from mmsent.data.synth import PRODUCTS, STATES
from mmsent.encoders import (
    PROFILES,
    HubUnavailableError,
    clip_image_outputs,
    image_processor_class,
    load_encoders,
    resolve_profile,
    text_features,
)
from mmsent.features import vectors as features
from mmsent.models.clip_pretrain import (
    PROMPTS,
    build_caption_tokenizer,
    clip_loss,
    pretrain_clip,
    zero_shot_evaluate,
)
from mmsent.paths import OFFLINE_CLIP_DIR


@pytest.fixture(scope="module")
def tiny() -> enc.Encoders:
    return load_encoders("tiny")


@pytest.fixture(scope="module")
def offline() -> enc.Encoders:
    """The offline encoders, loaded with HF_HUB_OFFLINE=1 and every network connection refused."""

    def no_network(*args, **kwargs):
        raise OSError("network access attempted while loading the offline profile")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(socket, "getaddrinfo", no_network)
        patch.setattr(socket.socket, "connect", no_network)
        return load_encoders("offline")


# --- choosing a profile ---------------------------------------------------------------------------


def test_argument_beats_environment_beats_default(monkeypatch):
    monkeypatch.setenv("MMSENT_PROFILE", "offline")
    assert resolve_profile("tiny") == "tiny"
    assert resolve_profile() == "offline"
    monkeypatch.setenv("MMSENT_PROFILE", "TINY")
    assert resolve_profile() == "tiny"


@pytest.mark.parametrize(("cuda", "hub", "expected"), [(True, True, "full"), (True, False, "offline"),
                                                      (False, True, "offline")])
def test_default_needs_both_gpu_and_hub(monkeypatch, cuda, hub, expected):
    monkeypatch.delenv("MMSENT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(enc, "hub_reachable", lambda: (hub, "" if hub else "test: no hub"))
    assert resolve_profile() == expected


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_unknown_profile_names_the_valid_ones(monkeypatch, source):
    monkeypatch.setenv("MMSENT_PROFILE", "huge")
    with pytest.raises(ValueError) as error:
        resolve_profile("huge" if source == "argument" else None)
    assert all(name in str(error.value) for name in PROFILES)
    assert source in str(error.value)


def test_hub_offline_flag_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reachable, reason = enc.hub_reachable()
    assert not reachable and "HF_HUB_OFFLINE" in reason


def test_hanging_hub_check_gives_up_after_its_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", lambda *args, **kwargs: time.sleep(5))
    start = time.perf_counter()
    reachable, reason = enc.hub_reachable(timeout=0.2)
    assert not reachable and "no answer" in reason
    assert time.perf_counter() - start < 1.5


@pytest.mark.parametrize("offline_flag", [True, False])
def test_full_without_hub_fails_in_seconds_naming_the_fix(monkeypatch, offline_flag):
    if offline_flag:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # no flag: the hub just does not answer
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        monkeypatch.setattr(enc, "hub_reachable", lambda: (False, "URLError: name resolution failed"))
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError) as error:
        load_encoders("full")
    assert time.perf_counter() - start < 5
    message = str(error.value)
    assert "could not reach huggingface.co" in message and "MMSENT_PROFILE=offline" in message
    assert ("HF_HUB_OFFLINE" if offline_flag else "name resolution failed") in message


def test_random_init_is_only_for_full():
    with pytest.raises(ValueError, match="only for profile 'full'"):
        load_encoders("tiny", random_init=True)


# --- tiny profile, feature shim, text pooling -----------------------------------------------------


def test_tiny_profile_builds_instantly_with_consistent_dims(tiny):
    start = time.perf_counter()
    load_encoders("tiny")
    assert time.perf_counter() - start < 3
    assert (tiny.profile, tiny.text_dim, tiny.image_dim, tiny.image_embed_dim, tiny.num_patches) == (
        "tiny", 32, 32, 16, 64)
    assert tiny.tokenizer.vocab_size == tiny.text_model.config.vocab_size
    assert isinstance(tiny.image_processor, image_processor_class())


def test_image_shim_matches_get_image_features(tiny):
    pixel_values = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        image_embeds, patch_tokens = clip_image_outputs(tiny.image_model, pixel_values)
        reference = tiny.image_model.get_image_features(pixel_values=pixel_values)
        vision = tiny.image_model.vision_model(pixel_values=pixel_values)
    reference = getattr(reference, "pooler_output", reference)  # transformers 5: a model output; 4: a tensor
    assert image_embeds.shape == (3, tiny.image_embed_dim)
    assert patch_tokens.shape == (3, tiny.num_patches, tiny.image_dim)
    torch.testing.assert_close(image_embeds, reference)
    expected_patches = tiny.image_model.vision_model.post_layernorm(vision.last_hidden_state[:, 1:])
    torch.testing.assert_close(patch_tokens, expected_patches)


def test_text_features_ignore_padding(tiny):
    short = tiny.tokenizer(["a cracked phone"], return_tensors="pt")
    padded = tiny.tokenizer(["a cracked phone"], padding="max_length", max_length=16, return_tensors="pt")
    with torch.no_grad():
        pooled_short = text_features(tiny.text_model, short["input_ids"], short["attention_mask"])
        pooled_padded = text_features(tiny.text_model, padded["input_ids"], padded["attention_mask"])
        everything = tiny.text_model(input_ids=padded["input_ids"]).last_hidden_state.mean(dim=1)
    assert pooled_short.shape == (1, tiny.text_dim)
    torch.testing.assert_close(pooled_short, pooled_padded, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(pooled_padded, everything, atol=1e-3)  # an unmasked mean would differ


def test_text_embeddings_encode_each_distinct_text_once_in_input_order(tiny, monkeypatch):
    texts = ["great", "a cracked phone arrived", "great", "ok", "a cracked phone arrived", "great"]
    seen = []
    real = enc.text_features
    monkeypatch.setattr(
        features, "text_features", lambda model, ids, mask: seen.append(len(ids)) or real(model, ids, mask)
    )
    vectors = features.text_embeddings(tiny, texts, batch_size=2, cache=False)  # count encodings, not hits
    assert vectors.shape == (len(texts), tiny.text_dim)
    assert sum(seen) == 3  # three distinct texts, each encoded once
    one_by_one = torch.cat([features.text_embeddings(tiny, [text]) for text in texts])
    torch.testing.assert_close(vectors, one_by_one, atol=1e-5, rtol=1e-5)
    assert features.text_embeddings(tiny, []).shape == (0, tiny.text_dim)


# --- the offline profile and its CLIP checkpoint --------------------------------------------------


def test_offline_profile_loads_from_disk_with_documented_dims(offline):
    dims = (offline.text_dim, offline.image_dim, offline.image_embed_dim, offline.num_patches)
    assert dims == (384, 128, 128, 64)
    assert offline.image_name.startswith("mmsent/clip-offline@")
    photo = Image.new("RGB", (128, 128), (200, 30, 30))
    pixel_values = offline.image_processor(images=[photo], return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 3, 64, 64)


def test_checkpoint_is_small_and_safetensors_only():
    files = {path.name: path.stat().st_size for path in OFFLINE_CLIP_DIR.iterdir()}
    assert sum(files.values()) <= 15 * 2**20, files
    assert "model.safetensors" in files and not any(name.endswith((".bin", ".pt", ".pth")) for name in files)


def test_clip_text_tower_pools_at_eos(offline):
    texts = ["a parcel", "a photo of a cracked phone"]
    tokens = offline.clip_tokenizer(texts, padding=True, return_tensors="pt")
    eos = tokens["input_ids"] == offline.clip_tokenizer.eos_token_id
    assert eos.sum(dim=1).tolist() == [1, 1]  # exactly one <eos> per text, before the padding
    with torch.no_grad():
        token_states, pooled = clip_text_states(offline.image_model.text_model, tokens["input_ids"],
                                                tokens["attention_mask"])
    torch.testing.assert_close(pooled, token_states[eos])


def test_prompts_use_only_known_words(offline):
    tokenizer = offline.clip_tokenizer
    for template in (template for templates in PROMPTS.values() for template in templates):
        for product in PRODUCTS:
            assert tokenizer.unk_token_id not in tokenizer(template.format(p=product))["input_ids"], template


def test_committed_checkpoint_zero_shot_accuracy(offline):
    # The datasheet's figure: 200 held-out photos per class, the same seed as metrics.json.
    result = zero_shot_evaluate(offline, n_per_class=200)
    assert result["accuracy"] >= 0.90, result
    assert all(result[state] >= 0.75 for state in STATES), result


# --- the pretraining recipe -----------------------------------------------------------------------


def test_clip_loss_treats_identical_captions_as_positives():
    """Pairs 0 and 1 match each other as well as themselves: with one shared caption the loss leaves
    that similarity alone; with two distinct captions it pushes the pairs apart."""
    gradients = {}
    for name, caption_ids in {"shared": [0, 0, 1], "distinct": [0, 1, 2]}.items():
        logits = torch.tensor([[9.0, 9.0, 0.0], [9.0, 9.0, 0.0], [0.0, 0.0, 9.0]], requires_grad=True)
        clip_loss(logits, torch.tensor(caption_ids)).backward()
        gradients[name] = logits.grad[0, 1].item()  # d loss / d similarity(image 0, caption 1)
    assert abs(gradients["shared"]) < 1e-3
    assert gradients["distinct"] > 0.1  # gradient descent lowers that similarity


def test_caption_tokenizer_wraps_texts_in_bos_eos():
    tokenizer = build_caption_tokenizer(["A cracked phone", "a parcel"])
    ids = tokenizer("a cracked phone")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in ids and tokenizer("a mug")["input_ids"][2] == tokenizer.unk_token_id


def test_pretrain_clip_saves_a_loadable_checkpoint(tmp_path):
    metrics = pretrain_clip(tmp_path, seed=3, epochs=1, n_pairs=48, batch_size=16, eval_per_class=2,
                            progress=False, device="cpu")
    assert {"model.safetensors", "tokenizer.json", "preprocessor_config.json", "metrics.json"} <= {
        path.name for path in tmp_path.iterdir()}
    assert set(metrics["zero_shot_per_class"]) == set(STATES) and len(metrics["epoch_losses"]) == 1
    model = CLIPModel.from_pretrained(tmp_path, use_safetensors=True)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert model.config.text_config.eos_token_id == tokenizer.eos_token_id
    processor = image_processor_class().from_pretrained(tmp_path)
    assert model.config.vision_config.image_size == processor.crop_size["height"]
