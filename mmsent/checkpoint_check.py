"""Read a checkpoint folder's files defensively: every failure is a `CheckpointError` naming the file.

`read_checkpoint` checks the folder's manifest (`mmsent.manifest`: the weights, config and labels
were written together by one `save_checkpoint`) and parses config.json and labels.json;
`restore_weights` loads model.safetensors into a model rebuilt from that config and checks that
the classifier has one output per label.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file

from mmsent.data import LabelVocab
from mmsent.errors import CheckpointError, DataError
from mmsent.manifest import verify_manifest

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
SPLIT_FILE = "split.json"  # the rows train held out for testing (written by the command line)
RETRAIN = "Train again (python -m mmsent train) or pass another checkpoint folder."


def read_checkpoint(directory: Path) -> tuple[dict[str, Any], LabelVocab]:
    """(config.json as a dict, the label encoder) of a checkpoint folder, after checking its manifest."""
    if not (directory / CONFIG_FILE).is_file():
        what = "does not exist" if not directory.exists() else f"has no {CONFIG_FILE}"
        inside = [directory / sub for sub in ("model", "checkpoint")
                  if (directory / sub / CONFIG_FILE).exists()]
        hint = f"; did you mean {inside[0]}?" if inside else ""
        raise CheckpointError(
            f"{directory} is not an mmsent checkpoint or model folder: it {what}. Pass the folder written by "
            f"`python -m mmsent train` (its report folder's 'model'){hint}."
        )
    verify_manifest(directory, required=(WEIGHTS_FILE, CONFIG_FILE, LABELS_FILE))
    meta = read_json(directory / CONFIG_FILE)
    missing = [key for key in ("profile", "model", "train") if key not in meta]
    if missing:
        raise CheckpointError(f"{directory / CONFIG_FILE} lacks the key(s) {missing}. {RETRAIN}")
    try:
        labels = LabelVocab.from_dict(read_json(directory / LABELS_FILE))
    except DataError as error:
        raise CheckpointError(f"{directory / LABELS_FILE}: {error} {RETRAIN}") from error
    return meta, labels


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; `CheckpointError` when missing or damaged."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CheckpointError(f"{path} is missing. {RETRAIN}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is damaged: not readable JSON ({error}). {RETRAIN}") from error
    if not isinstance(value, dict):
        raise CheckpointError(
            f"{path} is damaged: expected a JSON object, found {type(value).__name__}. {RETRAIN}"
        )
    return value


def restore_weights(model: Any, directory: Path, labels: LabelVocab) -> None:
    """Load `directory`/model.safetensors into `model`; the shapes and class count must agree."""
    path = directory / WEIGHTS_FILE
    try:
        model.load_state_dict(load_file(path))
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path} is damaged or truncated ({error}). {RETRAIN}") from error
    except RuntimeError as error:  # missing / unexpected keys, other shapes
        first = str(error).splitlines()[0]
        raise CheckpointError(
            f"{path} does not fit the model described by {directory / CONFIG_FILE} ({first}). {RETRAIN}"
        ) from error
    if model.num_classes != len(labels):
        raise CheckpointError(
            f"{directory / LABELS_FILE} names {len(labels)} classes {labels.classes}, but the model in "
            f"{path} has {model.num_classes} outputs: the files come from different runs. {RETRAIN}"
        )
