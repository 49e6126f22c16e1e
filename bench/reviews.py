"""The benchmark's reviews: the training and validation rows, lengthened on request, and the
original script's dataset (tokenize and preprocess the photo at every access)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from mmsent.choices import PROFILES
from mmsent.data import load_reviews, split_table
from mmsent.paths import REVIEWS_CSV

NAIVE_LENGTH = 128
NAIVE_BATCH = 16  # the original script's batch size


def reviews_parser(description: str) -> argparse.ArgumentParser:
    """The command line of a bench that trains on the reviews: its docstring as --help, then --profile and
    --data; the bench adds its own flags."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=description, formatter_class=raw)
    parser.add_argument("--profile", choices=PROFILES, default="offline")
    parser.add_argument("--data", type=Path, default=REVIEWS_CSV, help="review CSV (default: bundled)")
    return parser


def lengthen(frame: pd.DataFrame, tokenizer, tokens: int) -> pd.DataFrame:
    """Each review's text repeated until it has at least `tokens` tokens (truncation cuts the rest)."""
    lengths = [len(ids) - 2 for ids in tokenizer(frame["text"].tolist())["input_ids"]]  # minus [CLS] [SEP]
    texts = [
        " ".join([text] * (math.ceil(tokens / max(1, n)) + 1))
        for text, n in zip(frame["text"], lengths, strict=True)
    ]
    return frame.assign(text=texts)


def load_splits(args: argparse.Namespace, tokenizer) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(train rows, validation rows, the class names) of the review table."""
    table = load_reviews(args.data)
    splits = split_table(table, seed=args.seed)
    train = splits["train"].sample(frac=1.0, random_state=args.seed)
    if args.limit:
        train = train.head(args.limit)
    val = splits["val"]
    if args.seq_len:
        train, val = lengthen(train, tokenizer, args.seq_len), lengthen(val, tokenizer, args.seq_len)
    return train.reset_index(drop=True), val.reset_index(drop=True), list(table.labels.classes)


class NaiveReviews(Dataset):
    """The original script's dataset: on every access, the text is tokenized and padded to 128
    tokens, and the photo is opened, resized and normalised with PIL + numpy."""

    def __init__(self, frame: pd.DataFrame, tokenizer, image_processor, max_length: int = NAIVE_LENGTH):
        self.frame = frame
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.size = image_processor.crop_size["height"]
        self.mean = np.array(image_processor.image_mean, dtype=np.float32)
        self.std = np.array(image_processor.image_std, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index: int) -> dict:
        row = self.frame.iloc[index]
        tokens = self.tokenizer(
            row["text"],
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        present = isinstance(row["image_path"], str)
        pixels = np.zeros((self.size, self.size, 3), dtype=np.float32)
        if present:
            image = Image.open(row["image_path"]).convert("RGB").resize((self.size, self.size), Image.BICUBIC)
            pixels = (np.asarray(image, dtype=np.float32) / 255.0 - self.mean) / self.std
        return {
            "input_ids": tokens["input_ids"][0],
            "attention_mask": tokens["attention_mask"][0],
            "pixel_values": torch.from_numpy(pixels.transpose(2, 0, 1).copy()),
            "image_present": present,
            "labels": int(row["label_id"]),
        }


def text_tokens(frame: pd.DataFrame, tokenizer, max_length: int) -> int:
    """Real (unpadded) tokens of the reviews after truncation."""
    return sum(
        len(ids)
        for ids in tokenizer(frame["text"].tolist(), truncation=True, max_length=max_length)["input_ids"]
    )
