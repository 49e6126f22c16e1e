"""What the frozen encoders compute, computed once: the disk store, image features, text states.

- `store`: `FeatureCache`, safetensors entries keyed by an encoder's fingerprint and the input's digest;
- `text_states`: the frozen bottom text layers' hidden states, once per review (`encode_frozen_text`);
- `vectors`: one feature vector per review and modality (`image_features`, `text_embeddings`);
- `cached`: `CachedFeatures`, a split's image features and text states in one bundle for `fit`.

The notebooks' face: `from mmsent.features import image_features, text_embeddings, tabular_features`.

May import: paths, config, progress, files, data, encoders, models.
"""

from mmsent.features.cached import CachedFeatures
from mmsent.features.vectors import (
    TABULAR_COLUMNS,
    ImageFeatures,
    image_features,
    tabular_features,
    text_embeddings,
)

__all__ = [
    "TABULAR_COLUMNS",
    "CachedFeatures",
    "ImageFeatures",
    "image_features",
    "tabular_features",
    "text_embeddings",
]
