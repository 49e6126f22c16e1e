"""Identities as SHA-256 digests, each defined once: a set of tensors, a key from an identity.

(A file's bytes: `mmsent.paths.file_sha256`, at the bottom layer because the offline encoders are named
by it: a photo's identity in the feature cache, each file of a model folder's manifest, the offline
CLIP's weights, the data a model was trained on.)

- `tensors_sha256`: named tensors, by name: ``name:shape:dtype;`` then the raw bytes of each. A model
  folder's ``encoder_fingerprint`` is this over the frozen parameters: folders saved earlier store it,
  so its byte format must never change;
- `identity_key`: a folder name ``<readable name>-<labels>-<16 hex digits>`` from a JSON-able identity
  (the feature cache's folders: an encoder's name, revision, weights, settings, format version).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import torch


def tensors_sha256(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 over (name, tensor) pairs sorted by name: ``name:shape:dtype;`` and the tensor's bytes each.

    Names must be unique. The byte format is fixed (stored model folders hold such digests)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(named, key=lambda pair: pair[0]):
        tensor = tensor.detach().contiguous().cpu()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def identity_key(name: str, identity: Mapping[str, Any], *labels: str) -> str:
    """``<name>-<labels...>-<16 hex digits>``: a folder name that changes whenever `identity` does.

    `name` is kept readable (characters outside ``A-Za-z0-9._-`` become ``_``, its last 60 kept); the
    digits are the SHA-256 of `identity` as sorted JSON (values that are no JSON type: their ``str``)."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-60:]
    return "-".join([readable, *labels, digest[:16]])
