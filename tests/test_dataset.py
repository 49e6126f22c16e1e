"""mmsent.data.dataset: a review table as model inputs: `ReviewDataset` items, `collate_fn` padding and masks,
seeded loaders and length-grouped batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmsent.paths
from mmsent.data import load_reviews
from mmsent.data.dataset import LengthGroupedBatchSampler, ReviewDataset, collate_fn, make_loader


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(mmsent.paths.minilm_dir())


@pytest.fixture(scope="module")
def image_processor():
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})


@pytest.fixture
def mixed_table(tiny_csv):
    """8 reviews of growing length; r001 and r002 have no photo."""
    csv = tiny_csv(edit=lambda f: f.assign(text=["word " * (2 * i + 1) for i in range(8)]))
    for name in ("r001.png", "r002.png"):
        (csv.parent / "images" / name).unlink()
    return load_reviews(csv)


def test_dataset_item_shapes(mixed_table, tokenizer, image_processor):
    dataset = ReviewDataset(mixed_table.frame, tokenizer, image_processor, max_length=8)
    item = dataset[3]
    assert item["index"] == 3 and item["label"] == 1
    assert item["input_ids"].dtype == torch.long and item["input_ids"].shape == (8,)  # truncated, unpadded
    assert item["input_ids"][0] == tokenizer.cls_token_id and torch.all(item["attention_mask"] == 1)
    assert item["pixel_values"].shape == (3, 64, 64) and item["pixel_values"].dtype == torch.float32
    assert item["image"].mode == "RGB" and item["image"].size == (16, 16)
    assert dataset[1]["pixel_values"] is None and dataset[1]["image"] is None
    assert dataset.lengths == [3, 5, 7, 8, 8, 8, 8, 8]
    texts_only = ReviewDataset(mixed_table.frame, tokenizer, None, load_images=False)[0]
    assert texts_only["pixel_values"] is None and texts_only["image"] is None


def test_collate_pads_and_masks(mixed_table, tokenizer, image_processor):
    dataset = ReviewDataset(mixed_table.frame, tokenizer, image_processor)
    batch = collate_fn([dataset[i] for i in (0, 1, 2, 3)], pad_token_id=tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (4, 9) and batch["attention_mask"].shape == (4, 9)  # longest: 9 tokens
    assert batch["attention_mask"].sum(1).tolist() == [3, 5, 7, 9]
    assert torch.all(batch["input_ids"][0, 3:] == tokenizer.pad_token_id)
    assert torch.all(batch["attention_mask"][0, 3:] == 0)
    assert batch["image_present"].tolist() == [True, False, False, True]
    assert batch["pixel_values"].shape == (4, 3, 64, 64)
    assert torch.all(batch["pixel_values"][1:3] == 0) and batch["pixel_values"][0].abs().sum() > 0
    assert batch["labels"].tolist() == [0, 1, 0, 1] and batch["indices"].tolist() == [0, 1, 2, 3]
    assert batch["images"][1] is None and batch["images"][0].mode == "RGB"
    assert collate_fn([dataset[1], dataset[2]])["pixel_values"] is None
    assert collate_fn([dataset[0]], pad_to=32)["input_ids"].shape == (1, 32)
    with pytest.raises(ValueError, match="shorter than the longest review"):
        collate_fn([dataset[7]], pad_to=4)


def test_make_loader_is_seeded(mixed_table, tokenizer):
    dataset = ReviewDataset(mixed_table.frame, tokenizer, None, load_images=False)

    def order(seed: int) -> list[int]:
        loader = make_loader(dataset, batch_size=3, shuffle=True, seed=seed, pad_token_id=0)
        return [i for batch in loader for i in batch["indices"].tolist()]

    assert order(0) == order(0) and sorted(order(0)) == list(range(8)) and order(0) != order(1)


def test_length_grouped_sampler_covers_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 100, size=103).tolist()
    sampler = LengthGroupedBatchSampler(lengths, batch_size=8, seed=0)
    epochs = [list(sampler), list(sampler)]
    for batches in epochs:
        assert len(batches) == len(sampler) == 13
        assert sorted(i for batch in batches for i in batch) == list(range(103))
    assert epochs[0] != epochs[1]  # a new order every epoch
    assert list(LengthGroupedBatchSampler(lengths, 8, seed=0)) == epochs[0]  # reproducible
    # Grouping works: batches are far less spread in length than random batches would be.
    spread = np.mean([np.ptp([lengths[i] for i in batch]) for batch in epochs[0] if len(batch) == 8])
    assert spread < 15  # random batches of 8 would spread over ~75
    mean_lengths = [np.mean([lengths[i] for i in batch]) for batch in epochs[0]]
    assert mean_lengths != sorted(mean_lengths, reverse=True)  # the batches themselves are shuffled


def test_loader_grouped_by_length(mixed_table, tokenizer):
    dataset = ReviewDataset(mixed_table.frame, tokenizer, None, load_images=False)
    loader = make_loader(dataset, 2, shuffle=True, seed=0, pad_token_id=0, group_by_length=True)
    batches = list(loader)
    assert sorted(i for b in batches for i in b["indices"].tolist()) == list(range(8))
