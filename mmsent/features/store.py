"""A disk cache of image-encoder outputs: each photo is encoded once per encoder, then read back.

A frozen image encoder always gives the same features for the same photo, so a second run, a
second notebook or a second process need not encode it again. Entries are keyed by

- the encoder (`encoder_key`): its name, its revision (the hub commit when it came from the hub),
  a fingerprint of its output weights and the image processor's settings, so another model, an
  edited checkpoint or another resize / normalisation misses instead of returning stale numbers;
- the photo's content (`mmsent.paths.file_sha256`, SHA-256 of the file's bytes): an edited
  photo misses, and a copy of a photo under another name hits.

Layout, one small safetensors file per (encoder, photo)::

    <root>/<encoder key>/<first 2 hex digits>/<file sha256>.safetensors
        image_embeds [image_embed_dim], patch_tokens [num_patches, image_dim]   (float32)

Reads are verified: each entry's metadata holds a SHA-256 of its tensors (names, shapes, dtypes and
bytes: `mmsent.files.digests.tensors_sha256`), and `FeatureCache.load` checks it, that every tensor is
a finite floating-point array and, when the caller says which, the shapes. A damaged entry (a bad
copy, a flipped bit), one of another format or one with other shapes is a miss: the photo is encoded
again and the entry rewritten, and the cache says so once (a warning), instead of training on NaNs or
failing on a shape. (The call snippets of `mmsent.audio.store` are kept here too, as int16 samples:
the one integer type accepted.)

Writes are atomic (`mmsent.files.replace.written_aside`): a temporary file in the same folder, then
`os.replace` over the final name. Two processes writing the same photo at once both succeed, and a
reader sees a whole entry or none, never half of one.

Where it lives: ``MMSENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmsent``, else ``~/.cache/mmsent``.
Turn it off with ``MMSENT_CACHE_DIR=off`` (or pass ``cache=False`` to
`mmsent.features.vectors.image_features`); empty it by deleting the folder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from mmsent.files.digests import identity_key, tensors_sha256
from mmsent.files.replace import written_aside
from mmsent.paths import CACHE_ENV, default_cache_dir, file_sha256

if TYPE_CHECKING:
    from mmsent.encoders import Encoders

# Bump when what an entry holds changes (e.g. how patch tokens are computed): old entries then miss.
FORMAT_VERSION = 3  # 3: keys and checksums by mmsent.files.digests
CHECKSUM_KEY = "mmsent_sha256"  # in each entry's safetensors metadata
logger = logging.getLogger(__name__)


def encoder_key(encoders: Encoders) -> str:
    """A folder name that changes whenever the image encoder's outputs could change.

    ``<readable name>-<16 hex digits>`` (`mmsent.files.digests.identity_key`): the hash covers the
    encoder's name, its hub revision, a fingerprint of its last weights (so a model changed in memory
    under the same name misses too), the image processor's settings and `FORMAT_VERSION`.
    """
    model = encoders.image_model
    last_weights = {
        "visual_projection": model.visual_projection.weight,
        "post_layernorm": model.vision_model.post_layernorm.weight,
    }
    identity = {
        "name": encoders.image_name,
        "revision": getattr(model.config, "_commit_hash", None),
        "weights": tensors_sha256(last_weights.items()),
        "processor": encoders.image_processor.to_dict(),
        "format": FORMAT_VERSION,
    }
    return identity_key(encoders.image_name, identity)


def entry_problem(
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str] | None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """Why a cache entry read back cannot be used, or "" when it can."""
    if not metadata or CHECKSUM_KEY not in metadata:
        return "no checksum (written by another version)"
    if shapes is not None and set(shapes) != set(tensors):
        return f"holds {sorted(tensors)}, expected {sorted(shapes)}"
    for name, tensor in tensors.items():
        if shapes is not None and tuple(tensor.shape) != tuple(shapes[name]):
            return f"{name} has shape {tuple(tensor.shape)}, expected {tuple(shapes[name])}"
        if not (tensor.is_floating_point() or tensor.dtype == torch.int16):  # int16: audio samples
            return f"{name} has dtype {tensor.dtype}, expected floating point (or int16 audio)"
    if tensors_sha256(tensors.items()) != metadata[CHECKSUM_KEY]:
        return "its checksum does not match (damaged bytes)"
    if not all(bool(torch.isfinite(tensor).all()) for tensor in tensors.values()):
        return "it holds NaN or infinite values"
    return ""


class FeatureCache:
    """Image features on disk, one safetensors file per (encoder key, photo digest).

    `hits` and `writes` count, since creation, the entries read back and the entries written;
    `rejected` the entries found damaged or of other shapes (treated as misses).

        cache = FeatureCache("/tmp/features")
        entry = cache.entry(encoder_key(encoders), "photo.png")
        cache.save(entry, {"image_embeds": embeds, "patch_tokens": patches})
        cache.load(entry)   # -> the same tensors, or None when absent
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.hits = 0
        self.writes = 0
        self.rejected = 0
        self._said_unusable = False  # this cache has warned about a bad entry (once is enough)
        self._said_unwritable = False  # this cache has warned that it cannot be written

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def entry(self, encoder: str, image_path: str | Path) -> Path:
        """Where the features of the photo at `image_path` by encoder `encoder` (an `encoder_key`) live."""
        return self.digest_entry(encoder, file_sha256(image_path))

    def digest_entry(self, encoder: str, digest: str) -> Path:
        """Where the entry of content `digest` (64 hex digits, e.g. a text's) by encoder `encoder` lives."""
        return self.root / encoder / digest[:2] / f"{digest}.safetensors"

    def load(
        self, entry: Path, shapes: Mapping[str, Sequence[int]] | None = None
    ) -> dict[str, torch.Tensor] | None:
        """The tensors stored at `entry`, or None if there is no usable entry.

        An entry that is unreadable, fails its checksum, holds non-finite values or (with
        `shapes`, {name: shape}) other names or shapes is a miss too; the first one of each cache
        folder is reported (once per process).
        """
        try:
            with safe_open(entry, framework="pt") as handle:
                metadata = handle.metadata()
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except FileNotFoundError:
            return None
        except (OSError, SafetensorError, ValueError, RuntimeError) as error:  # a cut-off or bad copy
            return self._reject(entry, f"unreadable ({error})")
        problem = entry_problem(tensors, metadata, shapes)
        if problem:
            return self._reject(entry, problem)
        self.hits += 1
        return tensors

    def _reject(self, entry: Path, problem: str) -> None:
        """Count a bad entry as a miss; warn about the first one (it will be encoded again)."""
        self.rejected += 1
        if not self._said_unusable:
            self._said_unusable = True
            logger.warning(
                "Feature cache entry %s is unusable: %s. Such entries are encoded again and rewritten "
                "(delete %s to clear the cache).",
                entry,
                problem,
                self.root,
            )

    def save(self, entry: Path, tensors: dict[str, torch.Tensor]) -> None:
        """Write `tensors` to `entry` atomically: temporary file in the same folder, then rename.

        A cache that cannot be written (read-only, disk full) is reported once and skipped: the
        features are still computed, only not kept.
        """
        # clone(): a row of a bigger tensor would otherwise drag its whole storage along.
        tensors = {name: t.detach().cpu().clone() for name, t in tensors.items()}
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with written_aside(entry) as temporary:
                save_file(tensors, temporary, metadata={CHECKSUM_KEY: tensors_sha256(tensors.items())})
        except OSError as error:
            self._cannot_write(error)
            return
        self.writes += 1

    def _cannot_write(self, error: OSError) -> None:
        if not self._said_unwritable:
            self._said_unwritable = True
            logger.warning(
                "Cannot write the feature cache under %s (%s); going on without saving features. "
                "Point %s at a writable folder, or set it to 'off'.",
                self.root,
                error,
                CACHE_ENV,
            )


def resolve_cache(cache: FeatureCache | bool | None = True) -> FeatureCache | None:
    """True: the default cache (`default_cache_dir`, None when turned off); False / None: no cache;
    a `FeatureCache`: that one."""
    if isinstance(cache, FeatureCache):
        return cache
    if not cache:
        return None
    root = default_cache_dir()
    return FeatureCache(root) if root is not None else None
