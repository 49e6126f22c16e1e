"""``python -m mmsent make-data``: draw the review set into a folder and print what it holds."""

from __future__ import annotations

import time
from pathlib import Path

import PIL

from mmsent.data.synth.canvas import PIXEL_EXACT_PILLOW, draws_committed_pixels
from mmsent.data.synth.ceilings import sanity_baselines, summary
from mmsent.data.synth.reviews import generate_reviews


def make_data(out: Path, n: int = 2400, seed: int = 0, baselines: bool = True) -> None:
    """Write reviews.csv and images/ to `out`, then print the summary (and the leak checks)."""
    start = time.perf_counter()
    frame = generate_reviews(n, seed, out)
    print(f"wrote {len(frame)} reviews and photos to {out} in {time.perf_counter() - start:.1f} s")
    if not draws_committed_pixels():
        wanted = ".".join(map(str, PIXEL_EXACT_PILLOW))
        print(f"note: Pillow {PIL.__version__} draws a few edge pixels of the photos differently from the "
              f"committed data/ (drawn with Pillow >= {wanted}); pip install \"pillow>={wanted}\" to redraw "
              "them pixel for pixel. Labels, texts and the CSV are the same.")
    print(summary(frame))
    if baselines:
        print("sanity baselines (accuracy, 5-fold cross-validation):")
        print("\n".join(f"  {name}: {value:.4f}" for name, value in sanity_baselines(frame).items()))
