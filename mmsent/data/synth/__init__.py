"""The bundled synthetic "product reviews with photos" data set, drawn from a seed.

Why a synthetic set? To teach multimodal learning we need reviews where *neither* modality alone
is enough, and we need to *know* how far each one can go. Every review is built from two hidden
(latent) facts, which the CSV also stores so that you can check your models against them:

- ``text_kind``: the text is ``clear_positive``, ``clear_negative`` or ``ambiguous`` (sarcasm such as
  "This phone is 🔥🔥🔥", emoji, or too short: "ok", "Hmm.");
- ``photo_state``: the photo shows the product ``intact``, ``damaged`` (a crack, a burn, a dent, a torn
  box) or is ``generic`` (a stock shot, a brand logo, a closed parcel) and says nothing.

The label follows one documented rule (`label_rule`): clear text decides; otherwise the photo
decides (intact -> positive, damaged -> negative). A few reviews have a photo that contradicts their
clear text (the label follows the text), and ambiguous text never comes with a generic photo. So a
perfect text-only model is capped at 0.80, a perfect image-only model at 0.81, and a model that
reads both can reach 1.0; `theoretical_ceilings` computes those caps from the latent columns.

The package, one job per module (each imports only those above it):

    vocabulary  products, photo states and details, text kinds, CSV columns, random streams, nouns
    canvas      a canvas in unit coordinates, the palette, bitmap letters
    products    the six product drawers
    damage      cracks, burns, dents, a torn box
    photos      ``draw_photo``: backdrop + product + damage, or a generic scene
    captions    ``caption_pairs`` for contrastive CLIP pretraining
    texts       ``write_text``: clear and ambiguous review texts
    reviews     ``generate_reviews``, ``label_rule``, ``review_photo``, ``write_csv``
    ceilings    ``theoretical_ceilings``, ``sanity_baselines``, ``summary``
    make        ``make_data``: what ``python -m mmsent make-data`` runs

Regenerate the committed copy with ``python -m mmsent make-data`` (``--out data --n 2400 --seed 0``).
Photos are flat-coloured PIL drawings (no fonts, no anti-aliasing), so the PNG files are tiny and
byte-identical from run to run.
"""

from mmsent.data.synth.allocation import SPLIT_FRACTIONS
from mmsent.data.synth.captions import caption_pairs, make_caption
from mmsent.data.synth.ceilings import sanity_baselines, summary, theoretical_ceilings
from mmsent.data.synth.make import make_data
from mmsent.data.synth.photos import draw_photo
from mmsent.data.synth.reviews import (
    SCENARIOS,
    generate_reviews,
    label_rule,
    review_photo,
    write_csv,
)
from mmsent.data.synth.texts import SHOWCASE_TEXT, write_text
from mmsent.data.synth.vocabulary import COLUMNS, DETAILS, PRODUCT_NOUNS, PRODUCTS, STATES, TEXT_KINDS

__all__ = [
    "COLUMNS",
    "DETAILS",
    "PRODUCTS",
    "PRODUCT_NOUNS",
    "SCENARIOS",
    "SHOWCASE_TEXT",
    "SPLIT_FRACTIONS",
    "STATES",
    "TEXT_KINDS",
    "caption_pairs",
    "draw_photo",
    "generate_reviews",
    "label_rule",
    "make_caption",
    "make_data",
    "review_photo",
    "sanity_baselines",
    "summary",
    "theoretical_ceilings",
    "write_csv",
    "write_text",
]
