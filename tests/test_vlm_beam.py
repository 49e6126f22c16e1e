"""Beam search (`mmsent.vlm.generate.beam_search`), the decoder the captions are graded with: it finds
the most likely whole sentence, one beam is greedy decoding, and where the words looked is read right."""

from __future__ import annotations

import itertools

import pytest
import torch

from mmsent.vlm.evaluate import caption_scores
from mmsent.vlm.generate import beam_search, generate
from mmsent.vlm.model import VisionLanguageModel, VLMConfig
from mmsent.vlm.text import CAPTION_PROMPT
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.truth import make_photos

TOKENIZER = WordTokenizer()


def tiny(kind: str, seed: int) -> VisionLanguageModel:
    torch.manual_seed(seed)
    config = VLMConfig(kind=kind, vocab_size=len(TOKENIZER), dim=32, layers=1, heads=2, detail_width=0)
    model = VisionLanguageModel(config).eval()
    with torch.no_grad():  # sharper next-word distributions than a fresh model's near-uniform ones
        model.head.weight.mul_(40)
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_enough_beams_find_the_most_likely_sentence(seed):
    """With a beam for every two-word sentence, beam search is exhaustive: its answer is what a brute
    force over every sentence of at most two words finds (a sentence ends at <eos>; its score is the
    sum of its words' log-probabilities, <eos> included)."""
    model = tiny("blind", seed)
    prompt = TOKENIZER.prompt_ids(CAPTION_PROMPT)
    vocab, eos = len(TOKENIZER), TOKENIZER.eos_id
    with torch.no_grad():
        first = model(torch.tensor([prompt])).logits[0, -1].log_softmax(-1)  # [V]
        then = torch.tensor([prompt + [word] for word in range(vocab)])
        second = model(then).logits[:, -1].log_softmax(-1)  # [V, V]: row = the first word
    scores = {(w,): first[w].item() for w in range(vocab) if w == eos}
    scores |= {(w, v): first[w].item() + second[w, v].item()
               for w, v in itertools.product(range(vocab), repeat=2) if w != eos}
    best = max(scores, key=scores.get)
    found = beam_search(model, TOKENIZER, CAPTION_PROMPT, None, batch=1, beams=vocab * vocab,
                        max_new_tokens=2)
    assert found.texts == [TOKENIZER.decode(list(best))]


@pytest.mark.parametrize("kind", ["llava", "flamingo"])
def test_one_beam_is_greedy_and_looks_are_those_of_the_written_words(kind):
    model = tiny(kind, 3)
    states = torch.randn(5, 65, 128)
    greedy = generate(model, TOKENIZER, CAPTION_PROMPT, states, max_new_tokens=6)
    beam = beam_search(model, TOKENIZER, CAPTION_PROMPT, states, beams=1, max_new_tokens=6)
    assert beam.texts == greedy.texts
    written = min(beam.token_ids.shape[1], greedy.token_ids.shape[1])
    assert torch.equal(beam.token_ids[:, :written], greedy.token_ids[:, :written])
    assert torch.allclose(beam.looks[:, :written], greedy.looks[:, :written], atol=1e-5)
    three = beam_search(model, TOKENIZER, CAPTION_PROMPT, states, beams=3, max_new_tokens=6)
    assert len(three.texts) == 5 and three.looks.shape[:2] == three.token_ids.shape
    assert torch.allclose(three.looks.sum(-1), torch.ones(three.looks.shape[:2]), atol=1e-5)


def test_beams_must_be_positive():
    with pytest.raises(ValueError, match="beams"):
        beam_search(tiny("blind", 0), TOKENIZER, CAPTION_PROMPT, None, beams=0)


def test_caption_scores_without_lift_grade_the_same_captions():
    """The beam-search column of the table grades captions without their attention lifts; the scores
    it keeps are the ones computed with them."""
    model, photos = tiny("llava", 4), make_photos(8, seed=5)
    states = torch.randn(len(photos), 65, 128)
    with_lift = caption_scores(model, TOKENIZER, photos, states, beams=2)
    without = caption_scores(model, TOKENIZER, photos, states, beams=2, lift=False)
    assert "lift" in with_lift and "lift" not in without
    assert without == {key: value for key, value in with_lift.items() if key != "lift"}
    assert VLMConfig(kind="llava").reads_photos and not VLMConfig(kind="blind").reads_photos
