"""One save / load for every model the kit ships beside the sentiment model: the audio encoder
(notebook 10), the text-to-image generator (11) and the vision-language models (09).

    save_model_files(folder, model, model.config, extra={"training": ...})
    model, extra = load_model_files(folder, Config, Model, "audio encoder", "pretrain-audio")

A folder holds ``config.json`` (the model's config dataclass, plus `extra` keys: how it was trained, what
it depends on), ``model.safetensors`` (every weight: these models train all of theirs) and
``manifest.json`` (the two files' sizes and SHA-256, checked when present; the folders committed under
``data/`` before it existed load without one). The same file names as a sentiment model folder
(`mmsent.hub.config`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import save_file
from torch import nn

from mmsent.errors import CheckpointError
from mmsent.hub.config import CONFIG_FILE, WEIGHTS_FILE
from mmsent.hub.folder_check import load_checked_module, read_small_json
from mmsent.hub.manifest import MANIFEST_FILE, verify_manifest, write_manifest
from mmsent.hub.pretrained import mode_of_new_files

Model = TypeVar("Model", bound=nn.Module)


def save_model_files(folder: str | Path, model: nn.Module, config: Any, extra: dict | None = None,
                     dtype: torch.dtype | None = None) -> Path:
    """Write `model`'s weights, `config` (a dataclass) + `extra` and the manifest of the two into `folder`.

    dtype: store the floating-point weights as this (``torch.float16``: half the bytes); loading copies
    them back into the model's own dtype. None keeps each tensor's dtype."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    if dtype is not None:
        weights = {name: t.to(dtype) if t.is_floating_point() else t for name, t in weights.items()}
    save_file(weights, folder / WEIGHTS_FILE)
    mode_of_new_files(folder / WEIGHTS_FILE)
    values = {**dataclasses.asdict(config), **(extra or {})}
    (folder / CONFIG_FILE).write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    others = [path.name for path in folder.iterdir() if path.name not in (CONFIG_FILE, WEIGHTS_FILE)]
    write_manifest(folder, exclude=others)  # e.g. a tokenizer's vocab.json, written by its own save
    return folder


def load_model_files(
    folder: str | Path,
    config_class: type,
    build: Callable[[Any], Model],
    what: str,
    command: str,
) -> tuple[Model, dict[str, Any]]:
    """(the model `build(config)` with `folder`'s weights, in eval mode; config.json's other keys).

    `what` names the model and `command` the `python -m mmsent` command that rebuilds it, for the
    `CheckpointError` when a file is missing, damaged or does not fit."""
    folder = Path(folder)
    fix = f"rebuild it with `python -m mmsent {command}`."
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: no {what} there ({', '.join(missing)} missing); {fix}")
    if (folder / MANIFEST_FILE).exists():
        verify_manifest(folder, required=(CONFIG_FILE, WEIGHTS_FILE))
    names = {field.name for field in dataclasses.fields(config_class)}
    parse = getattr(config_class, "from_dict", None) or (lambda values: config_class(**values))

    def build_from(values: dict[str, Any]) -> Model:
        if isinstance(values.get("unet"), dict):  # the generator committed before this format nested it
            values = {**values["unet"], **values}
        return build(parse({key: value for key, value in values.items() if key in names}))

    # the trust boundary: regular files inside the folder, config.json read under a size cap, the model
    # built on the meta device first and the weights' names and shapes compared before any is allocated
    model = load_checked_module(folder, build_from, fix)
    values = read_small_json(folder / CONFIG_FILE)
    if isinstance(values.get("unet"), dict):
        values = {**values.pop("unet"), **values}
    return model.eval(), {key: value for key, value in values.items() if key not in names}
