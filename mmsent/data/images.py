"""Open review photos safely and always hand back an RGB image.

Photos in a review table come from anywhere: phone JPEGs, grayscale scans, PNGs with an
alpha channel, palette GIFs, print-shop CMYK files, 16-bit medical-style PNGs, files cut off
half way through a download, or a text file saved as `.png`. `open_rgb` turns every
image it can read into plain 8-bit RGB, and raises `ImageProblem` (a `DataError`) with the
problem named ("image file not found", "truncated or corrupt image", "not an image",
"decompression bomb") for everything else. `check_image` runs the same checks without
keeping the pixels, so `load_reviews` can find broken photos before training starts.

`DataError` is defined in `mmsent.errors` with the kit's other expected failures.
"""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmsent.errors import DataError

# A pixel budget checked from the file header before any pixel is decoded. 40 million pixels
# (e.g. 8000 x 5000) is larger than any phone photo; a PNG that declares more is almost
# certainly a decompression bomb (a few KB on disk that expand to gigabytes in memory).
# Raise it if you really train on gigapixel scans: `mmsent.data.images.MAX_PIXELS = ...`.
MAX_PIXELS = 40_000_000
# Widths and heights are checked one by one too: the image processors resize the short side to
# RESIZE_SHORT_SIDE pixels keeping the aspect ratio, so a 4,000,000 x 10 strip (40 million pixels,
# a few KB as a PNG) would become 89,600,000 x 224 pixels before the centre crop: gigabytes.
MAX_SIDE = 20_000
RESIZE_SHORT_SIDE = 224  # CLIP's input size; the processors resize the short side to it
MAX_RESIZED_PIXELS = 16_000_000  # what the resize may produce before cropping (an aspect ratio of ~300)

# Problem names, shared with the problems table of `load_reviews`.
NOT_FOUND = "image file not found"
UNREADABLE = "unreadable image file"
NOT_AN_IMAGE = "not an image"
TRUNCATED = "truncated or corrupt image"
BOMB = "decompression bomb"
BAD_SHAPE = "image too long, too wide or too narrow"
NOT_A_FILE = "not a regular file"


class ImageProblem(DataError):
    """A photo that cannot be used. `problem` is the short name (e.g. "not an image")."""

    def __init__(self, path: str | os.PathLike, problem: str, advice: str, detail: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.detail = detail
        what = f"{problem} ({detail})" if detail else problem
        super().__init__(f"{self.path}: {what}. {advice}")


def open_rgb(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    """Open an image file and return it as an 8-bit RGB `PIL.Image` of the same size.

    Grayscale, palette, CMYK and 16-bit images are converted; transparent pixels (RGBA, LA,
    palette with transparency) are composited on white, as a browser would show them. An EXIF
    rotation (phone photos) is applied. `max_pixels` defaults to `MAX_PIXELS`.

    Raises:
        ImageProblem: the file is missing, unreadable, not an image, truncated or corrupt,
            or larger than `max_pixels` (a decompression bomb).
    """
    image = _open_checked(Path(path), max_pixels, fast=False)
    return _to_rgb(ImageOps.exif_transpose(image))


def check_image(path: str | os.PathLike, max_pixels: int | None = None) -> None:
    """Raise `ImageProblem` if `open_rgb(path)` would fail; otherwise return quickly.

    The whole file is decoded (that is the only way to know it is not truncated), but JPEGs
    are decoded at reduced scale, so checking thousands of photos takes seconds.
    """
    _open_checked(Path(path), max_pixels, fast=True).close()


def _open_checked(path: Path, max_pixels: int | None, fast: bool) -> Image.Image:
    """Open, check the declared size against the budget, then decode all pixels."""
    budget = MAX_PIXELS if max_pixels is None else max_pixels
    image = _open_header(path)
    width, height = image.size
    if width * height > budget:
        image.close()
        raise ImageProblem(
            path,
            BOMB,
            "Resize the photo (the image encoders see 224x224 pixels) or, if you trust "
            "the file, raise mmsent.data.images.MAX_PIXELS.",
            f"{width}x{height} = {width * height:,} pixels, over the budget of {budget:,}",
        )
    shape_problem = _shape_problem(width, height)
    if shape_problem:
        image.close()
        raise ImageProblem(
            path,
            BAD_SHAPE,
            "Crop the photo to a usual shape (the image encoders see a 224x224 square), or clear its "
            "image_path to use the review as text-only.",
            shape_problem,
        )
    if fast and image.format in ("JPEG", "MPO"):  # MPO: many phone cameras
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8 scale
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # PIL reports cut-off data as OSError("image file is truncated ..."), a broken PNG
        # chunk as SyntaxError, and a damaged compressed stream as OSError or ValueError.
        image.close()
        raise ImageProblem(
            path,
            TRUNCATED,
            "Re-export or re-download the photo, or clear its image_path to use the review as text-only.",
            str(error),
        ) from error
    return image


def _shape_problem(width: int, height: int) -> str:
    """Why a `width` x `height` photo cannot be resized for the encoders, or "" when it can."""
    if max(width, height) > MAX_SIDE:
        return f"{width}x{height} pixels; the longest side allowed is {MAX_SIDE:,}"
    scale = RESIZE_SHORT_SIDE / max(min(width, height), 1)
    resized = (round(width * scale), round(height * scale))
    if resized[0] * resized[1] > MAX_RESIZED_PIXELS:
        return (
            f"{width}x{height} pixels would be resized to {resized[0]:,}x{resized[1]:,} before cropping, "
            f"over the budget of {MAX_RESIZED_PIXELS:,} pixels"
        )
    return ""


def _open_header(path: Path) -> Image.Image:
    """`Image.open` (reads the header only) with its failures turned into `ImageProblem`.

    The path is checked with `os.stat` first: only a regular file is opened, so a FIFO or a device
    named as a photo is refused instead of blocking the read.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ImageProblem(
                path,
                NOT_A_FILE,
                "Point image_path at a photo file (not a folder, pipe or device), or clear the cell.",
            )
        with warnings.catch_warnings():
            # Our own budget is stricter than PIL's warning threshold; keep the log clean.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except ImageProblem:
        raise
    except FileNotFoundError as error:
        raise ImageProblem(
            path,
            NOT_FOUND,
            "Check the image_path column (paths are relative to the CSV's folder) "
            "or clear the cell to use the review as text-only.",
        ) from error
    except UnidentifiedImageError as error:
        raise ImageProblem(
            path,
            NOT_AN_IMAGE,
            "PIL cannot read this file as an image; replace it with a PNG or JPEG or clear its image_path.",
        ) from error
    except Image.DecompressionBombError as error:
        raise ImageProblem(
            path,
            BOMB,
            "Resize the photo; PIL refuses images this large.",
            str(error),
        ) from error
    except (OSError, ValueError) as error:  # no permission, a NUL in the path, ...
        raise ImageProblem(
            path,
            UNREADABLE,
            "Check that the path names a readable file.",
            str(error),
        ) from error


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without clipping or black transparent areas."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # PIL's own convert("RGB") clips these to 0..255, so a mid-gray 16-bit pixel (32768)
        # would come out white. Scale the real range down instead.
        return Image.fromarray(_high_bit_depth_to_uint8(image), mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGBX


def _high_bit_depth_to_uint8(image: Image.Image) -> np.ndarray:
    """Gray values of a 16-bit, 32-bit int or float image, scaled to uint8 `[height, width]`.

    16-bit modes span 0..65535. For "I" and "F" the file does not say its range, so it is read
    from the data: floats up to 1.0 are taken as 0..1, values up to 255 as 8-bit, else 16-bit.
    """
    values = np.asarray(image, dtype=np.float64)
    top = values.max(initial=0.0)
    if image.mode.startswith("I;16") or top > 255:
        full_scale = 65535.0
    elif image.mode == "F" and top <= 1.0:
        full_scale = 1.0
    else:
        full_scale = 255.0
    return np.clip(np.rint(values * (255.0 / full_scale)), 0, 255).astype(np.uint8)
