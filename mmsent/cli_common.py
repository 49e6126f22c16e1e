"""Arguments and helpers that several `python -m mmsent` commands share (one definition each)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mmsent import validate

MODEL_ARG = dict(
    type=Path,
    dest="model",
    default=Path("reports/latest/model"),
    help="model folder written by train (its report's model/; default reports/latest/model), or a "
    "Hugging Face hub id owner/name; --checkpoint is the older name of this flag",
)
DEVICE_ARG = dict(
    type=validate.device,
    default=None,
    help="cpu, cuda, cuda:1, mps (default: MMSENT_DEVICE, else the best available)",
)
OUTSIDE_PATHS_ARG = dict(
    action="store_true",
    help="accept photos whose real path (symlinks resolved) is outside the CSV's folder "
    "(default: refuse them)",
)
PHOTO_DIR_ARG = dict(
    type=Path,
    default=None,
    help="folder where photo URLs (http:// and https:// in image_path) are downloaded to, once "
    "(default: the photos/ folder of the feature cache, MMSENT_CACHE_DIR)",
)
OFFLINE_ARG = dict(
    action="store_true",
    help="download no photo URL: use the photos already in the photo folder and report the rows whose "
    "photo would need a download (they are kept text-only)",
)
COLUMNS_HELP = (
    "rename your CSV's columns as it is read, YOUR_NAME=OUR_NAME separated by commas, e.g. "
    "reviewText=text,photo=image_path,sentiment=label,asin=review_id (the file is not changed)"
)


def photo_store(args: argparse.Namespace):
    """The photo store that --photo-dir, --offline and --no-progress describe."""
    from mmsent.data.photo_store import PhotoStore

    return PhotoStore(args.photo_dir, offline=args.offline, progress=not getattr(args, "no_progress", False))


def load_model(args: argparse.Namespace):
    """(the train module, the model of --model, its labels, its training recipe) for evaluate / predict."""
    from mmsent import train as training
    from mmsent.models import MultimodalSentimentModel

    model = MultimodalSentimentModel.from_pretrained(args.model, device=args.device)
    return training, model, model.config.label_encoder(), training.TrainConfig.from_dict(model.config.recipe)
