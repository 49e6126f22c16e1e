"""Notebook 09 (models that talk about pictures): checks for its exercises, and its quiz.

    from mmsent.exercises import nb09
    nb09.ex1.check(rates)                         # {"greedy": r, "T = 0.5": r, "T = 1.0": r, "T = 2.0": r}
    nb09.ex2.check(blind, ceilings=ceilings)      # the blind model's accuracy per question type
    nb09.ex3.check(gates, model=flamingo)         # [(tanh(gate_attention), tanh(gate_mlp)) per layer]
    nb09.ex3_2.check(after, ceilings=ceilings, model=flamingo)  # 'is it damaged?' with the gates closed
    nb09.quiz

The checks read the learner's numbers and the notebook's objects; they generate nothing.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from mmsent.exercises.framework import Exercise, expect
from mmsent.exercises.quiz import quiz

TEMPERATURES = (0.5, 1.0, 2.0)


def _temperature(key: object) -> float | None:
    """'T = 0.5', 0.5 or 't0.5' -> 0.5; 'greedy' -> None."""
    found = re.search(r"\d+(\.\d+)?", str(key))
    return float(found.group()) if found else None


def _check_rates(rates: Mapping) -> str:
    expect(isinstance(rates, Mapping), "give a dictionary: {'greedy': rate, 'T = 0.5': rate, ...}")
    greedy = [value for key, value in rates.items() if _temperature(key) is None]
    expect(
        len(greedy) == 1, "your rates need one entry without a temperature: the greedy captions ('greedy')"
    )
    by_t = {_temperature(key): float(value) for key, value in rates.items() if _temperature(key) is not None}
    missing = [t for t in TEMPERATURES if t not in by_t]
    expect(not missing, f"no rate for temperature {missing}: the exercise samples at {list(TEMPERATURES)}")
    values = [float(greedy[0]), *by_t.values()]
    expect(
        all(0 <= v <= 1 for v in values),
        f"a hallucination rate is a share of captions, in [0, 1]; yours are {np.round(values, 3).tolist()}",
    )
    expect(
        len(set(values)) > 1,
        "every rate is the same: without temperature= (and a seed) generate decodes "
        "greedily, so every run writes the same captions",
    )
    expect(
        by_t[2.0] > float(greedy[0]),
        f"at temperature 2.0 your captions hallucinate less ({by_t[2.0]:.3f}) "
        f"than greedy ones ({float(greedy[0]):.3f}): is each rate computed on its own captions?",
    )
    return (
        f"greedy {float(greedy[0]):.3f}, temperature 2.0 {by_t[2.0]:.3f}: the hotter, the more hallucinations"
    )


def _check_blind(blind: Mapping, ceilings: Mapping) -> str:
    expect(
        isinstance(blind, Mapping),
        "give the blind model's accuracy per question type, a dictionary as answer_accuracy returns",
    )
    missing = [task for task in ceilings if task not in blind]
    expect(not missing, f"no accuracy for {missing}: score every question type (answer_accuracy does)")
    for task, ceiling in ceilings.items():
        expect(0 <= blind[task] <= 1, f"accuracy for {task} is {blind[task]}: a share, in [0, 1]")
        expect(
            blind[task] <= ceiling + 1e-9,
            f"your blind accuracy for {task} ({blind[task]:.3f}) beats the "
            f"blind ceiling ({ceiling:.3f}), which no model without the photo can: did you score "
            "models['blind'], on the held-out items the ceilings were computed on?",
        )
    gaps = {task: round(ceilings[task] - blind[task], 3) for task in ceilings}
    return f"at or below every blind ceiling (gaps {gaps}): words alone cannot do better"


def _check_gates(gates: Sequence, model: nn.Module) -> str:
    layers = list(model.cross)
    expect(
        len(gates) == len(layers),
        f"you give {len(gates)} layers, the model has {len(layers)} cross-attention layers (model.cross)",
    )
    raw = np.array([[layer.gate_attention.item(), layer.gate_mlp.item()] for layer in layers])
    given = np.asarray(gates, dtype=float).reshape(raw.shape)
    expected = np.tanh(raw)
    if not np.allclose(given, expected, atol=2e-3):
        expect(
            not np.allclose(given, raw, atol=2e-3),
            "these are the raw gate parameters: the layer multiplies "
            "by tanh(gate), so read torch.tanh(layer.gate_attention)",
        )
        expect(
            False,
            f"your gates {given.round(3).tolist()} are not the model's tanh(gate) values: read "
            "(tanh(layer.gate_attention), tanh(layer.gate_mlp)) for each layer of model.cross",
        )
    opened = np.abs(expected[:, 0]).max()
    return f"the attention gates opened to {opened:.2f} at most: training let the photo in"


ex1 = Exercise(
    "Notebook 09, exercise 1 (sampling and hallucination)",
    _check_rates,
    hints=(
        "generate(models['llava'], tokenizer, 'describe the photo .', tokens, temperature=t, seed=0).texts",
        "A caption's rate: hallucinates(caption_facts(text), photo.truth); average over the photos.",
    ),
    solution_code="""
def hallucination_rate(texts):
    truths = [photo.truth for photo in heldout_photos]
    return float(np.mean([hallucinates(caption_facts(t), truth) for t, truth in zip(texts, truths)]))

describe = "describe the photo ."
rates = {"greedy": hallucination_rate(generate(models["llava"], tokenizer, describe, heldout_inputs).texts)}
for temperature in (0.5, 1.0, 2.0):
    texts = generate(models["llava"], tokenizer, describe, heldout_inputs, temperature=temperature,
                     seed=0).texts
    rates[f"T = {temperature}"] = hallucination_rate(texts)
""",
)

ex2 = Exercise(
    "Notebook 09, exercise 2 (what does the blind model say?)",
    _check_blind,
    hints=(
        "answer_accuracy(models['blind'], tokenizer, heldout_items, heldout_inputs) scores every question "
        "type.",
        "The blind model reads no photo, so whatever tokens you pass, it answers each question string alike.",
    ),
    solution_code="""
blind = answer_accuracy(models["blind"], tokenizer, heldout_items, heldout_inputs)
""",
)

ex3 = Exercise(
    "Notebook 09, exercise 3 (open the gates)",
    _check_gates,
    hints=(
        "The Flamingo-style model's layers are models['flamingo'].cross; each has gate_attention and "
        "gate_mlp.",
        "What the layer multiplies by is torch.tanh(layer.gate_attention).item().",
    ),
    solution_code="""
gates = [(torch.tanh(layer.gate_attention).item(), torch.tanh(layer.gate_mlp).item())
         for layer in models["flamingo"].cross]
""",
)

def _check_closed_gates(after: float, ceilings: Mapping, model: nn.Module) -> str:
    expect(isinstance(after, numbers.Real), f"you passed a {type(after).__name__}; pass one number, the "
           "accuracy on 'is it damaged?' (answer_accuracy(...)['damaged']) with the attention gates closed")
    expect(0 <= after <= 1, f"{after} is not a share: give the accuracy between 0 and 1")
    opened = [torch.tanh(layer.gate_attention.detach()).item() for layer in model.cross]
    expect(any(abs(gate) > 1e-6 for gate in opened),
           "the attention gates of models['flamingo'] itself are closed: close them on a fresh copy "
           "(VisionLanguageModel.from_pretrained(VLM_DIR / 'flamingo')), so the notebook's model stays as "
           "trained")
    ceiling = ceilings["damaged"]
    expect(after <= ceiling + 1e-9,
           f"{after:.3f} beats the blind ceiling of 'is it damaged?' ({ceiling:.3f}): the photo still gets "
           "in; zero gate_attention (not gate_mlp) in every layer of model.cross before answering")
    return (f"{after:.3f}, at or below the blind ceiling ({ceiling:.3f}): with its attention gates shut the "
            "decoder no longer sees the photo")


ex3_2 = Exercise(
    "Notebook 09, exercise 3, second part (close the gates)",
    _check_closed_gates,
    hints=(
        "Load a second copy of the model, then in torch.no_grad(): layer.gate_attention.zero_() for each "
        "layer of closed.cross.",
        "answer_accuracy(closed, tokenizer, heldout_items, heldout_inputs)['damaged'] measures 'is it "
        "damaged?' again, on the held-out photos the ceilings were computed on.",
    ),
    solution_code="""
closed = VisionLanguageModel.from_pretrained(VLM_DIR / "flamingo")
with torch.no_grad():
    for layer in closed.cross:
        layer.gate_attention.zero_()
after = answer_accuracy(closed, tokenizer, items, tokens)["damaged"]
""",
)


quiz = quiz(
    "09 · Models that talk about pictures",
    (
        "What is the difference between the LLaVA-style and the Flamingo-style model?",
        [
            (
                "LLaVA prepends projected patch tokens as words; Flamingo lets the text attend to the "
                "patches "
                "through gated cross-attention.",
                True,
                "Both are language models that read the photo. LLaVA changes the input (the photo becomes a "
                "prefix of 'words'); Flamingo changes the layers (new cross-attention blocks whose tanh "
                "gates "
                "start closed, so the language model starts unchanged).",
            ),
            (
                "LLaVA sees the photo, Flamingo does not.",
                False,
                "Both see it; the blind model is the one without the photo.",
            ),
            (
                "Flamingo writes captions, LLaVA only answers questions.",
                False,
                "Both do both: the task is in the prompt, the architecture only decides how the photo gets "
                "in.",
            ),
        ],
    ),
    (
        "Why does the notebook compare every model with a blind baseline and the blind ceiling?",
        [
            (
                "To separate what the photo adds from what the language prior alone gets right.",
                True,
                "A fluent answer can come from the words alone (the most common answer to each question). "
                "The blind ceiling is "
                "the best any model without the photo can score, so only accuracy above it shows the model "
                "reads the photo.",
            ),
            (
                "Because the blind model is the best model.",
                False,
                "It is the weakest by design: it answers each question string the same way every time.",
            ),
            (
                "To measure the speed of decoding.",
                False,
                "The comparison is about accuracy per question type, not time.",
            ),
        ],
    ),
    (
        "A caption says 'a phone with a crack on the left'; the photo shows a crack on the right. How does "
        "the notebook count it?",
        [
            (
                "As a hallucination: a claim the photo's truth contradicts.",
                True,
                "The generator knows each photo's truth, so every claim of a caption (product, state, "
                "damage, "
                "side) is checked word by word; one false claim makes the caption hallucinate.",
            ),
            (
                "As correct, because the damage is named.",
                False,
                "Naming the right damage on the wrong side is still a false statement about the photo; the "
                "grading is per claim.",
            ),
            (
                "It cannot be graded without a human.",
                False,
                "With synthetic photos the truth is known exactly, which is what makes automatic grading "
                "possible here.",
            ),
        ],
    ),
    (
        "Sampling at a high temperature instead of greedy decoding: what happens to hallucination?",
        [
            (
                "It rises: a flatter distribution gives wrong words more chances.",
                True,
                "The temperature divides the logits before the softmax; above 1 it flattens the "
                "distribution, "
                "so less likely, often false, words are drawn more often. Variety is paid for in truth.",
            ),
            (
                "It falls, because sampling explores more.",
                False,
                "Exploring means drawing less likely words, and for a well-trained model the most likely "
                "word "
                "is usually the true one.",
            ),
            (
                "Nothing changes: the temperature only affects speed.",
                False,
                "It changes which words are chosen, and exercise 1 measures the effect.",
            ),
        ],
    ),
)
