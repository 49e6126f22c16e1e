"""Small stand-ins for the networks a learner trains in notebooks 02, 03 and 05, and a quick way to train
them on made-up features: the tests of the exercise checks need trained models, not good ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from mmsent.models import CrossModalAttention


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread, and far faster than on two when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_quickly(model: nn.Module, inputs: dict, targets: torch.Tensor, steps: int = 60) -> nn.Module:
    """Full-batch Adam on small made-up features: enough to fit them, in a fraction of a second."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    with one_thread():
        for _ in range(steps):
            loss = nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


class PairAsDict(nn.Module):
    """A network over (image, text), fed a features dictionary."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: dict) -> torch.Tensor:
        return self.net(x["image"], x["text"])


class AttentionClassifier(nn.Module):
    """Notebook 05's model, small: the package's attention layer, then a linear layer over
    [text_proj(text), gate * attended] -> (logits [B, classes], the attention's result)."""

    def __init__(self, text_dim: int, image_dim: int, num_classes: int, dim: int = 16, num_heads: int = 4):
        super().__init__()
        self.cross_attention = CrossModalAttention(text_dim, image_dim, dim, num_heads)
        self.text_proj = nn.Linear(text_dim, dim)
        self.classifier = nn.Linear(2 * dim, num_classes)

    def forward(self, text, patches, image_present=None):
        cross = self.cross_attention(text, patches, image_present)
        return self.classifier(torch.cat([self.text_proj(text), cross.gate * cross.attended], -1)), cross


class Unpacked(nn.Module):
    """Notebook 05's model fed a cache dictionary, returning its logits alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, data: dict) -> torch.Tensor:
        return self.model(data["text"], data["patches"])[0]


def attention_data(seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    text, patches = torch.randn(96, 6, generator=generator), torch.randn(96, 9, 5, generator=generator)
    return {"text": text, "patches": patches, "present": torch.ones(96, dtype=torch.bool),
            "labels": (patches.mean(1)[:, 0] > 0).long()}
