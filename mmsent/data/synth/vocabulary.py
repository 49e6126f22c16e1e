"""The synthetic set's vocabulary: products, photo states and details, text kinds, CSV columns.

Every part of the generator (photos, captions, texts, the review table) and `mmsent.models.clip_pretrain`
read these names from here, so a product or a detail is added in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PRODUCTS: tuple[str, ...] = ("phone", "laptop", "headphones", "mug", "sneaker", "watch")
STATES: tuple[str, ...] = ("intact", "damaged", "generic")
DETAILS: dict[str, tuple[str, ...]] = {
    "intact": ("",),
    "damaged": ("crack", "burn", "dent", "torn_box"),
    "generic": ("stock", "logo", "parcel"),
}
TEXT_KINDS: tuple[str, ...] = ("clear_positive", "clear_negative", "ambiguous")
COLUMNS: tuple[str, ...] = (
    "review_id", "product", "scenario", "text", "image_path", "label", "rating", "price",
    "verified_purchase", "helpful_votes", "photo_state", "photo_detail", "text_kind", "split",
)

# Random-stream ids: np.random.default_rng([seed, stream, ...]) keeps the parts of the set
# independent, so drawing captions (or changing how photos look) never shifts the review table.
META_STREAM, PHOTO_STREAM, CAPTION_STREAM = 0, 1, 2

# How captions and prompts name each product ("a burnt pair of headphones").
PRODUCT_NOUNS: dict[str, str] = {
    "phone": "phone", "laptop": "laptop", "headphones": "pair of headphones", "mug": "mug",
    "sneaker": "sneaker", "watch": "watch",
}


def pick(rng: np.random.Generator, options: Sequence):
    """One element of `options`, uniformly."""
    return options[int(rng.integers(len(options)))]
