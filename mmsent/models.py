"""The course's models, in the order the notebooks introduce them, in one file.

1. `MultiModalNet`: two towers (image vector, text vector), concatenated, then an MLP.
2. `EarlyFusion`, `LateFusion`, `HybridFusion`: three fusion strategies over any set of
   modality feature vectors (text, image, tabular), with one interface
   `forward(features: dict[str, Tensor]) -> logits`, so they fit in one results table.
3. `NaiveCrossAttention` and `batch_mixing_attention`: two ways to get cross-attention wrong,
   kept because seeing *why* they are wrong is the lesson.
4. `CrossModalAttention`: the text attends over the photo's patch tokens, multi-head, with a
   learned gate that says how much the photo is used for this review.
5. `MultimodalSentimentModel`: text encoder + image encoder + `CrossModalAttention` +
   classifier; `mode="text_only"` / `"image_only"` build the ablations from the same parts.

Shapes in docstrings: B = batch, P = patches, C = classes, D = a feature width.
"""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmsent.encoders import Encoders, clip_image_outputs, text_features
from mmsent.hub import PretrainedMixin
from mmsent.text_cache import frozen_layer_count, frozen_modules, top_text_features

# --------------------------------------------------------------------------------------
# 1. The classic two-tower network
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# 3. Cross-attention done wrong, twice
# --------------------------------------------------------------------------------------


class NaiveCrossAttention(nn.Module):
    """Cross-attention from ONE text vector to ONE image vector: degenerate, on purpose.

    query = W_q text [B, 1, dim], key = W_k image [B, 1, dim], value = W_v image [B, 1, dim].
    The scores q k^T / sqrt(dim) are [B, 1, 1]: one number per review. A softmax over a
    single key is exp(s) / exp(s) = 1.0 whatever s is, so the weight is always exactly 1.0
    and attended == value == W_v image. The query (the text) has no effect at all: this
    "attention" is a linear layer on the image vector. Attention needs several keys to
    choose between, e.g. the photo's 49 patch tokens: see `CrossModalAttention`.

    text [B, text_dim], image [B, image_dim] -> (attended [B, dim], weights [B, 1, 1] == 1.0)
    """

    def __init__(self, text_dim: int, image_dim: int, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(text_dim, dim)
        self.key = nn.Linear(image_dim, dim)
        self.value = nn.Linear(image_dim, dim)

    def forward(self, text: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        q = self.query(text).unsqueeze(1)  # [B, 1, dim]
        k = self.key(image).unsqueeze(1)  # [B, 1, dim]
        v = self.value(image).unsqueeze(1)  # [B, 1, dim]
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # [B, 1, 1]
        weights = scores.softmax(dim=-1)  # a softmax over one key: always 1.0
        return (weights @ v).squeeze(1), weights


def batch_mixing_attention(text: Tensor, image: Tensor) -> Tensor:
    """The other classic mistake: `[B, H] @ [H, B]` attends across the batch.

    Dropping the sequence axis and writing softmax(text @ image.T / sqrt(H)) gives weights
    [B, B]: row i says how much review i looks at the photos of reviews 0..B-1. Each row sums
    to 1, so it looks like attention, but review i spends weight 1 - w[i, i] on OTHER
    customers' photos (about (B-1)/B of it at initialisation, e.g. 31/32 with a batch of 32),
    and its prediction changes with whatever else happens to be in its batch. With B = 1 it
    collapses to `NaiveCrossAttention` (a single weight of 1.0).

    text [B, H], image [B, H] (same width H) -> weights [B, B], rows sum to 1.
    """
    if text.dim() != 2 or image.dim() != 2 or text.shape[1] != image.shape[1]:
        raise ValueError(
            f"text {tuple(text.shape)} and image {tuple(image.shape)} must both be [batch, H] with the "
            "same H; project them to a common width first."
        )
    return (text @ image.T / math.sqrt(text.shape[1])).softmax(dim=-1)


# --------------------------------------------------------------------------------------
# 4. Cross-modal attention over patch tokens, with a gate
# --------------------------------------------------------------------------------------


class CrossAttentionOutput(NamedTuple):
    """attended [B, dim] (zeros where the image is missing); attention_weights [B, P] (mean over
    heads; sums to 1 over the patches, all zeros where the image is missing); head_weights
    [B, heads, P]; gate [B, 1] in [0, 1] (exactly 0 where the image is missing)."""

    attended: Tensor
    attention_weights: Tensor
    head_weights: Tensor
    gate: Tensor


class CrossModalAttention(nn.Module):
    """The text asks, the photo's patches answer: multi-head attention with one query.

    query = W_q text, split into `num_heads` heads: [B, heads, 1, dim/heads]
    keys, values = W_k patches, W_v patches:        [B, heads, P, dim/heads]
    weights = softmax(q k^T / sqrt(dim/heads)) over the P patches; attended = weights @ v,
    heads merged, output projection, dropout -> [B, dim].

    The weighted sum runs in `F.scaled_dot_product_attention` (fused kernels), which does not
    return the weights; we also compute them explicitly for the heat map, which is cheap with
    a single query (B * heads * P numbers).

    The gate is how much the image is used for this review:
        gate = sigmoid(MLP([W_q text, attended]))   [B, 1] in [0, 1]
    It sees both the question and the answer, so it can learn "the text is clear, ignore the
    photo" or "the text is ambiguous and the photo shows a crack". The layer returns the
    attended vector ungated; the caller multiplies by the gate.

    Missing images (image_present False): gate is exactly 0, attended is all zeros and the
    attention weights are all zeros (not uniform: nothing was looked at), whatever the patch
    tensor holds, so a placeholder image cannot leak into the prediction.

    text [B, query_dim], patches [B, P, key_dim], image_present [B] bool or None (all present)
    -> CrossAttentionOutput
    """

    def __init__(
        self, query_dim: int, key_dim: int, dim: int = 256, num_heads: int = 4, dropout: float = 0.1
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads}).")
        self.num_heads = num_heads
        self.query = nn.Linear(query_dim, dim)
        self.key = nn.Linear(key_dim, dim)
        self.value = nn.Linear(key_dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.gate = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(
        self, text: Tensor, patches: Tensor, image_present: Tensor | None = None
    ) -> CrossAttentionOutput:
        batch, num_patches, _ = patches.shape
        query = self.query(text)  # [B, dim]
        dim = query.shape[-1]
        head_dim = dim // self.num_heads
        # [B, heads, tokens, head_dim]: each head attends on its own slice of the features.
        q = query.view(batch, 1, self.num_heads, head_dim).transpose(1, 2)
        k = self.key(patches).view(batch, num_patches, self.num_heads, head_dim).transpose(1, 2)
        v = self.value(patches).view(batch, num_patches, self.num_heads, head_dim).transpose(1, 2)

        scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)  # [B, heads, 1, P]
        head_weights = scores.softmax(dim=-1).squeeze(2)  # [B, heads, P]
        attended = F.scaled_dot_product_attention(q, k, v)  # [B, heads, 1, head_dim] == head_weights @ v
        attended = self.dropout(self.out(attended.transpose(1, 2).reshape(batch, dim)))  # [B, dim]
        gate = torch.sigmoid(self.gate(torch.cat([query, attended], dim=-1)))  # [B, 1]

        if image_present is not None:
            # torch.where, not a multiplication: 0 * NaN is NaN, and a missing image may hold anything.
            present = image_present.view(batch, 1).bool()
            attended = torch.where(present, attended, 0.0)
            gate = torch.where(present, gate, 0.0)
            head_weights = torch.where(present.view(batch, 1, 1), head_weights, 0.0)
        return CrossAttentionOutput(attended, head_weights.mean(dim=1), head_weights, gate)


# --------------------------------------------------------------------------------------
# 5. The full model: BERT-family text encoder + CLIP image encoder + cross-modal attention
# --------------------------------------------------------------------------------------


class SentimentOutput(NamedTuple):
    """logits [B, C]; attention_weights [B, P] and gate [B, 1], or None in text_only mode."""

    logits: Tensor
    attention_weights: Tensor | None
    gate: Tensor | None


MODES = ("fusion", "text_only", "image_only")


class MultimodalSentimentModel(PretrainedMixin, nn.Module):
    """Review sentiment from text and photo; `mode` picks fusion or one of the two ablations.

    Parts (each mode builds only the parts it uses; the parts are the same classes, so the
    three modes are an honest ablation):
    - text branch: `text_model` (BERT-family) -> masked mean of last_hidden_state [B, text_dim]
      -> `text_proj` [B, dim].
    - image branch: `image_model` (CLIP) -> image_embeds [B, embed_dim] and patch tokens
      [B, P, image_dim]; `cross_attention` over the patches -> attended [B, dim] + gate [B, 1].
      With `global_embedding=True`, also `image_proj`(image_embeds) [B, dim], CLIP's pooled
      embedding (a strong global "what": it was trained to match captions like "a cracked
      phone"). Every image vector is multiplied by the gate.
    - classifier: dropout -> MLP on the concatenation of the branch outputs.

    fusion:     query = the pooled text;  classifier([text_proj, gate * attended (, gate * image_proj)])
    text_only:  classifier([text_proj])                      (no image parts at all)
    image_only: query = a learned vector; classifier([gate * attended (, gate * image_proj)])
                (no text parts; the gate then means "how informative this photo looks")

    `global_embedding`: True (default) gives the classifier CLIP's pooled embedding beside the
    attended patches. That is a shortcut, and the model takes it: the photo's verdict flows
    through the pooled embedding and the attention spreads out instead of pointing (notebook
    07 measures it). False leaves the attended patches as the photo's only way in. Either way,
    `fit(attention_targets=...)` can teach the attention where to look.

    Freezing: `freeze_image=True` (default) freezes CLIP and keeps it in eval mode even
    after `model.train()`. `train_text_layers`: None fine-tunes the whole text encoder, 0
    freezes it, k trains only its top k transformer layers; what is frozen (the embeddings and
    the bottom layers) stays in eval mode too, without dropout: a fixed feature extractor, whose
    outputs the trainer can then compute once per review (`mmsent.text_cache`).
    (BERT's pooler is always frozen: we pool by masked mean, so it is unused.)
    A module this model trains is its own deep copy; a frozen one is shared with `encoders`.
    So several models built from one `Encoders` never train each other's weights.

    Saved and loaded the Hugging Face way (`save_pretrained`, `from_pretrained`, `push_to_hub`:
    `mmsent.hub`), storing only the weights training changed.
    """

    def __init__(
        self,
        encoders: Encoders,
        num_classes: int,
        mode: str = "fusion",
        freeze_image: bool = True,
        train_text_layers: int | None = None,
        dim: int = 256,
        num_heads: int = 4,
        dropout: float = 0.1,
        global_embedding: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self.encoders = encoders  # a plain attribute: tokenizer, profile and dims for callers
        self.num_classes = num_classes
        self.mode = mode
        self.freeze_image = freeze_image
        self.train_text_layers = train_text_layers
        self.dim = dim
        self.num_heads = num_heads
        self.dropout_p = dropout
        self.global_embedding = global_embedding
        self.uses_text = mode != "image_only"
        self.uses_image = mode != "text_only"

        features_dim = 0
        if self.uses_text:
            self.text_model = _prepare_text_encoder(encoders.text_model, train_text_layers)
            self.text_proj = nn.Linear(encoders.text_dim, dim)
            features_dim += dim
        if self.uses_image:
            self.image_model = _prepare_image_encoder(encoders.image_model, freeze_image)
            query_dim = encoders.text_dim if self.uses_text else dim
            if not self.uses_text:  # image_only: nothing to ask with, so learn the question
                self.image_query = nn.Parameter(torch.randn(dim) * 0.02)
            self.cross_attention = CrossModalAttention(query_dim, encoders.image_dim, dim, num_heads, dropout)
            features_dim += dim
            if global_embedding:
                self.image_proj = nn.Linear(encoders.image_embed_dim, dim)
                features_dim += dim
        self.dropout = nn.Dropout(dropout)
        self.classifier = mlp(features_dim, dim, num_classes, dropout)
        self.train()  # puts the frozen encoders in eval mode right away

    # -- building -------------------------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this model with `from_config` (JSON-able)."""
        return {
            "num_classes": self.num_classes,
            "mode": self.mode,
            "freeze_image": self.freeze_image,
            "train_text_layers": self.train_text_layers,
            "dim": self.dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout_p,
            "global_embedding": self.global_embedding,
            "text_encoder": self.encoders.text_name,
            "image_encoder": self.encoders.image_name,
        }

    @classmethod
    def from_config(cls, encoders: Encoders, config: dict[str, Any]) -> MultimodalSentimentModel:
        """Rebuild a model from `config_dict()`; `encoders` must be the ones it was built with."""
        for key, name in (("text_encoder", encoders.text_name), ("image_encoder", encoders.image_name)):
            if key in config and config[key] != name:
                raise ValueError(
                    f"This model was built with {key} {config[key]!r} but the encoders given have {name!r}; "
                    "load the encoders of the same profile (see mmsent.encoders.load_encoders)."
                )
        arguments = (
            "num_classes",
            "mode",
            "freeze_image",
            "train_text_layers",
            "dim",
            "num_heads",
            "dropout",
            "global_embedding",
        )
        config = {"global_embedding": True, **config}  # saved before the option existed: it had the path
        return cls(encoders, **{key: config[key] for key in arguments if key in config})

    def train(self, mode: bool = True) -> MultimodalSentimentModel:
        """Like nn.Module.train, but frozen encoders stay in eval mode (no dropout in fixed features)."""
        super().train(mode)
        if self.uses_image and self.freeze_image:
            self.image_model.eval()
        if (frozen := frozen_layer_count(self)) is not None:
            for module in frozen_modules(self.text_model, frozen):
                module.eval()
        return self

    # -- running --------------------------------------------------------------------

    def encode_images(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        """pixel_values [B, 3, H, W] -> (image_embeds [B, embed_dim], patch_tokens [B, P, image_dim]).

        Without gradients when the image encoder is frozen, so the outputs can be cached once
        and reused every epoch.
        """
        if not self.uses_image:
            raise RuntimeError("A text_only model has no image encoder.")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_image):
            return clip_image_outputs(self.image_model, pixel_values)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        pixel_values: Tensor | None = None,
        image_present: Tensor | None = None,
        image_embeds: Tensor | None = None,
        patch_tokens: Tensor | None = None,
        text_states: Tensor | None = None,
    ) -> SentimentOutput:
        """Logits, attention heat map and gate for a batch of reviews.

        input_ids, attention_mask [B, L] (ignored in image_only mode);
        images (ignored in text_only mode), either pixel_values [B, 3, H, W] or cached
        image_embeds [B, embed_dim] + patch_tokens [B, P, image_dim];
        image_present [B] bool (default all True when images are given). A batch without any
        photo passes image_present all False and no images.
        text_states [B, L, text_dim]: the frozen text layers' output, cached (`mmsent.text_cache`),
        instead of input_ids: only the trainable top layers then run.
        -> SentimentOutput(logits [B, C], attention_weights [B, P] | None, gate [B, 1] | None)
        """
        parts: list[Tensor] = []
        query = None
        if self.uses_text:
            if input_ids is None and text_states is None:
                raise ValueError(f"mode={self.mode!r} needs input_ids (and attention_mask).")
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids if text_states is None else text_states[..., 0])
            if text_states is None:
                pooled = text_features(self.text_model, input_ids, attention_mask)  # [B, text_dim]
            else:
                frozen = frozen_layer_count(self)
                pooled = top_text_features(self.text_model, text_states, attention_mask, frozen)
            parts.append(self.text_proj(pooled))
            query = pooled
        if not self.uses_image:
            return SentimentOutput(self.classifier(self.dropout(parts[0])), None, None)

        image_embeds, patch_tokens, image_present = self._image_inputs(
            pixel_values, image_present, image_embeds, patch_tokens
        )
        if query is None:
            query = self.image_query.expand(len(patch_tokens), -1)
        elif len(query) != len(patch_tokens):
            raise ValueError(f"{len(patch_tokens)} images for {len(query)} texts: one of each per review.")
        cross = self.cross_attention(query, patch_tokens, image_present)
        parts.append(cross.gate * cross.attended)
        if self.global_embedding:
            parts.append(cross.gate * self.image_proj(image_embeds))
        logits = self.classifier(self.dropout(torch.cat(parts, dim=-1)))
        return SentimentOutput(logits, cross.attention_weights, cross.gate)

    def _image_inputs(
        self,
        pixel_values: Tensor | None,
        image_present: Tensor | None,
        image_embeds: Tensor | None,
        patch_tokens: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(image_embeds [B, E], patch_tokens [B, P, D], image_present [B]) from whichever was given."""
        if (image_embeds is None) != (patch_tokens is None):
            raise ValueError("Cached image features need both image_embeds and patch_tokens.")
        if image_embeds is None and pixel_values is not None:
            image_embeds, patch_tokens = self.encode_images(pixel_values)
        if image_embeds is None:
            if image_present is None or bool(image_present.any()):
                raise ValueError(
                    f"mode={self.mode!r} needs images: pass pixel_values, or image_embeds and patch_tokens. "
                    "For a batch without any photo, pass image_present with all False."
                )
            # No photo in the whole batch: zero placeholders, which the gate switches off.
            parameter = self.cross_attention.key.weight
            size = len(image_present)
            image_embeds = parameter.new_zeros(size, self.encoders.image_embed_dim)
            patch_tokens = parameter.new_zeros(size, self.encoders.num_patches, self.encoders.image_dim)
        if image_present is None:
            image_present = torch.ones(len(image_embeds), dtype=torch.bool, device=image_embeds.device)
        image_present = image_present.to(device=image_embeds.device, dtype=torch.bool)
        if image_present.shape != (len(image_embeds),):
            raise ValueError(
                f"image_present has shape {tuple(image_present.shape)}; expected [{len(image_embeds)}]."
            )
        # A missing photo's placeholder may hold anything, even NaN, and gate * NaN is NaN: zero it.
        image_embeds = torch.where(image_present[:, None], image_embeds, 0.0)
        return image_embeds, patch_tokens, image_present


def _prepare_text_encoder(text_model: nn.Module, train_text_layers: int | None) -> nn.Module:
    """The text encoder with only the requested layers trainable (a copy if anything trains)."""
    layers = text_model.encoder.layer
    if train_text_layers is not None and not 0 <= train_text_layers <= len(layers):
        raise ValueError(
            f"train_text_layers must be None (all), 0 (frozen) or 1..{len(layers)}, got {train_text_layers}."
        )
    if train_text_layers == 0:
        return text_model.requires_grad_(False)
    text_model = copy.deepcopy(text_model)
    if train_text_layers is None:
        text_model.requires_grad_(True)
    else:
        text_model.requires_grad_(False)
        for layer in text_model.encoder.layer[len(layers) - train_text_layers :]:
            layer.requires_grad_(True)
    if getattr(text_model, "pooler", None) is not None:
        text_model.pooler.requires_grad_(False)  # unused: we pool by masked mean
    return text_model


def _prepare_image_encoder(image_model: nn.Module, freeze_image: bool) -> nn.Module:
    """CLIP frozen (shared), or a trainable copy of its vision half (its text half is never used)."""
    if freeze_image:
        return image_model.requires_grad_(False)
    image_model = copy.deepcopy(image_model).requires_grad_(False)
    image_model.vision_model.requires_grad_(True)
    image_model.visual_projection.requires_grad_(True)
    return image_model
