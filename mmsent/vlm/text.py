"""Text about a photo with known answers: one caption and five kinds of question per photo.

Caption: "an intact mug", "a mug with a crack on the left", "a watch in a torn box".
Questions (type: question -> answer), each answer one word:
    damaged:  "is it damaged ?"            -> yes / no        (every photo; half are damaged)
    product:  "what is it ?"               -> phone / ... / watch
    kind:     "what is the damage ?"       -> crack / burn / dent / torn   (damaged photos)
    has_kind: "is there a burn ?"          -> yes / no        (damaged photos; the true kind half the time)
    where:    "where is the damage ?"      -> left / right    (crack, burn, dent: the mask's side)
Colour and counting are left out: the generator picks colours from an unnamed palette and draws
one product per photo, so it knows no colour name and there is nothing to count.

A model that ignores the photo can at best answer each question string with its most common
answer: `blind_ceilings` computes that ceiling per type, on the very set being graded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from mmsent.data.synth import PRODUCT_NOUNS, PRODUCTS
from mmsent.vlm.truth import DAMAGES, SIDES, PhotoTruth

CAPTION_PROMPT = "describe the photo ."
QUESTION_TYPES: tuple[str, ...] = ("damaged", "product", "kind", "has_kind", "where")
DAMAGE_WORDS: dict[str, str] = {"crack": "crack", "burn": "burn", "dent": "dent", "torn_box": "torn"}
_KIND_NOUNS: dict[str, str] = {"crack": "crack", "burn": "burn", "dent": "dent", "torn_box": "torn box"}


@dataclass(frozen=True)
class Example:
    """One training or test sequence: a prompt and its answer, about photo number `photo`."""

    photo: int
    task: str  # "caption" or one of QUESTION_TYPES
    prompt: str
    answer: str


def _article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def caption(truth: PhotoTruth) -> str:
    """The true caption of a photo: product, state, damage kind and side."""
    noun = PRODUCT_NOUNS[truth.product]
    if not truth.damaged:
        return _article(f"intact {noun}")
    if truth.damage == "torn_box":
        return f"{_article(noun)} in a torn box"
    where = f" on the {truth.side}" if truth.side else ""
    return f"{_article(noun)} with {_article(truth.damage)}{where}"


def questions(truth: PhotoTruth, photo: int, rng: np.random.Generator) -> list[Example]:
    """The questions one photo can answer (see the module docstring), with their answers."""
    asked = [Example(photo, "damaged", "is it damaged ?", "yes" if truth.damaged else "no"),
             Example(photo, "product", "what is it ?", truth.product)]
    if truth.damaged:
        asked.append(Example(photo, "kind", "what is the damage ?", DAMAGE_WORDS[truth.damage]))
        others = [kind for kind in DAMAGES if kind != truth.damage]
        probe = truth.damage if rng.random() < 0.5 else others[int(rng.integers(len(others)))]
        asked.append(Example(photo, "has_kind", f"is there {_article(_KIND_NOUNS[probe])} ?",
                             "yes" if probe == truth.damage else "no"))
    if truth.side:
        asked.append(Example(photo, "where", "where is the damage ?", truth.side))
    return asked


def examples(truths: list[PhotoTruth], seed: int) -> list[Example]:
    """Every photo's caption and questions, in photo order (deterministic from `seed`)."""
    rng = np.random.default_rng(seed)
    out = []
    for index, truth in enumerate(truths):
        out.append(Example(index, "caption", CAPTION_PROMPT, caption(truth)))
        out.extend(questions(truth, index, rng))
    return out


def blind_ceilings(items: list[Example]) -> dict[str, float]:
    """Per question type, the best exact match a model that sees only the question can reach.

    For each question string the blind model can at best always give its most common answer, so the
    ceiling is sum over question strings of (count of that answer) / number of questions.
    """
    answers: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for item in items:
        if item.task != "caption":
            answers[item.task][item.prompt][item.answer] += 1
    ceilings = {}
    for task, by_prompt in answers.items():
        best = sum(max(counter.values()) for counter in by_prompt.values())
        ceilings[task] = best / sum(sum(counter.values()) for counter in by_prompt.values())
    return {task: ceilings[task] for task in QUESTION_TYPES if task in ceilings}


def all_words() -> list[str]:
    """Every word a prompt, caption or answer can use (the closed vocabulary), sorted."""
    words = set(CAPTION_PROMPT.split()) | {"yes", "no", "in", "a", "an", "box", "with", "on", "the"}
    words |= {"is", "it", "damaged", "?", "what", "there", "where", "intact", *SIDES, *PRODUCTS}
    words |= {"damage", *DAMAGE_WORDS.values()}
    for noun in PRODUCT_NOUNS.values():
        words |= set(noun.split())
    return sorted(words)
