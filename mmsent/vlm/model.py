"""One small vision-language model, three ways to give it the photo (`VLMConfig.kind`):

- "blind": the decoder alone; it never sees the photo (what the language prior alone says);
- "llava": the photo's patch tokens go through a trained **projector** into the decoder's width and
  are **prepended** to the text as a prefix; the decoder's own self-attention reads them;
- "flamingo": the text alone runs through the decoder, and a **gated cross-attention** layer before
  each block lets it look at the projected patch tokens (gates start at zero).

All three share the decoder (`mmsent.vlm.decoder`), so a comparison between them is a comparison of
how the image gets in, nothing else. The patch tokens are the course CLIP's: the two image models
carry a trainable copy of the top `VLMConfig.vision_layers` layers of its vision tower
(`mmsent.vlm.vision.VisionTop`) and read the frozen state that enters them, computed once per photo
(`mmsent.vlm.vision.photo_inputs`). A **detail stem** (`mmsent.vlm.detail.DetailStem`, a small CNN on
the 128 px photo) adds what CLIP's 64 px view misses to each patch token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mmsent.hub.model_files import load_model_files, save_model_files
from mmsent.vlm.cross_attention import GatedCrossAttention
from mmsent.vlm.decoder import Block, TokenEmbedding
from mmsent.vlm.detail import DetailStem
from mmsent.vlm.vision import PhotoInputs, VisionTop

KINDS: tuple[str, ...] = ("blind", "llava", "flamingo")


_SIZE_RANGES = (("vocab_size", 1, 1 << 16), ("dim", 1, 4096), ("layers", 1, 64), ("heads", 1, 64),
                ("max_length", 1, 4096), ("patch_dim", 1, 4096), ("num_patches", 1, 4096),
                ("vision_layers", 0, 64), ("vision_heads", 1, 64), ("vision_hidden", 1, 1 << 16),
                ("detail_width", 0, 4096))


@dataclass
class VLMConfig:
    """Sizes of a `VisionLanguageModel` (the defaults are the committed models')."""

    kind: str = "llava"
    vocab_size: int = 64
    dim: int = 128
    layers: int = 2
    heads: int = 8
    max_length: int = 24  # text tokens
    patch_dim: int = 128  # the CLIP vision width
    num_patches: int = 64  # 8 x 8 patches of the 64 px CLIP input
    vision_layers: int = 2  # top CLIP vision layers trained with the model (0: post_layernorm only)
    vision_heads: int = 4  # the CLIP vision tower's
    vision_hidden: int = 512  # its MLP width
    detail_width: int = 128  # the detail stem's widest convolution (a multiple of 8; 0: no detail stem)

    def __post_init__(self) -> None:
        """Every value checked before anything is built (a config.json from elsewhere included)."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name, low, high in _SIZE_RANGES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if self.detail_width % 8:
            raise ValueError(f"detail_width must be a multiple of 8 (0: no detail stem), got "
                             f"{self.detail_width}")

    @classmethod
    def from_dict(cls, values: dict) -> VLMConfig:
        """The config of a folder's config.json (`values`: its keys that are fields). A folder saved before
        the detail stem existed names no ``detail_width``: it has no stem."""
        return cls(**{"detail_width": 0, **values})

    @property
    def reads_photos(self) -> bool:
        """Whether the model reads the photo: every kind but "blind", which is given no photo inputs."""
        return self.kind != "blind"

    @property
    def pixel_size(self) -> int:
        """The photo size the detail stem reads, 16 pixels per CLIP patch (128 for 8 x 8 patches);
        0 for a model without one (blind, or `detail_width` 0)."""
        return 16 * math.isqrt(self.num_patches) if self.reads_photos and self.detail_width else 0


class Projector(nn.Module):
    """Patch tokens [batch, patches, patch_dim] -> image tokens [batch, patches / 4, dim].

    First a **pixel shuffle** (as nanoVLM and Idefics3 do): each 2 x 2 group of neighbouring patches
    becomes one token of 4 x patch_dim features, so the decoder reads 16 tokens instead of 64 (the
    cost of attention grows with the square of the length). Then LLaVA-1.5's projector, a two-layer
    MLP into the decoder's width, plus a learned embedding per token position.
    """

    def __init__(self, patch_dim: int, dim: int, num_patches: int, shuffle: int = 2) -> None:
        super().__init__()
        self.grid, self.shuffle = math.isqrt(num_patches), shuffle
        if self.grid**2 != num_patches or self.grid % shuffle:
            raise ValueError(f"{num_patches} patches are not a square grid divisible by {shuffle}")
        self.net = nn.Sequential(nn.Linear(patch_dim * shuffle**2, dim), nn.GELU(), nn.Linear(dim, dim))
        self.positions = nn.Parameter(torch.zeros(num_patches // shuffle**2, dim))

    def pixel_shuffle(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        """[batch, grid * grid, d] -> [batch, (grid / s)^2, s * s * d], row by row like the patches."""
        batch, _, dim = patch_tokens.shape
        cells, s = self.grid // self.shuffle, self.shuffle
        x = patch_tokens.view(batch, cells, s, cells, s, dim).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(batch, cells * cells, s * s * dim)

    def forward(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        return self.net(self.pixel_shuffle(patch_tokens)) + self.positions


@dataclass
class VLMOutput:
    """What the model computed for a batch of text positions.

    logits: [batch, length, vocab], one next-word distribution per text position.
    attention_to_patches: [batch, length, image tokens]: how much each text position looks at each
        image token (a 4 x 4 grid, row by row), averaged over heads and layers; rows sum to 1.
        None for the blind model.
    """

    logits: torch.Tensor
    attention_to_patches: torch.Tensor | None


class VisionLanguageModel(nn.Module):
    """A causal decoder that writes text about a photo's patch tokens (see the module docstring)."""

    def __init__(self, config: VLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = TokenEmbedding(config.vocab_size, config.dim, config.max_length)
        self.blocks = nn.ModuleList(Block(config.dim, config.heads) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.reads_photos:
            self.vision = VisionTop(config.vision_layers, config.patch_dim, config.vision_heads,
                                    config.vision_hidden)
            self.projector = Projector(config.patch_dim, config.dim, config.num_patches)
            if config.pixel_size:
                self.detail = DetailStem(config.detail_width, config.patch_dim)
        if config.kind == "flamingo":
            self.cross = nn.ModuleList(GatedCrossAttention(config.dim, config.heads)
                                       for _ in range(config.layers))
        self.apply(_init_weights)

    @classmethod
    def from_clip(cls, config: VLMConfig, clip_model: nn.Module) -> VisionLanguageModel:
        """A new model whose vision top starts as `clip_model`'s (a ``CLIPModel``, e.g. the offline
        profile's ``load_encoders("offline").image_model``): how a model is built for training."""
        model = cls(config)
        if config.reads_photos:
            model.vision.load_clip(clip_model.vision_model)
        return model

    def vision_parameters(self) -> list[nn.Parameter]:
        """The parameters that read pixels or CLIP states (the vision top, the detail stem)."""
        parts = [getattr(self, name) for name in ("vision", "detail") if hasattr(self, name)]
        return [p for part in parts for p in part.parameters()]

    def gate_parameters(self) -> list[nn.Parameter]:
        """The Flamingo-style model's tanh gates (two scalars per cross-attention layer; none otherwise)."""
        crosses = getattr(self, "cross", [])
        return [gate for cross in crosses for gate in (cross.gate_attention, cross.gate_mlp)]

    def patch_tokens(self, photos: PhotoInputs | torch.Tensor) -> torch.Tensor:
        """`PhotoInputs` of a batch (or its CLIP states alone, for a model without a detail stem)
        -> patch tokens [batch, patches, patch_dim]."""
        photos = photos if isinstance(photos, PhotoInputs) else PhotoInputs(photos)
        tokens = self.vision(photos.states)
        if hasattr(self, "detail"):
            if photos.pixels is None:
                raise ValueError("this model has a detail stem: give it photo_inputs(..., pixel_size="
                                 f"{self.config.pixel_size}), which holds the photo's pixels")
            tokens = tokens + self.detail(photos.pixels)
        return tokens

    def photos_of(self, photos: PhotoInputs | torch.Tensor, rows: list[int] | torch.Tensor,
                  ) -> PhotoInputs | torch.Tensor | None:
        """The inputs of the photos at `rows` that this model reads: ``photos[rows]``, or None for the
        blind model, which is given no photo."""
        return photos[rows] if self.config.reads_photos else None

    def image_tokens(self, photos: PhotoInputs | torch.Tensor) -> torch.Tensor:
        """What the decoder reads of the photos: projected patch tokens [batch, patches / 4, dim]."""
        return self.projector(self.patch_tokens(photos))

    def forward(self, input_ids: torch.Tensor, photos: PhotoInputs | torch.Tensor | None = None,
                image_tokens: torch.Tensor | None = None) -> VLMOutput:
        """input_ids [batch, length]; photos: the batch's `mmsent.vlm.vision.PhotoInputs` (the CLIP
        states [batch, 1 + patches, patch_dim] that enter the vision top, and the pixels the detail
        stem reads; ignored when blind). image_tokens: `self.image_tokens(photos)`, given instead of
        the photos when it is already computed (generation reads the same photos at every step)."""
        x = self.embed(input_ids)  # [B, T, D]
        if not self.config.reads_photos:
            for block in self.blocks:
                x, _ = block(x)
            return VLMOutput(self.head(self.norm(x)), None)
        if photos is None and image_tokens is None:
            raise ValueError(f"a {self.config.kind} model needs the photos' inputs "
                             "(mmsent.vlm.vision.photo_inputs)")
        prefix = self.image_tokens(photos) if image_tokens is None else image_tokens  # [B, P / 4, D]
        looks = []
        if self.config.kind == "llava":
            patches = prefix.shape[1]
            x = torch.cat([prefix, x], dim=1)  # [B, P + T, D]: the photo is the first P "words"
            for block in self.blocks:
                x, weights = block(x)  # [B, H, P + T, P + T]
                text_to_patches = weights[:, :, patches:, :patches].mean(dim=1)  # [B, T, P]
                looks.append(text_to_patches / text_to_patches.sum(-1, keepdim=True).clamp_min(1e-12))
            x = x[:, patches:]
        else:
            for cross, block in zip(self.cross, self.blocks, strict=True):
                x, weights = cross(x, prefix)  # weights [B, H, T, P]
                looks.append(weights.mean(dim=1))
                x, _ = block(x)
        return VLMOutput(self.head(self.norm(x)), torch.stack(looks).mean(dim=0))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the folder (`mmsent.hub.model_files`): the `VLMConfig` and every weight, stored as
        float16 (half the bytes; `from_pretrained` loads them back into float32)."""
        save_model_files(folder, self, self.config, dtype=torch.float16)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> VisionLanguageModel:
        """The model `save_pretrained` wrote into `folder`, in eval mode."""
        model, _ = load_model_files(folder, VLMConfig, cls, "vision-language model", "pretrain-vlm")
        return model


def _init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: normal(0, 0.02) weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
