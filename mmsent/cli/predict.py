"""`python -m mmsent predict`: label one review, or every row of a CSV.

python -m mmsent predict --model reports/latest/model --text "Well. It arrived." --image box.png
python -m mmsent predict --model reports/latest/model --data new_reviews.csv --out predictions.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmsent.cli import arguments, common
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
    common.add_model(predict)
    what = predict.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", type=arguments.review_text, help="the review's text")
    what.add_argument("--data", type=Path, help="a CSV of reviews (text, image_path, optional label)")
    predict.add_argument(
        "--image", type=arguments.photo, default=None,
        help="with --text: path of the product photo (optional)",
    )
    predict.add_argument("--out", type=Path, default=None, help="with --data: the predictions CSV to write")
    common.add_overwrite(predict, "with --data: replace an existing --out (default: refuse)")
    common.add_columns(predict)
    predict.add_argument(
        "--batch-size",
        type=arguments.positive_int,
        default=None,
        help="reviews per forward pass (default: the model's training batch size)",
    )
    common.add_photo_source(predict)
    common.add_device(predict)
    common.add_no_progress(predict, "bar")


def cmd_predict(args: argparse.Namespace) -> int:
    if args.data is not None:
        return _predict_table(args)
    if args.out is not None:
        raise DataError("--out goes with --data (a table of reviews); with --text the answer is printed.")
    from mmsent.train import predict_reviews

    model, labels, config = common.load_model(args)
    result = predict_reviews(model, [args.text], [args.image], labels, config)
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

    from mmsent.apply.batch import predict_csv
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
    model, labels, config = common.load_model(args)
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
        photos=common.photo_store(args),
        progress=not args.no_progress,
    )
    print(f"{summary.line()}; written to {args.out}", file=sys.stderr)
    return 0


COMMANDS = {"predict": cmd_predict}
