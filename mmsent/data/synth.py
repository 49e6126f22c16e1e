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

Public API:
    ``generate_reviews(n, seed, out_dir)``  the review table (and, with ``out_dir``, reviews.csv + PNGs)
    ``draw_photo(product, state, detail, rng, size)``  one PIL product photo
    ``review_photo(row, seed, size)``  redraw the photo of one review, e.g. larger for a figure
    ``caption_pairs(n, seed)``  (image, caption, state) triples for contrastive CLIP pretraining
    ``label_rule(text_kind, photo_state)``  the labelling rule
    ``theoretical_ceilings(frame)``  Bayes-optimal accuracy per modality
    ``sanity_baselines(frame)``  bag-of-words and tabular-only logistic regressions (leak checks)

Regenerate the committed copy with ``python -m mmsent.data.synth --out data --n 2400 --seed 0``.
Photos are flat-coloured PIL drawings (no fonts, no anti-aliasing), so the PNG files are tiny and
byte-identical from run to run.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageChops, ImageDraw

from mmsent.errors import DataError

PRODUCTS: tuple[str, ...] = ("phone", "laptop", "headphones", "mug", "sneaker", "watch")
STATES: tuple[str, ...] = ("intact", "damaged", "generic")
DETAILS: dict[str, tuple[str, ...]] = {
    "intact": ("",),
    "damaged": ("crack", "burn", "dent", "torn_box"),
    "generic": ("stock", "logo", "parcel"),
}
TEXT_KINDS: tuple[str, ...] = ("clear_positive", "clear_negative", "ambiguous")
LABELS: tuple[str, ...] = ("negative", "positive")
SPLITS: tuple[str, ...] = ("train", "val", "test")
COLUMNS: tuple[str, ...] = (
    "review_id", "product", "scenario", "text", "image_path", "label", "rating", "price",
    "verified_purchase", "helpful_votes", "photo_state", "photo_detail", "text_kind", "split",
)

# Random-stream ids: np.random.default_rng([seed, stream, ...]) keeps the parts of the set
# independent, so drawing captions (or changing how photos look) never shifts the review table.
_META_STREAM, _PHOTO_STREAM, _CAPTION_STREAM = 0, 1, 2

Colour = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]

# ============================================================================================
# Drawing: a canvas addressed in unit coordinates, so one drawing works at any pixel size.
# ============================================================================================

BACKGROUNDS: tuple[Colour, ...] = (
    (196, 218, 234), (234, 220, 198), (208, 230, 204), (232, 204, 214), (178, 180, 190),
    (88, 100, 122), (150, 118, 92), (62, 74, 64), (226, 224, 196), (118, 148, 170),
    (232, 198, 150), (168, 200, 188), (110, 92, 120), (204, 190, 228),
)  # never pure white: a white studio backdrop is what marks a stock photo
PRODUCT_COLOURS: tuple[Colour, ...] = (
    (34, 34, 40), (188, 192, 200), (238, 238, 232), (204, 44, 50), (44, 92, 196), (40, 142, 92),
    (214, 172, 62), (228, 132, 164), (244, 150, 40), (122, 82, 172), (40, 170, 190),
)
CARDBOARD: Colour = (186, 136, 84)
SCREEN: Colour = (26, 32, 52)
INK: Colour = (22, 22, 26)
WHITE: Colour = (255, 255, 255)
BRANDS: tuple[str, ...] = ("ACME", "NOVA", "ZENO", "VOLT", "ATLAS")

# 5x7 bitmap letters: text drawn with rectangles needs no font file and renders the same everywhere.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "S": (".###.", "#...#", "#....", ".###.", "....#", "#...#", ".###."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "V": ("#...#", "#...#", "#...#", "#...#", ".#.#.", ".#.#.", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
}


def _pick(rng: np.random.Generator, options: Sequence):
    """One element of `options`, uniformly."""
    return options[int(rng.integers(len(options)))]


def _mix(colour: Colour, other: Colour, amount: float) -> Colour:
    """Blend `amount` of `other` into `colour` (0 keeps colour, 1 gives other)."""
    r, g, b = (round(c + (o - c) * amount) for c, o in zip(colour, other, strict=True))
    return (r, g, b)


def _shadow(colour: Colour) -> Colour:
    return _mix(colour, (0, 0, 0), 0.45)


def _highlight(colour: Colour) -> Colour:
    return _mix(colour, WHITE, 0.5)


class Canvas:
    """An image you draw on in unit coordinates: (0, 0) is the top-left corner, (1, 1) the bottom-right.

    Line widths are fractions of the side too (never under one pixel), so a drawing made for 128 px
    still reads at 64 px. Nothing is anti-aliased: flat colours keep the PNG files small.
    """

    def __init__(self, size: int, background: Colour, mode: str = "RGB") -> None:
        self.size = size
        self.image = Image.new(mode, (size, size), background if mode == "RGB" else (*background, 0))
        self.draw = ImageDraw.Draw(self.image)

    def pixels(self, box: Sequence[float]) -> list[float]:
        """A unit-coordinate box as a pixel box, corners sorted as PIL wants them."""
        x0, y0, x1, y1 = (v * self.size for v in box)
        return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

    def _xy(self, points: Sequence[Point]) -> list[tuple[float, float]]:
        return [(x * self.size, y * self.size) for x, y in points]

    def _width(self, width: float) -> int:
        return max(1, round(width * self.size)) if width > 0 else 0

    def polygon(self, points: Sequence[Point], fill=None, outline=None, width: float = 0.0) -> None:
        self.draw.polygon(self._xy(points), fill=fill, outline=outline, width=self._width(width))

    def rect(self, box: Sequence[float], fill=None, outline=None, width: float = 0.0,
             radius: float = 0.0) -> None:
        self.draw.rounded_rectangle(self.pixels(box), radius=radius * self.size, fill=fill,
                                    outline=outline, width=self._width(width))

    def ellipse(self, box: Sequence[float], fill=None, outline=None, width: float = 0.0) -> None:
        self.draw.ellipse(self.pixels(box), fill=fill, outline=outline, width=self._width(width))

    def arc(self, box: Sequence[float], start: float, end: float, fill, width: float) -> None:
        self.draw.arc(self.pixels(box), start, end, fill=fill, width=self._width(width))

    def line(self, points: Sequence[Point], fill, width: float) -> None:
        self.draw.line(self._xy(points), fill=fill, width=self._width(width), joint="curve")

    def word(self, text: str, centre: Point, height: float, fill) -> None:
        """Write capital letters in the 5x7 bitmap font, centred on `centre`, `height` tall."""
        cell = height / 7
        left = centre[0] - (len(text) * 6 - 1) * cell / 2
        top = centre[1] - height / 2
        for index, letter in enumerate(text):
            for row, bits in enumerate(_GLYPHS[letter]):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        x0, y0 = left + (index * 6 + col) * cell, top + row * cell
                        self.rect((x0, y0, x0 + cell * 1.02, y0 + cell * 1.02), fill=fill)

    def layer(self) -> Canvas:
        """A transparent canvas of the same size, for translucent strokes (smoke, watermarks)."""
        return Canvas(self.size, (0, 0, 0), mode="RGBA")

    def composite(self, layer: Canvas, clip: Box | None = None) -> None:
        """Paint a translucent `layer` over this canvas, only inside the box `clip` when given."""
        overlay = layer.image
        if clip is not None:
            inside = Image.new("L", overlay.size, 0)
            ImageDraw.Draw(inside).rectangle(self.pixels(clip), fill=255)
            overlay = overlay.copy()
            overlay.putalpha(ImageChops.multiply(overlay.getchannel("A"), inside))
        self.image = Image.alpha_composite(self.image.convert("RGBA"), overlay).convert("RGB")
        self.draw = ImageDraw.Draw(self.image)

    def warp(self, displacement: Callable[[float, float], Point], cells: int = 32) -> None:
        """Bend the picture: the pixel at p shows what was at p - displacement(p).

        A coarse mesh of cells x cells quads with nearest-neighbour sampling keeps colours flat.
        """
        inside = 1 - 0.5 / self.size  # beyond the edge, repeat the border instead of reading black

        def source(x: float, y: float) -> tuple[float, float]:
            dx, dy = displacement(x, y)
            return (min(max(x - dx, 0.0), inside) * self.size, min(max(y - dy, 0.0), inside) * self.size)

        mesh = []
        for i in range(cells):
            for j in range(cells):
                x0, y0, x1, y1 = i / cells, j / cells, (i + 1) / cells, (j + 1) / cells
                quad = (*source(x0, y0), *source(x0, y1), *source(x1, y1), *source(x1, y0))
                mesh.append((tuple(round(v * self.size) for v in (x0, y0, x1, y1)), quad))
        self.image = self.image.transform(self.image.size, Image.Transform.MESH, mesh,
                                          Image.Resampling.NEAREST)
        self.draw = ImageDraw.Draw(self.image)


@dataclass(frozen=True)
class Placement:
    """Where a product sits: its local coordinates u, v in [-0.5, 0.5] map to centre + scale * (u, v)."""

    cx: float
    cy: float
    scale: float

    def at(self, u: float, v: float) -> Point:
        return (self.cx + u * self.scale, self.cy + v * self.scale)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> Box:
        return (*self.at(u0, v0), *self.at(u1, v1))

    def points(self, uv: Sequence[Point]) -> list[Point]:
        return [self.at(u, v) for u, v in uv]

    def length(self, d: float) -> float:
        return d * self.scale


@dataclass(frozen=True)
class Surface:
    """What a product drawer reports back, in canvas units, so damage lands on the product.

    `box` is the main face (a screen, a mug's body, one ear cup) where cracks and burns go,
    `colour` its colour, `outline` the whole product's bounding box (dents push its edge in).
    """

    box: Box
    colour: Colour
    outline: Box

    @property
    def centre(self) -> Point:
        x0, y0, x1, y1 = self.box
        return ((x0 + x1) / 2, (y0 + y1) / 2)

    @property
    def extent(self) -> float:
        """The shorter side of the face: the yardstick for damage sizes."""
        x0, y0, x1, y1 = self.box
        return min(abs(x1 - x0), abs(y1 - y0))


# --- the six products, each a handful of flat shapes with a dark outline -------------------------

def _outline_width(p: Placement) -> float:
    return max(0.012, p.length(0.022))


def _draw_phone(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    c.rect(p.box(-0.27, -0.5, 0.27, 0.5), fill=colour, outline=INK, width=w, radius=p.length(0.09))
    screen = p.box(-0.22, -0.40, 0.22, 0.39)
    c.rect(screen, fill=SCREEN, outline=_shadow(colour), width=w / 2, radius=p.length(0.03))
    c.ellipse(p.box(-0.03, -0.465, 0.03, -0.425), fill=INK)  # front camera
    c.rect(p.box(-0.08, 0.43, 0.08, 0.46), fill=_shadow(colour))  # home bar
    accent = _pick(rng, PRODUCT_COLOURS)
    for row in range(2):  # app icons make the screen read as a phone
        for col in range(3):
            u, v = -0.16 + col * 0.12, -0.33 + row * 0.12
            c.rect(p.box(u, v, u + 0.08, v + 0.08), fill=_mix(accent, SCREEN, 0.35 * col / 2))
    return Surface(screen, SCREEN, p.box(-0.27, -0.5, 0.27, 0.5))


def _draw_laptop(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    c.rect(p.box(-0.42, -0.44, 0.42, 0.14), fill=colour, outline=INK, width=w, radius=p.length(0.03))
    screen = p.box(-0.37, -0.39, 0.37, 0.09)
    c.rect(screen, fill=SCREEN)
    c.rect(p.box(-0.30, -0.32, 0.05, -0.20), fill=_mix(_pick(rng, PRODUCT_COLOURS), SCREEN, 0.3))  # a window
    base = p.points([(-0.44, 0.15), (0.44, 0.15), (0.52, 0.34), (-0.52, 0.34)])
    dark = sum(colour) < 300  # a dark laptop gets a lighter deck, or its keyboard disappears
    c.polygon(base, fill=_highlight(colour) if dark else colour, outline=INK, width=w)
    c.polygon(p.points([(-0.36, 0.18), (0.36, 0.18), (0.40, 0.26), (-0.40, 0.26)]), fill=_shadow(colour))
    c.rect(p.box(-0.09, 0.275, 0.09, 0.325), fill=_shadow(colour))  # touchpad
    return Surface(screen, SCREEN, p.box(-0.42, -0.44, 0.42, 0.14))


def _draw_headphones(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    band = p.box(-0.36, -0.46, 0.36, 0.30)
    c.arc(band, 180, 360, fill=INK, width=p.length(0.13))
    c.arc(band, 182, 358, fill=colour, width=p.length(0.08))
    cups = [p.box(x0, -0.06, x1, 0.40) for x0, x1 in ((-0.47, -0.24), (0.24, 0.47))]
    inset = p.length(0.04)
    for x0, y0, x1, y1 in cups:
        c.rect((x0, y0, x1, y1), fill=colour, outline=INK, width=w, radius=p.length(0.08))
        c.rect((x0 + inset, y0 + 1.5 * inset, x1 - inset, y1 - 1.5 * inset), fill=_shadow(colour),
               radius=p.length(0.05))  # cushion
    return Surface(_pick(rng, cups), colour, p.box(-0.47, -0.06, 0.47, 0.40))


def _draw_mug(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    c.ellipse(p.box(0.10, -0.22, 0.50, 0.26), outline=INK, width=p.length(0.13))  # handle
    c.ellipse(p.box(0.13, -0.19, 0.47, 0.23), outline=colour, width=p.length(0.08))
    body = p.box(-0.36, -0.36, 0.24, 0.46)
    c.rect(body, fill=colour, outline=INK, width=w, radius=p.length(0.06))
    c.ellipse(p.box(-0.36, -0.43, 0.24, -0.29), fill=_shadow(colour), outline=INK, width=w)  # rim
    c.rect(p.box(-0.355, 0.04, 0.235, 0.14), fill=_pick(rng, PRODUCT_COLOURS))  # a painted band
    return Surface(body, colour, p.box(-0.36, -0.36, 0.24, 0.46))


def _draw_sneaker(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    upper = p.points([(-0.48, 0.14), (-0.46, -0.16), (-0.30, -0.20), (-0.18, -0.08), (-0.04, -0.30),
                      (0.08, -0.26), (0.16, -0.06), (0.44, 0.02), (0.50, 0.14)])
    c.polygon(upper, fill=colour, outline=INK, width=w)
    c.rect(p.box(-0.50, 0.12, 0.52, 0.28), fill=(240, 240, 236), outline=INK, width=w,
           radius=p.length(0.06))  # sole
    c.line(p.points([(-0.36, 0.06), (-0.05, 0.0), (0.30, 0.08)]),
           fill=_mix(_pick(rng, PRODUCT_COLOURS), colour, 0.2), width=p.length(0.06))  # side stripe
    for k in range(3):  # laces across the tongue
        u, v = -0.10 + k * 0.07, -0.20 + k * 0.05
        c.line([p.at(u - 0.05, v), p.at(u + 0.07, v + 0.04)], fill=WHITE, width=p.length(0.03))
    return Surface(p.box(-0.44, -0.05, 0.30, 0.13), colour, p.box(-0.48, -0.16, 0.50, 0.16))


def _draw_watch(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = _outline_width(p)
    strap = _shadow(colour) if sum(colour) > 200 else _highlight(colour)
    c.rect(p.box(-0.16, -0.5, 0.16, 0.5), fill=strap, outline=INK, width=w, radius=p.length(0.04))
    c.rect(p.box(0.28, -0.05, 0.36, 0.05), fill=colour, outline=INK, width=w / 2)  # crown
    c.ellipse(p.box(-0.31, -0.31, 0.31, 0.31), fill=colour, outline=INK, width=w)
    face_colour = (244, 244, 240) if rng.random() < 0.5 else SCREEN
    face = p.box(-0.24, -0.24, 0.24, 0.24)
    c.ellipse(face, fill=face_colour)
    hands = INK if face_colour != SCREEN else (236, 236, 236)
    for angle in (0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi):  # hour marks
        dx, dy = math.cos(angle), math.sin(angle)
        c.line([p.at(0.18 * dx, 0.18 * dy), p.at(0.22 * dx, 0.22 * dy)], fill=hands, width=p.length(0.03))
    for length, width in ((0.11, 0.04), (0.18, 0.03)):  # hour and minute hands
        a = rng.uniform(0, 2 * math.pi)
        c.line([p.at(0, 0), p.at(length * math.sin(a), -length * math.cos(a))], fill=hands,
               width=p.length(width))
    return Surface(face, face_colour, p.box(-0.31, -0.31, 0.31, 0.31))


_PRODUCT_DRAWERS: dict[str, Callable[[Canvas, Placement, Colour, np.random.Generator], Surface]] = {
    "phone": _draw_phone, "laptop": _draw_laptop, "headphones": _draw_headphones,
    "mug": _draw_mug, "sneaker": _draw_sneaker, "watch": _draw_watch,
}


# --- damage: big and high-contrast, so it survives a downscale to 64 px ---------------------------

def _blob(centre: Point, radius: float, rng: np.random.Generator, corners: int = 14) -> list[Point]:
    """An irregular round polygon: the shape of a scorch mark, a hole or a puff of smoke."""
    angles = np.linspace(0, 2 * math.pi, corners, endpoint=False) + rng.uniform(0, 0.3)
    radii = radius * rng.uniform(0.7, 1.25, size=corners)
    return [(centre[0] + r * math.cos(a), centre[1] + r * math.sin(a))
            for a, r in zip(angles, radii, strict=True)]


def _crack_branch(start: Point, angle: float, length: float, rng: np.random.Generator) -> list[Point]:
    """A zigzag line of four segments leaving `start` roughly in direction `angle`."""
    points, (x, y) = [start], start
    for _ in range(4):
        angle += rng.uniform(-0.6, 0.6)
        step = length / 4 * rng.uniform(0.7, 1.3)
        x, y = x + step * math.cos(angle), y + step * math.sin(angle)
        points.append((x, y))
    return points


def _draw_crack(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
    """Thick shattered lines (dark edge, white core) radiating from an impact point on the face."""
    x0, y0, x1, y1 = surface.box
    impact = (x0 + (x1 - x0) * rng.uniform(0.3, 0.7), y0 + (y1 - y0) * rng.uniform(0.3, 0.7))
    length = max(abs(x1 - x0), abs(y1 - y0)) * 0.8
    angles = np.linspace(0, 2 * math.pi, int(rng.integers(4, 7)), endpoint=False) + rng.uniform(0, 1)
    branches = [_crack_branch(impact, a, length * rng.uniform(0.6, 1.0), rng) for a in angles]
    width = max(0.045, surface.extent * 0.12)
    layer = c.layer()
    for branch in branches:
        layer.line(branch, fill=(*INK, 255), width=width)
    for branch in branches:
        layer.line(branch, fill=(250, 250, 250, 255), width=width * 0.5)
    layer.polygon(_blob(impact, width * 1.6, rng, corners=8), fill=(250, 250, 250, 255),
                  outline=(*INK, 255), width=width * 0.4)
    c.composite(layer, clip=surface.box)  # cracks stay on the product


def _draw_burn(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
    """A big charred blotch with a scorched rim and embers, and a plume of soot rising from it."""
    cx, cy = surface.centre
    radius = max(0.09, surface.extent * rng.uniform(0.35, 0.45))
    centre = (cx + rng.uniform(-0.3, 0.3) * radius, cy + rng.uniform(-0.3, 0.3) * radius)
    smoke = c.layer()
    for k in range(5):  # soot drifts upwards and spreads out
        puff = (centre[0] + rng.uniform(-0.6, 0.6) * radius, centre[1] - (0.6 + 0.45 * k) * radius)
        smoke.polygon(_blob(puff, radius * (0.55 + 0.12 * k), rng), fill=(70, 66, 62, 150 - 18 * k))
    c.composite(smoke)
    for scale, colour in ((1.15, (150, 78, 26)), (0.9, (92, 48, 20)), (0.62, (16, 12, 10))):
        c.polygon(_blob(centre, radius * scale, rng), fill=colour)
    for _ in range(4):
        ex, ey = (centre[0] + rng.uniform(-0.5, 0.5) * radius, centre[1] + rng.uniform(-0.5, 0.5) * radius)
        e = radius * 0.1
        c.ellipse((ex - e, ey - e, ex + e, ey + e), fill=(250, 140, 30))


def _draw_dent(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
    """Push one side of the product in (a crumpled outline), then shade the hollow and add creases."""
    x0, y0, x1, y1 = surface.outline
    size = max(x1 - x0, y1 - y0)
    inward = 1 if rng.random() < 0.5 else -1  # +1: the left edge is pushed to the right
    edge_x = x0 if inward > 0 else x1
    edge_y = surface.centre[1] + rng.uniform(-0.2, 0.2) * (surface.box[3] - surface.box[1])
    depth, reach = size * rng.uniform(0.18, 0.24), size * 0.15

    def push(x: float, y: float) -> Point:
        falloff = math.exp(-((x - edge_x) ** 2 + (0.8 * (y - edge_y)) ** 2) / (2 * reach**2))
        return (inward * depth * falloff, 0.0)

    c.warp(push)
    apex, r = (edge_x + inward * depth, edge_y), reach * 0.9
    hollow = (apex[0] - r, apex[1] - r, apex[0] + r, apex[1] + r)
    shade = c.layer()
    shade.ellipse(hollow, fill=(0, 0, 0, 110))
    shade.arc(hollow, 90 - 60 * inward, 90 + 60 * inward, fill=(255, 255, 255, 150),
              width=max(0.015, r * 0.22))  # the lit rim of the hollow
    c.composite(shade)
    for angle in (-0.6, -0.2, 0.25, 0.65):  # creases fanning out from the deepest point
        a = angle + (0 if inward > 0 else math.pi)
        length = reach * rng.uniform(1.0, 1.6)
        c.line([apex, (apex[0] + length * math.cos(a), apex[1] + length * math.sin(a))], fill=INK,
               width=max(0.016, size * 0.025))


def _ragged(start: Point, end: Point, teeth: int, depth: float, rng: np.random.Generator) -> list[Point]:
    """A torn edge from `start` to `end`: points alternately pushed up and down by up to `depth`."""
    points = []
    for k in range(teeth + 1):
        t = k / teeth
        jitter = 0.0 if k in (0, teeth) else depth * (1 if k % 2 else -1) * rng.uniform(0.4, 1.0)
        points.append((start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t + jitter))
    return points


def _draw_torn_box(c: Canvas, product: str, colour: Colour, p: Placement, rng: np.random.Generator) -> None:
    """The product peeking out of an open cardboard box with a ragged rim, ripped flaps and a hole."""
    inside, torn_paper, w = _shadow(_shadow(CARDBOARD)), _highlight(CARDBOARD), _outline_width(p)
    c.polygon(p.points([(-0.44, 0.02), (-0.30, -0.10), (0.50, -0.10), (0.38, 0.02)]), fill=inside)
    _PRODUCT_DRAWERS[product](c, Placement(p.cx, p.cy - p.length(0.16), p.scale * 0.62), colour, rng)
    rim = _ragged(p.at(-0.44, 0.02), p.at(0.38, 0.02), 9, p.length(0.05), rng)
    c.polygon([*rim, p.at(0.38, 0.5), p.at(-0.44, 0.5)], fill=CARDBOARD, outline=INK, width=w)  # front
    c.polygon(p.points([(0.38, 0.02), (0.50, -0.10), (0.50, 0.38), (0.38, 0.5)]), fill=_shadow(CARDBOARD),
              outline=INK, width=w)  # side
    for side in (-1, 1):  # flaps ripped open, hanging outwards
        root = p.at(-0.44 if side < 0 else 0.38, 0.02)
        tip = (root[0] + side * p.length(rng.uniform(0.18, 0.28)), root[1] - p.length(rng.uniform(0.05, 0.2)))
        back = (root[0] - side * p.length(0.25), root[1] - p.length(0.12))
        c.polygon([root, *_ragged(tip, back, 4, p.length(0.04), rng)], fill=torn_paper, outline=INK, width=w)
    hole = p.at(rng.uniform(-0.2, 0.12), rng.uniform(0.22, 0.32))
    c.polygon(_blob(hole, p.length(0.12), rng, corners=9), fill=inside, outline=torn_paper, width=w)


# --- generic photos: they say nothing about the item's condition ----------------------------------

def _draw_stock(c: Canvas, product: str, colour: Colour, rng: np.random.Generator) -> None:
    """A catalogue shot: centred product, white studio backdrop, soft floor shadow, STOCK watermark."""
    p = Placement(0.5 + rng.uniform(-0.04, 0.04), 0.48 + rng.uniform(-0.04, 0.04), rng.uniform(0.58, 0.72))
    c.ellipse((p.cx - p.scale * 0.5, p.cy + p.scale * 0.4, p.cx + p.scale * 0.5, p.cy + p.scale * 0.58),
              fill=(226, 226, 228))
    _PRODUCT_DRAWERS[product](c, p, colour, rng)
    mark = c.layer()
    mark.word("STOCK", (0.5, rng.uniform(0.42, 0.58)), rng.uniform(0.13, 0.17), fill=(150, 150, 160, 170))
    for y in (0.08, 0.93):  # a repeated small banner, like image-bank previews
        mark.word("STOCK", (0.5, y), 0.06, fill=(150, 150, 160, 150))
    c.composite(mark)


def _draw_logo(c: Canvas, rng: np.random.Generator) -> None:
    """A brand card: a geometric mark and a brand name, no product in sight."""
    x, y = 0.5 + rng.uniform(-0.08, 0.08), 0.5 + rng.uniform(-0.08, 0.08)
    half_w, half_h = rng.uniform(0.34, 0.44), rng.uniform(0.26, 0.34)
    card = WHITE if rng.random() < 0.5 else _pick(rng, PRODUCT_COLOURS)
    mark = _pick(rng, PRODUCT_COLOURS)
    if math.dist(mark, card) < 90:
        mark = INK
    c.rect((x - half_w, y - half_h, x + half_w, y + half_h), fill=card, outline=INK, width=0.015, radius=0.04)
    mx, my, r = x, y - half_h * 0.32, half_h * 0.42
    shape = _pick(rng, ("disc", "triangle", "diamond", "ring"))
    if shape == "disc":
        c.ellipse((mx - r, my - r, mx + r, my + r), fill=mark)
    elif shape == "triangle":
        c.polygon([(mx, my - r), (mx + r, my + r * 0.8), (mx - r, my + r * 0.8)], fill=mark)
    elif shape == "diamond":
        c.polygon([(mx, my - r), (mx + r, my), (mx, my + r), (mx - r, my)], fill=mark)
    else:
        c.ellipse((mx - r, my - r, mx + r, my + r), outline=mark, width=r * 0.35)
    c.word(_pick(rng, BRANDS), (x, y + half_h * 0.5), half_h * 0.34, fill=mark)


def _draw_parcel(c: Canvas, rng: np.random.Generator) -> None:
    """A closed, taped shipping box with an address label and a barcode."""
    p = Placement(0.5 + rng.uniform(-0.1, 0.1), 0.52 + rng.uniform(-0.08, 0.08), rng.uniform(0.62, 0.8))
    w, tape = _outline_width(p), (228, 206, 160)
    c.polygon(p.points([(-0.42, -0.12), (-0.18, -0.32), (0.48, -0.32), (0.24, -0.12)]),
              fill=_highlight(CARDBOARD), outline=INK, width=w)  # top
    c.polygon(p.points([(0.24, -0.12), (0.48, -0.32), (0.48, 0.26), (0.24, 0.46)]), fill=_shadow(CARDBOARD),
              outline=INK, width=w)  # side
    c.rect(p.box(-0.42, -0.12, 0.24, 0.46), fill=CARDBOARD, outline=INK, width=w)  # front
    c.polygon(p.points([(-0.13, -0.12), (0.09, -0.32), (0.17, -0.32), (-0.05, -0.12)]), fill=tape)
    c.rect(p.box(-0.13, -0.12, -0.05, 0.12), fill=tape)
    c.rect(p.box(-0.36, 0.17, 0.14, 0.40), fill=WHITE, outline=INK, width=w / 2)  # address label
    for k in range(9):  # barcode
        u = -0.33 + k * 0.035
        c.rect(p.box(u, 0.21, u + 0.012 + 0.012 * (k % 3 == 0), 0.30), fill=INK)
    c.rect(p.box(-0.33, 0.33, 0.08, 0.355), fill=(120, 120, 120))


# --- one photo ----------------------------------------------------------------------------------

def _background(c: Canvas, rng: np.random.Generator) -> Colour:
    """Add a table top or a soft spotlight to a flat backdrop (or neither); returns the wall colour."""
    wall = c.image.getpixel((0, 0))
    style = _pick(rng, ("flat", "table", "spotlight"))
    if style == "table":
        c.rect((0, rng.uniform(0.6, 0.82), 1, 1), fill=_pick(rng, BACKGROUNDS))
    elif style == "spotlight":
        c.ellipse((0.1, 0.1, 0.9, 0.9), fill=_mix(wall, WHITE, 0.25))
    return wall


def _product_colour(rng: np.random.Generator, background: Colour) -> Colour:
    """A product colour that stands out from the backdrop."""
    for _ in range(20):
        colour = _pick(rng, PRODUCT_COLOURS)
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
    if product not in _PRODUCT_DRAWERS:
        raise ValueError(f"unknown product {product!r}; expected one of {PRODUCTS}")
    if state not in DETAILS or detail not in DETAILS[state]:
        raise ValueError(f"unknown state/detail {state!r}/{detail!r}; expected one of {DETAILS}")
    if detail == "stock":
        canvas = Canvas(size, WHITE)
        _draw_stock(canvas, product, _product_colour(rng, WHITE), rng)
        return canvas.image
    canvas = Canvas(size, _pick(rng, BACKGROUNDS))
    wall = _background(canvas, rng)
    if detail == "logo":
        _draw_logo(canvas, rng)
    elif detail == "parcel":
        _draw_parcel(canvas, rng)
    elif detail == "torn_box":
        colour, placement = _product_colour(rng, CARDBOARD), _random_placement(rng, 0.62, 0.8)
        _draw_torn_box(canvas, product, colour, placement, rng)
    else:
        surface = _PRODUCT_DRAWERS[product](canvas, _random_placement(rng), _product_colour(rng, wall), rng)
        damage = {"crack": _draw_crack, "burn": _draw_burn, "dent": _draw_dent}.get(detail)
        if damage is not None:
            damage(canvas, surface, rng)
    return canvas.image


# ============================================================================================
# Captions for contrastive CLIP pretraining
# ============================================================================================

_CAPTION_NOUNS: dict[str, str] = {
    "phone": "phone", "laptop": "laptop", "headphones": "pair of headphones", "mug": "mug",
    "sneaker": "sneaker", "watch": "watch",
}
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
    caption = _pick(rng, _CAPTIONS[detail]).format(p=_CAPTION_NOUNS[product])
    return re.sub(r"\ba (?=[aeiou])", "an ", caption)  # "a intact" -> "an intact"


def caption_pairs(n: int, seed: int, size: int = 128) -> list[tuple[Image.Image, str, str]]:
    """`n` (image, caption, state) triples for contrastive CLIP pretraining.

    States are drawn uniformly, then the detail and the product uniformly. The random streams never
    overlap the review set's, even for the same seed, so pretraining never sees a review photo.

    Returns:
        list of (RGB image [size, size], caption such as "a burnt laptop", state in `STATES`).
    """
    rng = np.random.default_rng([seed, _CAPTION_STREAM])
    pairs = []
    for index in range(n):
        state = _pick(rng, STATES)
        detail, product = _pick(rng, DETAILS[state]), _pick(rng, PRODUCTS)
        photo_rng = np.random.default_rng([seed, _CAPTION_STREAM, index])
        image = draw_photo(product, state, detail, photo_rng, size)
        pairs.append((image, make_caption(product, detail, rng), state))
    return pairs


# ============================================================================================
# Review texts: clear texts are composed from parts; ambiguous texts never depend on the label.
# ============================================================================================

# Each product has a few names; plural names change the verbs ("these headphones are").
_PRODUCT_NAMES: dict[str, tuple[tuple[str, bool], ...]] = {
    "phone": (("phone", False), ("smartphone", False), ("handset", False)),
    "laptop": (("laptop", False), ("notebook", False)),
    "headphones": (("headphones", True), ("headset", False)),
    "mug": (("mug", False), ("coffee mug", False), ("cup", False)),
    "sneaker": (("sneakers", True), ("trainers", True), ("shoes", True)),
    "watch": (("watch", False), ("smartwatch", False)),
}
_SINGULAR = {"is": "is", "was": "was", "it": "it", "It": "It", "works": "works", "has": "has",
             "obj": "it", "this": "this", "This": "This"}
_PLURAL = {"is": "are", "was": "were", "it": "they", "It": "They", "works": "work", "has": "have",
           "obj": "them", "this": "these", "This": "These"}

# Words like "great", "love", "perfect", "broke" appear on both sides (and in ambiguous texts),
# and openers are shared, so no single word gives the label away.
_OPENERS = ("", "", "", "Update:", "Honest review:", "Arrived yesterday.", "Second one I've bought.",
            "Long-time customer here.", "After a month of daily use:", "Quick review:",
            "Bought this for work.")
_POSITIVE_CORES = (
    "{This} {p} {works} perfectly.", "The {p} arrived in great shape and {works} flawlessly.",
    "Love {this} {p}, best purchase this year.", "Not a single scratch on {obj}, well packed.",
    "Honestly the best {p} I have owned.", "No complaints at all, the {p} {is} excellent.",
    "Great quality for the price.", "Exactly as described and {it} {works} like a charm.",
    "Solid build, lovely finish, zero issues so far.", "I can't fault {obj}.",
    "The {p} {is} gorgeous and does everything I need.", "Sturdy, well made and looks fantastic.",
    "Better than the expensive brands.", "Bought {obj} as a gift and my sister adores {obj}.",
    "Setup took two minutes and {it} {has} been reliable since.",
    "Not bad at all, actually better than I expected.", "Nothing broken, nothing missing, {it} just {works}.",
    "Really happy with the {p}.", "Fast delivery and the {p} {is} in perfect condition.",
    "Would happily buy {this} {p} again.", "Top quality, {it} {was} worth every penny.",
    "I was worried after reading other reviews, but mine {is} perfect.",
    "My old {p} broke, and the new one is a huge upgrade.",
    "Does exactly what I hoped, and looks great doing it.",
)
_NEGATIVE_CORES = (
    "The {p} arrived broken.", "Stopped working after two days.",
    "{It} {was} perfect for a week, then {it} died.", "I wanted to love {this} {p}, but {it} fell apart.",
    "Not worth the money, the {p} feels flimsy.", "The seller ignored my messages and the {p} {is} faulty.",
    "Nothing works as advertised.", "Looked great in the pictures, awful in real life.",
    "Smells of burnt plastic after an hour of use.", "Arrived scratched and clearly used.",
    "Worst purchase this year.", "Cheap materials, and {it} broke on day one.",
    "The box was soaked and the {p} inside {was} ruined.", "Not great, not even good.",
    "Do not buy {this} {p}.", "Returned {obj} the same day.", "Poor quality control, mine came damaged.",
    "Complete waste of money.", "The {p} {is} nothing like the description.",
    "Half of it was missing from the box.", "Very disappointed with {this} {p}.",
    "Great packaging, shame the {p} inside {is} defective.", "Love the colour, hate everything else.",
    "{It} {has} a crack I only noticed at home.",
)
_POSITIVE_CLOSERS = ("", "", "Highly recommend.", "Would buy again.", "Very happy.", "Thank you, seller!",
                     "Five stars.", "Recommended to all my friends.", "😊", "👍", "Delighted.")
_NEGATIVE_CLOSERS = ("", "", "Avoid.", "Refund requested.", "Never again.", "Very unhappy.",
                     "Returning {obj}.", "One star.", "😡", "👎", "Disappointed.")
# Ambiguous texts: drawn the same way whatever the label and whatever the photo.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "sarcasm": (
        "Great, just great.", "Well. It arrived.", "{This} {p} {is} 🔥🔥🔥", "Wow. Just wow.",
        "Exactly what I expected from this seller.", "Perfect. Just perfect.",
        "Well, that was an experience.", "Oh, {this} {p}... where do I even start.", "Thanks a lot, seller.",
        "Love the surprise when I opened the box.", "Words cannot describe {this} {p}.",
        "I have thoughts about {this} {p}.", "The photo says it all.", "Pictures speak louder than words.",
        "Unboxing was... memorable.", "Ten out of ten, no notes.",
        "Can't wait to tell everyone about {this} {p}.", "My {p} {has} arrived. Let that sink in.",
        "Didn't expect that at all.", "Same as the photo. Judge for yourself.",
    ),
    "emoji": ("🔥🔥🔥", "😳", "😂😂😂", "🤯", "👀", "😶", "🙃", "😬😬", "📦😮", "💀", "The {p}: 🤯",
              "{This} {p} 🔥"),
    "short": ("ok", "Hmm.", "Fine.", "Meh?", "Well.", "...", "It's here.", "Received.", "As seen.",
              "No words.", "Interesting.", "Sure.", "So.", "Yep.", "Got it.", "The {p}."),
}
_AMBIGUOUS_STYLE_SHARES: dict[str, float] = {"sarcasm": 0.5, "emoji": 0.2, "short": 0.3}
SHOWCASE_TEXT = "This phone is 🔥🔥🔥"


def _fill(template: str, product: str, rng: np.random.Generator) -> str:
    """Put a product name (and the matching verb forms) into a template."""
    name, plural = _pick(rng, _PRODUCT_NAMES[product])
    return template.format(p=name, **(_PLURAL if plural else _SINGULAR))


def write_text(text_kind: str, product: str, rng: np.random.Generator) -> str:
    """One review text of the given kind ("clear_positive", "clear_negative" or "ambiguous").

    A clear text is an optional opener, one or two sentences of one sentiment and an optional
    closer; an ambiguous text is one sarcastic, emoji or too-short line.
    """
    if text_kind == "ambiguous":
        style = str(rng.choice(list(_AMBIGUOUS_STYLE_SHARES), p=list(_AMBIGUOUS_STYLE_SHARES.values())))
        return _fill(_pick(rng, _AMBIGUOUS[style]), product, rng)
    positive = text_kind == "clear_positive"
    cores = _POSITIVE_CORES if positive else _NEGATIVE_CORES
    sentences = [cores[i] for i in rng.choice(len(cores), size=1 + int(rng.random() < 0.5), replace=False)]
    closer = _pick(rng, _POSITIVE_CLOSERS if positive else _NEGATIVE_CLOSERS)
    return " ".join(_fill(part, product, rng) for part in (_pick(rng, _OPENERS), *sentences, closer) if part)


# ============================================================================================
# The review table: latent facts -> label rule -> products, texts, tabular columns, splits.
# ============================================================================================

@dataclass(frozen=True)
class Scenario:
    """One way text and photo combine; `share` is its fraction of the data set."""

    name: str
    share: float
    text: str  # "clear" or "ambiguous"
    photo: str  # for clear text: "matching", "generic" or "contradicting"; else the photo state


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("clear_matching", 0.26, "clear", "matching"),
    Scenario("clear_generic", 0.30, "clear", "generic"),
    Scenario("clear_contradicting", 0.04, "clear", "contradicting"),
    Scenario("ambiguous_intact", 0.20, "ambiguous", "intact"),
    Scenario("ambiguous_damaged", 0.20, "ambiguous", "damaged"),
)  # never ambiguous text with a generic photo: nothing would tell its label, and fusion's ceiling is 1.0

BASE_PRICES: dict[str, float] = {
    "phone": 499.0, "laptop": 899.0, "headphones": 129.0, "mug": 14.0, "sneaker": 89.0, "watch": 199.0,
}
# P(rating = 1..5 | label): mostly consistent, with some 5-star angry and 1-star happy reviews.
RATING_PROBS: dict[str, tuple[float, ...]] = {
    "positive": (0.07, 0.07, 0.14, 0.32, 0.40),
    "negative": (0.38, 0.22, 0.16, 0.10, 0.14),
}
VERIFIED_RATE: dict[str, float] = {"positive": 0.90, "negative": 0.80}
MEAN_HELPFUL_VOTES: dict[str, float] = {"positive": 2.5, "negative": 5.0}  # complaints get read more
SPLIT_FRACTIONS: dict[str, float] = {"train": 0.70, "val": 0.15, "test": 0.15}


def label_rule(text_kind: str, photo_state: str) -> str:
    """The label of a review: clear text decides; otherwise the photo decides.

    | text_kind      | photo_state | label    |
    |----------------|-------------|----------|
    | clear_positive | any         | positive |
    | clear_negative | any         | negative |
    | ambiguous      | intact      | positive |
    | ambiguous      | damaged     | negative |
    | ambiguous      | generic     | never generated (nothing tells the label) |
    """
    if text_kind in ("clear_positive", "clear_negative"):
        return text_kind.removeprefix("clear_")
    if text_kind == "ambiguous" and photo_state in ("intact", "damaged"):
        return "positive" if photo_state == "intact" else "negative"
    raise ValueError(f"no label for text_kind={text_kind!r} with photo_state={photo_state!r}")


def _exact_counts(n: int, shares: Sequence[float]) -> list[int]:
    """Split `n` into integer counts proportional to `shares` (largest remainders get the leftovers)."""
    raw = np.asarray(shares, dtype=float) / sum(shares) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def _latent_rows(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Exact scenario counts (clear ones half positive, half negative), shuffled; labels by `label_rule`."""
    rows = []
    for scenario, count in zip(SCENARIOS, _exact_counts(n, [s.share for s in SCENARIOS]), strict=True):
        if scenario.text == "ambiguous":
            rows += [("ambiguous", scenario.photo, scenario.name)] * count
            continue
        for sentiment, k in zip(("positive", "negative"), _exact_counts(count, [1, 1]), strict=True):
            shows_good_product = (sentiment == "positive") != (scenario.photo == "contradicting")
            state = "intact" if shows_good_product else "damaged"
            if scenario.photo == "generic":
                state = "generic"
            rows += [(f"clear_{sentiment}", state, scenario.name)] * k
    frame = pd.DataFrame(rows, columns=["text_kind", "photo_state", "scenario"])
    frame = frame.iloc[rng.permutation(n)].reset_index(drop=True)
    frame["label"] = [label_rule(t, s) for t, s in zip(frame.text_kind, frame.photo_state, strict=True)]
    return frame


def _assign_splits(frame: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """70/15/15 train/val/test, stratified by (label, scenario): every cell keeps its share in each split."""
    split = pd.Series("train", index=frame.index, dtype=object)
    for _, group in frame.groupby(["label", "scenario"], sort=True):
        order = group.index.to_numpy()[rng.permutation(len(group))]
        n_val, n_test = (round(len(group) * SPLIT_FRACTIONS[s]) for s in ("val", "test"))
        split[order[:n_val]] = "val"
        split[order[n_val:n_val + n_test]] = "test"
    return split


def _showcase_rows(frame: pd.DataFrame) -> list[int]:
    """Two test reviews that will say "This phone is 🔥🔥🔥": one with a burnt phone, one with an intact one.

    The same words with opposite labels: only the photo can tell them apart.
    """
    test = frame[frame.split == "test"]
    return [int(test.index[test.scenario == name][0]) for name in ("ambiguous_damaged", "ambiguous_intact")]


def _tabular(labels: pd.Series, products: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Star rating (noisy, follows the label), price (by product), verified purchase, helpful votes."""
    ratings = [int(rng.choice(5, p=RATING_PROBS[label])) + 1 for label in labels]
    prices = [max(0.99, round(BASE_PRICES[p] * rng.lognormal(0.0, 0.3)) - 0.01) for p in products]
    verified = [int(rng.random() < VERIFIED_RATE[label]) for label in labels]
    votes = [int(rng.negative_binomial(1, 1 / (1 + MEAN_HELPFUL_VOTES[label]))) for label in labels]
    return pd.DataFrame({"rating": ratings, "price": prices, "verified_purchase": verified,
                         "helpful_votes": votes}, index=labels.index)


def _review_table(n: int, seed: int) -> pd.DataFrame:
    """The review table, without drawing any photo (fast); columns `COLUMNS`."""
    if n < 100:
        raise DataError(f"n={n} is too small to put every scenario in every split; use n >= 100")
    rng = np.random.default_rng([seed, _META_STREAM])
    frame = _latent_rows(n, rng)
    frame["photo_detail"] = [_pick(rng, DETAILS[state]) for state in frame.photo_state]
    frame["product"] = [_pick(rng, PRODUCTS) for _ in range(n)]
    frame["split"] = _assign_splits(frame, rng)
    showcase = _showcase_rows(frame)
    frame.loc[showcase, "product"] = "phone"
    frame.loc[showcase[0], "photo_detail"] = "burn"
    frame["text"] = [write_text(kind, product, rng)
                     for kind, product in zip(frame.text_kind, frame["product"], strict=True)]
    frame.loc[showcase, "text"] = SHOWCASE_TEXT
    frame = frame.join(_tabular(frame.label, frame["product"], rng))
    frame["review_id"] = [f"r{i + 1:05d}" for i in range(n)]
    frame["image_path"] = "images/" + frame.review_id + ".png"
    return frame[list(COLUMNS)]


def review_photo(row: pd.Series, seed: int = 0, size: int = 128) -> Image.Image:
    """Redraw one review's photo (at 128 px: identical to its PNG) from its own random stream."""
    index = int(str(row["review_id"]).lstrip("r")) - 1
    rng = np.random.default_rng([seed, _PHOTO_STREAM, index])
    return draw_photo(row["product"], row["photo_state"], row["photo_detail"], rng, size=size)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write the table as UTF-8 CSV with fixed formatting, so regenerating gives identical bytes."""
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.2f", encoding="utf-8")


def generate_reviews(n: int = 2400, seed: int = 0, out_dir: Path | None = None) -> pd.DataFrame:
    """Draw the review set from `seed`; with `out_dir`, also write reviews.csv and images/<review_id>.png.

    Without `out_dir` no photo is drawn (a fraction of a second). Each review has its own photo,
    drawn from its own random stream, so no photo is shared across splits.

    Returns:
        DataFrame with one row per review and the columns `COLUMNS`.
    """
    frame = _review_table(n, seed)
    if out_dir is None:
        return frame
    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for stale in images.glob("r*.png"):  # a smaller n must not leave old photos behind
        if re.fullmatch(r"r\d{5}\.png", stale.name):
            stale.unlink()
    for _, row in frame.iterrows():
        review_photo(row, seed).save(Path(out_dir) / row["image_path"], format="PNG", compress_level=9)
    write_csv(frame, Path(out_dir) / "reviews.csv")
    return frame


# ============================================================================================
# How far can each modality go? Ceilings from the latent columns, and leak checks.
# ============================================================================================

def _bayes_accuracy(frame: pd.DataFrame, by: list[str]) -> float:
    """Accuracy of the best classifier that sees only the columns `by`: the majority label per cell."""
    counts = frame.groupby(by)["label"].value_counts().unstack(fill_value=0)
    return float(counts.max(axis=1).sum() / len(frame))


def theoretical_ceilings(frame: pd.DataFrame) -> dict[str, float]:
    """Bayes-optimal accuracy of a model that perfectly reads the text / the photo / both.

    A perfect text reader knows `text_kind` and nothing about the photo; a perfect photo reader
    knows `photo_state`. Returns {"text_only": ..., "image_only": ..., "fusion": ...}.
    """
    return {
        "text_only": _bayes_accuracy(frame, ["text_kind"]),
        "image_only": _bayes_accuracy(frame, ["photo_state"]),
        "fusion": _bayes_accuracy(frame, ["text_kind", "photo_state"]),
    }


def _tokens(text: str) -> list[str]:
    """Lower-case words and emoji (scikit-learn's default pattern would drop the emoji)."""
    return re.findall(r"[^\s.,!?:;]+", text.lower())


def _tabular_features(part: pd.DataFrame) -> pd.DataFrame:
    numbers = pd.DataFrame({"rating": part.rating.to_numpy(), "log_price": np.log(part.price.to_numpy()),
                            "verified": part.verified_purchase.to_numpy(),
                            "log_votes": np.log1p(part.helpful_votes.to_numpy())})
    products = pd.get_dummies(pd.Categorical(part["product"], categories=PRODUCTS), dtype=float)
    return pd.concat([numbers, products], axis=1)


def _best_single_word(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Test accuracy of the best rule "contains word w -> one label, else the other", w chosen on train."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False, binary=True)
    has_word = words.fit_transform(train.text).toarray().astype(bool)  # [reviews, vocabulary]
    positive = (train.label == "positive").to_numpy()[:, None]
    agreement = (has_word == positive).mean(axis=0)  # accuracy of "word present -> positive"
    best = int(np.argmax(np.maximum(agreement, 1 - agreement)))
    test_has = words.transform(test.text).toarray()[:, best].astype(bool)
    predicted_positive = test_has if agreement[best] >= 0.5 else ~test_has
    return float((predicted_positive == (test.label == "positive").to_numpy()).mean())


def sanity_baselines(frame: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """Leak checks: cross-validated accuracy (stratified `folds`-fold) of simple scikit-learn models.

    - bow_text: bag-of-words (words + word pairs) logistic regression on the text. It should sit
      at the text ceiling, not above it: ambiguous texts must not give the label away.
    - bow_text_ambiguous: the same out-of-fold predictions, on ambiguous reviews only: chance (0.5).
    - best_single_word: the best "contains this word -> label" rule (chosen on train, scored on
      test); far below the text ceiling.
    - tabular: logistic regression on rating, price, verified purchase, helpful votes and product;
      well below fusion's ceiling.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    bow = make_pipeline(CountVectorizer(tokenizer=_tokens, token_pattern=None, lowercase=False,
                                        ngram_range=(1, 2)), LogisticRegression(max_iter=2000))
    bow_correct = cross_val_predict(bow, frame.text, frame.label, cv=splitter) == frame.label
    tabular = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    tabular_predictions = cross_val_predict(tabular, _tabular_features(frame), frame.label, cv=splitter)
    tabular_correct = tabular_predictions == frame.label
    return {
        "bow_text": float(bow_correct.mean()),
        "bow_text_ambiguous": float(bow_correct[frame.text_kind == "ambiguous"].mean()),
        "best_single_word": _best_single_word(frame[frame.split == "train"], frame[frame.split == "test"]),
        "tabular": float(tabular_correct.mean()),
    }


def summary(frame: pd.DataFrame) -> str:
    """A printable summary: scenario counts, class balance per split and the ceilings."""
    scenarios = frame.scenario.value_counts().reindex([s.name for s in SCENARIOS])
    per_split = pd.crosstab(frame.split, frame.label, margins=True).reindex([*SPLITS, "All"])
    ceilings = theoretical_ceilings(frame)
    return "\n".join(["scenarios:", scenarios.to_string(), "splits x labels:", per_split.to_string(),
                      "ceilings:", *(f"  {name}: {value:.4f}" for name, value in ceilings.items())])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mmsent.data.synth --out data --n 2400 --seed 0``."""
    parser = argparse.ArgumentParser(description="Regenerate the synthetic review set (CSV + PNG photos).")
    parser.add_argument("--out", type=Path, required=True, help="folder for reviews.csv and images/")
    parser.add_argument("--n", type=int, default=2400, help="number of reviews (default 2400)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the scikit-learn leak checks")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frame = generate_reviews(args.n, args.seed, args.out)
    print(f"wrote {len(frame)} reviews and photos to {args.out} in {time.perf_counter() - start:.1f} s")
    print(summary(frame))
    if not args.no_baselines:
        print("sanity baselines (accuracy, 5-fold cross-validation):")
        print("\n".join(f"  {name}: {value:.4f}" for name, value in sanity_baselines(frame).items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
