"""A sentiment model's config: THE one object a `MultimodalSentimentModel` is built from, saved from
(config.json) and loaded into; and the names of the files a model folder holds, defined once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmsent.config import TrainConfig
from mmsent.data import LabelVocab
from mmsent.errors import CheckpointError
from mmsent.hub.folder_check import check_fields, config_limits, recipe_limits
from mmsent.paths import CONFIG_FILE, WEIGHTS_FILE  # noqa: F401  (re-exported: the model folder's names)

if TYPE_CHECKING:
    from mmsent.encoders import Encoders

TRAINING_STATE_FILE = "training_state.pt"  # optimiser, scheduler and scaler state, epoch: what resuming needs
SPLIT_FILE = "split.json"  # the rows train held out for testing (written by the command line)
FORMAT = "mmsent-sentiment-model/1"
SAVED = ("labels", "profile", "text_encoder", "image_encoder")  # what every saved config.json names


@dataclass
class SentimentModelConfig:
    """Everything that builds a `MultimodalSentimentModel` and rebuilds it around its saved weights.

        config = SentimentModelConfig(labels=["negative", "positive"], train_text_layers=1)
        model = MultimodalSentimentModel(config, load_encoders("offline"))

    What to build: ``labels`` (the class names, in logit order: one output each), ``mode`` (fusion,
    text_only or image_only), ``freeze_image``, ``train_text_layers`` (None: all, 0: frozen, k: the top k),
    ``dim``, ``num_heads``, ``dropout``, ``global_embedding`` (see `MultimodalSentimentModel`).
    The encoders: ``profile``, ``text_encoder``, ``image_encoder`` are filled in from the `Encoders` the
    model is built on (`built_on`). Filled in by ``save_pretrained``: ``text_source`` / ``image_source``
    (a hub id at a revision, a pip package, a folder), ``encoder_fingerprint`` (the SHA-256 of the frozen
    weights), ``recipe`` (the `TrainConfig` it was trained with), ``mmsent_version``.
    """

    labels: list[str]
    mode: str = "fusion"
    freeze_image: bool = True
    train_text_layers: int | None = None
    dim: int = 256
    num_heads: int = 4
    dropout: float = 0.1
    global_embedding: bool = True
    profile: str = ""
    text_encoder: str = ""
    image_encoder: str = ""
    text_source: str = ""
    image_source: str = ""
    encoder_fingerprint: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    mmsent_version: str = ""
    format: str = FORMAT

    @property
    def num_classes(self) -> int:
        """How many outputs the classifier has: one per label."""
        return len(self.labels)

    def label_vocab(self) -> LabelVocab:
        """The labels as a `LabelVocab` (what `predict_reviews` and `evaluate` take)."""
        return LabelVocab(list(self.labels))

    def built_on(self, encoders: Encoders) -> SentimentModelConfig:
        """This config with the encoders' profile and names; `ValueError` when it names other encoders."""
        for key, name in (("text_encoder", encoders.text_name), ("image_encoder", encoders.image_name)):
            if getattr(self, key) not in ("", name):
                raise ValueError(
                    f"This model was built with {key} {getattr(self, key)!r} but the encoders given have "
                    f"{name!r}; load the encoders of the same profile (see mmsent.encoders.load_encoders)."
                )
        return replace(
            self, profile=encoders.profile, text_encoder=encoders.text_name, image_encoder=encoders.image_name
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: Path) -> SentimentModelConfig:
        """Parse config.json's dict; `CheckpointError` naming `where` on missing, unknown or bad values
        (each checked for its field's type and range before anything is built)."""
        known = {f.name for f in dataclasses.fields(cls)}
        missing, unknown = sorted(set(SAVED) - set(values)), sorted(set(values) - known)
        if missing or unknown:
            raise CheckpointError(
                f"{where} is not a {FORMAT} config: missing {missing}, unknown {unknown}. "
                "Another version of mmsent wrote it; save the model again with that version, or retrain."
            )
        if values.get("format") != FORMAT:
            raise CheckpointError(
                f"{where} has format {values.get('format')!r}; this mmsent reads {FORMAT!r}. "
                "Install the mmsent version that wrote it (its mmsent_version), or retrain."
            )
        check_fields(cls, values, str(where), config_limits())
        check_fields(TrainConfig, values.get("recipe", {}), f"{where} (recipe)", recipe_limits())
        return cls(**values)
