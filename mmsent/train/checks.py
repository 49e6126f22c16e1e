"""Checks a training run makes on its own inputs and outputs, each failing with a `UsageError` that says
what to change: photos for the models that need them, the text encoder's limits, a diverged loss.
"""

from __future__ import annotations

import math

from mmsent.errors import UsageError


def check_photos(frame, modes: list[str]) -> None:
    """Raise `UsageError` when a model that looks at photos is asked for but no review has one."""
    needs_photos = [mode for mode in modes if mode != "text_only"]
    if needs_photos and frame["image_path"].isna().all():
        raise UsageError(
            f"No review has a usable photo (see the skipped-rows report above), so {needs_photos} would "
            "learn from blank images. Fix the image_path column, or train --models text_only."
        )


def check_history(history, mode: str) -> None:
    """Raise `UsageError` when the training loss of `mode` stopped being a finite number."""
    losses = history["train_loss"].astype(float)
    bad = losses[~losses.map(math.isfinite)]
    if len(bad):
        epoch = int(history.loc[bad.index[0], "epoch"])
        raise UsageError(
            f"Training of {mode} diverged: the loss is {bad.iloc[0]} in epoch {epoch}, so no model or report "
            "was written. Lower --lr / --head-lr (defaults 5e-5 and 1e-3)."
        )


def check_encoder_limits(train_text_layers: int, max_length: int, text_config) -> None:
    """Raise `UsageError` when --train-text-layers or --max-length exceed what the text encoder has."""
    layers, positions = text_config.num_hidden_layers, text_config.max_position_embeddings
    if train_text_layers > layers:
        raise UsageError(
            f"--train-text-layers {train_text_layers}: this profile's text encoder has {layers} layers; "
            f"use -1 (all), 0 (frozen) or 1..{layers}."
        )
    if max_length > positions:
        raise UsageError(
            f"--max-length {max_length}: this profile's text encoder reads at most {positions} tokens; "
            f"use 1..{positions}."
        )
