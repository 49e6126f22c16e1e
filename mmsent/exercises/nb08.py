"""Notebook 08 (the famous models and beyond): checks for its exercises, and its quiz.

    from mmsent.exercises import nb08
    nb08.ex1.check(learn_scale, device=device)  # (image_embeds, text_embeds, steps) -> [s, ...]
    nb08.ex1_2.check(losses, logits=logits9, captions=captions9)  # (plain, clip_loss) on 9 pairs, 1 repeated
    nb08.ex2.check(class_centroids)                   # (prompt_units [P, E], prompt_classes [P], n) -> [n, E]
    nb08.ex3.check(fused)  # the reviews with columns p_intact, p_damaged, p_generic
    nb08.ex4.check(shape_coverage)                    # (train [N, 2], samples [M, 2], radius) -> share
    nb08.quiz

The checks run on small tensors they build themselves: milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mmsent.data.synth import STATES
from mmsent.exercises.framework import Exercise, Mistake, expect
from mmsent.exercises.quiz import quiz
from mmsent.models.clip_pretrain import clip_loss

START = 1 / 0.07  # CLIP's initial scale


def _pairs(ranked_right: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Four photo and caption embeddings [4, 6]: caption i near photo i, or near photo i + 1."""
    generator = torch.Generator().manual_seed(0)
    images = torch.eye(4, 6) + 0.05 * torch.randn(4, 6, generator=generator)
    texts = images + 0.05 * torch.randn(4, 6, generator=generator)
    return images, texts if ranked_right else texts.roll(1, dims=0)


def _check_learn_scale(learn_scale: Callable, device: str | torch.device = "cpu") -> str:
    steps = 20
    runs = {}
    for ranked_right in (True, False):
        images, texts = (t.to(device) for t in _pairs(ranked_right))
        scales = learn_scale(images, texts, steps)
        expect(scales is not None, "your learn_scale returns None: return the scale s after each step")
        runs[ranked_right] = [float(s) for s in scales]
    right, wrong = runs[True], runs[False]
    expect(
        len(right) == steps,
        f"asked for {steps} steps, your learn_scale returned {len(right)} values: append s after every step",
    )
    expect(
        not math.isclose(right[0], math.log(START), rel_tol=0.1),
        f"your first value is {right[0]:.2f}, "
        f"near log(1/0.07) = {math.log(START):.2f}: that is logit_scale; return s = logit_scale.exp()",
    )
    expect(
        math.isclose(right[0], START, rel_tol=0.2),
        f"your first value is {right[0]:.2f}; learning starts "
        f"from s = 1/0.07 = {START:.1f} (logit_scale = log(1/0.07))",
    )
    expect(
        right[-1] != right[0],
        "your scale never moves: optimise logit_scale (an nn.Parameter) with Adam, "
        "and call optimizer.step() after loss.backward()",
    )
    expect(
        right[-1] > right[0],
        "on pairs ranked right your s falls: minimise the loss (loss.backward(), "
        "not -loss), and compute the logits with s = logit_scale.exp()",
    )
    expect(
        wrong[-1] < wrong[0],
        "on pairs ranked wrong a sharper softmax makes the mistakes confident, so s "
        "must fall; yours grows: is the loss the contrastive loss of these embeddings?",
    )
    return f"on pairs ranked right s grows ({right[0]:.1f} -> {right[-1]:.1f}); on wrong ones it falls"


def _check_centroids(class_centroids: Callable) -> str:
    units = torch.nn.functional.normalize(
        torch.tensor([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0, 0.6, 0.8], [0, 1, 0]]), dim=-1
    )  # 5 prompts, E = 3
    classes = torch.tensor([0, 0, 1, 1, 2])
    centroids = class_centroids(units, classes, 3)
    expect(centroids is not None, "your class_centroids returns None: return one vector per class")
    centroids = torch.as_tensor(centroids, dtype=torch.float32)
    expect(
        tuple(centroids.shape) == (3, 3),
        f"your centroids have shape {tuple(centroids.shape)}: one row per class [classes, E] = (3, 3)",
    )
    expected = torch.stack([units[classes == k].mean(dim=0) for k in range(3)])
    norms = centroids.norm(dim=-1)
    if torch.allclose(centroids, expected, atol=1e-4):
        expect(
            False,
            f"your centroids have lengths {norms.round(decimals=3).tolist()}, not 1: normalise the "
            "mean (F.normalize), so that a photo's logits are cosines, comparable across classes",
        )
    expect(
        torch.allclose(norms, torch.ones(3), atol=1e-4),
        f"your centroids have lengths "
        f"{norms.round(decimals=3).tolist()}: each class's vector must be a unit vector",
    )
    expect(
        torch.allclose(centroids, torch.nn.functional.normalize(expected, dim=-1), atol=1e-4),
        "your centroids are not the normalised means of each class's prompt embeddings "
        "(prompt_units[prompt_classes == k].mean(dim=0))",
    )
    return "one unit vector per class, the direction of the mean of its prompts"


def _check_fused(fused: pd.DataFrame) -> str:
    columns = [f"p_{state}" for state in STATES]
    missing = [column for column in columns if column not in fused]
    expect(
        not missing, f"your table has no column {missing}: add one per state, p_intact, p_damaged, p_generic"
    )
    probabilities = fused[columns].to_numpy(dtype=float)
    expect(
        not (probabilities <= 0).all(),
        "your columns are all negative: these are log-probabilities; take .exp() of zero_shot_log_probs",
    )
    expect(
        ((probabilities >= 0) & (probabilities <= 1)).all(), "your columns must be probabilities, in [0, 1]"
    )
    row_sums, column_sums = probabilities.sum(axis=1), probabilities.sum(axis=0)
    if not np.allclose(row_sums, 1, atol=1e-3):
        expect(
            not np.allclose(column_sums, 1, atol=1e-3),
            "your probabilities sum to 1 over the reviews, not "
            "over the three states: the softmax runs over the classes (dim=-1)",
        )
        expect(
            False,
            "the three probabilities of a photo must sum to 1; yours sum to "
            f"{row_sums.min():.3f} to {row_sums.max():.3f}",
        )
    return f"{len(fused)} reviews with the three zero-shot state probabilities as features"


def _check_coverage(shape_coverage: Callable) -> str:
    train = torch.stack([torch.arange(10.0), torch.zeros(10)], dim=1)  # 10 points, 1 apart on a line
    one_spot = train[:1].repeat(5, 1) + 0.01  # every sample on the first training point
    everywhere = train + 0.01
    for samples, share in [(one_spot, 0.1), (everywhere, 1.0), (train + 5, 0.0)]:
        found = shape_coverage(train, samples, 0.1)
        expect(found is not None, "your shape_coverage returns None: return the share of training points")
        if math.isclose(float(found), share, abs_tol=1e-6):
            continue
        expect(
            not (share == 0.1 and math.isclose(float(found), 1.0)),
            "you measured the share of samples "
            "near a training point (all of them, here): coverage asks the opposite, the share of TRAINING "
            "points with a sample within the radius, so crowding on one spot scores low",
        )
        expect(
            False,
            f"with samples {'on one training point' if share == 0.1 else 'on every training point'}"
            f" coverage is {share}, yours is {float(found):.3f}",
        )
    return "the share of the training points with a sample nearby: crowding on one spot covers little"


ex1 = Exercise(
    "Notebook 08, exercise 1 (learn the temperature)",
    _check_learn_scale,
    hints=(
        "logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device)); the embeddings stay "
        "fixed.",
        "Each step: loss = clip_contrastive_loss(image_embeds, text_embeds, logit_scale); zero_grad, "
        "backward, "
        "step; record logit_scale.exp().item().",
    ),
    solution_code="""
def learn_scale(image_embeds, text_embeds, steps=300):
    logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device))
    optimizer = torch.optim.Adam([logit_scale], lr=0.05)
    scales = []
    for _ in range(steps):
        loss = clip_contrastive_loss(image_embeds, text_embeds, logit_scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scales.append(logit_scale.exp().item())
    return scales
""",
)

def _loss_pair(losses: object) -> tuple[float, float]:
    """(plain, shared) from a pair, a Series or a dictionary of two numbers, in that order."""
    values = list(losses.values()) if isinstance(losses, Mapping) else list(losses)  # a Series: its values
    expect(len(values) == 2, f"you passed {len(values)} numbers; pass two, in this order: the plain loss "
           "(targets 0, ..., 8), then clip_loss's (shared targets)")
    return float(values[0]), float(values[1])


def _check_duplicate_caption(losses: object, logits: torch.Tensor, captions: Sequence[str]) -> str:
    expect(isinstance(logits, torch.Tensor) and logits.ndim == 2 and logits.shape[0] == logits.shape[1],
           "logits= is not filled in: pass the [9, 9] logits of the nine photos against the nine captions")
    expect(captions is not None and len(captions) == len(logits),
           f"captions= must hold the {len(logits)} captions, in the order of the logits' columns")
    captions = list(captions)
    ids = torch.tensor([captions.index(caption) for caption in captions])
    repeats = [i for i in range(len(captions)) if ids[i] != i]
    expect(len(repeats) == 1, f"{len(repeats)} of your captions repeat an earlier one; the exercise adds "
           "exactly one pair whose caption repeats one of the eight")
    column, first = repeats[0], int(ids[repeats[0]])
    logits = logits.detach().float().cpu()
    expect(torch.allclose(logits[:, column], logits[:, first], atol=1e-4),
           f"columns {first} and {column} of your logits differ, yet their captions are the same words: "
           "embed the nine captions with the same text encoder, as the eight")
    targets = torch.arange(len(logits))
    photo_side, caption_side = (F.cross_entropy(side, targets).item() for side in (logits, logits.T))
    plain, shared = (photo_side + caption_side) / 2, clip_loss(logits, ids).item()
    given = _loss_pair(losses)
    slips = {photo_side: "that is the photo -> caption direction only: average it with the caption -> photo "
                         "direction (the same loss on logits.T)",
             caption_side: "that is the caption -> photo direction only: average both directions",
             photo_side + caption_side: "that is the sum of the two directions; CLIP averages them"}
    for name, value, right in (("plain", given[0], plain), ("clip_loss", given[1], shared)):
        if math.isclose(value, right, rel_tol=1e-4):
            continue
        slip = next((text for number, text in slips.items() if math.isclose(value, number, rel_tol=1e-4)),
                    "compute it on the logits you passed (a [9, 9] matrix already times the scale)")
        raise Mistake(f"your {name} loss is {value:.4f}, not {right:.4f}: {slip}")
    return (f"plain {plain:.4f} nats, clip_loss {shared:.4f}: the same number. The repeated caption's "
            f"column equals column {first}, so both targets ask for the same thing; and photo {first} can "
            "put at most half its probability on its own caption, so neither loss can reach 0")


ex1_2 = Exercise(
    "Notebook 08, exercise 1, second part (a repeated caption)",
    _check_duplicate_caption,
    hints=(
        "Embed the eight pairs plus a ninth whose caption is pair 0's; logits = scale * unit(images) @ "
        "unit(texts).T, a [9, 9] matrix.",
        "The plain loss is clip_contrastive_loss (targets 0, ..., 8); clip_loss(logits, caption_ids) takes "
        "ids that repeat for the same caption: [captions.index(c) for c in captions].",
    ),
    solution_code="""
images9, captions9 = zip(*pairs, (ImageOps.mirror(pairs[0][0]), pairs[0][1]))  # caption 8 = caption 0
image9, text9 = embed_pairs(images9, captions9)
logits9 = clip.logit_scale.exp().detach() * F.normalize(image9, dim=-1) @ F.normalize(text9, dim=-1).T
caption_ids = torch.tensor([captions9.index(c) for c in captions9], device=device)
losses = {"plain": clip_contrastive_loss(image9, text9, clip.logit_scale.detach()).item(),
          "clip_loss": clip_loss(logits9, caption_ids).item()}
""",
)

ex2 = Exercise(
    "Notebook 08, exercise 2 (c: one averaged vector per class)",
    _check_centroids,
    hints=(
        "For class k, average the unit embeddings of its prompts: prompt_units[prompt_classes == k].mean(0).",
        "Then normalise the averages (F.normalize(..., dim=-1)): the mean of unit vectors is shorter than 1.",
    ),
    solution_code="""
def class_centroids(prompt_units, prompt_classes, num_classes):
    means = torch.stack([prompt_units[prompt_classes == k].mean(dim=0) for k in range(num_classes)])
    return F.normalize(means, dim=-1)
""",
)

ex3 = Exercise(
    "Notebook 08, exercise 3 (fuse the table and the photo)",
    _check_fused,
    hints=(
        "zero_shot_log_probs(...) gives log-probabilities [reviews, 3]; .exp() them.",
        "fused = reviews.assign(**{f'p_{s}': probabilities[:, i] for i, s in enumerate(STATES)})",
    ),
    solution_code="""
zero_shot = summed_log_probs(ensemble).exp().cpu().numpy()  # [reviews, classes]
fused = reviews.assign(**{f"p_{state}": zero_shot[:, i] for i, state in enumerate(STATES)})
""",
)

ex4 = Exercise(
    "Notebook 08, exercise 4 (coverage)",
    _check_coverage,
    hints=(
        "torch.cdist(train, samples) is [training points, samples]: the distance of every pair.",
        "For each training point take its nearest sample (.min(dim=1)), then the share under the radius.",
    ),
    solution_code="""
def shape_coverage(train, samples, radius=0.1):
    return (torch.cdist(train, samples).min(dim=1).values < radius).float().mean().item()
""",
)

quiz = quiz(
    "08 · The famous models and beyond",
    (
        "CLIP's loss reads the B x B similarity matrix row by row and column by column. Why both?",
        [
            (
                "Rows make each photo pick its caption, columns make each caption pick its photo.",
                True,
                "The symmetric InfoNCE loss averages the two cross-entropies, so both towers learn to "
                "retrieve: "
                "photo to text for zero-shot classification, text to photo for search. One direction alone "
                "would let the other drift.",
            ),
            (
                "The second direction doubles the batch size for free.",
                False,
                "Both directions read the same B pairs; the negatives are the other B - 1 items either way, "
                "so "
                "the effective batch does not grow.",
            ),
            (
                "Columns hold the labels and rows the predictions.",
                False,
                "There are no labels: the only supervision is which caption came with which photo, the "
                "diagonal, "
                "read from both sides.",
            ),
        ],
    ),
    (
        "Zero-shot classification with CLIP: what makes it a classifier without one labelled photo?",
        [
            (
                "Prompts per class are embedded by the text tower; each photo takes the class of its best "
                "prompts.",
                True,
                "The text tower turns words into points in the shared space, so a class is defined by how "
                "people describe it. That is why the prompts must use words the tokenizer and the "
                "pretraining captions know.",
            ),
            (
                "CLIP was trained on the course's labels.",
                False,
                "It was pretrained on photo-caption pairs, never on the intact / damaged / generic labels; "
                "the "
                "classes enter only through the prompts.",
            ),
            (
                "A linear head is fitted on the photos at test time.",
                False,
                "That would be a linear probe, which needs labelled photos; zero-shot fits nothing.",
            ),
        ],
    ),
    (
        "What tells our model, Flamingo and LLaVA apart from CLIP?",
        [
            (
                "In them one modality attends to or is fed into the other; in CLIP nothing crosses until the "
                "final dot product.",
                True,
                "CLIP is two towers that meet in one similarity. Our model and Flamingo let the text attend "
                "to "
                "the patches through a gate; LLaVA projects patches into words for a language model. Where "
                "the modalities meet decides what the model can do.",
            ),
            (
                "Only the size of the models.",
                False,
                "Size matters for quality, but the notebook's comparison is about what attends to what and "
                "what is frozen: architecture, not scale.",
            ),
            (
                "CLIP cannot handle images.",
                False,
                "Its image tower is the very encoder that our model and many others reuse.",
            ),
        ],
    ),
    (
        "Classifier-free guidance with a large scale w: what do you gain and what do you lose?",
        [
            (
                "Samples follow the prompt more closely but look more alike (less diversity).",
                True,
                "Guidance extrapolates from the unconditional towards the conditional prediction. The "
                "notebook's points land on the asked shape, but crowd onto the parts the model likes best: "
                "coverage falls as w grows.",
            ),
            (
                "Nothing is lost: larger w is always better.",
                False,
                "Exercise 4 measures the cost: coverage of the shapes falls and, at large w, points "
                "overshoot "
                "and stray again.",
            ),
            (
                "Sampling becomes faster.",
                False,
                "Guidance needs two denoiser calls per step (with and without the prompt), so it costs time, "
                "whatever the scale.",
            ),
        ],
    ),
)
