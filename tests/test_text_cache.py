"""Frozen text layers run once per review: same logits and training as the whole encoder; disk caches."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from mmsent import train
from mmsent.data import ReviewDataset, SplitDatasets, make_loader
from mmsent.encoders import load_encoders
from mmsent.features import text_states as text_cache
from mmsent.features import vectors as features
from mmsent.features.store import FeatureCache
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig

LABELS = ["negative", "positive"]

TEXTS = ["good phone", "the screen arrived cracked and the box was open", "ok", "good phone", "meh"]


@pytest.fixture(scope="module")
def encoders():
    return load_encoders("tiny")  # 2 text layers


@pytest.fixture(scope="module")
def dataset(encoders) -> ReviewDataset:
    frame = pd.DataFrame({"text": TEXTS, "image_path": None, "label_id": [0, 1, 0, 1, 1]})
    return ReviewDataset(frame, encoders.tokenizer, load_images=False)


@pytest.fixture
def bottom_runs(monkeypatch) -> list[int]:
    """Counts the reviews the frozen layers run on (one number per call)."""
    calls: list[int] = []
    real = text_cache.bottom_states

    def counting(text_model, input_ids, attention_mask, frozen):
        calls.append(len(input_ids))
        return real(text_model, input_ids, attention_mask, frozen)

    monkeypatch.setattr(text_cache, "bottom_states", counting)
    return calls


def both_paths(model, dataset, states, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of one batch of every review, by the whole encoder and by the cached states (same seed)."""
    batch = next(iter(make_loader(dataset, batch_size=len(dataset))))
    images, generator, encoders, rows = {}, torch.Generator().manual_seed(1), model.encoders, len(dataset)
    if mode == "fusion":
        images = {
            "image_embeds": torch.randn(rows, encoders.image_embed_dim, generator=generator),
            "patch_tokens": torch.randn(rows, encoders.num_patches, encoders.image_dim, generator=generator),
        }
    mask = batch["attention_mask"]
    cached = states.batch(batch["indices"], mask.shape[1], torch.device("cpu"))
    torch.manual_seed(3)
    whole = model(input_ids=batch["input_ids"], attention_mask=mask, **images).logits
    torch.manual_seed(3)
    top_only = model(text_states=cached, attention_mask=mask, **images).logits
    return whole, top_only


@pytest.mark.parametrize("mode", ["text_only", "fusion"])
@pytest.mark.parametrize("training", [False, True])
def test_cached_states_give_the_logits_of_the_whole_encoder(encoders, dataset, mode, training):
    torch.manual_seed(0)
    model_config = SentimentModelConfig(labels=LABELS, mode=mode, train_text_layers=1)
    model = MultimodalSentimentModel(model_config, encoders).train(training)
    states = text_cache.encode_frozen_text(model, dataset, batch_size=2, cache=False)
    whole, top_only = both_paths(model, dataset, states, mode)
    # In training mode too: the frozen layers have no dropout, the top layer draws the same masks.
    torch.testing.assert_close(top_only, whole, rtol=1e-5, atol=1e-5)
    # The states matter: other states give other logits.
    states.states.add_(1.0)
    assert not torch.allclose(both_paths(model, dataset, states, mode)[1], whole, atol=1e-4)


def test_repeated_reviews_are_encoded_once_and_padded_per_batch(encoders, dataset, bottom_runs):
    model_config = SentimentModelConfig(labels=LABELS, mode="text_only", train_text_layers=1)
    model = MultimodalSentimentModel(model_config, encoders)
    states = text_cache.encode_frozen_text(model, dataset, cache=False)
    assert sum(bottom_runs) == len(set(TEXTS))  # "good phone" twice, encoded once
    lengths = [len(ids) for ids in dataset.input_ids]
    assert states.length.tolist() == lengths
    batch = states.batch(torch.tensor([2, 1]), max(lengths), torch.device("cpu"))
    assert batch.shape == (2, max(lengths), encoders.text_dim)
    assert batch[0, lengths[2] :].abs().sum() == 0 and batch[0, : lengths[2]].abs().sum() > 0
    same = [states.batch(torch.tensor([row]), 9, torch.device("cpu")) for row in (0, 3)]  # "good phone"
    torch.testing.assert_close(*same)


def test_fit_with_cached_text_layers_trains_like_the_whole_encoder(encoders, tiny_csv):
    from mmsent.data import load_reviews, split_table

    splits = split_table(load_reviews(tiny_csv(n=24)), seed=0)
    sets = {n: ReviewDataset(f, encoders.tokenizer, encoders.image_processor) for n, f in splits.items()}
    histories, weights = [], []
    for cache_text in (False, True):
        torch.manual_seed(0)
        model = MultimodalSentimentModel(SentimentModelConfig(labels=LABELS, train_text_layers=1), encoders)
        config = train.TrainConfig(epochs=2, batch_size=4, cache_text_layers=cache_text)
        history = train.fit(model, sets["train"], sets["val"], config, progress=False, log=lambda _: None)
        histories.append(history)
        weights.append(model.text_model.encoder.layer[1].output.dense.weight.detach().clone())
    columns = ["train_loss", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(histories[1][columns], histories[0][columns], rtol=1e-4)
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-4, atol=1e-6)


def test_the_ablation_runs_the_frozen_layers_once_for_every_model_that_reads_text(
    encoders, tiny_csv, bottom_runs, monkeypatch
):
    from mmsent.analysis.ablation import run_ablation
    from mmsent.data import load_reviews, split_table

    monkeypatch.setenv("MMSENT_CACHE_DIR", "off")  # nothing read back from disk: every review encoded counts
    table = load_reviews(tiny_csv(n=24))
    sets = {
        name: ReviewDataset(frame, encoders.tokenizer, encoders.image_processor)
        for name, frame in split_table(table, seed=0).items()
    }
    config = train.TrainConfig(epochs=1, batch_size=4)
    data = SplitDatasets(sets, table.labels)
    ablation = run_ablation(encoders, data, config, ("fusion", "text_only"), train_text_layers=1,
                            progress=False, say=lambda _: None)
    # Fusion and text-only share the states of every split (test included), each review's once.
    assert sum(bottom_runs) == sum(len({tuple(ids) for ids in data.input_ids}) for data in sets.values())
    for mode, model in ablation.models.items():  # test predictions from the states: the whole encoder's
        whole = train.predict(model, sets["test"], config=config)
        torch.testing.assert_close(ablation.predictions[mode].probabilities, whole.probabilities, atol=1e-5,
                                   rtol=1e-5)


def test_the_disk_cache_serves_the_second_run_and_misses_for_other_layers(
    tmp_path, encoders, dataset, bottom_runs
):
    model_config = SentimentModelConfig(labels=LABELS, mode="text_only", train_text_layers=1)
    model = MultimodalSentimentModel(model_config, encoders)
    first = text_cache.encode_frozen_text(model, dataset, cache=FeatureCache(tmp_path))
    bottom_runs.clear()
    again = FeatureCache(tmp_path)  # what another process (or the next model) sees
    second = text_cache.encode_frozen_text(model, dataset, cache=again)
    assert bottom_runs == [] and again.hits == len(set(TEXTS)) and again.writes == 0
    assert torch.equal(first.states, second.states) and torch.equal(first.start, second.start)
    # Another frozen part (here: one more frozen layer) has another key and is encoded again.
    model_config = SentimentModelConfig(labels=LABELS, mode="text_only", train_text_layers=0)
    all_frozen = MultimodalSentimentModel(model_config, encoders)
    text_cache.encode_frozen_text(all_frozen, dataset, cache=again)
    assert sum(bottom_runs) == len(set(TEXTS))


def test_text_embeddings_second_call_encodes_nothing(tmp_path, encoders, monkeypatch):
    calls: list[int] = []
    real = features.text_features

    def counting(model, input_ids, attention_mask):
        calls.append(len(input_ids))
        return real(model, input_ids, attention_mask)

    monkeypatch.setattr(features, "text_features", counting)
    first = features.text_embeddings(encoders, TEXTS, batch_size=2, cache=FeatureCache(tmp_path))
    assert sum(calls) == len(set(TEXTS))
    calls.clear()
    again = FeatureCache(tmp_path)
    second = features.text_embeddings(encoders, TEXTS, batch_size=2, cache=again)
    assert calls == [] and again.hits == len(set(TEXTS))
    assert torch.equal(first, second)
    # Encoded afresh in batches of another size (other padding): equal up to float rounding.
    afresh = features.text_embeddings(encoders, TEXTS, cache=False)
    torch.testing.assert_close(first, afresh, rtol=1e-5, atol=1e-6)
    assert torch.equal(first[0], first[3])  # the same review, the same vector
    # A longer max_length changes no short review's ids: still served; a truncating one misses.
    calls.clear()
    features.text_embeddings(encoders, TEXTS, max_length=4, cache=again)
    assert sum(calls) == sum(len(encoders.tokenizer(t)["input_ids"]) > 4 for t in set(TEXTS))
