"""Checkpoints (safetensors + JSON + manifest) and the state that lets `fit` resume after an epoch."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mmsent import __version__
from mmsent.checkpoint_check import CONFIG_FILE, LABELS_FILE, WEIGHTS_FILE, read_checkpoint, restore_weights
from mmsent.config import TrainConfig
from mmsent.data import LabelVocab
from mmsent.encoders import Encoders, load_encoders
from mmsent.manifest import write_manifest
from mmsent.models import MultimodalSentimentModel
from mmsent.runtime import pick_device

STATE_FILE = "training_state.pt"  # optimiser, scheduler and scaler state: what resuming needs


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


def save_training_state(directory, epoch, history, optimizer, scheduler, scaler) -> None:
    state = {
        "epoch": epoch,
        "history": json.dumps(history),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }
    torch.save(state, Path(directory) / STATE_FILE)


def load_training_state(directory, model, optimizer, scheduler, scaler) -> tuple[int, list[dict]]:
    model.load_state_dict(load_file(Path(directory) / WEIGHTS_FILE))
    state = torch.load(Path(directory) / STATE_FILE, weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    return state["epoch"], json.loads(state["history"])
