"""Notebook 07 (reading the attention): checks for its exercises, and its quiz.

    from mmsent.exercises import nb07
    nb07.ex1.check(heads, heat_map=result.attention[row])   # heads [heads, patches] of one review
    nb07.ex2.check(grey_out, side=side)                     # grey_out(image, patches) -> PIL image
    nb07.ex3.check(gates, reviews=reviews)                  # mean gate per clear scenario
    nb07.ex4_1.check(reading, table=image_only_table)  # {"beat random": [...], ...}: method names
    nb07.ex4_2.check(hidden_for_insertion)                  # (order, count) -> the patches to grey
    nb07.quiz

Every check runs on small inputs it builds itself (or on the notebook's own table), in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from mmsent.exercises.framework import Exercise, Mistake, expect
from mmsent.exercises.quiz import quiz

CLEAR = ("clear_matching", "clear_contradicting", "clear_generic")
PHOTO, GREY = 128, 128  # the exercise's photo side (pixels) and the grey value
RANDOM = "random"  # the yardstick among the explanation methods
# exercise 4.1's questions, each with the column of the explanation scores that answers it
READINGS = {"beat random": "AUC below random", "survive head re-init": "rank corr. head re-init"}


def _check_heads(heads: object, heat_map: Sequence[float]) -> str:
    heads, heat_map = (np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)
                       for x in (heads, heat_map))  # tensors on any device, or arrays
    expect(
        heads.ndim != 1,
        "that is one map (the heads' mean, the heat map): take `head_weights`, "
        "[batch, heads, patches], and its row for the review: cross.head_weights[0]",
    )
    expect(
        heads.ndim == 2,
        f"your heads have shape {heads.shape}; one review's are [heads, patches]: "
        "drop the batch axis (cross.head_weights[0])",
    )
    expect(
        heads.shape[1] == heat_map.shape[-1],
        f"your heads have {heads.shape[1]} columns, the photo has "
        f"{heat_map.shape[-1]} patches: are the axes swapped?",
    )
    expect(
        np.allclose(heads.sum(axis=1), 1, atol=1e-2),
        "each head's weights must sum to 1 over the patches; "
        f"yours sum to {np.round(heads.sum(axis=1), 3).tolist()}",
    )
    expect(
        np.allclose(heads.mean(axis=0), heat_map, rtol=0.1, atol=2e-3),  # bfloat16 on a GPU
        "the mean of your heads is not the review's "
        "heat map: is it review r00051's row, with the model in eval mode?",
    )
    return (
        f"{len(heads)} heads, each a distribution over {heads.shape[1]} patches; their mean is the heat map"
    )


def _check_grey_out(grey_out: Callable, side: int = 8) -> str:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 100, (PHOTO, PHOTO, 3), dtype=np.uint8)  # no pixel is grey yet
    from PIL import Image

    image = Image.fromarray(pixels)
    patches = [0, side + 2, side * side - 1]  # the corner, row 1 column 2, the last patch
    result = grey_out(image, patches)
    expect(result is not None, "your grey_out returns None: return the greyed copy (Image.fromarray(pixels))")
    out = np.asarray(result)
    expect(out.shape == pixels.shape, f"your image has shape {out.shape}, not the photo's {pixels.shape}")
    expect(
        np.array_equal(np.asarray(image), pixels),
        "your grey_out changed the photo it was given: work on a copy (np.asarray(image).copy())",
    )
    block = PHOTO // side
    expected = pixels.copy()
    for patch in patches:
        r, c = divmod(patch, side)
        expected[r * block : (r + 1) * block, c * block : (c + 1) * block] = GREY
    if not np.array_equal(out, expected):
        swapped = pixels.copy()
        for patch in patches:
            c, r = divmod(patch, side)
            swapped[r * block : (r + 1) * block, c * block : (c + 1) * block] = GREY
        expect(
            not np.array_equal(out, swapped),
            "you swapped rows and columns: patch p is in row p // side "
            "and column p % side (patches are numbered row by row)",
        )
        grey = (out == GREY).all(axis=-1).mean()
        expect(
            False,
            f"{grey:.1%} of your photo is grey; greying {len(patches)} of {side * side} patches greys "
            f"{len(patches) / side**2:.1%}: each patch is a {block} x {block} block at (row * {block}, "
            f"column * {block})",
        )
    return f"exactly the {len(patches)} patches are grey, the rest and the original photo untouched"


def _check_gates(gates: Mapping, reviews: pd.DataFrame) -> str:
    expect(
        not np.isscalar(gates),
        "that is one number: compute the mean gate per scenario (groupby('scenario')['gate'].mean())",
    )
    gates = pd.Series(gates, dtype=float)
    missing = [scenario for scenario in CLEAR if scenario not in gates.index]
    expect(not missing, f"no gate for {missing}: the exercise compares the clear scenarios {list(CLEAR)}")
    grouped = reviews[reviews["scenario"].isin(CLEAR)].groupby("scenario")["gate"]
    for scenario in CLEAR:
        if np.isclose(gates[scenario], grouped.mean()[scenario], atol=1e-4):
            continue
        expect(
            not np.isclose(gates[scenario], grouped.median()[scenario], atol=1e-4),
            f"your {scenario} gate is the median; the exercise compares means",
        )
        expect(
            False,
            f"your mean gate for {scenario} is {gates[scenario]:.3f}, the reviews' is "
            f"{grouped.mean()[scenario]:.3f}: average the `gate` column of that scenario's reviews",
        )
    spread = gates[list(CLEAR)].max() - gates[list(CLEAR)].min()
    return f"mean gates {gates[list(CLEAR)].round(3).to_dict()}: they differ by {spread:.3f}"


def _check_insertion(hidden_for_insertion: Callable) -> str:
    order = np.array([5, 2, 7, 0, 1, 3, 6, 4])  # a map's patches, most important first
    for count in (0, 3, 8):
        hidden = hidden_for_insertion(order, count)
        expect(hidden is not None, "your function returns None: return the patches to grey")
        hidden = sorted(int(p) for p in hidden)
        if hidden == sorted(order[count:].tolist()):
            continue
        expect(
            hidden != sorted(order[:count].tolist()),
            "you grey the top patches: that is deletion; "
            "insertion reveals the top `count` patches and greys all the others",
        )
        expect(
            False,
            f"to reveal the top {count} of {order.tolist()} grey {sorted(order[count:].tolist())}, "
            f"not {hidden}",
        )
    return "the top patches stay visible, every other patch is greyed"


ex1 = Exercise(
    "Notebook 07, exercise 1 (one head at a time)",
    _check_heads,
    hints=(
        "model.cross_attention(query, patch_tokens, image_present) returns head_weights: "
        "[batch, heads, patches].",
        "With one review in the batch, heads = cross.head_weights[0].cpu().numpy(); plot each row with "
        "viz.show_attention.",
    ),
    solution_code="""
with torch.no_grad():
    tokens = encoders.tokenizer([reviews["text"].iloc[row]], return_tensors="pt").to(device)
    photo = features["test"].batch(torch.tensor([row]), device)
    query = text_features(model.text_model, tokens["input_ids"], tokens["attention_mask"])
    cross = model.cross_attention(query, photo["patch_tokens"], photo["image_present"])
heads = cross.head_weights[0].cpu().numpy()  # [heads, patches]
""",
)

ex2 = Exercise(
    "Notebook 07, exercise 2 (cover what it looks at)",
    _check_grey_out,
    hints=(
        "Patches are numbered row by row over a side x side grid: patch p is row p // side, column p % side.",
        "Copy the pixels (np.asarray(image).copy()), paint each block 128, return Image.fromarray(pixels).",
    ),
    solution_code="""
def grey_out(image, patches):
    pixels = np.asarray(image).copy()
    height, width = pixels.shape[:2]
    for patch in patches:
        r, c = divmod(int(patch), side)
        pixels[r * height // side:(r + 1) * height // side, c * width // side:(c + 1) * width // side] = 128
    return Image.fromarray(pixels)
""",
)

ex3 = Exercise(
    "Notebook 07, exercise 3 (the gate and contradicting photos)",
    _check_gates,
    hints=(
        "Keep the reviews of the three clear scenarios, then group them by `scenario`.",
        "gates = clear.groupby('scenario')['gate'].mean(); compare clear_contradicting with clear_matching.",
    ),
    solution_code="""
clear = reviews[reviews["scenario"].isin(["clear_matching", "clear_contradicting", "clear_generic"])]
gates = clear.groupby("scenario")["gate"].mean()
""",
)

SURVIVES = 0.5  # a map survives a re-initialisation if its ranking keeps this rank correlation with before


def _named_methods(answer: Mapping, key: str, expected: set[str], measure: str) -> set[str]:
    """The learner's methods under `key`, checked against the `expected` ones that `measure` picks."""
    given = {str(name) for name in answer.get(key, [])}
    expect(RANDOM not in given, f"under {key!r} you name the random map: it ignores the model by "
           "construction, so it is the yardstick, not a method to judge; leave it out")
    extra, missed = sorted(given - expected), sorted(expected - given)
    expect(not extra, f"under {key!r} you name {extra}, but {measure} says otherwise for them")
    expect(not missed, f"under {key!r} you leave out {missed}, which {measure} counts in")
    return given


def _check_image_only_reading(answer: Mapping, table: pd.DataFrame) -> str:
    expect(isinstance(answer, Mapping) and set(answer) == set(READINGS), f"pass a dictionary with the keys "
           f"{list(READINGS)}, each a list of method names (the index of image_only_scores.table)")
    expect(isinstance(table, pd.DataFrame), "table= is not filled in: pass image_only_scores.table, the "
           "scores of explain_reviews on your image-only model")
    expect(set(READINGS.values()) <= set(table.columns),
           f"table= needs the columns {list(READINGS.values())}: pass image_only_scores.table")
    methods = table.drop(index=RANDOM, errors="ignore")
    deletion, sanity = READINGS.values()
    beats = set(methods.index[methods[deletion] > 0])
    if {str(name) for name in answer["beat random"]} == set(methods.index[methods[deletion] < 0]) != beats:
        raise Mistake(f"you picked the methods whose {deletion!r} is negative: a positive number means the "
                      "probability falls faster than under a random order, i.e. the map beats random")
    _named_methods(answer, "beat random", beats, f"{deletion!r} > 0")
    survive = set(methods.index[methods[sanity] > SURVIVES])
    _named_methods(answer, "survive head re-init", survive, f"{sanity!r} > {SURVIVES}")
    kept = (f"{sorted(survive)} keep their ranking when the head is re-initialised: they explain the "
            "encoder more than this model's decision") if survive else "every map changes with the head"
    return f"{sorted(beats)} beat a random order at deletion; {kept}"


ex4_1 = Exercise(
    "Notebook 07, exercise 4.1 (explain the image-only baseline)",
    _check_image_only_reading,
    hints=(
        "Read the table of explain_reviews: the 'AUC below random' column answers the first question (above "
        "0: the map's order beats a random one).",
        f"'rank corr. head re-init' answers the second: a map survives if it stays above {SURVIVES} after "
        "the head is re-initialised. Leave the random map out of both lists.",
    ),
    solution_code="""
image_only_table = image_only_scores.table
methods = image_only_table.drop(index="random")
reading = {"beat random": list(methods.index[methods["AUC below random"] > 0]),
           "survive head re-init": list(methods.index[methods["rank corr. head re-init"] > 0.5])}
""",
)

ex4_2 = Exercise(
    "Notebook 07, exercise 4.2 (insertion)",
    _check_insertion,
    hints=(
        "`order` lists the patches most important first; insertion shows the first `count` of them.",
        "Everything after them is greyed: order[count:].",
    ),
    solution_code="""
def hidden_for_insertion(order, count):
    return order[count:].tolist()  # reveal the top `count`, grey the rest
""",
)

quiz = quiz(
    "07 · Reading the attention",
    (
        "A heat map shows the attention peaking on the crack of a damaged phone. What does that prove?",
        [
            (
                "Nothing yet: it is a hypothesis to test, e.g. by covering the crack and predicting again.",
                True,
                "Attention weights say where the layer mixed information from, not what the decision rests "
                "on. "
                "The notebook measured it: the model used the damage through CLIP's global embedding, which "
                "the "
                "map does not show. Occlusion or deletion tests turn the picture into evidence.",
            ),
            (
                "That the model calls the review negative because of the crack.",
                False,
                "That is the reading the notebook warns against: a map can point at the damage while the "
                "prediction rests on something else, and greying the most attended patches changed few "
                "predictions.",
            ),
            (
                "That the image encoder is broken.",
                False,
                "The image encoder locating damage is a good sign, not a fault; the question is whether the "
                "classifier's decision depends on what the attention points at.",
            ),
        ],
    ),
    (
        "How is the attention lift on the twin photos computed?",
        [
            (
                "The attention inside the damage mask divided by the share of the photo the mask covers.",
                True,
                "A flat map puts on the mask exactly the mask's share of the photo, so it scores 1; a lift "
                "of 2.5 "
                "means the damage gets 2.5 times its fair share. Comparing with a flat map is what makes the "
                "number mean something.",
            ),
            (
                "The largest attention weight of the map.",
                False,
                "The peak says how sharp a map is, not whether it points at the damage: a map can peak on "
                "the "
                "product's edge.",
            ),
            (
                "The change in accuracy when the damage is greyed out.",
                False,
                "That is an occlusion test, a different and complementary question: lift reads the map, "
                "occlusion reads the prediction.",
            ),
        ],
    ),
    (
        "The gate is nearly the same for a clear text with a matching photo and with a contradicting one. "
        "Why is that what this data asks for?",
        [
            (
                "The label follows a clear text, so the photo's say should stay small whatever it shows.",
                True,
                "The gate is set by the text: for a clear text the ideal gate is near 0, since a "
                "contradicting "
                "photo would only pull the wrong way. A gate that opened on surprising photos would be "
                "worse on this data.",
            ),
            (
                "Because the gate does not depend on anything.",
                False,
                "It depends on the text: it opens for ambiguous texts and stays low for clear ones, as the "
                "notebook's gate-by-scenario plot showed.",
            ),
            (
                "Because the model cannot see the contradicting photo.",
                False,
                "It does see it: what the gate lets through still counts, which is why contradicting photos "
                "are "
                "the clear texts the model most often gets wrong.",
            ),
        ],
    ),
    (
        "Attention rollout hardly changes when the classifier's head is re-initialised. What does that say?",
        [
            (
                "Rollout explains the image encoder's mixing, not the classifier's decision.",
                True,
                "A faithful explanation of a prediction must change when the weights that make the "
                "prediction "
                "change (the re-initialisation sanity check); rollout barely depends on the head, so it "
                "cannot "
                "be explaining it.",
            ),
            (
                "Rollout is the most faithful method.",
                False,
                "Stability under re-initialisation is the failure the sanity check looks for, not a "
                "strength: "
                "the map ignores the part of the model it claims to explain.",
            ),
            (
                "The head was not trained.",
                False,
                "The head was trained; the point is that the map would look the same whatever the head had "
                "learned.",
            ),
        ],
    ),
)
