"""A canvas addressed in unit coordinates, so one drawing works at any pixel size; the palette.

`Canvas` draws flat, un-anti-aliased shapes and 5x7 bitmap letters (no font file), `Placement` maps a
product's local coordinates onto the canvas, `Surface` is what a product drawer reports back so that
damage lands on the product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import PIL
from PIL import Image, ImageChops, ImageDraw

Colour = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]

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


# Pillow changed how it rasterises polygons and arcs over the releases: from 12.2 on it draws the photos
# exactly as committed in data/. Older releases draw a few edge pixels differently: fine for learning and
# for every test, but `make-data` then does not redraw the committed photos pixel for pixel.
PIXEL_EXACT_PILLOW = (12, 2)


def draws_committed_pixels() -> bool:
    """Whether the installed Pillow draws the bundled photos pixel for pixel as committed (Pillow >= 12.2)."""
    return tuple(int(part) for part in PIL.__version__.split(".")[:2]) >= PIXEL_EXACT_PILLOW


def mix(colour: Colour, other: Colour, amount: float) -> Colour:
    """Blend `amount` of `other` into `colour` (0 keeps colour, 1 gives other)."""
    r, g, b = (round(c + (o - c) * amount) for c, o in zip(colour, other, strict=True))
    return (r, g, b)


def shadow(colour: Colour) -> Colour:
    return mix(colour, (0, 0, 0), 0.45)


def highlight(colour: Colour) -> Colour:
    return mix(colour, WHITE, 0.5)


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

        # Each grid point is a corner of up to four quads: compute each once (the same numbers either way).
        corner = [[source(i / cells, j / cells) for j in range(cells + 1)] for i in range(cells + 1)]
        edge = [round(i / cells * self.size) for i in range(cells + 1)]  # grid lines, in pixels
        mesh = []
        for i in range(cells):
            for j in range(cells):
                quad = (*corner[i][j], *corner[i][j + 1], *corner[i + 1][j + 1], *corner[i + 1][j])
                mesh.append(((edge[i], edge[j], edge[i + 1], edge[j + 1]), quad))
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
