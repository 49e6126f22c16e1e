"""Batch prediction, measured: `predict --data` on a 100,000-row table, rows/s and memory over the run.

    python bench/predict_csv.py                            # 100,000 rows, offline profile
    python bench/predict_csv.py --rows 5000 --model reports/latest/model --json predict.json

Writes a table like bench/scale.py's (seeded texts of 5 to 40 words, photos cycling over `--photos`
distinct 64x64 PNGs, a label column that prediction carries through) and runs
`mmsent.apply.batch.predict_csv` on it with the `--model` folder, or, without one, a fusion model
built at `--profile` (an untrained head costs what a trained one does). Reports the wall and CPU
seconds, rows/s, and the process's resident memory sampled every 20 ms: its peak, and its peak over
the first and the last tenth of the run (flat streaming: the two are close, whatever `--rows` is).
Checks that the output has one row per input row, in order. On a shared machine the wall time is not
the idle figure: the load average before and after is printed beside it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, installed or not

from bench.measure import MemoryTrace, check_json_path, device_name, load_average, publish  # noqa: E402
from bench.scale import Phase, write_table  # noqa: E402
from mmsent.apply.batch import CHUNK_ROWS, predict_csv  # noqa: E402
from mmsent.config import TrainConfig  # noqa: E402


def load_model(model_dir: Path | None, profile: str):
    """(model, labels, config): the folder's, or a fusion model built at `profile` for 2 classes."""
    from mmsent.analysis.ablation import build_model
    from mmsent.data import LabelVocab
    from mmsent.encoders import load_encoders
    from mmsent.models import MultimodalSentimentModel

    if model_dir is not None:
        model = MultimodalSentimentModel.from_pretrained(model_dir)
        return model, model.config.label_vocab(), TrainConfig.from_dict(model.config.recipe)
    labels = LabelVocab(["negative", "positive"])
    return build_model(load_encoders(profile), labels.classes), labels, TrainConfig()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000, help="distinct photos the rows cycle over")
    parser.add_argument("--model", type=Path, default=None, help="a model folder (default: built, see above)")
    parser.add_argument("--profile", default="offline", help="without --model: the encoders' profile")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="reviews per forward pass (default: the model's)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch's CPU threads (default: torch's choice)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    check_json_path(parser, args.json)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    model, labels, config = load_model(args.model, args.profile)
    if args.batch_size:
        config = replace(config, batch_size=args.batch_size)
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
        "load_average_before": load_before,
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
        "load_average_after": load_average(),
    }
    return publish(report, args.json)


if __name__ == "__main__":
    main()
