"""Pretrain the offline profile's small CLIP model, contrastively, on generated image-caption pairs.

The ``offline`` profile needs an image encoder that (1) loads like any Hugging Face checkpoint,
(2) needs no download and (3) has actually learned to see intact, damaged and generic photos.
So we train one: a small `CLIPModel` (ViT on 64x64 photos = 8x8 patches, a small text tower with a
word-level tokenizer over the caption vocabulary) on `mmsent.data.synth.caption_pairs`, with CLIP's
symmetric InfoNCE loss and learned temperature, then `save_pretrained` it into ``data/clip-offline``.

Quality check: zero-shot classification of held-out photos (a seed the training never saw) into
intact / damaged / generic using only text prompts, exactly as CLIP is evaluated.

    python -m mmsent pretrain-clip            # or: pretrain_clip(out_dir, seed=..., epochs=...)
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    CLIPConfig,
    CLIPModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    get_cosine_schedule_with_warmup,
)

from mmsent.data.synth import DETAILS, PRODUCT_NOUNS, PRODUCTS, STATES, caption_pairs, draw_photo
from mmsent.encoders import (
    OFFLINE_IMAGE_SIZE,
    OFFLINE_PATCH_SIZE,
    Encoders,
    clip_image_outputs,
    clip_image_processor,
    clip_text_outputs,
)
from mmsent.paths import offline_clip_dir
from mmsent.progress import progress_bar

TRAIN_SEED = 1  # caption_pairs' own random stream: never overlaps the review set, whatever its seed
EVAL_SEED = 20_240  # held-out zero-shot photos: a seed the training run never uses
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")  # ids 0..3; CLIP pools the text at <eos> (id 3)
MAX_TEXT_LENGTH = 32
PHOTO_SIZE = 128  # photos are drawn like the review set's, then the image processor shrinks them to 64
MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps the learned temperature at 100

# Zero-shot prompts per class, each template filled with the six products (see `zero_shot_log_probs`).
# A text tower only knows the words it was trained on, so the prompts use the caption vocabulary:
# "damaged" is spelled out as the damages the captions name, and since no caption says "generic",
# that class lists what a generic photo shows.
PROMPTS: dict[str, tuple[str, ...]] = {
    "intact": ("a photo of an intact {p}", "a {p} in perfect condition", "a photo of an undamaged {p}"),
    "damaged": ("a photo of a cracked {p}", "a photo of a burnt {p}", "a photo of a dented {p}",
                "a {p} in a torn box"),
    "generic": ("a stock photo of a {p}", "a brand logo", "a closed shipping box"),
}


# --- model and tokenizer --------------------------------------------------------------------------


def build_caption_tokenizer(captions: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the words of ``captions`` (lower-cased, punctuation split off).

    A 30k-token WordPiece embedding would be most of a 15 MB budget; the captions use ~60 words.
    Every text becomes ``<bos> words <eos>`` because CLIP's text tower pools at the ``<eos>`` token.
    """
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre_tokenizer = pre_tokenizers.Whitespace()
    words = {word for text in captions
             for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))}
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *sorted(words)])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<bos>", eos_token="<eos>", model_max_length=MAX_TEXT_LENGTH)


def offline_clip_config(tokenizer: PreTrainedTokenizerFast) -> CLIPConfig:
    """The offline CLIP: a 4-layer ViT (64x64 px, 8x8 patches of 8 px, width 128) + a 2-layer text tower.

    The text config takes pad/bos/eos ids from ``tokenizer``: with an ``eos_token_id`` other than 2,
    `CLIPTextModel` pools at the first ``<eos>`` of each sequence (not at the largest token id).
    """
    return CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=MAX_TEXT_LENGTH,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        ),
        vision_config=dict(
            image_size=OFFLINE_IMAGE_SIZE, patch_size=OFFLINE_PATCH_SIZE, hidden_size=128,
            intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
        ),
        projection_dim=128,
    )


# --- data -----------------------------------------------------------------------------------------


def pixel_values_of(images: list[Image.Image], image_processor, batch_size: int = 512) -> torch.Tensor:
    """Run the image processor over ``images`` in chunks -> ``[n, 3, height, width]`` float tensor."""
    chunks = [image_processor(images=images[start:start + batch_size], return_tensors="pt")["pixel_values"]
              for start in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def heldout_photos(n_per_class: int, seed: int = EVAL_SEED) -> tuple[list[Image.Image], list[int]]:
    """``n_per_class`` photos per state (details and products cycled, so classes are balanced).

    Returns (images, labels) with labels indexing `STATES`. Drawn with ``seed``, never the training one.
    """
    images, labels = [], []
    for label, state in enumerate(STATES):
        for index in range(n_per_class):
            detail = DETAILS[state][index % len(DETAILS[state])]
            product = PRODUCTS[(index // len(DETAILS[state])) % len(PRODUCTS)]
            rng = np.random.default_rng([seed, label, index])
            images.append(draw_photo(product, state, detail, rng, size=PHOTO_SIZE))
            labels.append(label)
    return images, labels


def augment(pixel_values: torch.Tensor, generator: torch.Generator, max_shift: int = 4) -> torch.Tensor:
    """Random horizontal flip and a shift of up to ``max_shift`` px: ``[B, 3, H, W]`` -> same shape.

    Damage can sit anywhere on a product, so neither changes what a caption says about the photo.
    """
    batch, _, height, width = pixel_values.shape
    flip = torch.rand(batch, generator=generator) < 0.5
    pixel_values = torch.where(flip[:, None, None, None], pixel_values.flip(-1), pixel_values)
    padded = F.pad(pixel_values, [max_shift] * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, batch), generator=generator).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + height, dx[i]:dx[i] + width] for i in range(batch)])


# --- training -------------------------------------------------------------------------------------


def clip_loss(logits_per_image: torch.Tensor, caption_ids: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE, as in CLIP: ``[B, B]`` image-text logits (already times the temperature) -> scalar.

    ``caption_ids`` ``[B]`` numbers the distinct captions. Pairs in a batch that share the exact same
    caption are positives for each other (uniform soft targets): the caption vocabulary is small, so
    duplicates are common and must not be pushed apart.
    """
    same = (caption_ids[:, None] == caption_ids[None, :]).float()  # [B, B]
    targets = same / same.sum(dim=1, keepdim=True)
    image_to_text = F.cross_entropy(logits_per_image, targets)
    text_to_image = F.cross_entropy(logits_per_image.t(), targets)
    return (image_to_text + text_to_image) / 2


def train_contrastive(
    model: CLIPModel, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
    caption_ids: torch.Tensor, *, epochs: int, batch_size: int, lr: float, seed: int, progress: bool = True,
) -> list[float]:
    """Train ``model`` on aligned pairs: pixels ``[N, 3, H, W]``, ids/mask ``[N, L]``, caption_ids ``[N]``.

    AdamW with linear warm-up (the first 5% of steps) and cosine decay
    (`transformers.get_cosine_schedule_with_warmup`); the learned temperature (``logit_scale``) is clamped
    at 100 as in CLIP. The data stay on the CPU; each batch moves to the model's device.
    Returns the mean loss of each epoch.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    steps_per_epoch = len(pixel_values) // batch_size  # drop the ragged last batch (too few negatives)
    total = epochs * steps_per_epoch
    schedule = get_cosine_schedule_with_warmup(optimizer, max(1, total // 20), total)
    model.train()
    epoch_losses = []
    bar = progress_bar(total=total, desc="pretrain CLIP", enabled=progress, leave=True)
    for _ in range(epochs):
        order = torch.randperm(len(pixel_values), generator=generator)
        losses = []
        for step in range(steps_per_epoch):
            batch = order[step * batch_size:(step + 1) * batch_size]
            output = model(input_ids=input_ids[batch].to(model.device),
                           attention_mask=attention_mask[batch].to(model.device),
                           pixel_values=augment(pixel_values[batch], generator).to(model.device))
            loss = clip_loss(output.logits_per_image, caption_ids[batch].to(model.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            losses.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        epoch_losses.append(float(np.mean(losses)))
    bar.close()
    model.eval()
    return epoch_losses


# --- zero-shot evaluation -------------------------------------------------------------------------


def caption_embeddings(model: CLIPModel, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
    """Projected text embeddings ``[texts, embed_dim]`` (not normalised) of tokenized texts ``[texts, L]``."""
    return clip_text_outputs(model, tokens["input_ids"], tokens["attention_mask"])[0]


@torch.no_grad()
def prompt_embeddings(
    model: CLIPModel, tokenizer: PreTrainedTokenizerBase, prompts: dict[str, tuple[str, ...]] = PROMPTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embed every prompt, each template filled with every product noun.

    Returns (unit text embeddings ``[prompts, embed_dim]``, class index of each prompt ``[prompts]``,
    classes in `STATES` order).
    """
    texts, classes = [], []
    for index, state in enumerate(STATES):
        filled = sorted({template.format(p=PRODUCT_NOUNS[product]) for template in prompts[state]
                         for product in PRODUCTS})
        texts += filled
        classes += [index] * len(filled)
    tokens = tokenizer(texts, padding=True, return_tensors="pt").to(model.device)
    return F.normalize(caption_embeddings(model, tokens), dim=-1), torch.tensor(classes, device=model.device)


def zero_shot_log_probs(
    model: CLIPModel, image_embeds: torch.Tensor, text_embeds: torch.Tensor, prompt_classes: torch.Tensor,
) -> torch.Tensor:
    """Class log-probabilities ``[batch, classes]`` from image embeddings ``[batch, embed_dim]``.

    CLIP's softmax runs over all prompts (with its learned temperature); a class's probability is
    the sum over its prompts. Every prompt acts as a sub-class ("cracked", "burnt", ...): averaging
    the prompt embeddings of a class instead would blur four different damages into one centroid.
    """
    logits = model.logit_scale.exp() * F.normalize(image_embeds, dim=-1) @ text_embeds.t()  # [B, prompts]
    log_probs = logits.log_softmax(dim=-1)
    return torch.stack([log_probs[:, prompt_classes == index].logsumexp(dim=-1)
                        for index in range(len(STATES))], dim=-1)


@torch.no_grad()
def zero_shot_evaluate(
    model: CLIPModel | Encoders, tokenizer: PreTrainedTokenizerBase | None = None, image_processor=None, *,
    n_per_class: int = 200, seed: int = EVAL_SEED, batch_size: int = 256,
) -> dict[str, float]:
    """Zero-shot intact / damaged / generic accuracy on ``n_per_class`` held-out photos per class.

    Pass a `CLIPModel` with its tokenizer and image processor, or an `Encoders` (which carries them).
    Returns ``{"accuracy": overall, "intact": ..., "damaged": ..., "generic": ...}`` (per-class recall).
    """
    if isinstance(model, Encoders):
        model, tokenizer, image_processor = model.image_model, model.clip_tokenizer, model.image_processor
    if tokenizer is None or image_processor is None:
        raise ValueError("zero-shot needs the CLIP text tokenizer and image processor: pass them, or pass "
                         "Encoders of a profile with a trained CLIP text tower ('offline' or 'full').")
    model.eval()
    images, labels = heldout_photos(n_per_class, seed)
    pixel_values = pixel_values_of(images, image_processor)
    batches = pixel_values.split(batch_size)
    image_embeds = torch.cat([clip_image_outputs(model, batch.to(model.device))[0] for batch in batches])
    log_probs = zero_shot_log_probs(model, image_embeds, *prompt_embeddings(model, tokenizer))  # [N, classes]
    correct = log_probs.argmax(dim=-1).cpu() == torch.tensor(labels)
    per_class = {state: correct[torch.tensor(labels) == index].float().mean().item()
                 for index, state in enumerate(STATES)}
    return {"accuracy": correct.float().mean().item(), **per_class}


# --- the whole recipe -----------------------------------------------------------------------------


def _folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 2**20


def pretrain_clip(
    out_dir: str | Path | None = None, seed: int = TRAIN_SEED, epochs: int = 20, n_pairs: int = 6000,
    batch_size: int = 64, lr: float = 1e-3, eval_per_class: int = 200, progress: bool = True,
    device: str | torch.device | None = None,
) -> dict:
    """Train the offline CLIP from scratch and save it into ``out_dir`` (default `offline_clip_dir()`: model,
    tokenizer, image processor).

    ``seed`` draws the ``n_pairs`` training pairs and seeds the run; the zero-shot check uses held-out
    photos drawn with `EVAL_SEED`. Writes ``out_dir/metrics.json`` and returns the same dict: zero-shot
    accuracy (overall and per class), losses, wall time (data + training), checkpoint size.
    Load the result with ``CLIPModel.from_pretrained(out_dir)`` or ``load_encoders("offline")``.
    ``device`` defaults to CUDA when available (the recipe takes a few minutes on a 2-core CPU).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir or offline_clip_dir())
    torch.manual_seed(seed)
    pairs = caption_pairs(n_pairs, seed, size=PHOTO_SIZE)
    captions = [caption for _, caption, _ in pairs]
    tokenizer = build_caption_tokenizer(captions)
    image_processor = clip_image_processor(OFFLINE_IMAGE_SIZE)
    tokens = tokenizer(captions, padding=True, return_tensors="pt")
    caption_index = {caption: index for index, caption in enumerate(sorted(set(captions)))}
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = CLIPModel(offline_clip_config(tokenizer)).to(device)

    losses = train_contrastive(
        model, pixel_values_of([image for image, _, _ in pairs], image_processor),
        tokens["input_ids"], tokens["attention_mask"], torch.tensor([caption_index[c] for c in captions]),
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress,
    )
    train_seconds = time.perf_counter() - start
    zero_shot = zero_shot_evaluate(model, tokenizer, image_processor, n_per_class=eval_per_class)

    for part in (model.cpu(), tokenizer, image_processor):
        part.save_pretrained(out_dir)  # model as model.safetensors; tokenizer.json; preprocessor_config.json
    metrics = {
        "zero_shot_accuracy": round(zero_shot["accuracy"], 4),
        "zero_shot_per_class": {state: round(zero_shot[state], 4) for state in STATES},
        "eval_photos_per_class": eval_per_class, "eval_seed": EVAL_SEED, "train_seed": seed,
        "n_pairs": n_pairs, "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "epoch_losses": [round(loss, 4) for loss in losses],
        "logit_scale": round(model.logit_scale.exp().item(), 2),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(train_seconds, 1), "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "checkpoint_megabytes": round(_folder_megabytes(out_dir), 2),
        "transformers": transformers.__version__, "torch": torch.__version__,
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
