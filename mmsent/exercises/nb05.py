"""Notebook 05 (cross-modal attention): checks for its exercises, and its quiz.

    from mmsent.exercises import nb05
    nb05.ex1.check(models, data=test_cache)    # {heads: trained model}, the notebook's cached test features
    nb05.ex2.check(layers[False])              # your layer without the 1/sqrt(d) scaling
    nb05.ex3.check(LearnedQueryAttention(encoders.image_dim), text_dim=encoders.text_dim,
                   image_dim=encoders.image_dim)
    nb05.ex4.check(my_batch_test)              # my_batch_test(layer, text, patches) asserts
    nb05.quiz

The checks of exercises 2-4 build their own small inputs (text [B, text_dim], patches [B, P, image_dim]),
so they run in milliseconds and need no encoder; exercise 1's runs the learner's trained models on the
notebook's cached test features (no training here).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from mmsent.exercises.framework import Exercise, evaluation_mode, expect, expect_trained, returned
from mmsent.exercises.quiz import quiz
from mmsent.models import CrossModalAttention
from mmsent.models.attention import CrossAttentionOutput

BATCH, PATCHES = 4, 9


def _inputs(text_dim: int, image_dim: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """text [BATCH, text_dim], patches [BATCH, PATCHES, image_dim], scaled up so that scaling shows."""
    generator = torch.Generator().manual_seed(seed)
    text = 3 * torch.randn(BATCH, text_dim, generator=generator)
    return text, 3 * torch.randn(BATCH, PATCHES, image_dim, generator=generator)


def _check_unscaled(layer: nn.Module) -> str:
    for name in ("query", "key", "num_heads"):
        expect(hasattr(layer, name), f"your layer has no `{name}`: start from the notebook's layer")
    text, patches = _inputs(layer.query.in_features, layer.key.in_features)
    with evaluation_mode(layer) as device:
        text, patches = text.to(device), patches.to(device)
        weights = returned(layer(text, patches), "your layer(text, patches)").head_weights  # [B, heads, P]
        heads = layer.num_heads
        q = layer.query(text).view(BATCH, heads, 1, -1)  # [B, heads, 1, head_dim]
        k = layer.key(patches).view(BATCH, PATCHES, heads, -1).transpose(1, 2)  # [B, heads, P, head_dim]
        scores = (q @ k.transpose(-2, -1)).squeeze(2)  # [B, heads, P]
    weights, scores = weights.cpu(), scores.cpu()
    expect(
        tuple(weights.shape) == (BATCH, heads, PATCHES),
        f"head_weights has shape {tuple(weights.shape)}; it must be [batch, heads, patches] = "
        f"({BATCH}, {heads}, {PATCHES})",
    )
    ones = torch.ones(())
    if not torch.allclose(weights.sum(-1), ones, atol=1e-4):
        expect(
            not torch.allclose(weights.sum(0), ones, atol=1e-4),
            "your weights sum to 1 over the batch, not over the patches: the softmax must run over the last "
            "axis (dim=-1), so that each review spreads its attention over its own photo's patches",
        )
        expect(False, "your weights do not sum to 1 over the patches: is the softmax still there?")
    scaled = (scores / math.sqrt(q.shape[-1])).softmax(-1)
    expect(
        not torch.allclose(weights, scaled, atol=1e-4),
        "these are the scaled weights: your layer still divides the scores by sqrt(head_dim)",
    )
    expect(
        torch.allclose(weights, scores.softmax(-1), atol=1e-4),
        "your weights are not softmax(q . k) over the patches; compute scores = q @ k.transpose(-2, -1), "
        "then softmax(dim=-1), with no division",
    )
    return (
        f"softmax(q . k) without the scaling; largest weight here {weights.max():.2f}, "
        f"scaled {scaled.max():.2f}"
    )


def _check_learned_query(layer: nn.Module, text_dim: int, image_dim: int) -> str:
    text, patches = _inputs(text_dim, image_dim)
    present = torch.tensor([True, True, True, False])
    with evaluation_mode(layer) as device:
        text, patches, present = text.to(device), patches.to(device), present.to(device)
        first = returned(layer(text, patches, present), "your layer(text, patches, image_present)")
        other_text = layer(torch.randn_like(text), patches, present)
    first, other_text = (type(out)(*(part.cpu() for part in out)) for out in (first, other_text))
    expect(
        torch.allclose(first.attended, other_text.attended, atol=1e-6),
        "your layer still reads the text: with a learned query, changing the text must change nothing",
    )
    expect(
        any(p.requires_grad and p.dim() == 1 for p in layer.parameters()),
        "your layer has no learned query vector: make it an nn.Parameter of shape [dim], so that "
        "training moves it",
    )
    sums = first.attention_weights[:3].sum(-1)
    expect(
        torch.allclose(sums, torch.ones(3), atol=1e-4),
        f"attention over a present photo must sum to 1 over its patches; yours sums to {sums.tolist()}",
    )
    expect(
        float(first.gate[3].abs().max()) == 0.0 and float(first.attention_weights[3].abs().max()) == 0.0,
        "a missing photo must give a gate of exactly 0 and an empty map: pass image_present through",
    )
    return "one learned question for every review, the same map whatever the text, no photo -> gate 0"


class _BatchMixing(nn.Module):
    """A layer with the batch-mixing bug: each review's output is moved by the mean over its batch."""

    def __init__(self, text_dim: int, image_dim: int) -> None:
        super().__init__()
        self.layer = CrossModalAttention(text_dim, image_dim, dim=16, num_heads=2)

    def forward(
        self, text: Tensor, patches: Tensor, image_present: Tensor | None = None
    ) -> CrossAttentionOutput:
        out = self.layer(text, patches, image_present)
        return out._replace(attended=out.attended + out.attended.mean(dim=0, keepdim=True))


def _check_batch_test(test: Callable[[nn.Module, Tensor, Tensor], None]) -> str:
    text, patches = _inputs(8, 6)
    torch.manual_seed(0)
    real = CrossModalAttention(8, 6, dim=16, num_heads=2)  # in training mode, dropout on, as built
    try:
        test(real, text, patches)
    except AssertionError as failure:
        expect(
            False,
            f"your test fails on CrossModalAttention, which is batch-independent ({failure or 'assert'}). "
            "Is dropout on? Call layer.eval() first; and compare with a tolerance (torch.allclose)",
        )
    try:
        test(_BatchMixing(8, 6), text, patches)
    except AssertionError:
        return "your test passes the real layer and catches a layer that mixes the batch"
    expect(
        False,
        "your test passes a layer that mixes the batch: put review 0 in two different batches and assert "
        "that its output is the same in both",
    )
    return ""  # not reached


HEADS = (1, 2, 4, 8)


def _check_heads(models: Mapping, data: Mapping[str, Tensor]) -> str:
    expect(isinstance(models, Mapping) and all(isinstance(m, nn.Module) for m in models.values()),
           f"you passed a {type(models).__name__}; pass your trained models: {{1: model, 2: model, 4: model, "
           "8: model}")
    models = {int(heads): model for heads, model in models.items()}
    missing = [heads for heads in HEADS if heads not in models]
    expect(not missing, f"no model for {missing} heads: the exercise trains {list(HEADS)}")
    sizes = {heads: sum(p.numel() for p in models[heads].parameters()) for heads in HEADS}
    scores = {}
    for heads in HEADS:
        with evaluation_mode(models[heads]) as device:
            logits, cross = models[heads](*(data[key].to(device) for key in ("text", "patches", "present")))
        found = cross.head_weights.shape[1]
        expect(found == heads, f"your model for {heads} heads has {found}: build its layer with "
               f"num_heads={heads}")
        scores[heads] = (logits.argmax(-1).cpu() == data["labels"]).float().mean().item()
        expect_trained(scores[heads], f"{heads}-head model", "train_classifier")
    expect(len(set(sizes.values())) == 1,
           f"your models differ in size ({', '.join(f'{h} heads: {n:,}' for h, n in sizes.items())}): keep "
           "dim = 128 for all and let the heads split it (128 / heads numbers each)")
    return ("test accuracy " + ", ".join(f"{h} heads {s:.3f}" for h, s in scores.items())
            + f"; every model has the same {sizes[1]:,} parameters: more heads are narrower, not bigger")


ex1 = Exercise(
    "Notebook 05, exercise 1 (how many heads?)",
    _check_heads,
    hints=(
        "AttentionClassifier takes num_heads; keep dim at its default (128) for every model.",
        "Train each with train_classifier(model, train_cache, epochs) and keep it: models[heads] = model.",
    ),
    solution_code="""
models = {}
for heads in [1, 2, 4, 8]:
    torch.manual_seed(0)
    models[heads] = AttentionClassifier(encoders.text_dim, encoders.image_dim, len(table.classes),
                                        num_heads=heads)
    train_classifier(models[heads], train_cache, epochs)
nb05.ex1.check(models, data=test_cache)
""",
)

ex2 = Exercise(
    "Notebook 05, exercise 2 (forget the sqrt(d))",
    _check_unscaled,
    hints=(
        "Copy MyCrossModalAttention and change one line: the scores are q @ k.transpose(-2, -1), "
        "not divided.",
        "Keep the softmax over the patches (dim=-1): the weights of each review and head sum to 1.",
    ),
    solution_code="""
class Unscaled(MyCrossModalAttention):
    def forward(self, text, patches, image_present=None):
        query = self.query(text)
        q = self.split_heads(query.unsqueeze(1))
        k, v = self.split_heads(self.key(patches)), self.split_heads(self.value(patches))
        weights = (q @ k.transpose(-2, -1)).softmax(dim=-1)          # no / sqrt(head_dim)
        attended = self.dropout(self.out((weights @ v).transpose(1, 2).flatten(1)))
        gate = torch.sigmoid(self.gate(torch.cat([query, attended], dim=-1)))
        head_weights = weights.squeeze(2)
        return AttentionResult(attended, head_weights.mean(dim=1), head_weights, gate)

nb05.ex2.check(Unscaled(encoders.text_dim, encoders.image_dim, dim=128, num_heads=1))
""",
)

ex3 = Exercise(
    "Notebook 05, exercise 3 (a photo with no question)",
    _check_learned_query,
    hints=(
        "The query is a learned vector, nn.Parameter(torch.randn(dim) * 0.02), the same for every review.",
        "Expand it to the batch (question.expand(len(patches), -1)) and give it to "
        "CrossModalAttention(dim, ...).",
    ),
    solution_code="""
class LearnedQueryAttention(nn.Module):
    def __init__(self, key_dim, dim=128, num_heads=4):
        super().__init__()
        self.question = nn.Parameter(torch.randn(dim) * 0.02)
        self.attention = CrossModalAttention(dim, key_dim, dim, num_heads)

    def forward(self, text, patches, image_present=None):   # the text is ignored
        return self.attention(self.question.expand(len(patches), -1), patches, image_present)
""",
)

ex4 = Exercise(
    "Notebook 05, exercise 4 (batch independence)",
    _check_batch_test,
    hints=(
        "Run the layer on two batches that both contain review 0 (e.g. rows [0, 1, 2] and [0, 3]).",
        "Evaluation mode (layer.eval()) and torch.no_grad(); compare review 0's outputs with torch.allclose.",
    ),
    solution_code="""
def batch_independent(layer, text, patches):
    layer.eval()
    with torch.no_grad():
        a = layer(text[[0, 1, 2]], patches[[0, 1, 2]]).attended[0]
        b = layer(text[[0, 3]], patches[[0, 3]]).attended[0]
    assert torch.allclose(a, b, atol=1e-6), "review 0's output depends on its batch"

nb05.ex4.check(batch_independent)
""",
)

quiz = quiz(
    "05 · Cross-modal attention",
    (
        "One text vector attends over one image vector (a single key). What are the attention weights?",
        [
            ("Always exactly 1.0, whatever the text says.", True,
             "A softmax over one score is e^s / e^s = 1. The layer cannot choose anything, so the text is "
             "ignored and the output is a linear map of the image vector: attention needs several keys."),
            ("Large when text and image agree, small otherwise.", False,
             "That would need something to compare against; with one key the softmax normalises the single "
             "score away."),
            ("0.5, half on the text and half on the image.", False,
             "The text is the query, not a key: the weights are spread over keys, and there is only one."),
        ],
    ),
    (
        "Why divide the scores q . k by the square root of the head's width d?",
        [
            ("To keep the scores near unit spread, so the softmax does not saturate as d grows.", True,
             "A dot product of d random numbers has a spread of about sqrt(d). Without the division, wide "
             "heads give large scores, a nearly one-hot softmax and vanishing gradients."),
            ("To make the weights sum to 1.", False,
             "The softmax makes them sum to 1, with or without the division."),
            ("To save memory.", False,
             "It is one division per score; it changes the values, not the memory used."),
        ],
    ),
    (
        "A layer computes softmax(text @ image.T) for a batch: weights of shape [B, B]. What is wrong?",
        [
            ("Each review attends over the other customers' photos in its batch.", True,
             "Row i holds review i's weights over the B photos of the batch, so its output depends on who "
             "else is in the batch; a batch-independence test (exercise 4) catches it."),
            ("Nothing: it is how cross-attention is defined.", False,
             "Cross-attention attends over the keys of the same sample (here, its own photo's patches), "
             "never across samples."),
            ("The weights do not sum to 1.", False,
             "Each row does sum to 1; the problem is what the row ranges over, not its sum."),
        ],
    ),
    (
        "What does the gate learn on the course's data?",
        [
            ("To open for ambiguous texts and nearly close for clear ones: the labelling rule.", True,
             "Clear text decides the label, so the photo is not needed there; for ambiguous text the photo "
             "decides, so the gate opens. The same weights look at the photo for some reviews "
             "and not others."),
            ("To stay at 0.5 for every review.", False,
             "A constant gate would be a fixed mixing weight; the measured gate spreads by text type."),
            ("To detect whether a photo is missing.", False,
             "A missing photo is handled by the image_present mask, which sets the gate to exactly 0; "
             "the learned part decides among present photos."),
        ],
    ),
)
