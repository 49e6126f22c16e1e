"""Captions for contrastive CLIP pretraining: (photo, caption, state) triples from their own stream."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from mmsent.data.synth.photos import draw_photo
from mmsent.data.synth.vocabulary import (
    CAPTION_STREAM,
    DETAILS,
    PRODUCT_NOUNS,
    PRODUCTS,
    STATES,
    pick,
)

_CAPTIONS: dict[str, tuple[str, ...]] = {
    "": ("a photo of a {p}", "an intact {p}", "a {p} in perfect condition", "a brand new {p}",
         "a photo of an undamaged {p}"),
    "crack": ("a photo of a cracked {p}", "a cracked {p}", "a broken {p} with cracks", "a shattered {p}"),
    "burn": ("a photo of a burnt {p}", "a burnt {p}", "a scorched {p} with burn marks",
             "a melted, burnt {p}"),
    "dent": ("a photo of a dented {p}", "a dented {p}", "a crushed {p}", "a crumpled {p}"),
    "torn_box": ("a {p} in a torn box", "a photo of a ripped open box with a {p}",
                 "a damaged box with a {p}"),
    "stock": ("a stock photo of a {p}", "a catalogue photo of a {p}", "a {p} on a white background"),
    "logo": ("a brand logo", "a photo of a logo card", "a company logo"),
    "parcel": ("a parcel", "a closed shipping box", "a photo of a cardboard parcel"),
}


def make_caption(product: str, detail: str, rng: np.random.Generator) -> str:
    """A short caption for a photo, from a small template vocabulary."""
    caption = pick(rng, _CAPTIONS[detail]).format(p=PRODUCT_NOUNS[product])
    return re.sub(r"\ba (?=[aeiou])", "an ", caption)  # "a intact" -> "an intact"


def caption_pairs(n: int, seed: int, size: int = 128) -> list[tuple[Image.Image, str, str]]:
    """`n` (image, caption, state) triples for contrastive CLIP pretraining.

    States are drawn uniformly, then the detail and the product uniformly. The random streams never
    overlap the review set's, even for the same seed, so pretraining never sees a review photo.

    Returns:
        list of (RGB image [size, size], caption such as "a burnt laptop", state in `STATES`).
    """
    rng = np.random.default_rng([seed, CAPTION_STREAM])
    pairs = []
    for index in range(n):
        state = pick(rng, STATES)
        detail, product = pick(rng, DETAILS[state]), pick(rng, PRODUCTS)
        photo_rng = np.random.default_rng([seed, CAPTION_STREAM, index])
        image = draw_photo(product, state, detail, photo_rng, size)
        pairs.append((image, make_caption(product, detail, rng), state))
    return pairs
