"""`python -m mmsent import-amazon`: turn Amazon Reviews 2023 JSON Lines into a review CSV.

python -m mmsent import-amazon Electronics.jsonl.gz --meta meta_Electronics.jsonl.gz --out data/amazon
python -m mmsent train --data data/amazon/reviews.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add `import-amazon` to the command line's sub-commands."""
    parser = commands.add_parser(
        "import-amazon",
        help="turn Amazon Reviews 2023 JSON Lines (+ meta) into a reviews.csv that train reads",
        description="Stream an Amazon Reviews 2023 reviews file (.jsonl or .jsonl.gz), label each review by "
        "its stars (1-2 negative, 4-5 positive, 3 dropped, or neutral with --three-classes), take the "
        "review's first photo as image_path and the product's MAIN photo as product_image_path, join the "
        "meta file on parent_asin (title, price, store), and write OUT/reviews.csv and "
        "OUT/import_report.txt. Malformed lines are reported by line number; the import goes on.",
    )
    parser.add_argument("reviews", type=Path, help="the reviews file, e.g. Electronics.jsonl.gz")
    parser.add_argument(
        "--meta", type=Path, default=None, help="the meta file, e.g. meta_Electronics.jsonl.gz"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for reviews.csv and import_report.txt"
    )
    parser.add_argument(
        "--three-classes", action="store_true", help="keep 3-star reviews as 'neutral' (default: drop them)"
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing OUT/reviews.csv (only by a complete import that yielded reviews)",
    )


def cmd_import_amazon(args: argparse.Namespace) -> int:
    from mmsent.amazon import EmptyImport, import_amazon

    try:
        report = import_amazon(args.reviews, args.out, args.meta, args.three_classes, args.overwrite)
    except EmptyImport as nothing:  # nothing to train on: what became of each line, then the error
        print(nothing.report.text())
        raise
    print(report.text())
    print(f"next: python -m mmsent train --data {report.csv_path}")
    return 0


COMMANDS = {"import-amazon": cmd_import_amazon}
