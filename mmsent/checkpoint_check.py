"""Read a checkpoint folder's files defensively: every failure is a `CheckpointError` naming the file.

`read_checkpoint` checks the folder's manifest (`mmsent.manifest`: the weights, config and labels
were written together by one `save_checkpoint`) and parses config.json and labels.json;
`restore_weights` loads model.safetensors into a model rebuilt from that config and checks that
the classifier has one output per label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file

from mmsent.data import LabelVocab
from mmsent.errors import CheckpointError, DataError
from mmsent.manifest import verify_manifest
from mmsent.model_folder import read_small_json
from mmsent.model_source import no_such_folder

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
LABELS_FILE = "labels.json"
SPLIT_FILE = "split.json"  # the rows train held out for testing (written by the command line)
RETRAIN = "Train again (python -m mmsent train) or pass another checkpoint folder."


def read_checkpoint(directory: Path) -> tuple[dict[str, Any], LabelVocab]:
    """(config.json as a dict, the label encoder) of a checkpoint folder, after checking its manifest."""
    if not directory.exists():
        raise no_such_folder(directory)
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
    wrong = [key for key in ("model", "train") if not isinstance(meta[key], dict)]
    if wrong:
        raise CheckpointError(f"{directory / CONFIG_FILE}: field(s) {wrong} must be JSON objects. {RETRAIN}")
    try:
        labels = LabelVocab.from_dict(read_json(directory / LABELS_FILE))
    except DataError as error:
        raise CheckpointError(f"{directory / LABELS_FILE}: {error} {RETRAIN}") from error
    return meta, labels


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path` (at most `MAX_JSON_BYTES`); `CheckpointError` when missing, too large or
    damaged (`mmsent.model_folder.read_small_json`)."""
    return read_small_json(path)


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
