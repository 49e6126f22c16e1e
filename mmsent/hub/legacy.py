"""The one reader of the older checkpoint format, which `fit(checkpoint_dir=...)` and `save_checkpoint` wrote
before a checkpoint became a model folder: config.json {mmsent_version, profile, model, train}, labels.json
and every weight (the frozen encoders' too) in model.safetensors, with a manifest.

`read_legacy` turns such a folder into today's `SentimentModelConfig` (every value and the recipe checked as
in today's format); the caller (`from_pretrained`) builds the model through the same header, shape and size
checks (`mmsent.hub.folder_check.build_checked`), `load_legacy_weights` loads the whole state dict once, and
every later save writes the model-folder format.
Nothing writes this format any more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from mmsent.config import TrainConfig
from mmsent.data import LabelVocab
from mmsent.errors import CheckpointError, DataError
from mmsent.hub.config import CONFIG_FILE, WEIGHTS_FILE, SentimentModelConfig
from mmsent.hub.folder_check import RETRAIN, check_fields, config_limits, read_small_json, recipe_limits
from mmsent.hub.manifest import verify_manifest

LABELS_FILE = "labels.json"  # the older format's class names (today's config.json holds them)
LEGACY_KEYS = {"profile", "model", "train"}  # config.json's keys in the older format
SAVED_FIELDS = set(SentimentModelConfig.__dataclass_fields__)


def is_legacy(config_values: dict[str, Any]) -> bool:
    """Whether a parsed config.json is of the older checkpoint format."""
    return "format" not in config_values and LEGACY_KEYS <= set(config_values)


def read_legacy(directory: Path) -> SentimentModelConfig:
    """The config of an older checkpoint folder, after checking its manifest and every config value's type
    and range, the training recipe's (``train``) as today's ``recipe``; `CheckpointError` naming the file
    else. Nothing is built and no weight is read."""
    verify_manifest(directory, required=(WEIGHTS_FILE, CONFIG_FILE, LABELS_FILE))
    meta = read_small_json(directory / CONFIG_FILE)
    wrong = [key for key in ("model", "train") if not isinstance(meta[key], dict)]
    if wrong:
        raise CheckpointError(f"{directory / CONFIG_FILE}: field(s) {wrong} must be JSON objects. {RETRAIN}")
    try:
        labels = LabelVocab.from_dict(read_small_json(directory / LABELS_FILE))
    except DataError as error:
        raise CheckpointError(f"{directory / LABELS_FILE}: {error} {RETRAIN}") from error
    heads = {key: value for key, value in meta["model"].items() if key != "num_classes"}
    values = {"labels": list(labels.classes), "profile": meta["profile"], **heads, "recipe": meta["train"]}
    check_fields(SentimentModelConfig, values, str(directory / CONFIG_FILE), config_limits())
    check_fields(TrainConfig, meta["train"], f"{directory / CONFIG_FILE} (train)", recipe_limits())
    if meta["model"].get("num_classes", len(labels)) != len(labels):
        raise CheckpointError(
            f"{directory / LABELS_FILE} names {len(labels)} classes {labels.classes}, but "
            f"{directory / CONFIG_FILE} has {meta['model'].get('num_classes')} outputs: the files come from "
            f"different runs. {RETRAIN}"
        )
    return SentimentModelConfig(**{key: value for key, value in values.items() if key in SAVED_FIELDS})


def load_legacy_weights(model: torch.nn.Module, path: Path) -> None:
    """Load an older checkpoint's whole state dict (`path`) into `model` (built from its converted config,
    after its header was checked against the file and the model)."""
    try:
        weights = load_file(path)
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path} is damaged or truncated ({error}). {RETRAIN}") from error
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:  # missing / unexpected keys, other shapes
        first = str(error).splitlines()[0]
        raise CheckpointError(
            f"{path} does not fit the model its config describes ({first}). {RETRAIN}"
        ) from error
