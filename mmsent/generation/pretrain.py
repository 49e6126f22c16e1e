"""Pretrain the course's text-to-image model on generated photo-caption pairs, save and load it.

The recipe (`pretrain_generator`, or ``python -m mmsent pretrain-generator``): draw photo-caption
pairs with `mmsent.data.synth.caption_pairs` (the CLIP's own pretraining source, another seed),
shrink the photos to 32x32, embed the captions with the course CLIP, and train `TextToImageUNet`
with the flow-matching loss (`mmsent.generation.flow`) and AdamW; the weights saved are an
exponential moving average (EMA) of the trained ones, which samples cleaner than the last step.
The folder ``data/generator-offline`` holds ``model.safetensors``, ``config.json`` (the U-Net's
sizes and the fingerprint of the CLIP whose embeddings it was trained on) and ``metrics.json``.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
from transformers import get_cosine_schedule_with_warmup

from mmsent.data.synth import caption_pairs
from mmsent.encoders import clip_weights_digest
from mmsent.errors import DataError
from mmsent.generation.flow import flow_matching_loss
from mmsent.generation.grading import grade_images, grid_batch, guidance_sweep, reference_photos
from mmsent.generation.pixels import DRAW_SIZE, photos_to_tensor
from mmsent.generation.prompts import caption_embeddings, load_course_clip
from mmsent.generation.unet import TextToImageUNet, UNetConfig
from mmsent.hub.model_files import load_model_files, save_model_files
from mmsent.paths import generator_dir, offline_clip_dir
from mmsent.progress import progress_bar

TRAIN_SEED = 3  # caption_pairs' seed: not the CLIP's (1), so the two models never share a photo


def training_pairs(
    n: int, seed: int, size: int, clip_dir: Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` photos ``[n, 3, size, size]``, their caption embeddings ``[n, text_dim]`` and captions."""
    pairs = caption_pairs(n, seed, size=DRAW_SIZE)
    captions = [caption for _, caption, _ in pairs]
    clip, tokenizer = load_course_clip(clip_dir)
    distinct = sorted(set(captions))
    table = caption_embeddings(clip, tokenizer, distinct)
    index = {caption: row for row, caption in enumerate(distinct)}
    embeddings = table[torch.tensor([index[caption] for caption in captions])]
    return photos_to_tensor([image for image, _, _ in pairs], size), embeddings, captions


def train_generator(
    model: TextToImageUNet, photos: torch.Tensor, text_embeddings: torch.Tensor, *, steps: int,
    batch_size: int = 64, lr: float = 2e-3, seed: int = 0, ema_decay: float = 0.995,
    ema: TextToImageUNet | None = None, progress: bool = True,
) -> tuple[TextToImageUNet, list[float]]:
    """Train ``model`` for ``steps`` batches of photos ``[N, 3, S, S]`` with captions ``[N, text_dim]``.

    AdamW with linear warm-up (the first 5% of steps) and cosine decay
    (`transformers.get_cosine_schedule_with_warmup`); batches drawn with replacement-free shuffles from
    ``seed``.
    Returns (the EMA copy of the model, the loss of every step). Pass ``ema`` to keep averaging into
    an existing copy (fine-tuning); otherwise it starts as a copy of ``model``.
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    ema = copy.deepcopy(model) if ema is None else ema
    ema.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, steps // 20), steps)
    order = torch.randperm(len(photos), generator=generator)
    losses, cursor = [], 0
    model.train()
    bar = progress_bar(total=steps, desc="train generator", enabled=progress, leave=True)
    for _ in range(steps):
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(photos), generator=generator), 0
        batch = order[cursor:cursor + batch_size]
        cursor += batch_size
        loss = flow_matching_loss(model, photos[batch].to(device), text_embeddings[batch].to(device),
                                  generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            for averaged, current in zip(ema.parameters(), model.parameters(), strict=True):
                averaged.lerp_(current, 1 - ema_decay)
        losses.append(loss.item())
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    model.eval()
    return ema.eval(), losses


def save_generator(model: TextToImageUNet, out_dir: str | Path, clip_dir: Path | None = None) -> Path:
    """Write the folder (`mmsent.hub.model_files`): the `UNetConfig`, the CLIP fingerprint, every weight
    (`clip_dir` defaults to `offline_clip_dir()`)."""
    fingerprint = clip_weights_digest(clip_dir or offline_clip_dir())
    return save_model_files(out_dir, model, model.config, {"clip_fingerprint": fingerprint})


def load_generator(
    folder: str | Path | None = None, clip_dir: Path | None = None, device: str | torch.device = "cpu",
) -> TextToImageUNet:
    """The text-to-image model saved in ``folder`` (eval mode), checked against the CLIP in ``clip_dir``
    (defaults: `generator_dir()`, `offline_clip_dir()`)."""
    folder, clip_dir = Path(folder or generator_dir()), clip_dir or offline_clip_dir()
    what = "text-to-image model"
    model, extra = load_model_files(folder, UNetConfig, TextToImageUNet, what, "pretrain-generator")
    digest = clip_weights_digest(clip_dir)
    if extra.get("clip_fingerprint") != digest:
        raise DataError(f"{folder} was trained on the text embeddings of another CLIP (fingerprint "
                        f"{extra.get('clip_fingerprint')!r:.80}; {clip_dir} has {digest}): "
                        "retrain it with `python -m mmsent pretrain-generator`")
    return model.to(device).eval()


def _folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 2**20


def pretrain_generator(
    out_dir: str | Path | None = None, seed: int = TRAIN_SEED, steps: int = 3600, n_photos: int = 20_000,
    batch_size: int = 32, lr: float = 2e-3, ema_decay: float = 0.998,
    guidance_scales: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0), per_cell: int = 16,
    sampling_steps: int = 12, progress: bool = True,
    device: str | torch.device | None = None,
) -> dict:
    """Train the text-to-image model from scratch, save it into ``out_dir`` and grade it with the CLIP.

    ``seed`` draws the ``n_photos`` training pairs and seeds the run. Writes ``out_dir/metrics.json``
    (default `generator_dir()`) and returns the same dict: the loss curve (mean of every 100 steps), the
    CLIP's grades of ``per_cell`` images per grid cell at each of ``guidance_scales`` (and of real 32x32
    photos of the same cells, the reference), CPU and wall time, and the checkpoint's size.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out_dir = Path(out_dir or generator_dir())
    torch.manual_seed(seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = UNetConfig().image_size
    photos, embeddings, _ = training_pairs(n_photos, seed, size)
    model = TextToImageUNet(UNetConfig()).to(device)
    ema, losses = train_generator(model, photos, embeddings, steps=steps, batch_size=batch_size, lr=lr,
                                  seed=seed, ema_decay=ema_decay, progress=progress)
    train_cpu, train_wall = time.process_time() - cpu, time.perf_counter() - wall
    save_generator(ema, out_dir)
    clip, tokenizer = load_course_clip()
    sweep = guidance_sweep(ema, clip.to(device), tokenizer, list(guidance_scales), per_cell=per_cell,
                           steps=sampling_steps, seed=seed)
    states, products, captions = grid_batch(per_cell)
    reference = grade_images(clip, tokenizer, reference_photos(per_cell, size), states, products, captions)
    metrics = {
        "guidance_sweep": [{key: round(value, 4) for key, value in row.items()}
                           for row in sweep.to_dict("records")],
        "real_photos_32px": {key: round(value, 4) for key, value in reference.items()},
        "images_per_cell": per_cell, "sampling_steps": sampling_steps,
        "loss_per_100_steps": [round(sum(losses[i:i + 100]) / len(losses[i:i + 100]), 4)
                               for i in range(0, len(losses), 100)],
        "train_seed": seed, "n_photos": n_photos, "steps": steps, "batch_size": batch_size, "lr": lr,
        "ema_decay": ema_decay,
        "parameters": sum(p.numel() for p in ema.parameters()),
        "train_cpu_seconds": round(train_cpu, 1), "train_wall_seconds": round(train_wall, 1),
        "device": str(device), "torch_threads": torch.get_num_threads(),
        "checkpoint_megabytes": round(_folder_megabytes(Path(out_dir)), 2), "torch": torch.__version__,
    }
    (Path(out_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
