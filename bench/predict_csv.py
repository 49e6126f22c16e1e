"""Batch prediction, measured: `predict --data` on a 100,000-row table, rows/s and memory over the run.

    python bench/predict_csv.py                            # 100,000 rows, offline profile
    python bench/predict_csv.py --rows 5000 --model reports/latest/model --json predict.json

Writes a table like bench/scale.py's (seeded texts of 5 to 40 words, photos cycling over `--photos`
distinct 64x64 PNGs, a label column that prediction carries through) and runs
`mmsent.batch_predict.predict_csv` on it with the `--model` folder, or, without one, a fusion model
built at `--profile` (an untrained head costs what a trained one does). Reports the wall and CPU
seconds, rows/s, and the process's resident memory sampled every 20 ms: its peak, and its peak over
the first and the last tenth of the run (flat streaming: the two are close, whatever `--rows` is).
Checks that the output has one row per input row, in order. On a shared machine the wall time is not
the idle figure: the load average before and after is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.measure import device_name, resident_bytes  # noqa: E402
from bench.scale import Phase, write_table  # noqa: E402
from mmsent.batch_predict import CHUNK_ROWS, predict_csv  # noqa: E402
from mmsent.config import TrainConfig  # noqa: E402


class MemoryTrace:
    """The process's resident memory every `every` seconds while the block runs: [(seconds, bytes)]."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.samples: list[tuple[float, int]] = []

    def __enter__(self) -> MemoryTrace:
        self._running, self._start = True, time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._running = False
        self._thread.join()

    def _sample(self) -> None:
        while self._running:
            self.samples.append((time.perf_counter() - self._start, resident_bytes()))
            time.sleep(self.every)

    def peak_mb(self, start: float = 0.0, stop: float = 1.0) -> int:
        """Peak in MiB over the fraction [start, stop] of the run's duration."""
        end = self.samples[-1][0]
        inside = [rss for t, rss in self.samples if start * end <= t <= stop * end]
        return round(max(inside) / 2**20)


def load_model(model_dir: Path | None, profile: str):
    """(model, labels, config): the folder's, or a fusion model built at `profile` for 2 classes."""
    from mmsent.data import LabelVocab
    from mmsent.encoders import load_encoders
    from mmsent.models import MultimodalSentimentModel
    from mmsent.pipeline import build_model

    if model_dir is not None:
        model = MultimodalSentimentModel.from_pretrained(model_dir)
        return model, model.config.label_encoder(), TrainConfig.from_dict(model.config.recipe)
    model = build_model(load_encoders(profile), 2)
    return model, LabelVocab(["negative", "positive"]), TrainConfig()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000, help="distinct photos the rows cycle over")
    parser.add_argument("--model", type=Path, default=None, help="a model folder (default: built, see above)")
    parser.add_argument("--profile", default="offline", help="without --model: the encoders' profile")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    load_before = os.getloadavg()
    model, labels, config = load_model(args.model, args.profile)
    with tempfile.TemporaryDirectory(prefix="mmsent-predict-") as folder:
        csv = write_table(Path(folder), args.rows, args.photos)
        out = Path(folder) / "predictions.csv"
        with MemoryTrace() as memory, Phase() as run:
            summary = predict_csv(
                model, csv, out, labels=labels, config=config, chunk_rows=args.chunk_rows, progress=True
            )
        written = pd.read_csv(out, usecols=["review_id"])["review_id"]
        expected = pd.read_csv(csv, usecols=["review_id"])["review_id"]
        assert written.equals(expected), "the output rows are not the input rows in order"
    report = {
        "device": device_name(torch.device("cpu")),
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in load_before],
        "model": str(args.model) if args.model else f"built, profile {args.profile}",
        "rows": summary.rows,
        "text_only_rows": summary.text_only,
        "chunk_rows": args.chunk_rows,
        "batch_size": config.batch_size,
        "wall_s": round(run.wall, 1),
        "cpu_s": round(run.cpu, 1),
        "rows_per_s": round(summary.rows / run.wall, 1),
        "peak_memory_mb": memory.peak_mb(),
        "peak_memory_first_tenth_mb": memory.peak_mb(0.0, 0.1),
        "peak_memory_last_tenth_mb": memory.peak_mb(0.9, 1.0),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
