"""The data-set commands of `python -m mmsent`: draw the bundled sets again, or import a real one.

python -m mmsent make-data           # regenerate the bundled review set (data/reviews.csv + photos)
python -m mmsent make-calls          # regenerate data/calls/calls.csv from its seed (notebook 10)
python -m mmsent import-amazon Electronics.jsonl.gz --meta meta_Electronics.jsonl.gz --out data/amazon
python -m mmsent train --data data/amazon/reviews.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmsent.audio import calls_csv
from mmsent.cli import common
from mmsent.files.replace import replacing
from mmsent.paths import data_dir


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `make-data`, `make-calls` and `import-amazon` to the command line's sub-commands."""
    reviews = commands.add_parser(
        "make-data",
        help="regenerate the bundled review data set",
        description="Draw the synthetic review set (CSV + photos) from a seed.",
    )
    common.add_output_folder(reviews, data_dir(), shown="data/")
    common.add_count(reviews, "--n", "number of reviews", 2400)
    common.add_seed(reviews)
    reviews.add_argument(
        "--no-baselines", action="store_true", help="skip the scikit-learn leak checks printed at the end"
    )
    common.add_overwrite(reviews)

    calls = commands.add_parser(
        "make-calls",
        help="regenerate the call-centre set's table (transcripts, labels, shout spans, audio digests)",
        description="Draw the call-centre set from a seed and write its table; the audio itself is "
        "rendered from the table on first use and cached (see data/calls/README.md).",
    )
    common.add_output_folder(calls, calls_csv().parent, "output folder for calls.csv")
    common.add_count(calls, "--n", "number of calls", 1000)
    common.add_seed(calls)
    common.add_overwrite(calls)

    amazon = commands.add_parser(
        "import-amazon",
        help="turn Amazon Reviews 2023 JSON Lines (+ meta) into a reviews.csv that train reads",
        description="Stream an Amazon Reviews 2023 reviews file (.jsonl or .jsonl.gz), label each review by "
        "its stars (1-2 negative, 4-5 positive, 3 dropped, or neutral with --three-classes), take the "
        "review's first photo as image_path and the product's MAIN photo as product_image_path, join the "
        "meta file on parent_asin (title, price, store), and write OUT/reviews.csv and "
        "OUT/import_report.txt. Malformed lines are reported by line number; the import goes on.",
    )
    amazon.add_argument("reviews", type=Path, help="the reviews file, e.g. Electronics.jsonl.gz")
    amazon.add_argument(
        "--meta", type=Path, default=None, help="the meta file, e.g. meta_Electronics.jsonl.gz"
    )
    amazon.add_argument(
        "--out", type=Path, required=True, help="folder for reviews.csv and import_report.txt"
    )
    amazon.add_argument(
        "--three-classes", action="store_true", help="keep 3-star reviews as 'neutral' (default: drop them)"
    )
    common.add_overwrite(
        amazon, "replace an existing OUT/reviews.csv (only by a complete import that yielded reviews)"
    )


def cmd_make_data(args: argparse.Namespace) -> int:
    from mmsent.data.synth import make_data

    with replacing([args.out / "reviews.csv", args.out / "images"], args.overwrite) as work:
        make_data(work, n=args.n, seed=args.seed, baselines=not args.no_baselines)
    print(f"moved them into {args.out}")
    return 0


def cmd_make_calls(args: argparse.Namespace) -> int:
    from mmsent.audio.calls import generate_calls, summary, write_table

    frame = generate_calls(args.n, args.seed)
    with replacing([args.out / "calls.csv"], args.overwrite) as work:
        write_table(frame, work / "calls.csv")
    print(summary(frame))
    print(f"wrote {len(frame)} calls to {args.out / 'calls.csv'}")
    return 0


def cmd_import_amazon(args: argparse.Namespace) -> int:
    from mmsent.data.amazon import EmptyImport, import_amazon

    try:
        report = import_amazon(args.reviews, args.out, args.meta, args.three_classes, args.overwrite)
    except EmptyImport as nothing:  # nothing to train on: what became of each line, then the error
        print(nothing.report.text())
        raise
    print(report.text())
    print(f"next: python -m mmsent train --data {report.csv_path}")
    return 0


COMMANDS = {"make-data": cmd_make_data, "make-calls": cmd_make_calls, "import-amazon": cmd_import_amazon}
