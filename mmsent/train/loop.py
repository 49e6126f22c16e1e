"""`fit`: the training loop the course teaches, plus what makes it fast (see `mmsent.train`)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from mmsent.config import TrainConfig
from mmsent.data import ReviewDataset, make_loader
from mmsent.features.cached import CachedFeatures
from mmsent.features.text_states import encode_frozen_text
from mmsent.features.vectors import (
    caches_image_features,
    encode_dataset_images,
    on_gpu_if_room,
)
from mmsent.models import MultimodalSentimentModel
from mmsent.models.text_layers import frozen_layer_count
from mmsent.progress import progress_bar
from mmsent.runtime import autocast_dtype, seed_everything
from mmsent.train import distributed
from mmsent.train.checkpoints import can_resume, load_checkpoint, save_checkpoint
from mmsent.train.evaluation import evaluate
from mmsent.train.steps import attention_loss, make_optimizer, model_inputs, pad_id, warmup_then_decay


def fit(
    model: MultimodalSentimentModel,
    train_set: ReviewDataset,
    val_set: ReviewDataset | None = None,
    config: TrainConfig | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    cached: CachedFeatures | None = None,
    attention_targets: torch.Tensor | None = None,
    progress: bool = True,
    log=print,
) -> pd.DataFrame:
    """Train `model` and validate after every epoch; returns the history, one row per epoch.

    With `checkpoint_dir`, the model folder (`save_pretrained`'s format: its config names the labels) and
    the resume state are written after every epoch; `resume=True` continues from what is there.
    Pass `cached` (`CachedFeatures`: "train" / "val" image features from `encode_dataset_images`, frozen
    text states from `encode_frozen_text`) to reuse what is already encoded, e.g. by another model over
    the same frozen encoders; what it lacks is encoded here (text states when `config.cache_text_layers`
    and the model has frozen text layers).
    `attention_targets` [train rows, patches] (e.g. `mmsent.analysis.attention_lift.damage_targets`):
    where the attention should look in each training photo, rows summing to 1 (all zeros: no
    target); adds `config.attention_loss_weight` x `attention_loss` to what is minimised
    (train_loss in the history stays the cross-entropy, comparable with val_loss).
    Columns of the history: epoch, train_loss, val_loss, val_accuracy, val_precision, val_recall,
    val_f1, seconds.
    """
    config = config or TrainConfig()
    device = next(model.parameters()).device
    seed_everything(config.seed)
    cached = cached or CachedFeatures()
    train_features, val_features = cached.image.get("train"), cached.image.get("val")
    train_text, val_text = cached.text.get("train"), cached.text.get("val")

    if caches_image_features(model, config):
        if train_features is None:
            train_features = encode_dataset_images(model, train_set, config.batch_size, progress=progress)
        if val_set is not None and val_features is None:
            val_features = encode_dataset_images(model, val_set, config.batch_size, progress=progress)
        train_set = train_set.without_images()
        train_features = on_gpu_if_room(train_features, device)
        val_features = on_gpu_if_room(val_features, device)
    else:
        train_features = val_features = None
    if not model.uses_image:  # a text-only model: never open the photos it would not look at
        train_set = train_set.without_images()
    if config.cache_text_layers and frozen_layer_count(model) is not None:  # frozen layers: once a review
        if train_text is None:
            train_text = encode_frozen_text(model, train_set, progress=progress)
        if val_set is not None and val_text is None:
            val_text = encode_frozen_text(model, val_set, progress=progress)
        train_text, val_text = on_gpu_if_room(train_text, device), on_gpu_if_room(val_text, device)
    else:
        train_text = val_text = None

    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    optimizer = make_optimizer(model, config)
    trainable = [p for p in model.parameters() if p.requires_grad]  # what clipping looks at, listed once
    scheduler = warmup_then_decay(optimizer, steps_per_epoch * config.epochs, config.warmup_fraction)
    dtype = autocast_dtype(device, config.mixed_precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    # Under torchrun: a DistributedDataParallel wrapper trains; rank 0 alone logs and checkpoints.
    net = distributed.wrap_model(model)
    main = distributed.is_main()
    progress = progress and main

    history: list[dict] = []
    start_epoch = 0
    if resume and can_resume(checkpoint_dir):
        start_epoch, history = load_checkpoint(checkpoint_dir, model, optimizer, scheduler, scaler)
        log(f"resumed from {checkpoint_dir} after epoch {start_epoch}")

    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        # Seeding per epoch makes a resumed run shuffle and drop out exactly like an unbroken one.
        torch.manual_seed(config.seed + epoch)
        loader = make_loader(
            train_set,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed + epoch,
            pad_token_id=pad_id(model),
            num_workers=config.num_workers,
            group_by_length=config.group_by_length,
        )
        loader = distributed.shard_loader(loader)
        model.train()
        total_loss, seen = 0.0, 0
        bar = progress_bar(loader, desc=f"epoch {epoch + 1}/{config.epochs}", enabled=progress)
        for step, batch in enumerate(bar, start=1):
            targets = batch["labels"].to(device)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                output = net(**model_inputs(batch, device, train_features, train_text))
            loss = F.cross_entropy(output.logits.float(), targets)
            objective = loss
            if attention_targets is not None:
                targets = attention_targets[batch["indices"]].to(device, non_blocking=True)
                pointing = attention_loss(output.attention_weights, targets)
                objective = loss + config.attention_loss_weight * pointing
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(objective).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total_loss += loss.detach() * len(targets)  # stays on the device: no GPU sync per step
            seen += len(targets)
            if progress and (step % 10 == 0 or step == len(loader)):  # .item() waits for the GPU
                bar.set_postfix(loss=f"{total_loss.item() / seen:.3f}")

        total_loss, seen = distributed.all_sum(float(total_loss), seen)  # over every process's share
        row = {"epoch": epoch + 1, "train_loss": total_loss / max(1, seen)}
        if val_set is not None:
            metrics = evaluate(model, val_set, features=val_features, config=config, text_states=val_text)
            row.update({f"val_{name}": value for name, value in metrics.items()})
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        if checkpoint_dir is not None and main:
            save_checkpoint(checkpoint_dir, model, config, epoch=epoch + 1, history=history,
                            optimizer=optimizer, scheduler=scheduler, scaler=scaler)
        if main:
            log(_epoch_line(row, config.epochs))
    return pd.DataFrame(history)


def _epoch_line(row: dict, epochs: int) -> str:
    line = f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.3f}"
    if "val_accuracy" in row:
        line += (
            f"  val loss {row['val_loss']:.3f}  acc {row['val_accuracy']:.3f}  "
            f"P {row['val_precision']:.3f}  R {row['val_recall']:.3f}  F1 {row['val_f1']:.3f}"
        )
    return line + f"  ({row['seconds']:.1f} s)"
