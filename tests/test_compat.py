"""mmsent.compat, the one place that knows transformers versions: checked against transformers' own outputs.

These run under every transformers the kit supports (.ci/run runs them with 5.x and with the newest 4.x).
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import torch
import torch.nn.functional as F
import transformers

from mmsent.compat import (
    attention_implementation,
    bert_hidden_states,
    clip_text_states,
    clip_vision_states,
    fused_adamw_works,
    set_attention_implementation,
)
from mmsent.encoders import clip_image_outputs, clip_text_outputs, load_encoders
from mmsent.paths import REPO_DIR

TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])


@pytest.fixture(scope="module")
def tiny():
    return load_encoders("tiny")


@pytest.fixture(scope="module")
def clip_batch(tiny):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.tensor([[2, 10, 11, 12, 3], [2, 20, 3, 0, 0]])  # <bos> ... <eos> [<pad>]
    attention_mask = (input_ids != 0).long()
    pixel_values = torch.randn(2, 3, 64, 64, generator=generator)
    return input_ids, attention_mask, pixel_values


def test_clip_helpers_match_the_full_clip_forward(tiny, clip_batch):
    input_ids, attention_mask, pixel_values = clip_batch
    clip = tiny.image_model
    with torch.no_grad():
        reference = clip(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values)
        image_embeds, _ = clip_image_outputs(clip, pixel_values)
        text_embeds, token_states = clip_text_outputs(clip, input_ids, attention_mask)
        vision_hidden, _ = clip_vision_states(clip.vision_model, pixel_values)
    # CLIPModel.forward returns the unit-normalised embeddings of both towers, and each tower's output.
    torch.testing.assert_close(F.normalize(image_embeds, dim=-1), reference.image_embeds)
    torch.testing.assert_close(F.normalize(text_embeds, dim=-1), reference.text_embeds)
    torch.testing.assert_close(token_states, reference.text_model_output.last_hidden_state)
    torch.testing.assert_close(vision_hidden, reference.vision_model_output.last_hidden_state)
    assert vision_hidden.shape == (2, 1 + tiny.num_patches, tiny.image_dim)


def test_clip_text_states_pool_at_the_end_of_each_text(tiny, clip_batch):
    input_ids, attention_mask, _ = clip_batch
    with torch.no_grad():
        token_states, pooled = clip_text_states(tiny.image_model.text_model, input_ids, attention_mask)
    torch.testing.assert_close(pooled, token_states[input_ids == 3])  # <eos> is id 3 in the tiny CLIP


def test_bert_hidden_states_from_ids_or_from_embeddings(tiny):
    tokens = tiny.tokenizer(["a cracked phone", "fine"], padding=True, return_tensors="pt")
    model = tiny.text_model
    with torch.no_grad():
        from_ids = bert_hidden_states(model, tokens["attention_mask"], input_ids=tokens["input_ids"])
        embeds = model.embeddings.word_embeddings(tokens["input_ids"])
        from_embeds = bert_hidden_states(model, tokens["attention_mask"], inputs_embeds=embeds)
    assert from_ids.shape == (*tokens["input_ids"].shape, tiny.text_dim)
    torch.testing.assert_close(from_ids, from_embeds)


@pytest.mark.parametrize("kind", ["text", "image"])
def test_attention_implementation_switch_keeps_the_outputs(tiny, clip_batch, kind):
    model = copy.deepcopy(tiny.text_model if kind == "text" else tiny.image_model)
    ids = torch.tensor([[101, 2000, 3000, 102], [101, 2500, 102, 0]])

    def run() -> torch.Tensor:
        with torch.no_grad():
            if kind == "text":
                return bert_hidden_states(model, (ids != 0).long(), input_ids=ids)
            return clip_image_outputs(model, clip_batch[2])[1]

    # What runs is reported truthfully: the implementation asked for where the installed transformers
    # can switch a built model (always in 5.x), else the one the model was built with.
    built_with = attention_implementation(model)
    first = set_attention_implementation(model, "eager")
    assert first == attention_implementation(model) in ("eager", built_with)
    before = run()
    second = set_attention_implementation(model, "sdpa")
    assert second == attention_implementation(model) in ("sdpa", built_with)
    if TRANSFORMERS_MAJOR >= 5:
        assert (first, second) == ("eager", "sdpa")
    torch.testing.assert_close(run(), before, rtol=1e-4, atol=1e-5)


def test_fused_adamw_probe_matches_a_real_step():
    parameter = torch.nn.Parameter(torch.ones(3))
    parameter.grad = torch.ones(3)
    fused = fused_adamw_works(parameter.device)
    torch.optim.AdamW([parameter], lr=0.1, fused=fused).step()  # never fails: fused only where it works
    assert parameter.detach().lt(1).all()


# Calls whose form differs between transformers 4.x and 5.x: only mmsent/compat.py may make them.
VERSION_SPECIFIC = re.compile(
    r"return_dict|set_attn_implementation|_attn_implementation|CLIPImageProcessor\w*[.(]|torch_dtype"
    r"|TokenizerFast\.from_pretrained|\.vision_model\(|(clip|image_model)\.text_model\("
)


def _code_of(path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return path.read_text(encoding="utf-8")


def test_only_the_compat_module_makes_version_specific_calls():
    patterns = ("mmsent/**/*.py", "bench/*.py", "notebooks/**/*.ipynb")
    sources = [path for pattern in patterns for path in REPO_DIR.glob(pattern)]
    assert len(sources) > 20
    offenders = [
        f"{path.relative_to(REPO_DIR)}: {found.group(0)}"
        for path in sources
        if path.name != "compat.py"
        for found in VERSION_SPECIFIC.finditer(_code_of(path))
    ]
    assert offenders == [], "call these through mmsent.compat (or a helper on it): " + "; ".join(offenders)


@pytest.mark.parametrize(
    ("names", "torchvision", "expected"),
    [
        (("CLIPImageProcessorPil", "CLIPImageProcessor"), True, "CLIPImageProcessor"),  # 5.x
        (("CLIPImageProcessorPil", "CLIPImageProcessor"), False, "CLIPImageProcessorPil"),
        (("CLIPImageProcessor", "CLIPImageProcessorFast"), True, "CLIPImageProcessorFast"),  # 4.49 to 4.57
        (("CLIPImageProcessor", "CLIPImageProcessorFast"), False, "CLIPImageProcessor"),
        (("CLIPImageProcessor",), True, "CLIPImageProcessor"),  # 4.40 to 4.48: no torchvision-backed class
    ],
)
def test_image_processor_class_in_every_generation(monkeypatch, names, torchvision, expected):
    from mmsent import compat

    generation = type("FakeTransformers", (), {name: type(name, (), {}) for name in names})
    monkeypatch.setattr(compat, "transformers", generation)
    real_find_spec = compat.importlib.util.find_spec
    monkeypatch.setattr(compat.importlib.util, "find_spec",
                        lambda name: (object() if torchvision else None) if name == "torchvision"
                        else real_find_spec(name))
    assert compat.image_processor_class().__name__ == expected


def test_the_offline_clip_tokenizer_loads_without_warnings(capfd):
    from mmsent.compat import load_clip_tokenizer

    capfd.readouterr()
    tokenizer = load_clip_tokenizer(REPO_DIR / "data" / "clip-offline")
    assert tokenizer("a cracked phone")["input_ids"]
    # transformers 4 said "The tokenizer class you load from this checkpoint is not the same type ..."
    assert capfd.readouterr().err == ""
