"""Damage on a product: cracks, burns, dents and a torn box.

Big and high-contrast, so that it survives a downscale to 64 px.
"""

from __future__ import annotations

import math

import numpy as np

from mmsent.data.synth.canvas import (
    CARDBOARD,
    INK,
    Canvas,
    Colour,
    Placement,
    Point,
    Surface,
    highlight,
    shadow,
)
from mmsent.data.synth.products import PRODUCT_DRAWERS, outline_width


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


def draw_crack(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
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


def draw_burn(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
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


def draw_dent(c: Canvas, surface: Surface, rng: np.random.Generator) -> None:
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


def draw_torn_box(c: Canvas, product: str, colour: Colour, p: Placement, rng: np.random.Generator) -> None:
    """The product peeking out of an open cardboard box with a ragged rim, ripped flaps and a hole."""
    inside, torn_paper, w = shadow(shadow(CARDBOARD)), highlight(CARDBOARD), outline_width(p)
    c.polygon(p.points([(-0.44, 0.02), (-0.30, -0.10), (0.50, -0.10), (0.38, 0.02)]), fill=inside)
    PRODUCT_DRAWERS[product](c, Placement(p.cx, p.cy - p.length(0.16), p.scale * 0.62), colour, rng)
    rim = _ragged(p.at(-0.44, 0.02), p.at(0.38, 0.02), 9, p.length(0.05), rng)
    c.polygon([*rim, p.at(0.38, 0.5), p.at(-0.44, 0.5)], fill=CARDBOARD, outline=INK, width=w)  # front
    c.polygon(p.points([(0.38, 0.02), (0.50, -0.10), (0.50, 0.38), (0.38, 0.5)]), fill=shadow(CARDBOARD),
              outline=INK, width=w)  # side
    for side in (-1, 1):  # flaps ripped open, hanging outwards
        root = p.at(-0.44 if side < 0 else 0.38, 0.02)
        tip = (root[0] + side * p.length(rng.uniform(0.18, 0.28)), root[1] - p.length(rng.uniform(0.05, 0.2)))
        back = (root[0] - side * p.length(0.25), root[1] - p.length(0.12))
        c.polygon([root, *_ragged(tip, back, 4, p.length(0.04), rng)], fill=torn_paper, outline=INK, width=w)
    hole = p.at(rng.uniform(-0.2, 0.12), rng.uniform(0.22, 0.32))
    c.polygon(_blob(hole, p.length(0.12), rng, corners=9), fill=inside, outline=torn_paper, width=w)
