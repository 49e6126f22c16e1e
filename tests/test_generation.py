"""The text-to-image model of notebook 11: shapes, the noising process, guidance, seeded sampling,
save / load, the committed weights and the CLIP grading. Tiny U-Nets; a few seconds in all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmsent.errors import CheckpointError, DataError
from mmsent.generation.flow import flow_matching_loss, guided_velocity, noise_photos, sample
from mmsent.generation.grading import grade_images, grid_batch, reference_photos
from mmsent.generation.pixels import clip_pixels, tensor_to_images
from mmsent.generation.pretrain import load_generator, pretrain_generator, save_generator
from mmsent.generation.prompts import caption_embeddings, grid_prompts, load_course_clip
from mmsent.generation.unet import TextToImageUNet, UNetConfig
from mmsent.hub.model_files import save_model_files
from mmsent.paths import DATA_DIR, GENERATOR_DIR

TINY = UNetConfig(image_size=16, channels=(8, 16), text_dim=128, embed_dim=32, attention_heads=2)


def perturbed_model(seed: int = 0) -> TextToImageUNet:
    """A tiny U-Net with random weights everywhere: a fresh one starts with its residual branches off
    (zero-initialised last convolutions), so its caption would not reach the output yet."""
    torch.manual_seed(seed)
    model = TextToImageUNet(TINY)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model.eval()


@pytest.fixture(scope="module")
def tiny_model() -> TextToImageUNet:
    return perturbed_model()


@pytest.fixture(scope="module")
def course_clip():
    return load_course_clip()


def test_unet_keeps_the_image_shape(tiny_model: TextToImageUNet) -> None:
    x, t, text = torch.randn(3, 3, 16, 16), torch.rand(3), torch.randn(3, 128)
    velocity = tiny_model(x, t, text)
    assert velocity.shape == (3, 3, 16, 16)
    assert torch.isfinite(velocity).all()
    assert not torch.allclose(velocity, tiny_model(x, t, torch.randn(3, 128)))  # the caption matters


def test_noising_runs_from_the_photo_to_pure_noise() -> None:
    photos, noise = torch.rand(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(noise_photos(photos, noise, torch.zeros(2)), photos)
    assert torch.equal(noise_photos(photos, noise, torch.ones(2)), noise)
    halfway = noise_photos(photos, noise, torch.full((2,), 0.5))
    assert torch.allclose(halfway, (photos + noise) / 2)


def test_loss_trains_the_null_embedding_when_every_caption_is_dropped() -> None:
    model = perturbed_model(seed=1)
    generator = torch.Generator().manual_seed(0)
    loss = flow_matching_loss(model, torch.rand(4, 3, 16, 16) * 2 - 1, torch.randn(4, 128), generator,
                              caption_dropout=1.0)
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.null_embedding.grad is not None and model.null_embedding.grad.abs().sum() > 0


def test_guidance_extrapolates_from_the_unconditional_prediction(tiny_model: TextToImageUNet) -> None:
    x, t, text = torch.randn(2, 3, 16, 16), torch.rand(2), torch.randn(2, 128)
    with torch.no_grad():
        conditional = tiny_model(x, t, text)
        unconditional = tiny_model(x, t, tiny_model.null_embedding.expand_as(text))
        guided = guided_velocity(tiny_model, x, t, text, 3.0)
        assert torch.allclose(guided, unconditional + 3.0 * (conditional - unconditional), atol=1e-5)
        assert torch.allclose(guided_velocity(tiny_model, x, t, text, 0.0), unconditional)
        assert torch.allclose(guided_velocity(tiny_model, x, t, text, 1.0), conditional)


def test_sampling_is_seeded(tiny_model: TextToImageUNet) -> None:
    text = torch.randn(2, 128)
    first, path = sample(tiny_model, text, guidance_scale=2.0, steps=3, seed=7, return_path=True)
    assert first.shape == (2, 3, 16, 16) and len(path) == 4
    assert first.min() >= -1 and first.max() <= 1
    assert torch.equal(first, sample(tiny_model, text, guidance_scale=2.0, steps=3, seed=7))
    assert not torch.equal(first, sample(tiny_model, text, guidance_scale=2.0, steps=3, seed=8))
    # without guidance (scale 0) the caption is ignored
    assert torch.equal(sample(tiny_model, text, guidance_scale=0.0, steps=3, seed=7),
                       sample(tiny_model, torch.randn(2, 128), guidance_scale=0.0, steps=3, seed=7))
    pixels = tensor_to_images(first)
    assert pixels.shape == (2, 16, 16, 3) and pixels.dtype.name == "uint8"


def test_save_and_load_give_the_same_model(tiny_model: TextToImageUNet, tmp_path: Path) -> None:
    save_generator(tiny_model, tmp_path)
    loaded = load_generator(tmp_path)
    assert loaded.config == TINY
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    text = torch.randn(1, 128)
    assert torch.equal(sample(tiny_model, text, steps=2), sample(loaded, text, steps=2))


def test_load_refuses_a_missing_model_or_another_clip(tiny_model: TextToImageUNet, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="pretrain-generator"):
        load_generator(tmp_path / "nowhere")
    save_generator(tiny_model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "width": 1}))
    with pytest.raises(CheckpointError, match="were written"):  # the manifest: not the config it saved
        load_generator(tmp_path)
    save_model_files(tmp_path, tiny_model, tiny_model.config, {"clip_fingerprint": "0" * 12})
    with pytest.raises(DataError, match="another CLIP"):
        load_generator(tmp_path)


def test_grid_prompts_cover_three_states_and_six_products() -> None:
    prompts = grid_prompts()
    assert len(prompts) == 18 and len({(state, product) for state, product, _ in prompts}) == 18
    captions = [caption for _, _, caption in prompts]
    assert "a cracked phone" in captions and "an intact mug" in captions and "a mug in a torn box" in captions


def test_the_clip_grades_real_photos_of_the_grid(course_clip) -> None:
    clip, tokenizer = course_clip
    states, products, captions = grid_batch(1)
    photos = reference_photos(1, 32)
    assert photos.shape == (18, 3, 32, 32) and clip_pixels(photos).shape == (18, 3, 64, 64)
    grades = grade_images(clip, tokenizer, photos, states, products, captions)
    assert grades["state_accuracy"] >= 0.7 and grades["product_accuracy"] >= 0.7
    # a caption matches its own photo better than a shuffled caption does
    shuffled = grade_images(clip, tokenizer, photos, states, products, captions[::-1])
    assert grades["clip_score"] > shuffled["clip_score"]
    assert caption_embeddings(clip, tokenizer, captions).norm(dim=-1).allclose(torch.ones(18))


def test_committed_model_loads_and_fits_the_size_budget() -> None:
    model = load_generator()
    assert model.config == UNetConfig()
    size = sum(path.stat().st_size for path in GENERATOR_DIR.iterdir()) / 2**20
    assert size <= 15, f"{GENERATOR_DIR} holds {size:.1f} MB, over its 15 MB budget"
    data_size = sum(path.stat().st_size for path in DATA_DIR.rglob("*") if path.is_file()) / 2**20
    assert data_size < 40, f"data/ holds {data_size:.1f} MB, over its 40 MB budget"


def test_the_recipe_writes_a_model_and_its_grades(tmp_path: Path) -> None:
    metrics = pretrain_generator(tmp_path, steps=2, n_photos=16, batch_size=8, guidance_scales=(1.0,),
                                 per_cell=1, sampling_steps=2, progress=False, device="cpu")
    written = {path.name for path in tmp_path.iterdir()}
    assert written == {"model.safetensors", "config.json", "manifest.json", "metrics.json"}
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert [row["guidance_scale"] for row in metrics["guidance_sweep"]] == [1.0]
    assert 0 <= metrics["guidance_sweep"][0]["state_accuracy"] <= 1
    assert load_generator(tmp_path).config == UNetConfig()
