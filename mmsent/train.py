"""Training, evaluation and prediction: one explicit loop, the way the course teaches it.

`fit` runs AdamW + cross-entropy for a few epochs and validates after each one with accuracy
and macro precision / recall / F1. When the image encoder is frozen (the default) its outputs
never change, so they are computed once per dataset and looked up by index afterwards
(`ImageFeatures`); likewise the frozen bottom layers of the text encoder run once per review
(`mmsent.text_cache`): training then costs only the trainable top text layers and the fusion head.
On CUDA the forward pass runs under autocast (bf16 where supported, else fp16 with a
gradient scaler). Checkpoints are safetensors + JSON, and training resumes from them.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from mmsent import __version__, distributed
from mmsent.checkpoint_check import CONFIG_FILE, LABELS_FILE, WEIGHTS_FILE, read_checkpoint, restore_weights
from mmsent.compat import fused_adamw_works
from mmsent.course import pick_device, seed_everything
from mmsent.data import LabelVocab, ReviewDataset, make_loader
from mmsent.encoders import Encoders, load_encoders
from mmsent.features import image_features
from mmsent.manifest import write_manifest
from mmsent.models import MultimodalSentimentModel
from mmsent.progress import progress_bar
from mmsent.text_cache import TextStates, encode_frozen_text, frozen_layer_count

STATE_FILE = "training_state.pt"


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved beside every checkpoint."""

    epochs: int = 4
    batch_size: int = 32
    lr: float = 5e-5  # pretrained text encoder: small steps keep what it knows
    head_lr: float = 1e-3  # freshly initialised layers (projections, attention, classifier)
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 128
    seed: int = 0
    cache_image_features: bool = True  # only used when the image encoder is frozen
    cache_text_layers: bool = True  # run the frozen bottom text layers once per review (text_cache)
    group_by_length: bool = True  # batches of similar length waste less padding
    mixed_precision: str = "auto"  # "auto" (bf16/fp16 on CUDA, off on CPU), "bf16", "fp16", "no"
    num_workers: int = 0
    attention_loss_weight: float = 1.0  # only with fit(attention_targets=...): see _attention_loss

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def autocast_dtype(device: torch.device, mixed_precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for this device, or None for full fp32.

    "auto" picks bf16 on GPUs that support it (no loss scaling needed), fp16 on older GPUs,
    and nothing on the CPU, where autocast rarely speeds up small models.
    """
    if mixed_precision == "no" or device.type != "cuda":
        return None
    if mixed_precision == "fp16":
        return torch.float16
    if mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def classification_metrics(labels: Iterable[int], predictions: Iterable[int]) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 (every class counts equally)."""
    labels, predictions = np.asarray(list(labels)), np.asarray(list(predictions))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, average="macro", zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


# --------------------------------------------------------------------------------------
# Cached image features
# --------------------------------------------------------------------------------------


@dataclass
class ImageFeatures:
    """A frozen image encoder's outputs for every row of a dataset, looked up by row index.

    embeds: [rows, embed_dim]; patches: [rows, patches, dim]; present: [rows] (False = no photo).
    """

    embeds: torch.Tensor
    patches: torch.Tensor
    present: torch.Tensor

    def to(self, device: torch.device) -> ImageFeatures:
        """The same features on `device`."""
        return ImageFeatures(self.embeds.to(device), self.patches.to(device), self.present.to(device))

    def batch(self, indices: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        return {
            "image_embeds": self.embeds[indices].to(device, non_blocking=True),
            "patch_tokens": self.patches[indices].to(device, non_blocking=True),
            "image_present": self.present[indices].to(device, non_blocking=True),
        }


def encode_dataset_images(
    model: MultimodalSentimentModel, dataset: ReviewDataset, batch_size: int = 64, progress: bool = True
) -> ImageFeatures:
    """Run the model's (frozen) image encoder once over every photo of `dataset`.

    Rows without a usable photo get zero features and present=False.
    """
    embeds, patches, present = image_features(model.encoders, dataset.image_paths, batch_size, progress)
    return ImageFeatures(embeds, patches, present)


def _uses_cache(model: MultimodalSentimentModel, config: TrainConfig) -> bool:
    return config.cache_image_features and model.mode != "text_only" and model.freeze_image


def _on_gpu_if_room(features, device: torch.device):
    """`ImageFeatures` or `TextStates` on the GPU when they fit in a quarter of its free memory: every
    batch then gathers its rows there, instead of copying them from host memory (ViT-B/32: 150 KB a photo)."""
    if features is None or device.type != "cuda":
        return features
    size = sum(t.numel() * t.element_size() for t in vars(features).values())
    return features.to(device) if size < torch.cuda.mem_get_info(device)[0] / 4 else features


# --------------------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------------------


def _model_inputs(
    batch: dict, device: torch.device, features: ImageFeatures | None, text: TextStates | None = None
) -> dict:
    inputs = {"attention_mask": batch["attention_mask"].to(device, non_blocking=True)}
    if text is not None:
        inputs["text_states"] = text.batch(batch["indices"], batch["input_ids"].shape[1], device)
    else:
        inputs["input_ids"] = batch["input_ids"].to(device, non_blocking=True)
    if features is not None:
        inputs.update(features.batch(batch["indices"], device))
    elif batch["pixel_values"] is not None:
        inputs["pixel_values"] = batch["pixel_values"].to(device, non_blocking=True)
        inputs["image_present"] = batch["image_present"].to(device, non_blocking=True)
    else:  # no photo anywhere in this batch
        inputs["image_present"] = batch["image_present"].to(device)
    return inputs


def _optimizer(model: MultimodalSentimentModel, config: TrainConfig):
    """AdamW with two learning rates: small for pretrained encoders, larger for the new layers."""
    encoder, head = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            pretrained = name.startswith(("text_model.", "image_model."))
            (encoder if pretrained else head).append(parameter)
    groups = [
        g
        for g in ({"params": encoder, "lr": config.lr}, {"params": head, "lr": config.head_lr})
        if g["params"]
    ]
    # The fused kernel updates each parameter in one pass instead of about ten (one launch for all
    # of them on CUDA; about 4x faster on a CPU too, where PyTorch >= 2.4 has it).
    fused = fused_adamw_works(groups[0]["params"][0].device)
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=fused)


def _scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float):
    """Linear warm-up then linear decay to zero, the usual recipe for fine-tuning BERT."""
    warmup = max(1, int(total_steps * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --------------------------------------------------------------------------------------
# fit / evaluate / predict
# --------------------------------------------------------------------------------------


@dataclass
class Predictions:
    """What the model says about each row. labels: [rows]; probabilities: [rows, classes];
    attention: [rows, patches] or None; gate: [rows] or None (fusion only); targets: [rows]."""

    labels: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    attention: np.ndarray | None = None
    gate: np.ndarray | None = None
    loss: float = field(default=float("nan"))


@torch.no_grad()
def predict(
    model: MultimodalSentimentModel,
    dataset: ReviewDataset,
    batch_size: int = 64,
    features: ImageFeatures | None = None,
    config: TrainConfig | None = None,
    progress: bool = False,
    text_states: TextStates | None = None,
) -> Predictions:
    """Labels, class probabilities, per-patch attention and gate for every row of `dataset`.

    `features` / `text_states`: the rows' photos / frozen text layers already encoded."""
    config = config or TrainConfig()
    device = next(model.parameters()).device
    if features is not None:
        dataset = dataset.without_images()
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, pad_token_id=_pad_id(model))
    loader = distributed.shard_loader(loader)  # under torchrun: this process's share of each batch
    dtype = autocast_dtype(device, config.mixed_precision)
    model.eval()
    probabilities, targets, attention, gate, losses, rows = [], [], [], [], [], []
    for batch in progress_bar(loader, desc="predicting", enabled=progress):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            output = model(**_model_inputs(batch, device, features, text_states))
        logits = output.logits.float()
        labels = batch["labels"].to(device)
        losses.append(F.cross_entropy(logits, labels, reduction="none").cpu())
        probabilities.append(logits.softmax(-1).cpu())
        targets.append(batch["labels"])
        rows.append(batch["indices"])
        if output.attention_weights is not None:
            attention.append(output.attention_weights.float().cpu())
            gate.append(output.gate.float().reshape(-1).cpu())
    # Every process's rows, in dataset order (one process: the rows as they are).
    columns = [torch.cat(c) if c else None for c in (probabilities, targets, attention, gate, losses)]
    probabilities, targets, attention, gate, losses = distributed.gather_rows(torch.cat(rows), columns)
    probabilities = probabilities.numpy()
    return Predictions(
        labels=probabilities.argmax(1),
        probabilities=probabilities,
        targets=targets.numpy(),
        attention=attention.numpy() if attention is not None else None,
        gate=gate.numpy() if gate is not None else None,
        loss=float(losses.mean()) if len(losses) else float("nan"),
    )


def predict_reviews(
    model: MultimodalSentimentModel,
    texts: list[str],
    image_paths: list[str | Path | None],
    label_encoder: LabelVocab,
    config: TrainConfig | None = None,
) -> Predictions:
    """Predict reviews given as plain text and photo paths (None = no photo)."""
    frame = pd.DataFrame(
        {
            "text": texts,
            "image_path": [str(Path(p).resolve()) if p is not None else None for p in image_paths],
            "label": label_encoder.classes[0],  # placeholder: predict() ignores the targets' meaning
            "label_id": 0,
        }
    )
    config = config or TrainConfig()
    encoders = model.encoders
    dataset = ReviewDataset(frame, encoders.tokenizer, encoders.image_processor, config.max_length)
    return predict(model, dataset, config=config)


def evaluate(
    model: MultimodalSentimentModel,
    dataset: ReviewDataset,
    batch_size: int = 64,
    features: ImageFeatures | None = None,
    config: TrainConfig | None = None,
    text_states: TextStates | None = None,
) -> dict[str, float]:
    """Loss, accuracy and macro precision / recall / F1 of `model` on `dataset`."""
    result = predict(model, dataset, batch_size, features, config, text_states=text_states)
    return {"loss": result.loss, **classification_metrics(result.targets, result.labels)}


def confusion(predictions: Predictions, num_classes: int) -> np.ndarray:
    """Confusion matrix [true class, predicted class] of counts."""
    return confusion_matrix(predictions.targets, predictions.labels, labels=list(range(num_classes)))


def _pad_id(model: MultimodalSentimentModel) -> int:
    return model.encoders.tokenizer.pad_token_id or 0


def fit(
    model: MultimodalSentimentModel,
    train_set: ReviewDataset,
    val_set: ReviewDataset | None = None,
    config: TrainConfig | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    label_encoder: LabelVocab | None = None,
    resume: bool = False,
    train_features: ImageFeatures | None = None,
    val_features: ImageFeatures | None = None,
    train_text: TextStates | None = None,
    val_text: TextStates | None = None,
    attention_targets: torch.Tensor | None = None,
    progress: bool = True,
    log=print,
) -> pd.DataFrame:
    """Train `model` and validate after every epoch; returns the history, one row per epoch.

    With `checkpoint_dir`, the model, its config, the label encoder and the optimiser state
    are written after every epoch; `resume=True` continues from what is there.
    Pass `train_features` / `val_features` (from `encode_dataset_images`) to reuse photos
    already encoded, e.g. by another model over the same frozen image encoder; likewise
    `train_text` / `val_text` (from `mmsent.text_cache.encode_frozen_text`) for the frozen text
    layers (used when `config.cache_text_layers` and the model has some).
    `attention_targets` [train rows, patches] (e.g. `mmsent.attention_check.damage_targets`):
    where the attention should look in each training photo, rows summing to 1 (all zeros: no
    target); adds `config.attention_loss_weight` x `_attention_loss` to what is minimised
    (train_loss in the history stays the cross-entropy, comparable with val_loss).
    Columns of the history: epoch, train_loss, val_loss, val_accuracy, val_precision, val_recall,
    val_f1, seconds.
    """
    config = config or TrainConfig()
    device = next(model.parameters()).device
    seed_everything(config.seed)

    if _uses_cache(model, config):
        if train_features is None:
            train_features = encode_dataset_images(model, train_set, progress=progress)
        if val_set is not None and val_features is None:
            val_features = encode_dataset_images(model, val_set, progress=progress)
        train_set = train_set.without_images()
        train_features = _on_gpu_if_room(train_features, device)
        val_features = _on_gpu_if_room(val_features, device)
    else:
        train_features = val_features = None
    if config.cache_text_layers and frozen_layer_count(model) is not None:  # frozen layers: once a review
        if train_text is None:
            train_text = encode_frozen_text(model, train_set, progress=progress)
        if val_set is not None and val_text is None:
            val_text = encode_frozen_text(model, val_set, progress=progress)
        train_text, val_text = _on_gpu_if_room(train_text, device), _on_gpu_if_room(val_text, device)
    else:
        train_text = val_text = None

    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    optimizer = _optimizer(model, config)
    scheduler = _scheduler(optimizer, steps_per_epoch * config.epochs, config.warmup_fraction)
    dtype = autocast_dtype(device, config.mixed_precision)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    # Under torchrun: a DistributedDataParallel wrapper trains; rank 0 alone logs and checkpoints.
    net = distributed.wrap_model(model)
    main = distributed.is_main()
    progress = progress and main

    history: list[dict] = []
    start_epoch = 0
    if resume and checkpoint_dir is not None and (Path(checkpoint_dir) / STATE_FILE).exists():
        start_epoch, history = _load_training_state(checkpoint_dir, model, optimizer, scheduler, scaler)
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
            pad_token_id=_pad_id(model),
            num_workers=config.num_workers,
            group_by_length=config.group_by_length,
        )
        loader = distributed.shard_loader(loader)
        model.train()
        total_loss, seen = 0.0, 0
        bar = progress_bar(loader, desc=f"epoch {epoch + 1}/{config.epochs}", enabled=progress)
        for step, batch in enumerate(bar, start=1):
            labels = batch["labels"].to(device)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                output = net(**_model_inputs(batch, device, train_features, train_text))
            loss = F.cross_entropy(output.logits.float(), labels)
            objective = loss
            if attention_targets is not None:
                targets = attention_targets[batch["indices"]].to(device, non_blocking=True)
                attention_loss = _attention_loss(output.attention_weights, targets)
                objective = loss + config.attention_loss_weight * attention_loss
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(objective).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total_loss += loss.detach() * len(labels)  # stays on the device: no GPU sync per step
            seen += len(labels)
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
            save_checkpoint(checkpoint_dir, model, label_encoder, config)
            _save_training_state(checkpoint_dir, epoch + 1, history, optimizer, scheduler, scaler)
        if main:
            log(_epoch_line(row, config.epochs))
    return pd.DataFrame(history)


def _attention_loss(weights: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy from the target maps to the attention, over the rows that have a target.

    weights [B, P] (attention, rows sum to 1); targets [B, P] (rows sum to 1, or all zeros).
    -sum_p target_p log weight_p is smallest when the attention matches the target: it teaches
    the layer where to look. Rows without a target add nothing; 0 when no row has one.
    """
    has_target = targets.sum(dim=1) > 0
    if not bool(has_target.any()):
        return weights.new_zeros(())
    log_weights = weights.float()[has_target].clamp_min(1e-8).log()
    return -(targets[has_target] * log_weights).sum(dim=1).mean()


def _epoch_line(row: dict, epochs: int) -> str:
    line = f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.3f}"
    if "val_accuracy" in row:
        line += (
            f"  val loss {row['val_loss']:.3f}  acc {row['val_accuracy']:.3f}  "
            f"P {row['val_precision']:.3f}  R {row['val_recall']:.3f}  F1 {row['val_f1']:.3f}"
        )
    return line + f"  ({row['seconds']:.1f} s)"


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------


def save_checkpoint(
    directory: str | Path,
    model: MultimodalSentimentModel,
    label_encoder: LabelVocab | None = None,
    config: TrainConfig | None = None,
) -> Path:
    """Write model.safetensors, config.json (model + training + profile), labels.json and the
    folder's manifest (`mmsent.manifest`: every file's SHA-256, checked by `load_checkpoint`)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(state, directory / WEIGHTS_FILE)
    meta = {
        "mmsent_version": __version__,
        "profile": model.encoders.profile,
        "model": model.config_dict(),
        "train": asdict(config or TrainConfig()),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    if label_encoder is not None:
        label_encoder.save(directory / LABELS_FILE)
    write_manifest(directory, exclude=(STATE_FILE,))
    return directory


def load_checkpoint(
    directory: str | Path, encoders: Encoders | None = None, device: str | torch.device | None = None
) -> tuple[MultimodalSentimentModel, LabelVocab, TrainConfig]:
    """Rebuild the model saved by `save_checkpoint`; returns (model, label_encoder, train_config).

    The encoders are loaded by the checkpoint's profile unless you pass them. Raises
    `CheckpointError` (naming the file) when the folder's files are missing, damaged or do not
    belong together (see `mmsent.checkpoint_check`).
    """
    directory = Path(directory)
    meta, labels = read_checkpoint(directory)
    encoders = encoders or load_encoders(meta["profile"])
    model = MultimodalSentimentModel.from_config(encoders, meta["model"])
    restore_weights(model, directory, labels)
    model.to(pick_device(device and str(device))).eval()
    return model, labels, TrainConfig.from_dict(meta["train"])


def _save_training_state(directory, epoch, history, optimizer, scheduler, scaler) -> None:
    state = {
        "epoch": epoch,
        "history": json.dumps(history),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }
    torch.save(state, Path(directory) / STATE_FILE)


def _load_training_state(directory, model, optimizer, scheduler, scaler) -> tuple[int, list[dict]]:
    model.load_state_dict(load_file(Path(directory) / WEIGHTS_FILE))
    state = torch.load(Path(directory) / STATE_FILE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    return state["epoch"], json.loads(state["history"])
