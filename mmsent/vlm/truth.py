"""Photos whose content is known: product, state, damage kind and the side the damage is on.

The photo generator (`mmsent.data.synth.draw_photo`) is deterministic from its random stream, so
every photo here comes with its truth. Drawn again from the same stream as *intact*, a crack, burn
or dent photo is identical except where the damage is (the twin trick of `mmsent.analysis.attention_lift`):
the differing pixels are an exact damage mask, and the mask's centre says on which side of the
photo the damage is. Damage near the middle has no side: the products stand in the middle of the
photo, so about half the damage centres fall within a tenth of the width of it, where "left" or
"right" would be a coin toss for a person too. A side is stated only when the centre is at least one
CLIP patch (`SIDE_MARGIN`, an eighth of the width) from the middle. A torn box redraws the scene, so
it has no mask and no side.

Photos are drawn from their own stream (`VLM_STREAM`), never the review set's nor CLIP
pretraining's, so the vision-language models never see a review photo or a CLIP training photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mmsent.analysis.attention_lift import TWIN_DETAILS, damage_mask
from mmsent.data.synth import DETAILS, PRODUCTS, draw_photo
from mmsent.data.synth.vocabulary import pick

VLM_STREAM = 3  # np.random.default_rng([seed, VLM_STREAM, ...]): apart from META/PHOTO/CAPTION streams
PHOTO_SIZE = 128  # drawn like the review set's photos; CLIP's image processor shrinks them to 64
TRAIN_SEED = 1  # the photos the committed models were trained on
HELDOUT_SEED = 20_241  # the photos they are graded on: a seed the training run never uses
DAMAGES: tuple[str, ...] = DETAILS["damaged"]  # ("crack", "burn", "dent", "torn_box")
SIDES: tuple[str, ...] = ("left", "right")
SIDE_MARGIN = 1 / 8  # of the width: one of the offline CLIP's 8 x 8 patches


@dataclass(frozen=True)
class PhotoTruth:
    """What one generated photo shows.

    product: one of `PRODUCTS`; damage: one of `DAMAGES`, or "" for an intact product;
    side: "left" / "right" (where the damage mask's centre is, when clearly off the middle), or ""
        (intact, a torn box, or damage near the middle).
    """

    product: str
    damage: str
    side: str

    @property
    def damaged(self) -> bool:
        return self.damage != ""


@dataclass
class Photo:
    """A photo, its truth and its damage mask (bool [height, width], None without a twin)."""

    image: Image.Image
    truth: PhotoTruth
    mask: np.ndarray | None


def mask_side(mask: np.ndarray) -> str:
    """"left" or "right": the half of the photo that holds the mask's centre of mass (mask [H, W]);
    "" when that centre is less than `SIDE_MARGIN` of the width from the middle (or the mask is empty)."""
    columns = np.nonzero(mask)[1]
    if not len(columns):
        return ""
    offset = (columns.mean() + 0.5) / mask.shape[1] - 0.5  # pixel centres: -0.5 (left edge) .. 0.5
    return "" if abs(offset) < SIDE_MARGIN else SIDES[int(offset > 0)]


def draw_truthful_photo(product: str, damage: str, rng_key: list[int], size: int = PHOTO_SIZE) -> Photo:
    """Draw one product photo (intact when `damage` is "") with its truth and mask.

    rng_key: the random stream's key (`np.random.default_rng(rng_key)`), so the twin is drawn from
    the same stream.
    """
    state = "damaged" if damage else "intact"
    image = draw_photo(product, state, damage, np.random.default_rng(rng_key), size)
    mask, side = None, ""
    if damage in TWIN_DETAILS:
        twin = draw_photo(product, "intact", "", np.random.default_rng(rng_key), size)
        mask = damage_mask(twin, image)
        side = mask_side(mask)
    return Photo(image, PhotoTruth(product, damage, side), mask)


def make_photos(n: int, seed: int, size: int = PHOTO_SIZE) -> list[Photo]:
    """`n` photos, half intact and half damaged (the four damage kinds equally often), products uniform.

    Balanced by construction, so that a model blind to the photo cannot beat chance on "is it damaged?".
    """
    rng = np.random.default_rng([seed, VLM_STREAM])
    photos = []
    for index in range(n):
        damage = "" if index % 2 == 0 else DAMAGES[(index // 2) % len(DAMAGES)]
        product = pick(rng, PRODUCTS)
        photos.append(draw_truthful_photo(product, damage, [seed, VLM_STREAM, index], size))
    return photos
