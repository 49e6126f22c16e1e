"""The trust boundary of a model folder: what is checked before anything in it is believed.

A model folder may come from the hub or from a colleague; loading it must be as safe as loading a
safetensors file. `MultimodalSentimentModel.from_pretrained` (and so `predict`, `evaluate`, `demo` and
`demo --export-space`) runs these checks, in this order, and each failure is a `CheckpointError` naming
the file, the field and what to do:

1. `folder_file`: every file read is a regular file inside the folder (a symbolic link is followed only
   when its target stays inside the folder, or inside the hub cache entry of a downloaded model);
2. `read_small_json`: the manifest, config.json and labels.json are read only when their size is under
   `MAX_JSON_BYTES`; every other listed file's size is compared with the manifest before it is hashed
   (`mmsent.hub.manifest.verify_manifest`, whose entries are type-checked by `manifest_entries`);
3. `check_fields`: every config value has the type of its dataclass field (JSON `true` is no number,
   ``"x"`` no integer) and lies in its range (`CONFIG_LIMITS`, `RECIPE_LIMITS`), before any model is built;
4. `build_checked`: the model the config describes is built on the ``meta`` device (which allocates
   nothing); model.safetensors's header is checked against the file itself (`safetensors_shapes`: dtype
   sizes x shapes = data_offsets spans, one after another, covering the file exactly), its names and
   shapes must equal the skeleton's (`check_weight_shapes`), and what a real build allocates must be
   bounded by the file's size (`check_model_size`), before any weight is allocated or read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import struct
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmsent.errors import CheckpointError
from mmsent.paths import CONFIG_FILE, WEIGHTS_FILE

MAX_JSON_BYTES = 1 << 20  # a config, manifest or label file is a few KiB; 1 MiB is a mistake or an attack
MAX_HEADER_BYTES = 1 << 24  # a safetensors header names each tensor once: 16 MiB is far beyond any model
# A real build allocates at most this factor of the weights file's size, plus a slack for unsaved buffers.
MODEL_SIZE_FACTOR, MODEL_SLACK_BYTES = 2, 64 << 20
# safetensors dtypes: bits per element (what a tensor's byte span must equal, shape x this / 8)
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "I64": 64, "U64": 64, "F64": 64, "F4": 4,
    "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
SHA256 = re.compile(r"^[0-9a-f]{64}$")
RETRAIN = "Train again (python -m mmsent train) or pass another checkpoint folder."
FIX = "Train again, or ask whoever gave you the folder for a complete copy written by save_pretrained."


def folder_file(folder: Path, name: str, root: Path | None = None) -> Path:
    """`folder`/`name` after checking it is a regular file that stays inside `root` (default `folder`).

    A symbolic link is followed only when its target resolves inside `root`; `CheckpointError` else."""
    path = folder / name
    root = (root or folder).resolve()
    try:
        link = path.lstat()
    except FileNotFoundError as error:
        raise CheckpointError(f"{path} is missing. {FIX}") from error
    real = path.resolve()
    if stat.S_ISLNK(link.st_mode) and root != real and root not in real.parents:
        raise CheckpointError(
            f"{path} is a symbolic link to {real}, outside the model folder {root}: refused (a folder from "
            "elsewhere must not make the kit read other files). Copy the real file into the folder."
        )
    if not real.is_file() or not stat.S_ISREG(real.stat().st_mode):
        raise CheckpointError(f"{path} is not a regular file (a folder, device or pipe). {FIX}")
    return path


def read_small_json(path: Path, limit: int = MAX_JSON_BYTES, fix: str = FIX, kind: type = dict) -> Any:
    """The JSON value (a `kind`: an object, or a list) in `path`, read only when its size is under `limit`;
    `CheckpointError` ending in `fix` else."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise CheckpointError(f"{path} is missing. {fix}") from error
    if size > limit:
        raise CheckpointError(
            f"{path} has {size:,} bytes, over the {limit:,} a model folder's JSON file may have: not "
            f"read. {fix}"
        )
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{path} is damaged: not readable JSON ({error}). {fix}") from error
    if not isinstance(value, kind):
        expected = "a JSON object" if kind is dict else "a JSON list"
        raise CheckpointError(f"{path} is damaged: expected {expected}, found {_json_type(value)}. {fix}")
    return value


BUILD_ERRORS = (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, RuntimeError, OverflowError)


def load_checked_module(
    folder: Path, build: Callable[[dict[str, Any]], Any], fix: str, weights_name: str = WEIGHTS_FILE
) -> Any:
    """``build(config)`` (a `torch.nn.Module`) with the weights of `folder`'s `weights_name` loaded, after
    the trust checks, for any model folder of a config.json and a safetensors file (the audio encoder,
    the text-to-image model, the vision-language model): both files regular and inside the folder, the
    config read under `MAX_JSON_BYTES`, then `build_checked` (meta build, header, shapes, size)."""
    from safetensors.torch import load_file

    config = folder_file(folder, CONFIG_FILE)
    weights = folder_file(folder, weights_name)
    values = read_small_json(config, fix=fix)
    model = build_checked(lambda: build(values), weights, config, state_shapes, fix=fix)
    model.load_state_dict(load_file(weights))
    return model


def state_shapes(module: Any) -> dict[str, tuple[int, ...]]:
    """{name: shape} of `module`'s whole state dict (what a folder holding every weight must have)."""
    return {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def build_checked(
    build: Callable[[], Any],
    weights: Path,
    config: Path,
    saved: Callable[[Any], dict[str, tuple[int, ...]]],
    fix: str = RETRAIN,
    errors: tuple[type[Exception], ...] = BUILD_ERRORS,
) -> Any:
    """``build()`` for real, only after it was built on the ``meta`` device (which allocates nothing; an
    `errors` raised there is a `CheckpointError` naming `config`), `weights`'s header was checked against
    the file itself and names exactly the shapes ``saved(skeleton)`` (`check_weight_shapes`), and what
    the build allocates is bounded by what the file holds (`check_model_size`). The one path every model
    folder kind is built through (the sentiment model, current and older format; `load_checked_module`)."""
    import torch

    try:
        with torch.device("meta"):
            skeleton = build()
    except errors as error:
        why = " ".join(str(error).split())  # one line: torch's own messages can take several
        message = f"{config} does not describe a model this kit builds ({type(error).__name__}: {why}). {fix}"
        raise CheckpointError(message) from error
    check_weight_shapes(weights, saved(skeleton), config)
    check_model_size(skeleton, weights, config)
    return build()


def check_model_size(skeleton: Any, weights: Path, config: Path) -> None:
    """Raise `CheckpointError` when the tensors a real build of `skeleton` would allocate (its parameters
    and buffers on the ``meta`` device; encoders passed in are already in memory) need far more bytes than
    `weights` holds: a config that does not belong to the file, or one crafted to exhaust memory."""
    tensors = [*skeleton.parameters(), *skeleton.buffers()]
    seen = {id(tensor): tensor.numel() * tensor.element_size() for tensor in tensors if tensor.is_meta}
    needed, holds = sum(seen.values()), weights.stat().st_size
    if needed > MODEL_SIZE_FACTOR * holds + MODEL_SLACK_BYTES:
        raise CheckpointError(
            f"{config} describes a model whose weights need {needed:,} bytes, far more than the {holds:,} "
            f"bytes of {weights}: refused before building it (the config does not belong to these weights, "
            "or was made to exhaust memory). Train again, or pass the config.json written with these weights."
        )


def manifest_entries(manifest: dict[str, Any], where: Path) -> dict[str, dict[str, Any]]:
    """The manifest's {file name: {"bytes": int, "sha256": hex}} after checking every entry's types."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise CheckpointError(f"{where}: field 'files' must be an object of file entries. {FIX}")
    for name, entry in files.items():
        if Path(name).name != name or name in ("", ".", ".."):
            raise CheckpointError(f"{where} lists {name!r}, not a file name. {FIX}")
        size = entry.get("bytes") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not _is_int(size) or size < 0 or not isinstance(digest, str) or not SHA256.match(digest):
            raise CheckpointError(
                f"{where}: the entry of {name!r} must be {{\"bytes\": a whole number >= 0, "
                f"\"sha256\": 64 hex digits}}, found {json.dumps(entry)[:120]}. {FIX}"
            )
    return files


# --------------------------------------------------------------------------------------
# Config values: types from the dataclass, ranges from the tables below
# --------------------------------------------------------------------------------------

Limit = Callable[[Any, dict[str, Any]], str | None]  # (value, all values) -> what is wrong, or None


def one_of(choices: tuple[str, ...]) -> Limit:
    return lambda value, _: None if value in choices else f"must be one of {list(choices)}"


def between(low: float, high: float, high_open: bool = False) -> Limit:
    def check(value, _):
        inside = low <= value < high if high_open else low <= value <= high
        return None if inside else f"must be in [{low:g}, {high:g}{')' if high_open else ']'}"

    return check


def _labels(value: list[str], _) -> str | None:
    if not 2 <= len(value) <= 10_000 or len(set(value)) != len(value) or not all(v.strip() for v in value):
        return "must be 2 or more distinct, non-empty class names"
    return None


def _heads(value: int, values: dict[str, Any]) -> str | None:
    dim = values.get("dim", 256)
    if value < 1 or (_is_int(dim) and dim % value):
        return f"must be a whole number >= 1 that divides dim ({dim})"
    return None


def config_limits() -> dict[str, Limit]:
    """The ranges of `SentimentModelConfig`'s values (their types come from its fields)."""
    from mmsent.choices import MODES, PROFILES

    return {
        "labels": _labels,
        "profile": one_of(PROFILES),
        "mode": one_of(MODES),
        "train_text_layers": lambda v, _: None if v is None or v >= 0 else "must be null (all) or >= 0",
        "dim": between(1, 65_536),
        "num_heads": _heads,
        "dropout": between(0, 1, high_open=True),
    }


def recipe_limits() -> dict[str, Limit]:
    """The ranges of a saved `TrainConfig` (the config's ``recipe``)."""
    return {
        "epochs": between(1, 1e6),
        "batch_size": between(1, 1e6),
        "max_length": between(1, 1e6),
        "lr": between(0, 10),
        "head_lr": between(0, 10),
        "weight_decay": between(0, 10),
        "warmup_fraction": between(0, 1),
        "max_grad_norm": between(0, 1e6),
        "mixed_precision": one_of(("auto", "bf16", "fp16", "no")),
        "num_workers": between(0, 1024),
        "attention_loss_weight": between(0, 1e6),
    }


def check_fields(kind: type, values: dict[str, Any], where: str, limits: dict[str, Limit]) -> None:
    """Raise `CheckpointError` naming `where` and the field when a value of `values` has not the type of
    `kind`'s field of that name (a dataclass) or breaks its entry in `limits`; unknown keys are ignored."""
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        if field.name not in values:
            continue
        value = values[field.name]
        if not _matches(value, hints[field.name]):
            problem = f"must be {_describe(hints[field.name])}, found {_json_type(value)}"
        else:
            problem = limits[field.name](value, values) if field.name in limits else None
        if problem:
            shown = json.dumps(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise CheckpointError(
                f"{where}: field {field.name!r} is {shown}; it {problem}. Fix the value (or train again to "
                "write a new folder)."
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matches(value: Any, hint: Any) -> bool:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, argument) for argument in arguments)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_matches(item, arguments[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    if isinstance(hint, type):  # e.g. Path: not in a config file
        return isinstance(value, str)
    return True


def _describe(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string",
             type(None): "null"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(argument) for argument in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ')}s"
    if typing.get_origin(hint) is dict:
        return "an object"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _json_type(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # NaN, Infinity, -Infinity: "must be a finite number, found NaN"
    for kind, name in ((bool, "a boolean"), (int, "a whole number"), (float, "a number"), (str, "a string"),
                       (list, "a list"), (dict, "an object"), (type(None), "null")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


# --------------------------------------------------------------------------------------
# model.safetensors: names and shapes from the header, before anything is allocated
# --------------------------------------------------------------------------------------


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} from a safetensors file's header (8 bytes of length, then JSON), after checking
    the header against the file itself: each tensor's dtype known, its bytes (shape x dtype size) equal to
    its ``data_offsets`` span, and the spans one after another from 0, covering exactly the rest of the file.
    Nothing but the header is read."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        start = handle.read(8)
        length = struct.unpack("<Q", start)[0] if len(start) == 8 else -1
        if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise CheckpointError(
                f"{path} is not a safetensors file (its header length {length:,} does not fit a file of "
                f"{size:,} bytes). {FIX}"
            )
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise CheckpointError(f"{path} has a damaged safetensors header ({error}). {FIX}") from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} has a damaged safetensors header (not a JSON object). {FIX}")
    shapes, spans = {}, []
    entries = ((name, entry if isinstance(entry, dict) else {}) for name, entry in header.items())
    for name, entry in ((name, entry) for name, entry in entries if name != "__metadata__"):
        shape, dtype, offsets = entry.get("shape"), entry.get("dtype"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(_is_int(n) and n >= 0 for n in shape):
            raise CheckpointError(f"{path}: the header entry of tensor {name!r} has no valid shape. {FIX}")
        ordered = isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(n) for n in offsets)
        if dtype not in DTYPE_BITS or not ordered or not 0 <= offsets[0] <= offsets[1]:
            raise CheckpointError(
                f"{path}: the header entry of tensor {name!r} has no known dtype ({str(dtype)[:20]!r}) or no "
                f"valid data_offsets ({json.dumps(offsets)[:60]}). {FIX}"
            )
        if math.prod(shape) * DTYPE_BITS[dtype] != 8 * (offsets[1] - offsets[0]):
            raise CheckpointError(
                f"{path}: tensor {name!r} is {dtype} of shape {shape}, but its data_offsets {offsets} span "
                f"{offsets[1] - offsets[0]:,} bytes: the header does not describe its data. {FIX}"
            )
        shapes[name] = tuple(shape)
        spans.append((offsets[0], offsets[1], name))
    data, end = size - 8 - length, 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise CheckpointError(
                f"{path}: tensor {name!r} starts at byte {begin:,} of the data, where byte {end:,} was "
                f"expected (tensors overlap or leave a gap): the header does not describe the file. {FIX}"
            )
        end = stop
    if end != data:
        raise CheckpointError(
            f"{path}: its header describes {end:,} bytes of tensor data, but the file holds {data:,}: "
            f"truncated, padded or crafted. {FIX}"
        )
    return shapes


def check_weight_shapes(path: Path, expected: dict[str, tuple[int, ...]], config: Path) -> None:
    """Raise `CheckpointError` unless `path`'s header names exactly the `expected` tensors and shapes."""
    found = safetensors_shapes(path)
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    other = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
    if missing or unexpected or other:
        shapes = [f"{n}: {list(found[n])} in the file, {list(expected[n])} by the config" for n in other[:2]]
        raise CheckpointError(
            f"{path} does not fit the model {config} describes (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, other shapes {shapes}): nothing was loaded. Train again, or pass the "
            "config.json written with these weights."
        )


def hub_cache_root(folder: Path) -> Path | None:
    """The hub cache entry (``models--owner--name``) of a downloaded snapshot folder, whose files are links
    into its ``blobs/``; None for any other folder."""
    real = Path(os.path.realpath(folder))
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith("models--"):
        return real.parent.parent
    return None

