"""Grading what the models say against the generator's truth.

- questions: exact match of the generated answer, per question type;
- captions: product accuracy, state accuracy (damaged or not) and the **hallucination rate**, the
  share of captions that mention something the photo does not have (a product, a damage kind or a
  side that is not the truth's), CHAIR-style, decided word by word from the generator's truth.
  Graded captions are greedy. The same scores for beam-search captions (`CAPTION_BEAMS` beams, as
  BLIP writes its captions) are reported beside them: fewer captions name a wrong thing, but some
  of that is bought by calling a damaged product "intact", which names nothing and so is no
  hallucination by this count, yet is false: the state accuracy shows it;
- where the damage words look: when a caption names the photo's true damage ("crack", "burn",
  "dent"), the attention of the position that chose that word over the patches, and its **lift** on
  the true damage mask (`mmsent.analysis.attention_lift.attention_lift`: 1 = no preference, 3 = three times
  more attention on the damage than its area).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from mmsent.analysis.attention_lift import attention_lift
from mmsent.data.synth import PRODUCT_NOUNS, PRODUCTS
from mmsent.vlm.generate import Generated, beam_search, generate
from mmsent.vlm.model import VisionLanguageModel
from mmsent.vlm.text import CAPTION_PROMPT, DAMAGE_WORDS, QUESTION_TYPES, Example
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.truth import SIDES, Photo, PhotoTruth
from mmsent.vlm.vision import PhotoInputs

LOOK_WORDS: tuple[str, ...] = ("crack", "burn", "dent")  # damage words with a mask to look at
CAPTION_BEAMS = 3  # beams of the beam-search captions reported beside the greedy ones
_PRODUCT_WORD = {product: PRODUCT_NOUNS[product].split()[-1] for product in PRODUCTS}


def grade_answers(items: list[Example], answer: Callable[[str, list[int]], list[str]]) -> dict[str, float]:
    """Exact-match accuracy per question type of any model: `answer(prompt, photo rows)` returns one
    answer per row (the course's models, or a real open VLM's normalised answers)."""
    by_prompt: dict[str, list[Example]] = defaultdict(list)
    for item in items:
        if item.task != "caption":
            by_prompt[item.prompt].append(item)
    right, total = defaultdict(int), defaultdict(int)
    for prompt, group in by_prompt.items():
        said = answer(prompt, [item.photo for item in group])
        for item, reply in zip(group, said, strict=True):
            right[item.task] += reply == item.answer
            total[item.task] += 1
    return {task: right[task] / total[task] for task in QUESTION_TYPES if total[task]}


def answer_accuracy(model: VisionLanguageModel, tokenizer: WordTokenizer, items: list[Example],
                    photos: PhotoInputs) -> dict[str, float]:
    """Exact-match accuracy per question type (greedy answers); `photos`: every photo's inputs
    (`mmsent.vlm.vision.photo_inputs`), indexed by each question's `photo`."""
    def answer(prompt: str, rows: list[int]) -> list[str]:
        return generate(model, tokenizer, prompt, model.photos_of(photos, rows), batch=len(rows)).texts

    return grade_answers(items, answer)


def caption_facts(text: str) -> PhotoTruth:
    """What a caption claims: the product, damage kind and side it names ("" where it names none)."""
    words = text.split()
    product = next((p for p in PRODUCTS if _PRODUCT_WORD[p] in words), "")
    damage = next((kind for kind, word in DAMAGE_WORDS.items() if word in words), "")
    side = next((side for side in SIDES if side in words), "")
    return PhotoTruth(product, damage, side)


def hallucinates(said: PhotoTruth, truth: PhotoTruth) -> bool:
    """True when a caption names a product, damage or side that the photo does not have."""
    return any(claim and claim != real for claim, real in
               ((said.product, truth.product), (said.damage, truth.damage), (said.side, truth.side)))


def caption_scores(model: VisionLanguageModel, tokenizer: WordTokenizer, photos: list[Photo],
                   inputs: PhotoInputs, beams: int = 1, lift: bool = True) -> dict:
    """Caption every photo (greedy; beam search with `beams` beams if more than 1) and grade it. Returns
    product_accuracy, state_accuracy, hallucination_rate, captions, and (if `lift`) lift: the mean
    attention lift per damage word, over the photos whose caption names their true damage."""
    rows = list(range(len(photos)))
    tokens = model.photos_of(inputs, rows)
    if beams == 1:
        generated = generate(model, tokenizer, CAPTION_PROMPT, tokens, batch=len(rows))
    else:
        generated = beam_search(model, tokenizer, CAPTION_PROMPT, tokens, batch=len(rows), beams=beams)
    claims = [caption_facts(text) for text in generated.texts]
    pairs = list(zip(claims, [photo.truth for photo in photos], strict=True))
    scores = {
        "product_accuracy": float(np.mean([c.product == t.product for c, t in pairs])),
        "state_accuracy": float(np.mean([bool(c.damage) == t.damaged for c, t in pairs])),
        "hallucination_rate": float(np.mean([hallucinates(c, t) for c, t in pairs])),
    }
    if lift:
        scores["lift"] = _damage_word_lifts(generated, photos, claims, tokenizer)
    return {**scores, "captions": generated.texts}


def _damage_word_lifts(generated: Generated, photos: list[Photo], claims: list[PhotoTruth],
                       tokenizer: WordTokenizer) -> dict[str, float]:
    """Mean attention lift on the damage mask of each damage word, where a caption names its photo's
    true damage (empty for the blind model, which looks nowhere)."""
    lifts: dict[str, list[float]] = defaultdict(list)
    if generated.looks is not None:
        for row, (photo, claim) in enumerate(zip(photos, claims, strict=True)):
            word = DAMAGE_WORDS.get(photo.truth.damage, "")
            named = word in LOOK_WORDS and claim.damage == photo.truth.damage
            if named and photo.mask is not None and photo.mask.any():
                step = generated.token_ids[row].tolist().index(tokenizer.ids[word])
                lifts[word].append(attention_lift(generated.looks[row, step].numpy(), photo.mask))
    return {word: float(np.mean(values)) for word, values in sorted(lifts.items())}


def evaluate_vlm(model: VisionLanguageModel, tokenizer: WordTokenizer, photos: list[Photo],
                 items: list[Example], inputs: PhotoInputs) -> dict:
    """One row of the evaluation table: accuracy per question type + the (greedy) caption scores (no
    captions), and beam_search: the state accuracy and hallucination rate of beam-search captions."""
    captions = caption_scores(model, tokenizer, photos, inputs)
    captions.pop("captions")
    beam = caption_scores(model, tokenizer, photos, inputs, beams=CAPTION_BEAMS, lift=False)
    return {"answers": answer_accuracy(model, tokenizer, items, inputs), **captions,
            "beam_search": {key: beam[key] for key in ("state_accuracy", "hallucination_rate")}}
