"""Scale, measured: a 100,000-row review table validated and loaded, and photo URLs downloaded.

    python bench/scale.py                       # 100,000 rows, 2,000 URLs with 16 workers
    python bench/scale.py --rows 2000 --download 200 --json scale.json

1. **Table**: writes `--rows` reviews (seeded texts of 5 to 40 words, two labels, rating and price) whose
   `image_path` cycles over `--photos` distinct 64x64 PNGs (repeated paths; every row's photo is still
   checked), into a temporary folder.
2. **Validation + loading**: `load_reviews` (read the CSV, check every row and open every photo) then
   `split_table` and a `ReviewDataset` per split (tokenize every text): rows/s for each step and the
   peak resident memory of the process above what it held before (sampled every 20 ms).
3. **Batches**: the first `--iterate` training rows through a `DataLoader` (photos opened and
   processed, texts padded), as `fit` would read them without the feature cache: rows/s.
4. **Download**: `--download` distinct photo URLs from a local server (bench/photo_server.py, run in its
   own process on 127.0.0.1, so it does not share this process's interpreter lock) into a fresh
   `PhotoStore` with `--workers` workers: photos/s; then the same URLs again (the store has them all:
   no request).

Every phase reports wall seconds and this process's CPU seconds (user + sys), and the load average
before the run: on a shared machine the wall time is not the idle figure, the CPU time less so.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.measure import PeakMemory, device_name, load_average, publish  # noqa: E402
from mmsent.data import ReviewDataset, load_reviews, make_loader, split_table  # noqa: E402
from mmsent.data.photo_store import PhotoStore  # noqa: E402
from mmsent.encoders import load_encoders  # noqa: E402

WORDS = ("great sturdy cheap broken arrived late box screen cracked love hate works fine returned "
         "battery charger lamp mug phone shoes quality price again never always").split()  # fmt: skip


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """Wall and CPU seconds of a `with` block."""

    def __enter__(self) -> Phase:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *_) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = cpu_seconds() - self._cpu


def write_table(folder: Path, rows: int, photos: int, seed: int = 0) -> Path:
    """`folder/reviews.csv` with `rows` reviews over `photos` distinct PNGs in `folder/images/`."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    for i in range(photos):
        Image.new("RGB", (64, 64), tuple(int(c) for c in rng.integers(0, 256, 3))).save(
            folder / f"images/p{i}.png"
        )
    lengths = rng.integers(5, 41, rows)
    words = rng.integers(0, len(WORDS), lengths.sum())
    cuts = np.cumsum(lengths)[:-1]
    texts = [" ".join(WORDS[w] for w in chunk) for chunk in np.split(words, cuts)]
    frame = pd.DataFrame({
        "review_id": [f"s{i:06d}" for i in range(rows)],
        "text": texts,
        "image_path": [f"images/p{i % photos}.png" for i in range(rows)],
        "label": np.where(rng.random(rows) < 0.5, "negative", "positive"),
        "rating": rng.integers(1, 6, rows),
        "price": rng.uniform(5, 300, rows).round(2),
    })  # fmt: skip
    frame.to_csv(folder / "reviews.csv", index=False)
    return folder / "reviews.csv"


def measure_table(csv: Path, rows: int, iterate: int, encoders) -> dict:
    import torch

    baseline = PeakMemory(torch.device("cpu"))
    with baseline:
        time.sleep(0.05)
    with PeakMemory(torch.device("cpu")) as memory:
        with Phase() as validate:
            table = load_reviews(csv, min_rows=32)
        with Phase() as load:
            datasets = {
                name: ReviewDataset(frame, encoders.tokenizer, encoders.image_processor)
                for name, frame in split_table(table).items()
            }
        assert sum(len(d) for d in datasets.values()) == rows == len(table)
        sample = ReviewDataset(
            datasets["train"].frame.head(iterate), encoders.tokenizer, encoders.image_processor
        )
        with Phase() as batches:
            seen = sum(len(batch["labels"]) for batch in make_loader(sample, batch_size=32, shuffle=False))
    both = validate.wall + load.wall
    return {
        "rows": rows,
        "validate_s": round(validate.wall, 2),
        "validate_cpu_s": round(validate.cpu, 2),
        "validate_rows_per_s": round(rows / validate.wall),
        "dataset_s": round(load.wall, 2),
        "dataset_cpu_s": round(load.cpu, 2),
        "validate_and_load_rows_per_s": round(rows / both),
        "peak_memory_mb": round(memory.peak / 2**20),
        "peak_memory_above_start_mb": round((memory.peak - baseline.peak) / 2**20),
        "batch_rows": seen,
        "batch_rows_per_s": round(seen / batches.wall),
        "batch_cpu_s": round(batches.cpu, 2),
    }


def measure_download(folder: Path, count: int, workers: int) -> dict:
    """Photos/s for `count` URLs from a photo server in another process, then the resumed run."""
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("photo_server.py")), "--photo-size", "160"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = server.stdout.readline().strip()  # the server prints its address once it listens
        urls = [f"{base}/photo/bench-{i}.png" for i in range(count)]
        store = PhotoStore(folder / "photos", workers=workers, progress=False)
        with Phase() as first:
            results = store.fetch(urls)
        failed = sum(fetched.path is None for fetched in results.values())
        with Phase() as again:
            store.fetch(urls)
        resumed = dict(store.counts)
    finally:
        server.terminate()
        server.wait()
    size = sum(Path(fetched.path).stat().st_size for fetched in results.values() if fetched.path)
    return {
        "urls": count,
        "workers": workers,
        "failed": failed,
        "download_s": round(first.wall, 2),
        "download_cpu_s": round(first.cpu, 2),
        "photos_per_s": round(count / first.wall, 1),
        "mean_photo_kb": round(size / max(count - failed, 1) / 1024, 1),
        "second_run_s": round(again.wall, 3),
        "second_run_counts": resumed,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000, help="distinct photos the rows cycle over")
    parser.add_argument("--iterate", type=int, default=5_000, help="rows read as batches")
    parser.add_argument("--download", type=int, default=2_000, help="photo URLs to download")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--profile", default="offline", help="whose tokenizer and image processor")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = load_average()
    encoders = load_encoders(args.profile)
    with tempfile.TemporaryDirectory(prefix="mmsent-scale-") as folder:
        with Phase() as build:
            csv = write_table(Path(folder), args.rows, args.photos)
        report = {
            "device": device_name(__import__("torch").device("cpu")),
            "load_average_before": load_before,
            "build_table_s": round(build.wall, 1),
            "table": measure_table(csv, args.rows, args.iterate, encoders),
            "download": measure_download(Path(folder), args.download, args.workers),
            "load_average_after": load_average(),
        }
    return publish(report, args.json)


if __name__ == "__main__":
    main()
