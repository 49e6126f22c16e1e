"""A disk cache of image-encoder outputs: each photo is encoded once per encoder, then read back.

A frozen image encoder always gives the same features for the same photo, so a second run, a
second notebook or a second process need not encode it again. Entries are keyed by

- the encoder (`encoder_key`): its name, its revision (the hub commit when it came from the hub),
  a fingerprint of its output weights and the image processor's settings, so another model, an
  edited checkpoint or another resize / normalisation misses instead of returning stale numbers;
- the photo's content (`file_digest`, SHA-256 of the file's bytes): an edited photo misses, and a
  copy of a photo under another name hits.

Layout, one small safetensors file per (encoder, photo)::

    <root>/<encoder key>/<first 2 hex digits>/<file sha256>.safetensors
        image_embeds [image_embed_dim], patch_tokens [num_patches, image_dim]   (float32)

Writes are atomic: a temporary file in the same folder, then `os.replace` over the final name
(a rename within one folder is atomic on POSIX and Windows). Two processes writing the same photo
at once both succeed, and a reader sees a whole entry or none, never half of one.

Where it lives: ``MMSENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmsent``, else ``~/.cache/mmsent``.
Turn it off with ``MMSENT_CACHE_DIR=off`` (or pass ``cache=False`` to
`mmsent.features.image_features`); empty it by deleting the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

if TYPE_CHECKING:
    from mmsent.encoders import Encoders

CACHE_ENV = "MMSENT_CACHE_DIR"
OFF_VALUES = {"", "0", "off", "none", "false", "no"}
# Bump when what an entry holds changes (e.g. how patch tokens are computed): old entries then miss.
FORMAT_VERSION = 1


def default_cache_dir() -> Path | None:
    """``MMSENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmsent``, else ``~/.cache/mmsent``; None when off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in OFF_VALUES else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmsent"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits: the photo's identity, whatever its name."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def encoder_key(encoders: Encoders) -> str:
    """A folder name that changes whenever the image encoder's outputs could change.

    ``<readable name>-<16 hex digits>``: the hash covers the encoder's name, its hub revision,
    a fingerprint of its last weights (so a model changed in memory under the same name misses
    too), the image processor's settings and `FORMAT_VERSION`.
    """
    model = encoders.image_model
    last_weights = (model.visual_projection.weight, model.vision_model.post_layernorm.weight)
    fingerprint = hashlib.sha256()
    for weight in last_weights:
        fingerprint.update(weight.detach().float().cpu().numpy().tobytes())
    identity = {
        "name": encoders.image_name,
        "revision": getattr(model.config, "_commit_hash", None),
        "weights": fingerprint.hexdigest(),
        "processor": encoders.image_processor.to_dict(),
        "format": FORMAT_VERSION,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", encoders.image_name)[:60]
    return f"{readable}-{digest[:16]}"


class FeatureCache:
    """Image features on disk, one safetensors file per (encoder key, photo digest).

    `hits` and `writes` count, since creation, the entries read back and the entries written.

        cache = FeatureCache("/tmp/features")
        entry = cache.entry(encoder_key(encoders), "photo.png")
        cache.save(entry, {"image_embeds": embeds, "patch_tokens": patches})
        cache.load(entry)   # -> the same tensors, or None when absent
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.hits = 0
        self.writes = 0

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def entry(self, encoder: str, image_path: str | Path) -> Path:
        """Where the features of the photo at `image_path` by encoder `encoder` (an `encoder_key`) live."""
        digest = file_digest(image_path)
        return self.root / encoder / digest[:2] / f"{digest}.safetensors"

    def load(self, entry: Path) -> dict[str, torch.Tensor] | None:
        """The tensors stored at `entry`, or None if there is no (readable) entry."""
        try:
            tensors = load_file(entry)
        except (OSError, SafetensorError):  # absent, or damaged (disk full, a bad copy): encode again
            return None
        self.hits += 1
        return tensors

    def save(self, entry: Path, tensors: dict[str, torch.Tensor]) -> None:
        """Write `tensors` to `entry` atomically: temporary file in the same folder, then rename."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.stem}.", suffix=".tmp")
        os.close(handle)
        try:
            # clone(): a row of a bigger tensor would otherwise drag its whole storage along.
            save_file({name: t.detach().cpu().clone() for name, t in tensors.items()}, temporary)
            os.replace(temporary, entry)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.writes += 1


def resolve_cache(cache: FeatureCache | bool | None = True) -> FeatureCache | None:
    """True: the default cache (`default_cache_dir`, None when turned off); False / None: no cache;
    a `FeatureCache`: that one."""
    if isinstance(cache, FeatureCache):
        return cache
    if not cache:
        return None
    root = default_cache_dir()
    return FeatureCache(root) if root is not None else None
