"""Checkpoints: a model folder (`save_pretrained`'s format: the one format for sharing and for resuming)
plus the state that lets `fit` resume after an epoch.

    save_checkpoint(folder, model, config, epoch=..., history=..., optimizer=..., scheduler=..., scaler=...)
    model = MultimodalSentimentModel.from_pretrained(folder)        # a checkpoint is a model folder

The resume state (`TRAINING_STATE_FILE`, left out of the manifest): the epoch reached, the history, the
optimiser, scheduler and gradient-scaler states. The random state needs no saving: `fit` seeds every
epoch from ``config.seed + epoch``. A folder of the older checkpoint format (every weight, labels.json) is
not resumed: `MultimodalSentimentModel.from_pretrained` reads it (`mmsent.hub.legacy`) and `save_pretrained`
converts it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError

from mmsent.config import TrainConfig
from mmsent.errors import CheckpointError
from mmsent.hub.config import CONFIG_FILE, TRAINING_STATE_FILE, WEIGHTS_FILE
from mmsent.hub.folder_check import folder_file
from mmsent.hub.manifest import verify_manifest
from mmsent.hub.pretrained import load_trained_weights
from mmsent.models import MultimodalSentimentModel


def save_checkpoint(
    directory: str | Path,
    model: MultimodalSentimentModel,
    config: TrainConfig,
    *,
    epoch: int,
    history: list[dict],
    optimizer: torch.optim.Optimizer,
    scheduler,
    scaler: torch.amp.GradScaler,
) -> Path:
    """Write `model`'s folder (`save_pretrained`, recipe `config`) and the resume state after `epoch`."""
    directory = Path(directory)
    model.save_pretrained(directory, recipe=config)
    state = {
        "epoch": epoch,
        "history": json.dumps(history),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }
    torch.save(state, directory / TRAINING_STATE_FILE)
    return directory


def can_resume(directory: str | Path | None) -> bool:
    """Whether `directory` holds a checkpoint with its resume state."""
    return directory is not None and (Path(directory) / TRAINING_STATE_FILE).exists()


def load_checkpoint(directory, model, optimizer, scheduler, scaler) -> tuple[int, list[dict]]:
    """Load a checkpoint's weights into `model` (built like the one saved) and its resume state into the
    optimiser, scheduler and scaler; returns (the epoch reached, the history so far). The folder is checked
    like any model folder (its manifest; the weights' names and shapes those `model` trains); a resume state
    that is damaged or of another model is a `CheckpointError` saying to delete it, never half-restored."""
    directory = Path(directory)
    verify_manifest(directory, required=(CONFIG_FILE, WEIGHTS_FILE))
    state_path = folder_file(directory, TRAINING_STATE_FILE)
    try:
        state = torch.load(state_path, weights_only=True)
        epoch, history = state["epoch"], json.loads(state["history"])
        if not isinstance(epoch, int) or epoch < 0 or not isinstance(history, list):
            raise ValueError(f"epoch {epoch!r:.40}, history of type {type(history).__name__}")
        load_trained_weights(model, directory / WEIGHTS_FILE)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
    except (OSError, SafetensorError, pickle.UnpicklingError, RuntimeError, ValueError, KeyError, TypeError,
            EOFError, CheckpointError) as error:  # fmt: skip
        raise CheckpointError(
            f"{state_path}: the saved training state cannot be resumed ({type(error).__name__}: "
            f"{' '.join(str(error).split())[:200]}); delete {directory} to start the run over."
        ) from error
    return epoch, history
