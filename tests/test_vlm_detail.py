"""The detail stem (`mmsent.vlm.detail`) and the photo inputs that carry its pixels: shapes, the zero
start that leaves a new model reading CLIP's tokens, framing, and that training uses what only the
pixels show."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmsent.errors import CheckpointError
from mmsent.vlm.detail import DetailStem, photo_pixels
from mmsent.vlm.evaluate import answer_accuracy
from mmsent.vlm.generate import generate
from mmsent.vlm.model import VisionLanguageModel, VLMConfig
from mmsent.vlm.text import Example
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.training import train_vlm
from mmsent.vlm.vision import PhotoInputs

TOKENIZER = WordTokenizer()


def tiny_detailed(seed: int = 0, **sizes) -> VisionLanguageModel:
    torch.manual_seed(seed)
    config = VLMConfig(kind="llava", vocab_size=len(TOKENIZER), dim=32, layers=1, heads=2, detail_width=16,
                       **sizes)
    return VisionLanguageModel(config).eval()


def random_inputs(n: int, seed: int = 0) -> PhotoInputs:
    generator = torch.Generator().manual_seed(seed)
    return PhotoInputs(torch.randn(n, 65, 128, generator=generator),
                       torch.randint(0, 256, (n, 3, 128, 128), dtype=torch.uint8, generator=generator))


def test_detail_stem_maps_the_photo_onto_clips_patch_grid():
    stem = DetailStem(16, 128)
    with torch.no_grad():
        stem.net[-1].weight.normal_()
        tokens = stem(random_inputs(2).pixels)
    assert tokens.shape == (2, 64, 128)
    pixels = torch.zeros(1, 3, 128, 128, dtype=torch.uint8)
    pixels[..., :16, 112:] = 255  # the top-right 16 x 16 pixels: CLIP's patch 7 (row 0, column 7)
    with torch.no_grad():
        change = (stem(pixels) - stem(torch.zeros_like(pixels))).abs().sum(-1)[0]  # [64]
    assert change.argmax().item() in (6, 7, 14, 15)  # the patch, or a neighbour its receptive field reaches
    with pytest.raises(ValueError, match="multiple of 8"):
        DetailStem(12, 128)


def test_a_new_model_reads_clips_tokens_until_the_stem_learns():
    model, inputs = tiny_detailed(), random_inputs(3)
    with torch.no_grad():
        assert torch.equal(model.patch_tokens(inputs), model.vision(inputs.states))  # last conv at zero
        model.detail.net[-1].bias.fill_(0.5)
        assert not torch.allclose(model.patch_tokens(inputs), model.vision(inputs.states))


def test_a_model_with_a_detail_stem_needs_the_pixels():
    model, inputs = tiny_detailed(), random_inputs(2)
    ids = torch.tensor([TOKENIZER.prompt_ids("is it damaged ?")] * 2)
    with pytest.raises(ValueError, match="detail stem.*pixel_size=128"):
        model(ids, inputs.states)
    assert model(ids, inputs).logits.shape == (2, ids.shape[1], len(TOKENIZER))


def test_config_names_the_pixel_size_and_checks_the_width():
    assert VLMConfig().pixel_size == 128 and VLMConfig(kind="blind").pixel_size == 0
    assert VLMConfig(detail_width=0).pixel_size == 0
    assert not hasattr(VisionLanguageModel(VLMConfig(kind="blind")), "detail")
    for width in (12, -8, 1_000_000, 8.0):
        with pytest.raises(ValueError, match="detail_width"):
            VLMConfig(detail_width=width)


def test_photo_pixels_frames_a_photo_as_clip_does():
    square = Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    assert np.array_equal(photo_pixels([square], 128)[0].permute(1, 2, 0).numpy(), np.asarray(square))
    wide = np.zeros((128, 256, 3), np.uint8)
    wide[:, :64, 0], wide[:, 64:192, 1], wide[:, 192:, 2] = 255, 255, 255  # red | green | blue
    framed = photo_pixels([Image.fromarray(wide), Image.fromarray(wide).convert("L")], 128)
    assert framed.shape == (2, 3, 128, 128) and framed.dtype == torch.uint8
    assert (framed[0, 1] == 255).all() and (framed[0, [0, 2]] == 0).all()  # the centre: all green


def test_photo_inputs_pick_photos_and_keep_the_photo_axis():
    inputs = random_inputs(4)
    one = inputs[2]
    assert len(one) == 1 and one.states.shape == (1, 65, 128) and one.pixels.shape == (1, 3, 128, 128)
    picked = inputs[torch.tensor([3, 0, 3])]
    assert len(picked) == 3 and torch.equal(picked.pixels[1], inputs.pixels[0])
    assert PhotoInputs(inputs.states)[1:3].pixels is None


def test_training_learns_what_only_the_pixels_show_and_save_load_keeps_it(tmp_path):
    """Every photo has the same CLIP states; only a bright square in the pixels tells damaged photos
    apart, so a right answer comes through the detail stem, which training must reach. (4 x 4 patches,
    so 64 px photos: small enough to train in seconds.)"""
    n = 16
    damaged = torch.arange(n) % 2 == 1
    pixels = torch.full((n, 3, 64, 64), 60, dtype=torch.uint8)
    pixels[damaged, :, 20:36, 20:36] = 250
    inputs = PhotoInputs(torch.zeros(n, 17, 128), pixels)
    items = [Example(i, "damaged", "is it damaged ?", "yes" if damaged[i] else "no") for i in range(n)]
    model = tiny_detailed(num_patches=16, vision_layers=0)
    assert model.config.pixel_size == 64
    train_vlm(model, items, inputs, TOKENIZER, steps=200, seed=0, batch_size=16, vision_learning_rate=2e-3,
              progress=False)
    assert answer_accuracy(model, TOKENIZER, items, inputs)["damaged"] == 1.0
    model.save_pretrained(tmp_path)
    again = VisionLanguageModel.from_pretrained(tmp_path)
    said = generate(model, TOKENIZER, "is it damaged ?", inputs).texts
    assert generate(again, TOKENIZER, "is it damaged ?", inputs).texts == said
    assert said == ["yes" if d else "no" for d in damaged]
    (tmp_path / "manifest.json").unlink()
    config = (tmp_path / "config.json").read_text().replace('"detail_width": 16', '"detail_width": 32')
    (tmp_path / "config.json").write_text(config)  # a config whose stem the weights do not fit
    with pytest.raises(CheckpointError):
        VisionLanguageModel.from_pretrained(tmp_path)


def test_a_folder_saved_before_the_detail_stem_loads_without_one(tmp_path):
    torch.manual_seed(0)
    old = VisionLanguageModel(VLMConfig(kind="llava", vocab_size=len(TOKENIZER), dim=32, layers=1, heads=2,
                                        detail_width=0)).eval()
    old.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["detail_width"]  # as the kit wrote it before the stem existed
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "manifest.json").unlink()
    loaded = VisionLanguageModel.from_pretrained(tmp_path)
    assert loaded.config.detail_width == 0 and not hasattr(loaded, "detail")
    ids, states = torch.tensor([TOKENIZER.prompt_ids("is it damaged ?")]), torch.randn(1, 65, 128)
    with torch.no_grad():  # float16 on disk: the same model, to float16's precision
        assert torch.allclose(loaded(ids, states).logits, old(ids, states).logits, atol=1e-2)
