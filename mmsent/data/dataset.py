"""From table rows to model batches: `ReviewDataset`, `collate_fn` and `make_loader`.

Each item is tokenized WITHOUT padding; `collate_fn` pads a batch only to its longest review
(dynamic padding), which on short reviews saves most of the text encoder's work compared with
padding everything to `max_length`. `make_loader(..., group_by_length=True)` goes further and
batches reviews of similar length together.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from mmsent.data.images import DataError, open_rgb
from mmsent.data.labels import LabelVocab


class ReviewDataset(Dataset):
    """Reviews as model inputs: token ids, the processed photo and the label id.

    Args:
        frame: rows of a `ReviewTable.frame` (or a split of it) with `text`, `image_path`
            (str or None) and `label_id`.
        tokenizer: a Hugging Face tokenizer; texts are tokenized once, here, truncated to
            `max_length` and not padded (the fast tokenizer is much quicker on the whole list,
            and the length-grouped sampler needs the lengths up front).
        image_processor: a Hugging Face image processor (e.g. `CLIPImageProcessor`); may be
            None when `load_images=False`.
        load_images: False skips the photos (pixel_values and image are None), e.g. when
            image features are cached.

    `dataset[i]` is a dict: `index` (int, the row of `frame`), `input_ids` LongTensor `[L]`,
    `attention_mask` LongTensor `[L]` (all ones: nothing is padded yet), `pixel_values`
    FloatTensor `[3, H, W]` or None, `label` (int), `image` (the RGB `PIL.Image` or None).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        tokenizer: Any,
        image_processor: Any = None,
        max_length: int = 128,
        load_images: bool = True,
    ) -> None:
        missing = [c for c in ("text", "image_path", "label_id") if c not in frame.columns]
        if missing:
            raise DataError(
                f"ReviewDataset needs columns {missing}, found {list(frame.columns)}. Pass "
                "ReviewTable.frame or a split from split_table(), not the raw CSV."
            )
        if load_images and image_processor is None:
            raise ValueError("Pass an image_processor, or load_images=False to use the texts only.")
        self.frame = frame.reset_index(drop=True)
        self.image_processor = image_processor
        self.load_images = load_images
        texts = self.frame["text"].astype(str).tolist()
        self.input_ids: list[list[int]] = tokenizer(texts, truncation=True, max_length=max_length)[
            "input_ids"
        ]
        self.image_paths = [p if isinstance(p, str) and p else None for p in self.frame["image_path"]]
        self.labels = self.frame["label_id"].astype(int).tolist()

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def lengths(self) -> list[int]:
        """Token count of every review (after truncation), for length-grouped batching."""
        return [len(ids) for ids in self.input_ids]

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = torch.tensor(self.input_ids[index], dtype=torch.long)
        image = self._image(index)
        pixel_values = None
        if image is not None:
            pixel_values = self.image_processor(images=image, return_tensors="pt")["pixel_values"][0]
        return {
            "index": index,
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "pixel_values": pixel_values,
            "label": self.labels[index],
            "image": image,
        }

    def without_images(self) -> ReviewDataset:
        """The same rows and tokens, but photos are not opened (their features come from a cache)."""
        view = copy.copy(self)
        view.load_images = False
        return view

    def _image(self, index: int) -> Image.Image | None:
        path = self.image_paths[index]
        return open_rgb(path) if self.load_images and path is not None else None


def collate_fn(
    items: Sequence[dict[str, Any]], pad_token_id: int = 0, pad_to: int | None = None
) -> dict[str, Any]:
    """Stack `ReviewDataset` items into a batch, padding the texts to the longest one.

    Returns a dict:
        input_ids       LongTensor `[B, L]`, `pad_token_id` after each review's end
        attention_mask  LongTensor `[B, L]`, 1 on tokens, 0 on padding
        pixel_values    FloatTensor `[B, 3, H, W]`, zeros where a review has no photo;
                        None when no review in the batch has one
        image_present   BoolTensor `[B]`
        labels          LongTensor `[B]`
        indices         LongTensor `[B]` (the items' `index`, to find the rows again)
        images          list of `B` `PIL.Image` or None
    L is the longest review in the batch, or `pad_to` (a fixed length, for comparing with
    naive padding; it must not be shorter than the longest review).
    """
    if not items:
        raise ValueError("collate_fn got an empty batch.")
    longest = max(len(item["input_ids"]) for item in items)
    length = longest if pad_to is None else pad_to
    if length < longest:
        raise ValueError(
            f"pad_to={pad_to} is shorter than the longest review in the batch ({longest} tokens)."
        )
    input_ids = torch.full((len(items), length), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(items), length), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item["input_ids"])
        input_ids[row, :n] = item["input_ids"]
        attention_mask[row, :n] = item["attention_mask"]
    image_present = torch.tensor([item["pixel_values"] is not None for item in items], dtype=torch.bool)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": _stack_pixels(items) if image_present.any() else None,
        "image_present": image_present,
        "labels": torch.tensor([item["label"] for item in items], dtype=torch.long),
        "indices": torch.tensor([item["index"] for item in items], dtype=torch.long),
        "images": [item["image"] for item in items],
    }


def _stack_pixels(items: Sequence[dict[str, Any]]) -> torch.Tensor:
    """`[B, 3, H, W]` with zeros for the items without a photo (at least one has one)."""
    template = next(item["pixel_values"] for item in items if item["pixel_values"] is not None)
    pixel_values = template.new_zeros((len(items), *template.shape))
    for row, item in enumerate(items):
        if item["pixel_values"] is not None:
            pixel_values[row] = item["pixel_values"]
    return pixel_values


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of reviews with similar token counts, so little of each batch is padding.

    Indices are shuffled (seeded), cut into chunks of `batch_size * chunk_batches`, each chunk
    is sorted by length and cut into batches, and the batches are shuffled. Every index comes
    exactly once per epoch; each new iteration (epoch) draws a new, reproducible order. With
    `shuffle=False` the order is fixed: the dataset in chunks, each sorted longest first.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        chunk_batches: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.chunk_size = batch_size * chunk_batches
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: the epoch advances when iteration starts, not when DataLoader calls iter().
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        n = len(self.lengths)
        order = torch.randperm(n, generator=generator).tolist() if self.shuffle else list(range(n))
        batches = []
        for start in range(0, n, self.chunk_size):
            chunk = sorted(order[start : start + self.chunk_size], key=self.lengths.__getitem__, reverse=True)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        yield from batches


def make_loader(
    dataset: ReviewDataset,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    pad_token_id: int = 0,
    num_workers: int = 0,
    pad_to: int | None = None,
    group_by_length: bool = False,
) -> DataLoader:
    """A `DataLoader` of `collate_fn` batches with a seeded order (see `collate_fn` for shapes).

    `group_by_length=True` uses `LengthGroupedBatchSampler` (needs `dataset.lengths`): batches
    of similar lengths, in a shuffled order when `shuffle`.
    """
    collate = functools.partial(collate_fn, pad_token_id=pad_token_id, pad_to=pad_to)
    # Page-locked host memory lets batches copy to the GPU asynchronously; useless without one.
    common = {"collate_fn": collate, "num_workers": num_workers, "pin_memory": torch.cuda.is_available()}
    if group_by_length:
        sampler = LengthGroupedBatchSampler(dataset.lengths, batch_size, shuffle=shuffle, seed=seed)
        return DataLoader(dataset, batch_sampler=sampler, **common)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, **common)


@dataclass(frozen=True)
class SplitDatasets:
    """The `ReviewDataset`s of one split, by name ("train", "test", usually "val"), and their classes:
    what `mmsent.analysis.ablation.run_ablation` trains and tests on."""

    datasets: Mapping[str, ReviewDataset]
    labels: LabelVocab

    def __post_init__(self) -> None:
        missing = {"train", "test"} - set(self.datasets)
        if missing:
            raise ValueError(f"SplitDatasets needs a 'train' and a 'test' dataset; {sorted(missing)} missing")
