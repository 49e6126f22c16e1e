"""One product photo: a backdrop, the product (intact or damaged) or a generic scene.

Generic photos (a stock shot, a brand card, a closed parcel) say nothing about the item's condition.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from mmsent.data.synth.canvas import (
    BACKGROUNDS,
    BRANDS,
    CARDBOARD,
    INK,
    PRODUCT_COLOURS,
    WHITE,
    Canvas,
    Colour,
    Placement,
    highlight,
    mix,
    shadow,
)
from mmsent.data.synth.damage import draw_burn, draw_crack, draw_dent, draw_torn_box
from mmsent.data.synth.products import PRODUCT_DRAWERS, outline_width
from mmsent.data.synth.vocabulary import (
    DETAILS,
    PRODUCTS,
    pick,
)


def _draw_stock(c: Canvas, product: str, colour: Colour, rng: np.random.Generator) -> None:
    """A catalogue shot: centred product, white studio backdrop, soft floor shadow, STOCK watermark."""
    p = Placement(0.5 + rng.uniform(-0.04, 0.04), 0.48 + rng.uniform(-0.04, 0.04), rng.uniform(0.58, 0.72))
    c.ellipse((p.cx - p.scale * 0.5, p.cy + p.scale * 0.4, p.cx + p.scale * 0.5, p.cy + p.scale * 0.58),
              fill=(226, 226, 228))
    PRODUCT_DRAWERS[product](c, p, colour, rng)
    mark = c.layer()
    mark.word("STOCK", (0.5, rng.uniform(0.42, 0.58)), rng.uniform(0.13, 0.17), fill=(150, 150, 160, 170))
    for y in (0.08, 0.93):  # a repeated small banner, like image-bank previews
        mark.word("STOCK", (0.5, y), 0.06, fill=(150, 150, 160, 150))
    c.composite(mark)


def _draw_logo(c: Canvas, rng: np.random.Generator) -> None:
    """A brand card: a geometric mark and a brand name, no product in sight."""
    x, y = 0.5 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.08, 0.08)
    half_w, half_h = rng.uniform(0.34, 0.44), rng.uniform(0.26, 0.34)
    card = WHITE if rng.random() < 0.5 else pick(rng, PRODUCT_COLOURS)
    mark = pick(rng, PRODUCT_COLOURS)
    if math.dist(mark, card) < 90:
        mark = INK
    c.rect((x - half_w, y - half_h, x + half_w, y + half_h), fill=card, outline=INK, width=0.015, radius=0.04)
    mx, my, r = x, y - half_h * 0.32, half_h * 0.42
    shape = pick(rng, ("disc", "triangle", "diamond", "ring"))
    if shape == "disc":
        c.ellipse((mx - r, my - r, mx + r, my + r), fill=mark)
    elif shape == "triangle":
        c.polygon([(mx, my - r), (mx + r, my + r * 0.8), (mx - r, my + r * 0.8)], fill=mark)
    elif shape == "diamond":
        c.polygon([(mx, my - r), (mx + r, my), (mx, my + r), (mx - r, my)], fill=mark)
    else:
        c.ellipse((mx - r, my - r, mx + r, my + r), outline=mark, width=r * 0.35)
    c.word(pick(rng, BRANDS), (x, y + half_h * 0.5), half_h * 0.34, fill=mark)


def _draw_parcel(c: Canvas, rng: np.random.Generator) -> None:
    """A closed, taped shipping box with an address label and a barcode."""
    p = Placement(0.5 + rng.uniform(-0.1, 0.1), 0.52 + rng.uniform(-0.08, 0.08), rng.uniform(0.62, 0.8))
    w, tape = outline_width(p), (228, 206, 160)
    c.polygon(p.points([(-0.42, -0.12), (-0.18, -0.32), (0.48, -0.32), (0.24, -0.12)]),
              fill=highlight(CARDBOARD), outline=INK, width=w)  # top
    c.polygon(p.points([(0.24, -0.12), (0.48, -0.32), (0.48, 0.26), (0.24, 0.46)]), fill=shadow(CARDBOARD),
              outline=INK, width=w)  # side
    c.rect(p.box(-0.42, -0.12, 0.24, 0.46), fill=CARDBOARD, outline=INK, width=w)  # front
    c.polygon(p.points([(-0.13, -0.12), (0.09, -0.32), (0.17, -0.32), (-0.05, -0.12)]), fill=tape)
    c.rect(p.box(-0.13, -0.12, -0.05, 0.12), fill=tape)
    c.rect(p.box(-0.36, 0.17, 0.14, 0.40), fill=WHITE, outline=INK, width=w / 2)  # address label
    for k in range(9):  # barcode
        u = -0.33 + k * 0.035
        c.rect(p.box(u, 0.21, u + 0.012 + 0.012 * (k % 3 == 0), 0.30), fill=INK)
    c.rect(p.box(-0.33, 0.33, 0.08, 0.355), fill=(120, 120, 120))


def _background(c: Canvas, rng: np.random.Generator) -> Colour:
    """Add a table top or a soft spotlight to a flat backdrop (or neither); returns the wall colour."""
    wall = c.image.getpixel((0, 0))
    style = pick(rng, ("flat", "table", "spotlight"))
    if style == "table":
        c.rect((0, rng.uniform(0.6, 0.82), 1, 1), fill=pick(rng, BACKGROUNDS))
    elif style == "spotlight":
        c.ellipse((0.1, 0.1, 0.9, 0.9), fill=mix(wall, WHITE, 0.25))
    return wall


def _product_colour(rng: np.random.Generator, background: Colour) -> Colour:
    """A product colour that stands out from the backdrop."""
    for _ in range(20):
        colour = pick(rng, PRODUCT_COLOURS)
        if math.dist(colour, background) >= 90:
            return colour
    return INK if sum(background) > 380 else WHITE


def _random_placement(rng: np.random.Generator, low: float = 0.52, high: float = 0.78) -> Placement:
    """Random scale and position inside the frame: a model has to find the product first."""
    scale = rng.uniform(low, high)
    slack = (1 - scale) / 2 * 0.85
    return Placement(0.5 + rng.uniform(-slack, slack), 0.5 + rng.uniform(-slack, slack), scale)


def draw_photo(product: str, state: str, detail: str, rng: np.random.Generator,
               size: int = 128) -> Image.Image:
    """Draw one product photo with PIL.

    Args:
        product: one of `PRODUCTS`.
        state: "intact", "damaged" or "generic".
        detail: for "damaged": "crack", "burn", "dent" or "torn_box"; for "generic": "stock", "logo"
            or "parcel"; "" for "intact" (see `DETAILS`).
        rng: the only source of randomness (backdrop, colours, position, scale, damage shape).
        size: side of the square image in pixels; the drawing scales with it.

    Returns:
        An RGB `PIL.Image.Image` of size [size, size]. Backdrops, colours and placement are drawn
        the same way for every state, so only the damage (or the generic scene) tells states apart.
    """
    if product not in PRODUCT_DRAWERS:
        raise ValueError(f"unknown product {product!r}; expected one of {PRODUCTS}")
    if state not in DETAILS or detail not in DETAILS[state]:
        raise ValueError(f"unknown state/detail {state!r}/{detail!r}; expected one of {DETAILS}")
    if detail == "stock":
        canvas = Canvas(size, WHITE)
        _draw_stock(canvas, product, _product_colour(rng, WHITE), rng)
        return canvas.image
    canvas = Canvas(size, pick(rng, BACKGROUNDS))
    wall = _background(canvas, rng)
    if detail == "logo":
        _draw_logo(canvas, rng)
    elif detail == "parcel":
        _draw_parcel(canvas, rng)
    elif detail == "torn_box":
        colour, placement = _product_colour(rng, CARDBOARD), _random_placement(rng, 0.62, 0.8)
        draw_torn_box(canvas, product, colour, placement, rng)
    else:
        surface = PRODUCT_DRAWERS[product](canvas, _random_placement(rng), _product_colour(rng, wall), rng)
        damage = {"crack": draw_crack, "burn": draw_burn, "dent": draw_dent}.get(detail)
        if damage is not None:
            damage(canvas, surface, rng)
    return canvas.image
