"""Fusion heads over modality feature vectors: the course's first multimodal networks.

1. `mlp`, the head every model here ends in, and `MultiModalNet`: two towers (image vector, text
   vector), concatenated, then an MLP.
2. `EarlyFusion`, `LateFusion`, `HybridFusion`: three fusion strategies over any set of modality
   feature vectors (text, image, tabular), with one interface
   `forward(features: dict[str, Tensor]) -> logits`, so they fit in one results table.

Shapes in docstrings: B = batch, C = classes, D = a feature width.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def mlp(in_dim: int, hidden_dim: int, out_dim: int, dropout: float = 0.1) -> nn.Sequential:
    """Linear -> ReLU -> Dropout -> Linear: [B, in_dim] -> [B, out_dim]. Every head in this file."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_dim, out_dim)
    )


class MultiModalNet(nn.Module):
    """Two towers, concatenated: the first multimodal network of the course.

    Each modality gets its own tower (Linear + ReLU) that maps it to the same width, so that
    a 512-wide image vector cannot drown a 384-wide text vector by size alone; the two tower
    outputs are concatenated and an MLP maps them to class logits.

    image_features [B, image_dim], text_features [B, text_dim] -> logits [B, num_classes]
    """

    def __init__(
        self, image_dim: int, text_dim: int, hidden_dim: int = 256, num_classes: int = 2, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.image_tower = nn.Sequential(nn.Linear(image_dim, hidden_dim), nn.ReLU())
        self.text_tower = nn.Sequential(nn.Linear(text_dim, hidden_dim), nn.ReLU())
        self.classifier = mlp(2 * hidden_dim, hidden_dim, num_classes, dropout)

    def forward(self, image_features: Tensor, text_features: Tensor) -> Tensor:
        fused = torch.cat([self.image_tower(image_features), self.text_tower(text_features)], dim=-1)
        return self.classifier(fused)  # [B, num_classes]


# --------------------------------------------------------------------------------------
# 2. Fusion strategies over any set of modalities
# --------------------------------------------------------------------------------------


class _ModalityFusion(nn.Module):
    """What the three strategies share: the modalities they expect, in a fixed order."""

    def __init__(self, input_dims: dict[str, int], num_classes: int) -> None:
        super().__init__()
        if not input_dims:
            raise ValueError("input_dims is empty: give the width of each modality, e.g. {'text': 384}.")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self.input_dims = dict(input_dims)
        self.modalities = list(input_dims)  # dict order is the concatenation order

    def _inputs(self, features: dict[str, Tensor]) -> list[Tensor]:
        """The feature tensors in `self.modalities` order, each checked to be [B, D_m]."""
        missing = [name for name in self.modalities if name not in features]
        if missing:
            raise KeyError(
                f"features is missing modalities {missing}; this model was built for {self.modalities}."
            )
        inputs = [features[name] for name in self.modalities]
        for name, tensor in zip(self.modalities, inputs, strict=True):
            if tensor.dim() != 2 or tensor.shape[1] != self.input_dims[name]:
                raise ValueError(
                    f"features[{name!r}] has shape {tuple(tensor.shape)}; "
                    f"expected [batch, {self.input_dims[name]}]."
                )
        return inputs


class EarlyFusion(_ModalityFusion):
    """Early (feature-level) fusion: concatenate every modality's vector, then one MLP.

    The MLP sees all features together from its first layer, so it can learn interactions
    ("negative words AND a cracked screen"), but one badly scaled modality affects everything.

    features {name: [B, D_name]} -> logits [B, num_classes]
    """

    def __init__(
        self, input_dims: dict[str, int], num_classes: int, hidden_dim: int = 128, dropout: float = 0.1
    ):
        super().__init__(input_dims, num_classes)
        self.classifier = mlp(sum(self.input_dims.values()), hidden_dim, num_classes, dropout)

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        return self.classifier(torch.cat(self._inputs(features), dim=-1))


class _VotingFusion(_ModalityFusion):
    """Fusion that ends in a weighted vote of several classifiers ("experts").

    The vote is a weighted mean of the experts' log-probabilities, with weights
    softmax(vote_logits) that are learned and start equal (a plain mean). A mean of
    log-probabilities is a product of experts: softmax of the result is the normalised
    geometric mean of the experts' probabilities, so one confident expert can overrule
    unsure ones, and the result is a valid logit vector for cross-entropy.
    """

    def __init__(self, input_dims: dict[str, int], num_classes: int, experts: list[str]) -> None:
        super().__init__(input_dims, num_classes)
        self.experts = experts
        self.vote_logits = nn.Parameter(torch.zeros(len(experts)))

    def vote_weights(self) -> dict[str, float]:
        """How much each expert counts in the vote, e.g. {'text': 0.7, 'image': 0.3}; sums to 1."""
        return dict(zip(self.experts, self.vote_logits.softmax(0).tolist(), strict=True))

    def _vote(self, expert_logits: list[Tensor]) -> Tensor:
        """experts x [B, C] -> [B, C]: weighted mean of log-probabilities."""
        log_probs = torch.stack([logits.log_softmax(dim=-1) for logits in expert_logits])  # [experts, B, C]
        return torch.einsum("e,ebc->bc", self.vote_logits.softmax(0), log_probs)


class LateFusion(_VotingFusion):
    """Late (decision-level) fusion: one classifier per modality, then a learned vote.

    Each modality is classified on its own; the logits are the weighted mean of the
    per-modality log-probabilities (weights learned, starting as a plain mean; see
    `vote_weights()`). Robust when one modality is noisy, but no classifier ever sees two
    modalities at once, so interactions between them cannot be learned.

    features {name: [B, D_name]} -> logits [B, num_classes]
    """

    def __init__(
        self, input_dims: dict[str, int], num_classes: int, hidden_dim: int = 128, dropout: float = 0.1
    ):
        super().__init__(input_dims, num_classes, experts=list(input_dims))
        self.classifiers = nn.ModuleDict(
            {name: mlp(dim, hidden_dim, num_classes, dropout) for name, dim in self.input_dims.items()}
        )

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        inputs = self._inputs(features)
        return self._vote(
            [self.classifiers[name](x) for name, x in zip(self.modalities, inputs, strict=True)]
        )


class HybridFusion(_VotingFusion):
    """Hybrid fusion: a joint classifier on the fused features AND per-modality votes.

    1. Each modality is encoded to the same width `hidden_dim` (Linear + ReLU + Dropout),
       so no modality dominates the concatenation by its size.
    2. A joint head (MLP) classifies the concatenated encodings: the early-fusion part,
       which can learn interactions.
    3. A linear head per modality classifies its own encoding: the late-fusion part, which
       keeps every modality useful on its own.
    4. The joint head and the per-modality heads vote like `LateFusion` (weighted mean of
       log-probabilities, learned weights starting equal; expert names 'joint' + modalities).

    features {name: [B, D_name]} -> logits [B, num_classes]
    """

    def __init__(
        self, input_dims: dict[str, int], num_classes: int, hidden_dim: int = 128, dropout: float = 0.1
    ):
        if "joint" in input_dims:
            raise ValueError("'joint' names HybridFusion's joint head; rename that modality.")
        super().__init__(input_dims, num_classes, experts=["joint", *input_dims])
        self.encoders = nn.ModuleDict(
            {
                name: nn.Sequential(nn.Linear(dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
                for name, dim in self.input_dims.items()
            }
        )
        self.joint_head = mlp(hidden_dim * len(self.modalities), hidden_dim, num_classes, dropout)
        self.modality_heads = nn.ModuleDict(
            {name: nn.Linear(hidden_dim, num_classes) for name in self.modalities}
        )

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        encoded = [
            self.encoders[name](x) for name, x in zip(self.modalities, self._inputs(features), strict=True)
        ]
        joint = self.joint_head(torch.cat(encoded, dim=-1))
        per_modality = [
            self.modality_heads[name](h) for name, h in zip(self.modalities, encoded, strict=True)
        ]
        return self._vote([joint, *per_modality])
