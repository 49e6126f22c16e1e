"""`python -m mmsent predict`: label one review, or every row of a CSV.

python -m mmsent predict --model reports/latest/model --text "Well. It arrived." --image box.png
python -m mmsent predict --model reports/latest/model --data new_reviews.csv --out predictions.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmsent import validate
from mmsent.cli_common import (
    COLUMNS_HELP,
    DEVICE_ARG,
    MODEL_ARG,
    OFFLINE_ARG,
    OUTSIDE_PATHS_ARG,
    PHOTO_DEADLINE_ARG,
    PHOTO_DIR_ARG,
    load_model,
    photo_store,
)
from mmsent.errors import DataError


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `predict` to the command line's sub-commands."""
    predict = commands.add_parser(
        "predict",
        help="label one review (text + optional photo), or every row of a CSV",
        description="With --text: print the label, class probabilities and image gate of one review. "
        "With --data and --out: read a review table like train does (a label column is optional) in "
        "chunks and write one output row per input row, in input order: review_id, csv_row, the input's "
        "label if any, predicted_label, p_<class> per class, gate and status (ok, text-only: why, "
        "skipped: why).",
    )
    predict.add_argument("--model", "--checkpoint", **MODEL_ARG)
    what = predict.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", type=validate.review_text, help="the review's text")
    what.add_argument("--data", type=Path, help="a CSV of reviews (text, image_path, optional label)")
    predict.add_argument(
        "--image", type=validate.photo, default=None, help="with --text: path of the product photo (optional)"
    )
    predict.add_argument("--out", type=Path, default=None, help="with --data: the predictions CSV to write")
    predict.add_argument(
        "--overwrite", action="store_true", help="with --data: replace an existing --out (default: refuse)"
    )
    predict.add_argument("--columns", type=validate.column_renames, default=None, help=COLUMNS_HELP)
    predict.add_argument(
        "--batch-size",
        type=validate.positive_int,
        default=None,
        help="reviews per forward pass (default: the model's training batch size)",
    )
    predict.add_argument("--allow-outside-paths", **OUTSIDE_PATHS_ARG)
    predict.add_argument("--photo-dir", **PHOTO_DIR_ARG)
    predict.add_argument("--photo-deadline", **PHOTO_DEADLINE_ARG)
    predict.add_argument("--offline", **OFFLINE_ARG)
    predict.add_argument("--device", **DEVICE_ARG)
    predict.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def cmd_predict(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _predict_table(args)
    if args.out is not None:
        raise DataError("--out goes with --data (a table of reviews); with --text the answer is printed.")
    training, model, labels, config = load_model(args)
    result = training.predict_reviews(model, [args.text], [args.image], labels, config)
    probabilities = {
        name: round(float(p), 4) for name, p in zip(labels.classes, result.probabilities[0], strict=True)
    }
    answer = {"label": labels.classes[result.labels[0]], "probabilities": probabilities}
    if result.gate is not None:
        answer["gate"] = round(float(result.gate[0]), 4)
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


def _predict_table(args: argparse.Namespace) -> int:
    """predict --data: check the flags before loading the model, then stream the table."""
    from dataclasses import replace

    from mmsent.batch_predict import predict_csv
    from mmsent.data.table import read_chunks

    if args.out is None:
        raise DataError("predict --data needs --out, the CSV the predictions are written to.")
    if args.image is not None:
        raise DataError("--image goes with --text; with --data each row's image_path names its photo.")
    if args.out.exists() and not args.overwrite:
        raise DataError(f"{args.out} exists; pass --overwrite to replace it, or choose another --out.")
    if args.out.resolve() == args.data.resolve():
        raise DataError(f"--out {args.out} is the input table itself; choose another file.")
    for _ in read_chunks(args.data, 1, args.columns):  # the table's header and columns, before the model
        break
    _, model, labels, config = load_model(args)
    if args.batch_size is not None:
        config = replace(config, batch_size=args.batch_size)
    summary = predict_csv(
        model,
        args.data,
        args.out,
        labels=labels,
        config=config,
        columns=args.columns,
        allow_outside_paths=args.allow_outside_paths,
        photos=photo_store(args),
        progress=not args.no_progress,
    )
    print(f"{summary.line()}; written to {args.out}", file=sys.stderr)
    return 0


COMMANDS = {"predict": cmd_predict}
