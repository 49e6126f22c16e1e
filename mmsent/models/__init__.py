"""The course's models, in the order the notebooks introduce them.

- `mmsent.models.fusion`: `mlp`, `MultiModalNet` (two towers, concatenated, an MLP) and the fusion
  strategies `EarlyFusion`, `LateFusion`, `HybridFusion` over any set of modality vectors;
- `mmsent.models.attention`: `NaiveCrossAttention` and `batch_mixing_attention` (cross-attention
  done wrong, twice, on purpose), then `CrossModalAttention` (text over the photo's patch tokens,
  multi-head, with a gate);
- `mmsent.models.sentiment`: `MultimodalSentimentModel(SentimentModelConfig(...), encoders)`, text
  encoder + image encoder + `CrossModalAttention` + classifier, and its two ablations (`MODES`); its
  config, `SentimentModelConfig`, lives in `mmsent.hub.config` (what a model folder's config.json holds).

Each module imports only those before it in this list.

May import: paths, choices, progress, compat, data, encoders, hub.
"""

from mmsent.choices import MODES
from mmsent.hub.config import SentimentModelConfig
from mmsent.models.attention import (
    CrossAttentionOutput,
    CrossModalAttention,
    NaiveCrossAttention,
    batch_mixing_attention,
)
from mmsent.models.fusion import EarlyFusion, HybridFusion, LateFusion, MultiModalNet, mlp
from mmsent.models.sentiment import PRETRAINED_PREFIXES, MultimodalSentimentModel, SentimentOutput

__all__ = [
    "MODES",
    "PRETRAINED_PREFIXES",
    "CrossAttentionOutput",
    "CrossModalAttention",
    "EarlyFusion",
    "HybridFusion",
    "LateFusion",
    "MultiModalNet",
    "MultimodalSentimentModel",
    "NaiveCrossAttention",
    "SentimentModelConfig",
    "SentimentOutput",
    "batch_mixing_attention",
    "mlp",
]
