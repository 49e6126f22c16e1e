"""`CachedFeatures`: what the frozen encoders computed for each split, handed to `fit` and `run_ablation`
in one bundle instead of one argument per split and kind.

    image = {name: encode_dataset_images(model, data, 32) for name, data in datasets.items()}
    fit(model, datasets["train"], datasets["val"], config, cached=CachedFeatures(image))  # not encoded again

A split missing from `image` or `text` is computed where it is needed (and, with the disk store of
`mmsent.features.store`, read back from an earlier run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmsent.features.text_states import TextStates
from mmsent.features.vectors import ImageFeatures


@dataclass
class CachedFeatures:
    """Frozen encoders' outputs by split name ("train", "val", "test").

    image: the frozen image encoder's features of each split's photos (`encode_dataset_images`; used by
        models that look at photos through a frozen image encoder);
    text: the frozen bottom text layers' states of each split's reviews (`encode_frozen_text`; used by
        models with frozen text layers, when `TrainConfig.cache_text_layers`). They must come from the
        model's own frozen encoder: another one's states would be used as they are.
    """

    image: dict[str, ImageFeatures] = field(default_factory=dict)
    text: dict[str, TextStates] = field(default_factory=dict)
