"""Notebook 10 (hearing the customer): checks for its exercises, and its quiz.

    from mmsent.exercises import nb10
    nb10.ex1.check(by_scenario, test_calls=test_calls, models=list(models))  # accuracy per scenario and model
    nb10.ex2.check(silence)                          # silence(tokens [T, D], shouted [T] bool) -> [T, D]
    nb10.ex3.check(gates, test_calls=test_calls)     # mean gate of the angry calls per transcript kind
    nb10.quiz

`test_calls` is the notebook's table of test calls, with one True/False column per model (right or
wrong) for exercise 1 and the attention model's `gate` for exercise 3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from mmsent.exercises.framework import Exercise, expect
from mmsent.exercises.quiz import quiz


def _check_by_scenario(by_scenario: pd.DataFrame, test_calls: pd.DataFrame, models: Sequence[str]) -> str:
    expect(isinstance(by_scenario, pd.DataFrame), "give a table: one row per scenario, one column per model")
    missing = [name for name in models if name not in by_scenario.columns]
    expect(not missing, f"your table has no column {missing}: one column of accuracy per model")
    expect(
        not [name for name in models if name not in test_calls],
        "test_calls needs one True/False column "
        "per model (its prediction is right), as the exercise's first lines add",
    )
    expected = test_calls.groupby("scenario")[list(models)].mean()
    given = by_scenario.reindex(expected.index)[list(models)]
    expect(not given.isna().any().any(), f"your table lacks scenarios: it needs {list(expected.index)}")
    if np.allclose(given, expected, atol=1e-6):
        worst = expected.min()
        return "accuracy per scenario; worst scenario per model: " + ", ".join(
            f"{name} {worst[name]:.2f}" for name in models
        )
    expect(
        not np.allclose(given, 100 * expected, atol=1e-4),
        "these are percentages: the exercise reads accuracies as shares in [0, 1] (drop the * 100)",
    )
    expect(
        not np.allclose(given, test_calls.groupby("scenario")[list(models)].sum(), atol=1e-6),
        "these are counts of right calls: take the mean per scenario, not the sum",
    )
    expect(
        False,
        "your accuracies are not the share of right calls per scenario: "
        "test_calls.groupby('scenario')[models].mean()",
    )
    return ""  # not reached


def _check_silence(silence: Callable) -> str:
    tokens = torch.arange(12.0).reshape(6, 2)  # 6 tokens of 2 numbers
    shouted = np.array([False, True, True, False, False, False])
    before = tokens.clone()
    result = silence(tokens, shouted)
    expect(result is not None, "your silence returns None: return the tokens with the shouted ones replaced")
    result = torch.as_tensor(result, dtype=torch.float32)
    expect(
        torch.equal(tokens, before),
        "your silence changed the tokens it was given: work on a copy "
        "(tokens.clone()), so the recorded call stays as it was",
    )
    expect(
        tuple(result.shape) == (6, 2), f"your result has shape {tuple(result.shape)}, not the tokens' (6, 2)"
    )
    calm = tokens[~torch.as_tensor(shouted)].mean(dim=0)
    expect(
        torch.equal(result[~torch.as_tensor(shouted)], tokens[~torch.as_tensor(shouted)]),
        "you changed tokens outside the shouted spans: only the shouted tokens are replaced",
    )
    if not torch.allclose(result[1], calm):
        expect(
            not torch.allclose(result[1], tokens.mean(dim=0)),
            "you replaced the shouting by the mean of "
            "ALL the call's tokens, shouting included: take the mean of the other tokens only",
        )
        expect(
            False,
            f"a shouted token should become the mean of the call's other tokens, {calm.tolist()}; "
            f"yours is {result[1].tolist()} (mean over the tokens: dim=0)",
        )
    return "each shouted token becomes the mean of the call's calm tokens; the rest is untouched"


def _check_gates(gates: Mapping, test_calls: pd.DataFrame) -> str:
    expect(
        "gate" in test_calls,
        "test_calls needs the attention model's `gate` column (the exercise's first cell adds it)",
    )
    gates = pd.Series(gates, dtype=float)
    angry = test_calls[test_calls["voice_state"] == "angry"].groupby("text_kind")["gate"].mean()
    missing = [kind for kind in angry.index if kind not in gates.index]
    expect(not missing, f"no gate for {missing}: one mean gate per transcript kind of the angry calls")
    if np.allclose(gates[angry.index], angry, atol=1e-6):
        return f"angry calls' mean gate by transcript: {angry.round(2).to_dict()}"
    every = test_calls.groupby("text_kind")["gate"].mean()
    expect(
        not np.allclose(gates[angry.index], every[angry.index], atol=1e-6),
        "these are the gates of every call: keep only the angry voices (voice_state == 'angry'), which "
        "are the calls with shouting to find",
    )
    expect(
        False,
        f"your mean gates {gates[angry.index].round(3).to_dict()} are not those of the angry calls "
        f"per transcript kind ({angry.round(3).to_dict()})",
    )
    return ""  # not reached


ex1 = Exercise(
    "Notebook 10, exercise 1 (who gets what wrong?)",
    _check_by_scenario,
    hints=(
        "For each model: test_calls[name] = (its test predictions == labels['test']).numpy().",
        "by_scenario = test_calls.groupby('scenario')[list(models)].mean()",
    ),
    solution_code="""
with torch.no_grad():
    for name, model in models.items():
        test_calls[name] = (forwards[name](model, features["test"]).argmax(dim=-1) == labels["test"]).numpy()
by_scenario = test_calls.groupby("scenario")[list(models)].mean()
""",
)

ex2 = Exercise(
    "Notebook 10, exercise 2 (silence the shouting)",
    _check_silence,
    hints=(
        "shouted is a True/False mask over the call's tokens (span_mask gives it); ~shouted are the calm "
        "ones.",
        "silenced = tokens.clone(); silenced[shouted] = tokens[~shouted].mean(dim=0)",
    ),
    solution_code="""
def silence(tokens, shouted):
    silenced = tokens.clone()
    silenced[shouted] = tokens[~shouted].mean(dim=0)
    return silenced
""",
)

ex3 = Exercise(
    "Notebook 10, exercise 3 (listen to the clear calls too)",
    _check_gates,
    hints=(
        "Keep the calls with voice_state == 'angry', then group them by text_kind.",
        "gates = test_calls[test_calls.voice_state == 'angry'].groupby('text_kind').gate.mean()",
    ),
    solution_code="""
gates = test_calls[test_calls.voice_state == "angry"].groupby("text_kind").gate.mean()
""",
)

quiz = quiz(
    "10 · Hearing the customer",
    (
        "Why does the notebook turn the waveform into a log-mel spectrogram first?",
        [
            (
                "It shows loudness, pitch and timbre over time as an image an encoder can read.",
                True,
                "A spectrogram is time on one axis and frequency on the other, in mel bands close to how we "
                "hear, on a log scale like loudness. Shouting is bright, high and wide there, so an encoder "
                "built like a vision encoder can turn it into tokens over time.",
            ),
            (
                "To compress the audio to a single number per call.",
                False,
                "It keeps time: 40 bands every 10 ms. The pooling into one vector comes later, in the "
                "encoder.",
            ),
            (
                "Because neural networks cannot read numbers in a waveform.",
                False,
                "They can (some models do), but a waveform of 48,000 samples hides what matters here; the "
                "spectrogram makes it visible and the model smaller.",
            ),
        ],
    ),
    (
        "The transcript alone scores 0.800 and the voice alone 0.813. What does fusion show?",
        [
            (
                "Each modality alone has a ceiling; fusion passes both because they fail on different calls.",
                True,
                "The text fails on ambiguous transcripts, the voice on unclear and contradicting ones. A "
                "model "
                "that reads both can take the right one for each call, which is why all three fusions pass "
                "both single ceilings by more than 8 points.",
            ),
            (
                "Fusion averages the two, so it should score about 0.81.",
                False,
                "Fusion is not an average of scores: it decides per call with both inputs at hand.",
            ),
            (
                "That audio is the better modality.",
                False,
                "The voice's slightly higher score hides its own failures (contradicting calls); neither "
                "modality is better everywhere.",
            ),
        ],
    ),
    (
        "The cross-modal attention layer of notebook 05 is reused unchanged for audio. Why does that work?",
        [
            (
                "Attention needs only a query and a set of keys; audio tokens over time are keys like "
                "patches.",
                True,
                "The layer never knows what its keys are: photo patches in space or audio tokens in time. "
                "The "
                "transcript asks, the tokens answer, and the weights say where in the call it listened.",
            ),
            (
                "Because audio was converted to an image, the layer sees a photo.",
                False,
                "The encoder's tokens are a sequence over time, not a photo; the layer works on any set of "
                "vectors.",
            ),
            (
                "It does not: the notebook retrains a different layer.",
                False,
                "The notebook uses notebook 05's layer unchanged and checks it against the package's "
                "CallAttentionModel.",
            ),
        ],
    ),
    (
        "The attention peaks on the shouting. Silencing the shouted tokens stops the escalations; silencing "
        "as many random tokens does not. What does this add to the lift?",
        [
            (
                "It shows the prediction depends on what the attention points at, not only that it points "
                "there.",
                True,
                "The lift reads the map; silencing reads the decision. Together they make the case that the "
                "model listens where the customer shouts and acts on it, which notebook 07 could not show "
                "for "
                "the photos.",
            ),
            (
                "Nothing: both measure the same thing.",
                False,
                "A map can point at something the decision ignores, as notebook 07 found; the occlusion test "
                "asks a different question.",
            ),
            (
                "It proves the gate is closed.",
                False,
                "For ambiguous transcripts the gate is nearly open; that is why the voice decides those "
                "calls.",
            ),
        ],
    ),
)
