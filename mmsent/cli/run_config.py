"""A run described by a file: `python -m mmsent train --config run.yaml` (or run.toml).

The file holds flag names and values (`epochs: 2`, `batch-size: 8` or `batch_size: 8`, `models:
[fusion, text_only]`, `global-embedding: false`); every flag of the command can be set, and each
value goes through the same check as the flag's (`mmsent.cli.arguments`), so a bad value in a file fails
the way it would on the command line, naming the file and the key. Flags given on the command line
win over the file. The run's effective settings (file, flags and defaults together) are saved with
its report as `run_config.yaml`, which `--config` reads back.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from pathlib import Path
from typing import Any

import yaml

from mmsent.config import RUN_CONFIG_FILE
from mmsent.errors import DataError

CONFIG_FILE = RUN_CONFIG_FILE
NOT_SETTINGS = {"help", "config", "debug", "command"}  # flags a file cannot set
MAX_CONFIG_BYTES = 1 << 20  # a settings file is a few lines; 1 MiB is a mistake (a data file passed here)
NOT_SAVED = {"overwrite"}  # a write policy, not a setting of the run: a saved run never replaces a report


def settable(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The actions of `parser` a file may set, by destination (batch_size, ...)."""
    return {action.dest: action for action in parser._actions if action.dest not in NOT_SETTINGS}


def read_file(path: Path) -> dict[str, Any]:
    """The mapping in a .yaml / .yml / .toml file."""
    if not path.is_file():
        raise DataError(f"--config {path}: no such file. Pass a .yaml or .toml file of flag: value lines.")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise DataError(
            f"--config {path} has {path.stat().st_size:,} bytes, over the {MAX_CONFIG_BYTES:,} a file of "
            "flag: value lines may have: not read. Pass the settings file itself."
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"--config {path} is not UTF-8 text ({error}); save it as UTF-8.") from error
    try:
        values = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise DataError(f"--config {path} is not valid {path.suffix.lstrip('.').upper()}: {error}") from error
    if values is None:
        return {}
    if not isinstance(values, dict):
        kind = type(values).__name__
        raise DataError(f"--config {path} must hold flag: value pairs (a mapping), not a {kind}.")
    return values


def file_defaults(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """The file's values, checked and converted like the flags of `parser` would be."""
    actions = settable(parser)
    values = {}
    for key, value in read_file(path).items():
        dest = str(key).lstrip("-").replace("-", "_")
        if dest not in actions:
            near = difflib.get_close_matches(dest, list(actions), n=1)
            hint = f"; did you mean {near[0].replace('_', '-')!r}?" if near else ""
            raise DataError(f"--config {path}: unknown setting {key!r}{hint} (the settings are the flags).")
        values[dest] = _convert(actions[dest], value, f"--config {path}: {key}")
    return values


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """`value` as the flag's own parsing would give it; a DataError naming `where` if it is not valid."""
    if value is None and action.default is None:  # "not set", as when the flag is not given
        return None
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):  # a switch
        if not isinstance(value, bool):
            raise DataError(f"{where} is a switch: write true or false, not {value!r}.")
        return value
    if isinstance(value, list):  # e.g. models: [fusion, text_only] -> "fusion,text_only"
        value = ",".join(str(item) for item in value)
    elif isinstance(value, dict):  # e.g. columns: {reviewText: text} -> "reviewText=text"
        value = ",".join(f"{name}={ours}" for name, ours in value.items())
    elif isinstance(value, bool) or value is None:
        raise DataError(f"{where} takes a value like the flag's, not {value!r}.")
    try:
        converted = action.type(str(value)) if action.type else str(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
        raise DataError(f"{where}: {error}") from error
    if action.choices is not None and converted not in action.choices:
        raise DataError(f"{where}: {converted!r} is not one of {', '.join(map(str, action.choices))}.")
    return converted


def effective(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The run's settings as a file `--config` reads back: paths as text, renames as NAME=OURS; a
    setting left unset (None: e.g. no --photo-dir) is left out."""
    out = {}
    for dest in [d for d in settable(parser) if d not in NOT_SAVED]:
        value = getattr(args, dest)
        if value is None:
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, dict):
            value = ",".join(f"{name}={ours}" for name, ours in value.items())
        elif isinstance(value, tuple):
            value = list(value)
        out[dest.replace("_", "-")] = value
    return out


def save(args: argparse.Namespace, parser: argparse.ArgumentParser, path: Path) -> None:
    """Write the effective settings of `args` to `path` (YAML)."""
    path.write_text(yaml.safe_dump(effective(args, parser), sort_keys=False), encoding="utf-8")
