"""What the text-to-image model is asked to draw, and the course CLIP's view of captions and pixels.

The model is conditioned on the course CLIP's text embedding (the offline profile's small
`CLIPModel` in ``data/clip-offline``, `mmsent.models.clip_pretrain`), so any caption in the CLIP's
vocabulary is a prompt. The grid the course shows and grades is 3 photo states x 6 products:
one prompt per cell (`grid_prompts`); the damaged row cycles through the four damages.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import CLIPModel, PreTrainedTokenizerBase

from mmsent.compat import load_clip_tokenizer
from mmsent.data.synth import DETAILS, PRODUCT_NOUNS, PRODUCTS, STATES
from mmsent.encoders import _no_loading_bars, clip_text_outputs
from mmsent.paths import CONFIG_FILE, offline_clip_dir

# One caption template per photo detail, in the words the CLIP was trained on.
DETAIL_PROMPTS: dict[str, str] = {
    "": "an intact {p}", "crack": "a cracked {p}", "burn": "a burnt {p}", "dent": "a dented {p}",
    "torn_box": "a {p} in a torn box", "stock": "a stock photo of a {p}",
}
# The detail each product is drawn with in the damaged row: the four damages in turn.
DAMAGE_OF_PRODUCT: dict[str, str] = {product: DETAILS["damaged"][index % len(DETAILS["damaged"])]
                                     for index, product in enumerate(PRODUCTS)}


def detail_of(state: str, product: str) -> str:
    """The photo detail a grid cell shows: none when intact, a damage in turn, a stock shot when generic."""
    return {"intact": "", "damaged": DAMAGE_OF_PRODUCT[product], "generic": "stock"}[state]


def prompt_for(state: str, product: str) -> str:
    """The caption of one grid cell, e.g. ``prompt_for("damaged", "phone") == "a cracked phone"``."""
    text = DETAIL_PROMPTS[detail_of(state, product)].format(p=PRODUCT_NOUNS[product])
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def grid_prompts() -> list[tuple[str, str, str]]:
    """(state, product, caption) for the 3 x 6 grid, row by row (`STATES` x `PRODUCTS`)."""
    return [(state, product, prompt_for(state, product)) for state in STATES for product in PRODUCTS]


def load_course_clip(clip_dir: Path | None = None) -> tuple[CLIPModel, PreTrainedTokenizerBase]:
    """The offline profile's CLIP model (eval mode; default `offline_clip_dir()`) and its caption tokenizer,
    from disk only."""
    clip_dir = clip_dir or offline_clip_dir()
    if not (clip_dir / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"the course CLIP is missing: {clip_dir / CONFIG_FILE} not found; "
                                "build it with `python -m mmsent pretrain-clip`")
    with _no_loading_bars():  # a small local file: no bar needed (as in the offline profile)
        model = CLIPModel.from_pretrained(clip_dir, local_files_only=True, use_safetensors=True).eval()
    return model, load_clip_tokenizer(clip_dir)


@torch.no_grad()
def caption_embeddings(
    clip: CLIPModel, tokenizer: PreTrainedTokenizerBase, captions: list[str],
) -> torch.Tensor:
    """Unit-length CLIP text embeddings ``[len(captions), projection_dim]``: the generator's condition."""
    tokens = tokenizer(captions, padding=True, return_tensors="pt").to(clip.device)
    embeds = clip_text_outputs(clip, tokens["input_ids"], tokens["attention_mask"])[0]
    return F.normalize(embeds, dim=-1)
