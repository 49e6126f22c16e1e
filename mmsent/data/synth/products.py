"""The six products, each a handful of flat shapes with a dark outline.

Each drawer takes a canvas, a placement, a colour and the random stream, draws the product and
returns its `Surface` (the face where a crack or a burn goes, and its outline for a dent).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mmsent.data.synth.canvas import (
    INK,
    PRODUCT_COLOURS,
    SCREEN,
    WHITE,
    Canvas,
    Colour,
    Placement,
    Surface,
    highlight,
    mix,
    shadow,
)
from mmsent.data.synth.vocabulary import (
    pick,
)


def outline_width(p: Placement) -> float:
    return max(0.012, p.length(0.022))


def _draw_phone(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    c.rect(p.box(-0.27, -0.5, 0.27, 0.5), fill=colour, outline=INK, width=w, radius=p.length(0.09))
    screen = p.box(-0.22, -0.40, 0.22, 0.39)
    c.rect(screen, fill=SCREEN, outline=shadow(colour), width=w / 2, radius=p.length(0.03))
    c.ellipse(p.box(-0.03, -0.465, 0.03, -0.425), fill=INK)  # front camera
    c.rect(p.box(-0.08, 0.43, 0.08, 0.46), fill=shadow(colour))  # home bar
    accent = pick(rng, PRODUCT_COLOURS)
    for row in range(2):  # app icons make the screen read as a phone
        for col in range(3):
            u, v = -0.16 + col * 0.12, -0.33 + row * 0.12
            c.rect(p.box(u, v, u + 0.08, v + 0.08), fill=mix(accent, SCREEN, 0.35 * col / 2))
    return Surface(screen, SCREEN, p.box(-0.27, -0.5, 0.27, 0.5))


def _draw_laptop(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    c.rect(p.box(-0.42, -0.44, 0.42, 0.14), fill=colour, outline=INK, width=w, radius=p.length(0.03))
    screen = p.box(-0.37, -0.39, 0.37, 0.09)
    c.rect(screen, fill=SCREEN)
    c.rect(p.box(-0.30, -0.32, 0.05, -0.20), fill=mix(pick(rng, PRODUCT_COLOURS), SCREEN, 0.3))  # a window
    base = p.points([(-0.44, 0.15), (0.44, 0.15), (0.52, 0.34), (-0.52, 0.34)])
    dark = sum(colour) < 300  # a dark laptop gets a lighter deck, or its keyboard disappears
    c.polygon(base, fill=highlight(colour) if dark else colour, outline=INK, width=w)
    c.polygon(p.points([(-0.36, 0.18), (0.36, 0.18), (0.40, 0.26), (-0.40, 0.26)]), fill=shadow(colour))
    c.rect(p.box(-0.09, 0.275, 0.09, 0.325), fill=shadow(colour))  # touchpad
    return Surface(screen, SCREEN, p.box(-0.42, -0.44, 0.42, 0.14))


def _draw_headphones(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    band = p.box(-0.36, -0.46, 0.36, 0.30)
    c.arc(band, 180, 360, fill=INK, width=p.length(0.13))
    c.arc(band, 182, 358, fill=colour, width=p.length(0.08))
    cups = [p.box(x0, -0.06, x1, 0.40) for x0, x1 in ((-0.47, -0.24), (0.24, 0.47))]
    inset = p.length(0.04)
    for x0, y0, x1, y1 in cups:
        c.rect((x0, y0, x1, y1), fill=colour, outline=INK, width=w, radius=p.length(0.08))
        c.rect((x0 + inset, y0 + 1.5 * inset, x1 - inset, y1 - 1.5 * inset), fill=shadow(colour),
               radius=p.length(0.05))  # cushion
    return Surface(pick(rng, cups), colour, p.box(-0.47, -0.06, 0.47, 0.40))


def _draw_mug(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    c.ellipse(p.box(0.10, -0.22, 0.50, 0.26), outline=INK, width=p.length(0.13))  # handle
    c.ellipse(p.box(0.13, -0.19, 0.47, 0.23), outline=colour, width=p.length(0.08))
    body = p.box(-0.36, -0.36, 0.24, 0.46)
    c.rect(body, fill=colour, outline=INK, width=w, radius=p.length(0.06))
    c.ellipse(p.box(-0.36, -0.43, 0.24, -0.29), fill=shadow(colour), outline=INK, width=w)  # rim
    c.rect(p.box(-0.355, 0.04, 0.235, 0.14), fill=pick(rng, PRODUCT_COLOURS))  # a painted band
    return Surface(body, colour, p.box(-0.36, -0.36, 0.24, 0.46))


def _draw_sneaker(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    upper = p.points([(-0.48, 0.14), (-0.46, -0.16), (-0.30, -0.20), (-0.18, -0.08), (-0.04, -0.30),
                      (0.08, -0.26), (0.16, -0.06), (0.44, 0.02), (0.50, 0.14)])
    c.polygon(upper, fill=colour, outline=INK, width=w)
    c.rect(p.box(-0.50, 0.12, 0.52, 0.28), fill=(240, 240, 236), outline=INK, width=w,
           radius=p.length(0.06))  # sole
    c.line(p.points([(-0.36, 0.06), (-0.05, 0.0), (0.30, 0.08)]),
           fill=mix(pick(rng, PRODUCT_COLOURS), colour, 0.2), width=p.length(0.06))  # side stripe
    for k in range(3):  # laces across the tongue
        u, v = -0.10 + k * 0.07, -0.20 + k * 0.05
        c.line([p.at(u - 0.05, v), p.at(u + 0.07, v + 0.04)], fill=WHITE, width=p.length(0.03))
    return Surface(p.box(-0.44, -0.05, 0.30, 0.13), colour, p.box(-0.48, -0.16, 0.50, 0.16))


def _draw_watch(c: Canvas, p: Placement, colour: Colour, rng: np.random.Generator) -> Surface:
    w = outline_width(p)
    strap = shadow(colour) if sum(colour) > 200 else highlight(colour)
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


PRODUCT_DRAWERS: dict[str, Callable[[Canvas, Placement, Colour, np.random.Generator], Surface]] = {
    "phone": _draw_phone, "laptop": _draw_laptop, "headphones": _draw_headphones,
    "mug": _draw_mug, "sneaker": _draw_sneaker, "watch": _draw_watch,
}
