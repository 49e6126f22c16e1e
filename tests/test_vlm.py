"""The vision-language models of notebook 09: the photos' truth, captions and questions, the blind
ceilings, the tokenizer, the three ways the photo gets in, decoding, grading, save / load, the
committed models and the pretrain-vlm command. Tiny decoders; well under a minute in all."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmsent.errors import CheckpointError
from mmsent.paths import VLM_DIR
from mmsent.vlm.evaluate import answer_accuracy, caption_facts, caption_scores, hallucinates
from mmsent.vlm.generate import generate, next_token
from mmsent.vlm.model import Projector, VisionLanguageModel, VLMConfig
from mmsent.vlm.pretrain import heldout_set, pretrain_vlm
from mmsent.vlm.text import CAPTION_PROMPT, Example, blind_ceilings, caption, examples
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.training import collate, train_vlm
from mmsent.vlm.truth import PhotoTruth, make_photos, mask_side

TOKENIZER = WordTokenizer()


def tiny(kind: str, seed: int = 0, detail_width: int = 0) -> VisionLanguageModel:
    """A tiny decoder; without a detail stem unless asked (then it reads `PhotoInputs` with pixels,
    `tests/test_vlm_detail.py`), so CLIP states alone are its input."""
    torch.manual_seed(seed)
    config = VLMConfig(kind=kind, vocab_size=len(TOKENIZER), dim=32, layers=1, heads=2,
                       detail_width=detail_width)
    return VisionLanguageModel(config).eval()


@pytest.fixture(scope="module")
def photos():
    return make_photos(16, seed=5)


# -- truth and text --------------------------------------------------------------------------------

def test_photos_are_deterministic_balanced_and_masked(photos):
    again = make_photos(16, seed=5)
    for first, second in zip(photos, again, strict=True):
        assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert sum(p.truth.damaged for p in photos) == 8
    for photo in photos:
        has_twin = photo.truth.damage in ("crack", "burn", "dent")
        assert (photo.mask is not None) == has_twin
        if has_twin:
            assert photo.mask.any() and photo.truth.side == mask_side(photo.mask)


def test_mask_side_reads_the_centre_of_mass():
    mask = np.zeros((8, 8), bool)
    mask[2:4, 0:3] = True
    assert mask_side(mask) == "left"
    assert mask_side(mask[:, ::-1]) == "right"
    middle = np.zeros((8, 8), bool)
    middle[2:4, 3:5] = True  # centred: no side
    assert mask_side(middle) == "" and mask_side(np.roll(middle, 1, axis=1)) == "right"
    assert mask_side(np.zeros((8, 8), bool)) == ""


def test_captions_state_product_damage_and_side():
    assert caption(PhotoTruth("mug", "crack", "left")) == "a mug with a crack on the left"
    assert caption(PhotoTruth("headphones", "", "")) == "an intact pair of headphones"
    assert caption(PhotoTruth("watch", "torn_box", "")) == "a watch in a torn box"
    assert caption_facts("a mug with a crack on the left") == PhotoTruth("mug", "crack", "left")


def test_hallucination_is_any_claim_the_photo_does_not_have():
    truth = PhotoTruth("mug", "burn", "right")
    assert not hallucinates(caption_facts("a mug with a burn on the right"), truth)
    assert not hallucinates(caption_facts("a mug"), truth)  # saying less is not hallucinating
    assert hallucinates(caption_facts("a mug with a burn on the left"), truth)
    assert hallucinates(caption_facts("a phone with a burn on the right"), truth)
    assert hallucinates(caption_facts("a mug with a dent"), PhotoTruth("mug", "", ""))


def test_blind_ceiling_is_the_best_answer_per_question_string():
    items = [Example(0, "damaged", "q", "yes"), Example(1, "damaged", "q", "yes"),
             Example(2, "damaged", "q", "no"),
             Example(3, "has_kind", "a", "no"), Example(4, "has_kind", "b", "yes")]
    assert blind_ceilings(items) == {"damaged": pytest.approx(2 / 3), "has_kind": 1.0}


def test_questions_have_one_word_answers_and_balanced_yes_no(photos):
    items = examples([p.truth for p in photos], seed=5)
    assert {item.task for item in items} >= {"caption", "damaged", "product", "kind", "has_kind"}
    assert all(len(item.answer.split()) == 1 for item in items if item.task != "caption")
    assert blind_ceilings(items)["damaged"] == 0.5


# -- tokenizer, model, decoding --------------------------------------------------------------------

def test_tokenizer_round_trip_and_refuses_unknown_words(tmp_path):
    inputs, targets = TOKENIZER.training_pair("is it damaged ?", "yes")
    assert TOKENIZER.decode(inputs[-1:]) == "yes" and targets[-2:] == [TOKENIZER.ids["yes"], TOKENIZER.eos_id]
    assert len(targets) == len(inputs) and targets[:-2] == [-100] * (len(inputs) - 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TOKENIZER.encode("is it broken ?")
    TOKENIZER.save_pretrained(tmp_path)
    assert WordTokenizer.from_pretrained(tmp_path).vocabulary == TOKENIZER.vocabulary


def test_pixel_shuffle_groups_two_by_two_neighbours():
    projector = Projector(patch_dim=1, dim=4, num_patches=16)
    grid = torch.arange(16.0).view(1, 16, 1)
    shuffled = projector.pixel_shuffle(grid)  # [1, 4, 4]
    assert shuffled[0, 0].tolist() == [0, 1, 4, 5] and shuffled[0, 3].tolist() == [10, 11, 14, 15]


@pytest.mark.parametrize("kind", ["blind", "llava", "flamingo"])
def test_shapes_causality_and_attention_rows(kind):
    model = tiny(kind)
    ids = torch.tensor([TOKENIZER.prompt_ids("is it damaged ?")] * 2)
    patches = torch.randn(2, 65, 128)
    out = model(ids, patches)
    assert out.logits.shape == (2, ids.shape[1], len(TOKENIZER))
    changed = ids.clone()
    changed[:, -1] = TOKENIZER.ids["mug"]
    assert torch.allclose(model(changed, patches).logits[:, :-1], out.logits[:, :-1], atol=1e-5)
    if kind == "blind":
        assert out.attention_to_patches is None
    else:
        assert out.attention_to_patches.shape == (2, ids.shape[1], 16)
        assert torch.allclose(out.attention_to_patches.sum(-1), torch.ones(2, ids.shape[1]), atol=1e-5)


@pytest.mark.parametrize("top_layers", [0, 1, 2])
def test_the_vision_top_copied_from_clip_gives_clips_patch_tokens(photos, top_layers):
    """Our written-out CLIP layers with CLIP's weights, on the cached states that enter them, give
    exactly the patch tokens `clip_image_outputs` computes with the whole tower (any transformers)."""
    from mmsent.encoders import clip_image_outputs, load_encoders
    from mmsent.vlm.vision import VisionTop, clip_states

    encoders = load_encoders("offline")
    pixels = encoders.image_processor(images=[p.image for p in photos[:4]], return_tensors="pt")
    with torch.no_grad():
        expected = clip_image_outputs(encoders.image_model, pixels["pixel_values"])[1]  # [4, 64, 128]
        states = clip_states([p.image for p in photos[:4]], top_layers, encoders)  # [4, 65, 128]
        top = VisionTop(top_layers, 128, 4, 512).load_clip(encoders.image_model.vision_model)
        assert states.shape == (4, 65, 128)
        assert torch.allclose(top(states), expected, atol=1e-4)
    with pytest.raises(ValueError, match="top_layers"):
        clip_states([photos[0].image], 5, encoders)


def test_config_sizes_are_range_checked_before_anything_is_built(tmp_path):
    with pytest.raises(ValueError, match="vision_layers must be a whole number from 0 to 64"):
        VLMConfig(vision_layers=1_000_000)
    with pytest.raises(ValueError, match="dim must be"):
        VLMConfig(dim="128")
    tiny("llava").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "vision_layers": 1_000_000}))
    (tmp_path / "manifest.json").unlink()  # edited by hand: without a manifest, the config check speaks
    with pytest.raises(CheckpointError, match="vision_layers"):
        VisionLanguageModel.from_pretrained(tmp_path)


def test_flamingo_starts_as_the_blind_decoder():
    blind, flamingo = tiny("blind"), tiny("flamingo", seed=1)
    flamingo.load_state_dict(blind.state_dict(), strict=False)  # shared parts; gates stay at zero
    ids = torch.tensor([TOKENIZER.prompt_ids(CAPTION_PROMPT)])
    assert torch.allclose(flamingo(ids, torch.randn(1, 65, 128)).logits, blind(ids).logits, atol=1e-6)


def test_next_token_greedy_and_top_k_one():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5]])
    assert next_token(logits).tolist() == [1, 0]
    seeded = [torch.Generator().manual_seed(seed) for seed in range(40)]
    assert next_token(logits, temperature=1.5, top_k=1, generator=seeded[0]).tolist() == [1, 0]
    draws = {next_token(logits, temperature=5.0, generator=generator)[0].item() for generator in seeded}
    assert len(draws) > 1


def test_training_learns_and_save_load_round_trips(photos, tmp_path):
    items = [item for item in examples([p.truth for p in photos], seed=5) if item.task == "damaged"]
    model = tiny("llava")
    tokens = torch.randn(len(photos), 65, 128)
    tokens[[i for i, p in enumerate(photos) if p.truth.damaged], :, 0] += 3.0  # an easy visual cue
    losses = train_vlm(model, items, tokens, TOKENIZER, steps=60, seed=0, batch_size=16, progress=False)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert answer_accuracy(model, TOKENIZER, items, tokens)["damaged"] == 1.0
    model.save_pretrained(tmp_path)
    again = VisionLanguageModel.from_pretrained(tmp_path)
    said = generate(model, TOKENIZER, "is it damaged ?", tokens[:4]).texts
    assert generate(again, TOKENIZER, "is it damaged ?", tokens[:4]).texts == said
    with pytest.raises(CheckpointError, match="pretrain-vlm"):
        VisionLanguageModel.from_pretrained(tmp_path / "nothing")


@pytest.mark.parametrize("moves", ["gates", "the rest"])
def test_the_flamingo_gates_learn_at_their_own_rate(moves, photos):
    """The tanh gates form their own parameter group: with only their learning rate above zero, only
    they move; with only the others', the gates stay shut."""
    model = tiny("flamingo")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    rates = {"learning_rate": 0.0, "vision_learning_rate": 0.0, "gate_learning_rate": 0.05}
    if moves == "the rest":
        rates = {"learning_rate": 1e-3, "vision_learning_rate": 1e-3, "gate_learning_rate": 0.0}
    items = examples([p.truth for p in photos], 0)
    train_vlm(model, items, torch.randn(len(photos), 65, 128), TOKENIZER, steps=5, seed=0, batch_size=8,
              progress=False, **rates)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    gates = {name for name, _ in model.named_parameters() if name.split(".")[-1].startswith("gate_")}
    assert len(gates) == 2 and {id(p) for p in model.gate_parameters()} == {
        id(p) for name, p in model.named_parameters() if name in gates}
    assert (changed == gates) if moves == "gates" else (changed and not changed & gates)


def test_collate_right_pads():
    items = [Example(0, "damaged", "is it damaged ?", "no"),
             Example(3, "caption", CAPTION_PROMPT, "an intact mug")]
    input_ids, targets, rows = collate(items, TOKENIZER)
    assert input_ids.shape == targets.shape and rows.tolist() == [0, 3]
    assert input_ids[0, -1] == TOKENIZER.pad_id and targets[0, -1] == -100


# -- the committed models -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def committed_heldout():
    return heldout_set(120)


@pytest.mark.parametrize("kind", ["llava", "flamingo"])
def test_committed_models_read_the_photo_and_reproduce_their_table(kind, committed_heldout):
    """Well above the blind ceilings on what the photo shows, close to the committed table on a
    subset of the same held-out photos; and the README's verdict on the course's three marks."""
    photos, items, tokens = committed_heldout
    model = VisionLanguageModel.from_pretrained(VLM_DIR / kind)
    tokenizer = WordTokenizer.from_pretrained(VLM_DIR / kind)
    answers = answer_accuracy(model, tokenizer, items, tokens)
    captions = caption_scores(model, tokenizer, photos, tokens)
    ceilings = blind_ceilings(items)
    assert all(answers[task] > ceilings[task] + 0.15 for task in ("damaged", "product", "kind"))
    table = json.loads((VLM_DIR / "metrics.json").read_text())["models"][kind]
    asked = {task: sum(item.task == task for item in items) for task in answers}
    for task, accuracy in answers.items():  # 120 of the 600 photos: 3 standard errors of a proportion
        tolerance = max(0.15, 1.5 / asked[task] ** 0.5)
        assert accuracy == pytest.approx(table["answers"][task], abs=tolerance), task
    assert captions["hallucination_rate"] == pytest.approx(table["hallucination_rate"], abs=0.12)
    # the README's verdict: both meet the course's three marks, they name the damage kind (>= 0.80), see
    # damage (>= 0.90) and their captions hallucinate in at most 10 %; beam search names fewer wrong things,
    # for the Flamingo-style model at no gain in the state (half the captions it changes call a damaged
    # product intact), for the LLaVA-style one with a gain (every caption it changes is a fix)
    assert table["answers"]["kind"] >= 0.8 and table["answers"]["damaged"] >= 0.9
    assert table["hallucination_rate"] <= 0.1
    beam = table["beam_search"]
    assert beam["hallucination_rate"] < table["hallucination_rate"]
    assert (beam["state_accuracy"] > table["state_accuracy"]) == (kind == "llava")


def test_committed_models_take_at_most_10_mib():
    size = sum(path.stat().st_size for path in VLM_DIR.rglob("*") if path.is_file())
    assert size <= 10 * 2**20, f"data/vlm-offline holds {size:,} bytes"


def test_committed_blind_model_stays_at_or_below_its_ceiling(committed_heldout):
    photos, items, tokens = committed_heldout
    metrics = json.loads((VLM_DIR / "metrics.json").read_text())
    ceilings = blind_ceilings(items)
    blind = VisionLanguageModel.from_pretrained(VLM_DIR / "blind")
    for task, accuracy in answer_accuracy(blind, TOKENIZER, items, tokens).items():
        assert accuracy <= ceilings[task] + 1e-9, task
    for task, accuracy in metrics["models"]["blind"]["answers"].items():
        assert accuracy <= metrics["blind_ceilings"][task] + 1e-9, task


def test_readme_and_model_card_show_the_committed_table():
    from mmsent.paths import REPO_DIR
    from mmsent.vlm.card import evaluation_table

    table = evaluation_table(json.loads((VLM_DIR / "metrics.json").read_text()))
    assert table in (REPO_DIR / "README.md").read_text()
    assert table in (VLM_DIR / "README.md").read_text()


def test_readme_share_of_photos_with_a_side():
    """The README: 102 of the 225 held-out crack, burn and dent photos (45 %) name a side."""
    from mmsent.vlm.truth import HELDOUT_SEED

    masked = [p for p in make_photos(600, HELDOUT_SEED) if p.mask is not None]
    assert (sum(bool(p.truth.side) for p in masked), len(masked)) == (102, 225)


def test_pretrain_vlm_writes_three_models_and_metrics_and_rebuilds_them_byte_for_byte(tmp_path):
    metrics = pretrain_vlm(tmp_path, photos=12, heldout=8, steps=2, progress=False)
    again = pretrain_vlm(tmp_path / "again", photos=12, heldout=8, steps=2, progress=False)
    assert again["models"] == metrics["models"]
    for kind in metrics["models"]:  # the same seed, the same machine: the same bytes
        assert (tmp_path / "again" / kind / "model.safetensors").read_bytes() == (
            tmp_path / kind / "model.safetensors").read_bytes()
    assert set(metrics["models"]) == {"blind", "llava", "flamingo"}
    for kind in metrics["models"]:
        names = {path.name for path in (tmp_path / kind).iterdir()}
        assert {"config.json", "model.safetensors", "vocab.json"} <= names
    recipe = json.loads((tmp_path / "metrics.json").read_text())["recipe"]
    assert (recipe["steps"], recipe["steps_per_kind"]) == (2, {"blind": 2, "llava": 4, "flamingo": 2})
    card = (tmp_path / "README.md").read_text()
    assert "| blind ceiling |" in card and "blind 2, LLaVA-style 4, Flamingo-style 2" in card
