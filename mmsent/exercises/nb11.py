"""Notebook 11 (from words to pictures): checks for its exercises, and its quiz.

    from mmsent.exercises import nb11
    nb11.ex1.check(by_steps)        # a table: steps, state_accuracy, clip_score (one row per step count)
    nb11.ex2.check(per_caption)     # state accuracy per off-grid caption (8 pictures each)
    nb11.ex3.check(variety)         # (pictures [18 * per_cell, 3, S, S], per_cell) -> mean RMS distance
    nb11.quiz

The checks read the learner's table or run the learner's function on small tensors: no sampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import torch

from mmsent.exercises.framework import Exercise, expect
from mmsent.exercises.quiz import quiz

STEPS = (2, 4, 8, 12, 24)
CAPTIONS = ("a burnt mug", "a dented phone", "a cracked watch", "a brand logo", "a parcel")
CELLS, PER_CAPTION = 18, 8


def _check_by_steps(by_steps: pd.DataFrame) -> str:
    expect(isinstance(by_steps, pd.DataFrame), "give a table (a DataFrame): one row per number of steps")
    missing = [c for c in ("steps", "state_accuracy", "clip_score") if c not in by_steps]
    expect(not missing, f"your table has no column {missing}: add grade_images' numbers next to `steps`")
    absent = [s for s in STEPS if s not in set(by_steps["steps"])]
    expect(not absent, f"no row for {absent} steps: the exercise compares {list(STEPS)}")
    accuracy = by_steps["state_accuracy"]
    expect(accuracy.between(0, 1).all(), "state_accuracy is a share of the pictures, in [0, 1]")
    expect(
        by_steps["clip_score"].between(-100, 100).all(), "the CLIP score is 100 x a cosine, in [-100, 100]"
    )
    expect(
        accuracy.nunique() > 1 or by_steps["clip_score"].nunique() > 1,
        "every row has the same numbers: pass steps= to sample for each count",
    )
    return (
        f"state accuracy between {accuracy.min():.2f} and {accuracy.max():.2f} over {len(STEPS)} step counts"
    )


def _check_per_caption(per_caption: Mapping) -> str:
    per_caption = pd.Series(per_caption, dtype=float)
    missing = [c for c in CAPTIONS if c not in per_caption.index]
    expect(not missing, f"no accuracy for {missing}: grade every caption of the exercise")
    values = per_caption[list(CAPTIONS)]
    expect(values.between(0, 1).all(), "a state accuracy is a share of the pictures, in [0, 1]")
    counts = values * PER_CAPTION
    expect(
        np.allclose(counts, counts.round(), atol=1e-6),
        f"with {PER_CAPTION} pictures per caption an accuracy "
        f"is a multiple of 1/{PER_CAPTION}; yours are {values.round(3).to_dict()}: one accuracy per caption, "
        "over its own pictures",
    )
    followed = [c for c in CAPTIONS if values[c] >= 0.5]
    return f"{len(followed)} of {len(CAPTIONS)} captions followed at least half of the time"


def _check_variety(variety: Callable) -> str:
    per_cell = 3
    same = torch.zeros(CELLS * per_cell, 3, 4, 4)
    found = variety(same, per_cell)
    expect(found is not None, "your variety returns None: return the mean distance (a float)")
    expect(
        math.isclose(float(found), 0, abs_tol=1e-6),
        f"identical pictures have variety 0; yours gives {float(found):.4f}",
    )
    spread = same.clone()
    spread[1::per_cell] = 1.0  # in every cell: pictures 0 and 2 equal, picture 1 at RMS distance 1
    found = float(variety(spread, per_cell))
    pairs = per_cell * (per_cell - 1)  # ordered pairs of different pictures; 4 of them at distance 1
    expected = 4 / pairs
    if math.isclose(found, expected, rel_tol=1e-4):
        return "the mean RMS distance between different pictures of a cell: 0 for copies"
    expect(
        not math.isclose(found, 4 / per_cell**2, rel_tol=1e-4),
        "you divide by per_cell ** 2: a picture's "
        "distance to itself (0) is not a pair; average over the per_cell * (per_cell - 1) pairs",
    )
    expect(
        not math.isclose(found, expected * math.sqrt(3 * 4 * 4), rel_tol=1e-4),
        "your distance grows with "
        "the number of pixels: divide the Euclidean distance by sqrt(pixels) (a root mean square)",
    )
    expect(
        False,
        f"in each cell two pictures are copies and one is at RMS distance 1, so variety is "
        f"{expected:.3f}; yours is {found:.3f}",
    )
    return ""  # not reached


ex1 = Exercise(
    "Notebook 11, exercise 1 (how many sampling steps?)",
    _check_by_steps,
    hints=(
        "For each count: sample(generator, conditions, guidance_scale=w_best, steps=steps, seed=0).",
        "rows.append({'steps': steps, **grade_images(clip, clip_tokenizer, pictures, states, products, "
        "captions)}); by_steps = pd.DataFrame(rows)",
    ),
    solution_code="""
rows = []
for steps in [2, 4, 8, 12, 24]:
    pictures = flow.sample(generator, conditions, guidance_scale=w_best, steps=steps, seed=0)
    rows.append({"steps": steps, **grade_images(clip, clip_tokenizer, pictures, states, products, captions)})
by_steps = pd.DataFrame(rows)
""",
)

ex2 = Exercise(
    "Notebook 11, exercise 2 (captions off the grid)",
    _check_per_caption,
    hints=(
        "Draw 8 pictures per caption with caption_embeddings(clip, clip_tokenizer, texts), then let the "
        "CLIP read their state (zero_shot_log_probs(...).argmax(-1)).",
        "per_caption: the share of each caption's 8 pictures whose state is the caption's.",
    ),
    solution_code="""
right_state = np.array([STATES[s] == off_grid[text] for s, text in zip(seen.tolist(), texts)])
per_caption = pd.Series(right_state.reshape(len(off_grid), 8).mean(axis=1), index=list(off_grid))
""",
)

ex3 = Exercise(
    "Notebook 11, exercise 3 (what guidance costs)",
    _check_variety,
    hints=(
        "Reshape the pictures to [18 cells, per_cell, pixels]; torch.cdist gives every pair's distance in a "
        "cell.",
        "RMS: divide by sqrt(pixels). Average over the per_cell * (per_cell - 1) pairs of different "
        "pictures.",
    ),
    solution_code="""
def variety(pictures, per_cell):
    cells = pictures.reshape(18, per_cell, -1)
    distances = torch.cdist(cells, cells) / cells.shape[-1] ** 0.5  # [18, per_cell, per_cell]
    return (distances.sum() / (18 * per_cell * (per_cell - 1))).item()
""",
)

quiz = quiz(
    "11 · From words to pictures",
    (
        "Flow matching trains the U-Net on x_t = (1 - t) x_0 + t noise. What does it regress?",
        [
            (
                "The velocity noise - x_0: the direction of the straight line from the photo to the noise.",
                True,
                "Along the straight path the velocity is the same at every t, so the network learns one "
                "direction per point; sampling walks it backwards from noise in a few Euler steps.",
            ),
            (
                "The photo x_0 itself, in one step.",
                False,
                "Predicting the photo directly from pure noise averages all possible photos into a blur; the "
                "velocity field lets sampling refine step by step.",
            ),
            (
                "The caption's embedding.",
                False,
                "The caption is an input (through FiLM), not a target: the model learns to draw, not to "
                "read.",
            ),
        ],
    ),
    (
        "What does classifier-free guidance at w = 0, w = 1 and w > 1 do?",
        [
            (
                "w = 0 ignores the caption, w = 1 follows it plainly, w > 1 exaggerates it.",
                True,
                "One network is trained with and without the caption; sampling takes "
                "uncond + w (cond - uncond). At 0 only the unconditional part remains, at 1 the conditional "
                "one, above 1 it extrapolates past it, which lifted the state accuracy from 0.65 to 0.91.",
            ),
            (
                "w is the number of sampling steps.",
                False,
                "The steps are a separate setting (exercise 1); w scales the caption's pull at every step.",
            ),
            (
                "w = 1 ignores the caption.",
                False,
                "At w = 1 the prediction is exactly the conditional one: it follows the caption, "
                "unexaggerated.",
            ),
        ],
    ),
    (
        "How does the notebook grade the pictures without a human?",
        [
            (
                "The course's own CLIP reads each picture's state and product zero-shot, compared with real "
                "photos of the same cells.",
                True,
                "A closed loop: the same kind of model that learned words and photos together judges "
                "whether a "
                "picture shows what its caption says. Real photos graded the same way give the reference, "
                "so the numbers say how close the drawings come to the real thing.",
            ),
            (
                "By the training loss of the U-Net.",
                False,
                "A low loss says the denoiser fits its training pairs, not that a sampled picture shows its "
                "caption.",
            ),
            (
                "By pixel distance to the training photos.",
                False,
                "A picture can be right without copying any training photo; pixel distance to the data "
                "measures memorisation, not following the caption.",
            ),
        ],
    ),
)
