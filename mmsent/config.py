"""The settings of a run, as dataclasses (configs the Hugging Face way), each default written once.

- `TrainConfig`: everything that decides how a model is trained; saved beside every checkpoint.
- `RunOptions`: what a `python -m mmsent train` run reads and builds besides that (the data, the
  profile, the models of the ablation, how each model is built).

The command line builds its `train` flags from these fields (`mmsent.cli.main`): a field's `help`
metadata is the flag's help, and its default is the flag's default. Cheap to import (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from mmsent.choices import MODES
from mmsent.paths import reviews_csv


def _flag(default, help: str):
    """A dataclass field that the command line exposes as a flag, with this help text."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Everything that decides a training run; saved beside every checkpoint."""

    epochs: int = _flag(4, "passes over the training split")
    batch_size: int = _flag(32, "reviews per step (training, encoding photos, predicting)")
    lr: float = _flag(5e-5, "learning rate of the text encoder")  # small steps keep what it knows
    head_lr: float = _flag(1e-3, "learning rate of the new layers: attention, gate, classifier")
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = _flag(128, "longest review in tokens")
    seed: int = _flag(0, "seed for splits, initialisation and shuffling")
    cache_image_features: bool = True  # only used when the image encoder is frozen
    cache_text_layers: bool = _flag(
        True,
        "run the frozen bottom text layers once per review instead of at every step "
        "(mmsent.features.text_states); "
        "--no-cache-text-layers: at every step, slower, the same logits within float rounding",
    )
    group_by_length: bool = True  # batches of similar length waste less padding
    mixed_precision: str = "auto"  # see mmsent.runtime.autocast_dtype: "auto", "bf16", "fp16", "no"
    num_workers: int = 0
    # With fit(attention_targets=...), see train.steps.attention_loss. 0.1 keeps the fusion accuracy of the
    # plain recipe and teaches the attention to point (README, "Does the attention point?").
    attention_loss_weight: float = 0.1

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# Top text-encoder layers fine-tuned by default. One: over seeds 0-2 on the bundled data it is as accurate
# as two (`train`'s fusion test accuracy 0.956 / 0.950 / 0.950, against 0.956 / 0.939 / 0.953), and each
# step runs one text layer forward and back instead of two (the frozen ones run once:
# mmsent.features.text_states).
DEFAULT_TEXT_LAYERS = 1
RUN_CONFIG_FILE = "run_config.yaml"  # a report's effective settings (train --config reads the same format)


@dataclass
class RunOptions:
    """What a `train` run reads and builds besides its `TrainConfig`: the command line's other flags."""

    data: Path = field(default_factory=reviews_csv)  # resolved when the options are made
    columns: dict[str, str] | None = None
    profile: str | None = None  # None: MMSENT_PROFILE, else offline unless a GPU and the hub are at hand
    models: Sequence[str] = MODES
    train_text_layers: int = DEFAULT_TEXT_LAYERS  # -1 = all, 0 = frozen
    train_image_encoder: bool = False
    global_embedding: bool = True
    teach_attention: bool = False  # see mmsent.analysis.ablation.run_ablation
    allow_outside_paths: bool = False
    device: str | None = None
    progress: bool = True


def flag_fields(config: type) -> list:
    """The fields of a config dataclass that the command line exposes (those with `help` metadata)."""
    return [f for f in fields(config) if "help" in f.metadata]
