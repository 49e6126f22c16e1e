"""Prediction and evaluation: labels, probabilities, attention and gate for every row; metrics and the
confusion matrix of a set of predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mmsent.config import TrainConfig
from mmsent.data import LabelVocab, ReviewDataset, make_loader
from mmsent.features.text_states import TextStates
from mmsent.features.vectors import ImageFeatures
from mmsent.models import MultimodalSentimentModel
from mmsent.progress import progress_bar
from mmsent.runtime import autocast_dtype
from mmsent.train import distributed
from mmsent.train.metrics import classification_metrics, confusion_counts
from mmsent.train.steps import model_inputs, pad_id


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
    batch_size: int | None = None,
    features: ImageFeatures | None = None,
    config: TrainConfig | None = None,
    progress: bool = False,
    text_states: TextStates | None = None,
) -> Predictions:
    """Labels, class probabilities, per-patch attention and gate for every row of `dataset`.

    `features` / `text_states`: the rows' photos / frozen text layers already encoded."""
    config = config or TrainConfig()
    batch_size = batch_size or config.batch_size
    device = next(model.parameters()).device
    if features is not None or not model.uses_image:  # photos cached, or not looked at
        dataset = dataset.without_images()
    loader = make_loader(
        dataset, batch_size, shuffle=False, pad_token_id=pad_id(model), group_by_length=config.group_by_length
    )
    loader = distributed.shard_loader(loader)  # under torchrun: this process's share of each batch
    dtype = autocast_dtype(device, config.mixed_precision)
    model.eval()
    probabilities, targets, attention, gate, losses, rows = [], [], [], [], [], []
    for batch in progress_bar(loader, desc="predicting", enabled=progress):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            output = model(**model_inputs(batch, device, features, text_states))
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
    labels: LabelVocab,
    config: TrainConfig | None = None,
) -> Predictions:
    """Predict reviews given as plain text and photo paths (None = no photo)."""
    frame = pd.DataFrame(
        {
            "text": texts,
            "image_path": [str(Path(p).resolve()) if p is not None else None for p in image_paths],
            "label": labels.classes[0],  # placeholder: predict() ignores the targets' meaning
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
    batch_size: int | None = None,
    features: ImageFeatures | None = None,
    config: TrainConfig | None = None,
    text_states: TextStates | None = None,
) -> dict[str, float]:
    """Loss, accuracy and macro precision / recall / F1 of `model` on `dataset`."""
    result = predict(model, dataset, batch_size, features, config, text_states=text_states)
    return {"loss": result.loss, **classification_metrics(result.targets, result.labels)}


def confusion(predictions: Predictions, num_classes: int) -> np.ndarray:
    """Confusion matrix [true class, predicted class] of counts."""
    return confusion_counts(predictions.targets, predictions.labels, num_classes)
