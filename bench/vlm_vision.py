"""Where "is it damaged ?" stops: a probe on each vision side the vision-language models could read.

    python bench/vlm_vision.py                                   # every side (README table)
    python bench/vlm_vision.py --photos 2000 --steps 300 --sides clip-top2 cnn --json out.json

Without a detail stem, notebook 09's models answered "is it damaged ?" right 0.870 (LLaVA-style) and
0.837 (Flamingo-style) of the time. Was that the decoder, or what it was given to read? Here the
decoder is taken away. Each
*vision side* gets the simplest reader there is: two learned queries attending over its tokens
(attention pooling), one read out as the damage (intact, crack, burn, dent, torn box), one as the
side (left / right, where the truth names one). Trained on `--photos` generated photos (the
training seed of `pretrain-vlm`), `--steps` batches of 64, AdamW with warm-up and cosine decay (the
vision side at 3e-4, the reader at 2e-3, as `pretrain-vlm`); graded on its 600 held-out photos.

clip-top0    the course CLIP frozen (its post_layernorm trained): its patch tokens as they are
clip-top2    its top 2 layers fine-tuned, as in the committed models
clip-top4    every layer fine-tuned (the patch embedding frozen)
clip-tiles   top 2 fine-tuned, over five views: the photo and its four quarters at full resolution
clip-pixels  the whole tower fine-tuned from the pixels, patch embedding included
cnn          a 4-layer CNN trained from scratch on the same 64-pixel input (not CLIP at all)
clip-detail  top 2 fine-tuned plus the models' detail stem (a small CNN on the 128 px photo, added to
             each patch token): what notebook 09's models read

Prints one row per side: accuracy on "is it damaged ?" (damage vs intact), on the damage kind (of
the damaged photos), on the side, and "is it damaged ?" per truth. Seeded: the same command on the
same machine prints the same table. Time is this machine's: minutes per side on 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import get_cosine_schedule_with_warmup

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.measure import check_json_path  # noqa: E402
from mmsent.encoders import Encoders, load_encoders  # noqa: E402
from mmsent.models.clip_pretrain import pixel_values_of  # noqa: E402
from mmsent.progress import progress_bar  # noqa: E402
from mmsent.vlm.detail import DetailStem, photo_pixels  # noqa: E402
from mmsent.vlm.model import VLMConfig  # noqa: E402
from mmsent.vlm.truth import DAMAGES, HELDOUT_SEED, PHOTO_SIZE, TRAIN_SEED, Photo, make_photos  # noqa: E402
from mmsent.vlm.vision import PhotoInputs, VisionTop, clip_states  # noqa: E402

SIDES = ("clip-top0", "clip-top2", "clip-top4", "clip-tiles", "clip-pixels", "cnn", "clip-detail")
CLASSES = ("intact", *DAMAGES)
QUARTERS = ((0, 0), (1, 0), (0, 1), (1, 1))  # (column, row), row by row


def quarters(photos: list[Photo]) -> list[list]:
    """Each photo's four quarters, row by row: four lists of PIL images."""
    half = photos[0].image.width // 2
    return [[p.image.crop((c * half, r * half, (c + 1) * half, (r + 1) * half)) for p in photos]
            for c, r in QUARTERS]


def inputs(side: str, photos: list[Photo], encoders: Encoders) -> torch.Tensor | PhotoInputs:
    """What the side reads: CLIP states [n, views, 65, 128], pixels [n, 1, 3, 64, 64], or (clip-detail)
    the models' `PhotoInputs` (one view)."""
    images = [p.image for p in photos]
    if side == "clip-detail":
        return PhotoInputs(clip_states(images, 2, encoders), photo_pixels(images, PHOTO_SIZE))
    if side in ("clip-pixels", "cnn"):
        return pixel_values_of(images, encoders.image_processor)[:, None]
    top = {"clip-top0": 0, "clip-top4": 4}.get(side, 2)
    views = [images] + (quarters(photos) if side == "clip-tiles" else [])
    return torch.stack([clip_states(view, top, encoders) for view in views], dim=1)


class CLIPPixels(nn.Module):
    """The whole CLIP vision tower from pixels [b, 3, 64, 64] -> patch tokens [b, 64, 128]."""

    def __init__(self, vision_model: nn.Module) -> None:
        super().__init__()
        self.tower = copy.deepcopy(vision_model)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.tower.post_layernorm(self.tower(pixel_values=pixels).last_hidden_state)[:, 1:]


class Transpose(nn.Module):
    """[b, channels, cells] -> [b, cells, channels]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


def small_cnn(width: int = 128) -> nn.Module:
    """Pixels [b, 3, 64, 64] -> tokens [b, 64, width]: three stride-2 3 x 3 convolutions make the
    same 8 x 8 grid as CLIP's patches."""
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.GELU(),
                         nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GELU(),
                         nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.GELU(),
                         nn.Conv2d(128, width, 3, stride=2, padding=1), nn.Flatten(2), Transpose())


class DetailedCLIP(nn.Module):
    """CLIP's top 2 layers plus the detail stem: `PhotoInputs` -> tokens [b, 64, 128], as
    `VisionLanguageModel.patch_tokens` reads a photo."""

    def __init__(self, vision_model: nn.Module) -> None:
        super().__init__()
        self.top = VisionTop(2, 128, 4, 512).load_clip(vision_model)
        self.detail = DetailStem(VLMConfig.detail_width, 128)

    def forward(self, photos: PhotoInputs) -> torch.Tensor:
        return self.top(photos.states) + self.detail(photos.pixels)


def vision_side(side: str, encoders: Encoders) -> nn.Module:
    """The trainable vision side: one view's input -> tokens [b, 64, 128]."""
    vision_model = encoders.image_model.vision_model
    if side == "clip-pixels":
        return CLIPPixels(vision_model)
    if side == "cnn":
        return small_cnn()
    if side == "clip-detail":
        return DetailedCLIP(vision_model)
    top = {"clip-top0": 0, "clip-top4": 4}.get(side, 2)
    return VisionTop(top, 128, 4, 512).load_clip(vision_model)


class Probe(nn.Module):
    """Views [b, views, ...] -> (damage logits [b, 5], side logits [b, 2]) by attention pooling."""

    def __init__(self, vision: nn.Module, views: int, dim: int = 128) -> None:
        super().__init__()
        self.vision, self.views = vision, views
        self.positions = nn.Parameter(torch.zeros(views * 64, dim))
        self.queries = nn.Parameter(torch.randn(2, dim) * 0.02)
        self.pool = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.damage, self.side = nn.Linear(dim, len(CLASSES)), nn.Linear(dim, 2)

    def forward(self, x: torch.Tensor | PhotoInputs) -> tuple[torch.Tensor, torch.Tensor]:
        batch = len(x)
        if isinstance(x, PhotoInputs):  # one view
            tokens = self.vision(x) + self.positions
        else:
            tokens = self.vision(x.flatten(0, 1)).reshape(batch, self.views * 64, -1) + self.positions
        pooled, _ = self.pool(self.queries.expand(batch, -1, -1), tokens, tokens)
        return self.damage(pooled[:, 0]), self.side(pooled[:, 1])


def labels(photos: list[Photo]) -> tuple[torch.Tensor, torch.Tensor]:
    """(damage class [n] in CLASSES order, side [n]: 0 left, 1 right, -100 none)."""
    damage = torch.tensor([CLASSES.index(p.truth.damage or "intact") for p in photos])
    side = torch.tensor([{"": -100, "left": 0, "right": 1}[p.truth.side] for p in photos])
    return damage, side


def run_side(side: str, train: list[Photo], test: list[Photo], encoders: Encoders, steps: int,
             seed: int, progress: bool) -> dict:
    """Train one side's probe and grade it; returns its row."""
    started = time.perf_counter()
    x_train, x_test = inputs(side, train, encoders), inputs(side, test, encoders)
    (damage, where), (test_damage, test_where) = labels(train), labels(test)
    torch.manual_seed(seed)
    probe = Probe(vision_side(side, encoders), 1 if isinstance(x_train, PhotoInputs) else x_train.shape[1])
    vision = {id(p) for p in probe.vision.parameters()}
    reader = [p for p in probe.parameters() if id(p) not in vision]
    groups = [{"params": reader, "lr": 2e-3}, {"params": list(probe.vision.parameters()), "lr": 3e-4}]
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 20), steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in progress_bar(range(steps), desc=side, enabled=progress):
        rows = torch.randint(len(train), (64,), generator=generator)
        damage_logits, side_logits = probe(x_train[rows])
        loss = F.cross_entropy(damage_logits, damage[rows])
        if (where[rows] >= 0).any():
            loss = loss + F.cross_entropy(side_logits, where[rows], ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    probe.eval()
    with torch.no_grad():
        outputs = [probe(x_test[i:i + 100]) for i in range(0, len(test), 100)]
    said_damage = torch.cat([d for d, _ in outputs]).argmax(1)
    said_side = torch.cat([s for _, s in outputs]).argmax(1)
    right = (said_damage > 0) == (test_damage > 0)
    damaged, sided = test_damage > 0, test_where >= 0
    return {"side": side, "damaged": round(right.float().mean().item(), 3),
            "kind": round((said_damage[damaged] == test_damage[damaged]).float().mean().item(), 3),
            "where": round((said_side[sided] == test_where[sided]).float().mean().item(), 3),
            "damaged_by_truth": {name: round(right[test_damage == i].float().mean().item(), 3)
                                 for i, name in enumerate(CLASSES)},
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--photos", type=int, default=8000, help="training photos (default 8000)")
    parser.add_argument("--heldout", type=int, default=600, help="held-out photos (default 600)")
    parser.add_argument("--steps", type=int, default=1500, help="batches of 64 (default 1500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if min(args.photos, args.heldout, args.steps) < 1:
        parser.error("--photos, --heldout and --steps must be at least 1")
    check_json_path(parser, args.json)
    encoders = load_encoders("offline")
    train, test = make_photos(args.photos, TRAIN_SEED), make_photos(args.heldout, HELDOUT_SEED)
    rows = [run_side(side, train, test, encoders, args.steps, args.seed, not args.quiet)
            for side in args.sides]
    print(f"{'vision side':<12} {'damaged':>8} {'kind':>6} {'where':>6}  damaged by truth "
          f"({', '.join(CLASSES)})  seconds")
    for row in rows:
        by_truth = " ".join(f"{value:.3f}" for value in row["damaged_by_truth"].values())
        print(f"{row['side']:<12} {row['damaged']:>8.3f} {row['kind']:>6.3f} {row['where']:>6.3f}  "
              f"{by_truth}  {row['seconds']:.0f}")
    report = {"photos": args.photos, "heldout": args.heldout, "steps": args.steps, "seed": args.seed,
              "torch_threads": torch.get_num_threads(), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
