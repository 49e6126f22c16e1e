"""``pretrain_vlm``: train the blind, LLaVA-style and Flamingo-style models once, grade them on
held-out photos, and save them with a model card and ``metrics.json`` (what ``python -m mmsent
pretrain-vlm`` runs; the committed models in ``data/vlm-offline/`` come from its defaults)."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch

from mmsent.encoders import Encoders, load_encoders
from mmsent.vlm.card import vlm_card
from mmsent.vlm.evaluate import CAPTION_BEAMS, evaluate_vlm
from mmsent.vlm.model import KINDS, VisionLanguageModel, VLMConfig
from mmsent.vlm.text import blind_ceilings, examples
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.training import train_vlm
from mmsent.vlm.truth import HELDOUT_SEED, Photo, make_photos
from mmsent.vlm.vision import PhotoInputs, photo_inputs

RECIPE = {"photos": 16000, "heldout": 600, "steps": 3000, "seed": 0, "batch_size": 64, "learning_rate": 2e-3,
          "vision_learning_rate": 3e-4, "gate_learning_rate": 0.2}
# How many times `steps` each kind trains. The LLaVA-style decoder reads the photo through the
# self-attention it shares with the text, and at the others' steps it still underfits where the damage
# is, even on its own training photos (the README's VLM section): it trains twice as long.
STEP_FACTOR = {"blind": 1, "llava": 2, "flamingo": 1}


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def inputs_for(photos: list[Photo], config: VLMConfig, encoders: Encoders | None = None) -> PhotoInputs:
    """The `PhotoInputs` a LLaVA- or Flamingo-style model of `config`'s sizes reads of `photos`."""
    return photo_inputs([p.image for p in photos], config.vision_layers, config.pixel_size, encoders)


def heldout_set(n: int = RECIPE["heldout"], config: VLMConfig | None = None,
                encoders: Encoders | None = None) -> tuple[list[Photo], list, PhotoInputs]:
    """The held-out photos, their examples and their `PhotoInputs` for models of `config`'s sizes
    (default: the committed LLaVA-style model's)."""
    photos = make_photos(n, HELDOUT_SEED)
    inputs = inputs_for(photos, config or VLMConfig(), encoders)
    return photos, examples([p.truth for p in photos], HELDOUT_SEED), inputs


def pretrain_vlm(out_dir: Path, photos: int = RECIPE["photos"], steps: int = RECIPE["steps"],
                 seed: int = RECIPE["seed"], heldout: int = RECIPE["heldout"], progress: bool = True) -> dict:
    """Train the three kinds on `photos` generated photos (seeded by `seed`), each for `steps` times its
    `STEP_FACTOR`, save them into ``out_dir/<kind>/``, grade them on `heldout` held-out photos; returns
    (and writes) the metrics."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    tokenizer = WordTokenizer()
    if progress:
        print(f"pretrain-vlm: drawing {photos} + {heldout} photos and reading them (CLIP states, pixels)",
              file=sys.stderr)
    encoders = load_encoders("offline")
    sizes = VLMConfig(vocab_size=len(tokenizer))
    train_photos = make_photos(photos, seed + 1)  # seed 0 -> TRAIN_SEED 1, never HELDOUT_SEED
    train_items = examples([p.truth for p in train_photos], seed + 1)
    train_inputs = inputs_for(train_photos, sizes, encoders)
    test_photos, test_items, test_inputs = heldout_set(heldout, sizes, encoders)
    rows, train_seconds = {}, {}
    for kind in KINDS:
        torch.manual_seed(seed)
        config = VLMConfig(kind=kind, vocab_size=len(tokenizer))
        model = VisionLanguageModel.from_clip(config, encoders.image_model)
        clock = time.perf_counter()
        losses = train_vlm(model, train_items, train_inputs, tokenizer, steps * STEP_FACTOR[kind], seed,
                           batch_size=RECIPE["batch_size"], learning_rate=RECIPE["learning_rate"],
                           vision_learning_rate=RECIPE["vision_learning_rate"],
                           gate_learning_rate=RECIPE["gate_learning_rate"], progress=progress)
        train_seconds[kind] = round(time.perf_counter() - clock, 1)
        model.save_pretrained(out_dir / kind)
        tokenizer.save_pretrained(out_dir / kind)
        saved = VisionLanguageModel.from_pretrained(out_dir / kind)  # graded as saved (float16 weights)
        rows[kind] = {**evaluate_vlm(saved, tokenizer, test_photos, test_items, test_inputs),
                      "final_loss": round(sum(losses[-50:]) / len(losses[-50:]), 4),
                      "parameters": model.num_parameters()}
    metrics = {
        "recipe": {"photos": photos, "heldout": heldout, "steps": steps, "seed": seed,
                   "steps_per_kind": {kind: steps * STEP_FACTOR[kind] for kind in KINDS},
                   **{key: RECIPE[key] for key in ("batch_size", "learning_rate", "vision_learning_rate",
                                                    "gate_learning_rate")},
                   "vision_layers": sizes.vision_layers, "detail_width": sizes.detail_width,
                   "caption_beams": CAPTION_BEAMS},
        "blind_ceilings": blind_ceilings(test_items),
        "models": rows,
        "train_seconds": train_seconds,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu": cpu_name(),
        "torch": torch.__version__,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out_dir / "README.md").write_text(vlm_card(metrics))
    return metrics
