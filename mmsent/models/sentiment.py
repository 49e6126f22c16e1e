"""`MultimodalSentimentModel`: text encoder + image encoder + `CrossModalAttention` + classifier.

`mode="fusion"` reads both; `"text_only"` / `"image_only"` build the ablations from the same parts
(`mmsent.choices.MODES`). Shapes in docstrings: B = batch, L = tokens, P = patches, C = classes.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import Tensor, nn

from mmsent.choices import MODES
from mmsent.encoders import Encoders, clip_image_outputs, text_features
from mmsent.hub.config import SentimentModelConfig
from mmsent.hub.pretrained import PretrainedMixin
from mmsent.models.attention import CrossModalAttention
from mmsent.models.fusion import mlp
from mmsent.models.text_layers import frozen_layer_count, frozen_modules, top_text_features


class SentimentOutput(NamedTuple):
    """logits [B, C]; attention_weights [B, P] and gate [B, 1], or None in text_only mode."""

    logits: Tensor
    attention_weights: Tensor | None
    gate: Tensor | None


# Parameter names of the pretrained encoders ("text_model.encoder.layer.5...", "image_model...."): what
# the trainer gives the small learning rate, and every new layer the larger one.
PRETRAINED_PREFIXES: tuple[str, ...] = ("text_model.", "image_model.")


class MultimodalSentimentModel(PretrainedMixin, nn.Module):
    """Review sentiment from text and photo, built from one `SentimentModelConfig` on frozen `Encoders`:

        config = SentimentModelConfig(labels=["negative", "positive"], mode="fusion", train_text_layers=1)
        model = MultimodalSentimentModel(config, load_encoders("offline"))

    The config's `mode` picks fusion or one of the two ablations; `model.config` is what is saved.

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
    outputs the trainer can then compute once per review (`mmsent.features.text_states`).
    (BERT's pooler is always frozen: we pool by masked mean, so it is unused.)
    A module this model trains is its own deep copy; a frozen one is shared with `encoders`.
    So several models built from one `Encoders` never train each other's weights.

    Saved and loaded the Hugging Face way (`save_pretrained`, `from_pretrained`, `push_to_hub`:
    `mmsent.hub.pretrained`), storing only the weights training changed.
    """

    def __init__(self, config: SentimentModelConfig, encoders: Encoders) -> None:
        super().__init__()
        if config.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {config.mode!r}.")
        if config.num_classes < 2:
            raise ValueError(f"labels must name at least 2 classes, got {config.labels!r}.")
        self.config = config.built_on(encoders)  # THE config: built from it, saved from it, loaded into it
        self.encoders = encoders  # a plain attribute: tokenizer, profile and dims for callers
        dim, dropout = config.dim, config.dropout

        features_dim = 0
        if self.uses_text:
            self.text_model = _prepare_text_encoder(encoders.text_model, config.train_text_layers)
            self.text_proj = nn.Linear(encoders.text_dim, dim)
            features_dim += dim
        if self.uses_image:
            self.image_model = _prepare_image_encoder(encoders.image_model, config.freeze_image)
            query_dim = encoders.text_dim if self.uses_text else dim
            if not self.uses_text:  # image_only: nothing to ask with, so learn the question
                self.image_query = nn.Parameter(torch.randn(dim) * 0.02)
            self.cross_attention = CrossModalAttention(
                query_dim, encoders.image_dim, dim, config.num_heads, dropout
            )
            features_dim += dim
            if config.global_embedding:
                self.image_proj = nn.Linear(encoders.image_embed_dim, dim)
                features_dim += dim
        self.dropout = nn.Dropout(dropout)
        self.classifier = mlp(features_dim, dim, config.num_classes, dropout)
        self.train()  # puts the frozen encoders in eval mode right away

    # -- what the config says, read where the code needs it -----------------------------

    mode = property(lambda self: self.config.mode, doc="fusion, text_only or image_only")
    num_classes = property(lambda self: self.config.num_classes, doc="one output per label")
    freeze_image = property(lambda self: self.config.freeze_image, doc="the image encoder stays frozen")
    train_text_layers = property(lambda self: self.config.train_text_layers, doc="None: all; k: the top k")
    global_embedding = property(lambda self: self.config.global_embedding, doc="CLIP's pooled vector too")
    uses_text = property(lambda self: self.config.mode != "image_only", doc="has a text branch")
    uses_image = property(lambda self: self.config.mode != "text_only", doc="has an image branch")

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
        text_states [B, L, text_dim]: the frozen text layers' output, cached (`mmsent.features.text_states`),
        instead of input_ids: only the trainable top layers then run.
        -> SentimentOutput(logits [B, C], attention_weights [B, P] | None, gate [B, 1] | None)
        """
        pooled = None
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
        return self.classify(pooled, pixel_values, image_present, image_embeds, patch_tokens)

    def classify(
        self,
        pooled: Tensor | None,
        pixel_values: Tensor | None = None,
        image_present: Tensor | None = None,
        image_embeds: Tensor | None = None,
        patch_tokens: Tensor | None = None,
    ) -> SentimentOutput:
        """Everything above the text encoder: `forward` once the text is pooled.

        pooled [B, text_dim], the text encoder's masked mean (None in image_only mode); images as
        for `forward`. Explanations (`mmsent.explain`) call it to pool a review's text once and
        vary only its photo. -> SentimentOutput
        """
        parts: list[Tensor] = []
        query = None
        if self.uses_text:
            if pooled is None:
                raise ValueError(f"mode={self.mode!r} needs the pooled text.")
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
