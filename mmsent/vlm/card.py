"""The model card of the committed vision-language models (``data/vlm-offline/README.md``) and the
evaluation table it shares with the README and notebook 09."""

from __future__ import annotations

from mmsent.vlm.text import QUESTION_TYPES

SHORT_NAMES = {"blind": "blind", "llava": "LLaVA-style", "flamingo": "Flamingo-style"}
NAMES = {kind: f"{SHORT_NAMES[kind]} ({how})" for kind, how in (
    ("blind", "no photo"), ("llava", "projected prefix"), ("flamingo", "gated cross-attention"))}


def evaluation_table(metrics: dict) -> str:
    """A markdown table: one row per model plus the blind ceiling; exact match per question type,
    caption product / state accuracy and hallucination rate (greedy captions), the same state accuracy
    and rate for beam-search captions, and the damage words' attention lift."""
    header = ["model", *QUESTION_TYPES, "caption product", "caption state", "hallucination",
              "beam search: state / hallucination", "lift crack / burn / dent"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    ceilings = metrics["blind_ceilings"]
    blind = " | ".join(f"{ceilings[t]:.3f}" for t in QUESTION_TYPES)
    lines.append(f"| blind ceiling | {blind} | | | | | |")
    for kind, row in metrics["models"].items():
        lift = " / ".join(f"{row['lift'][word]:.2f}" if word in row["lift"] else "–"
                          for word in ("crack", "burn", "dent"))
        beam = row.get("beam_search")
        beam = f"{beam['state_accuracy']:.3f} / {beam['hallucination_rate']:.3f}" if beam else "–"
        cells = [NAMES.get(kind, kind), *(f"{row['answers'][t]:.3f}" for t in QUESTION_TYPES),
                 f"{row['product_accuracy']:.3f}", f"{row['state_accuracy']:.3f}",
                 f"{row['hallucination_rate']:.3f}", beam, lift]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _detail(recipe: dict) -> str:
    """How the card names the detail stem (none in a recipe without one)."""
    width = recipe.get("detail_width", 0)
    return (f", plus a detail stem (four strided convolutions, {width} channels at the widest, on the "
            "128 px photo) added to each patch token") if width else ""


def vlm_card(metrics: dict) -> str:
    """The README.md of the folder that holds the three models."""
    recipe, llava = metrics["recipe"], metrics["models"]["llava"]
    beams = recipe.get("caption_beams", "no")  # a table written before beam search has no such column
    per_kind = recipe.get("steps_per_kind", dict.fromkeys(metrics["models"], recipe["steps"]))
    steps = ", ".join(f"{SHORT_NAMES.get(kind, kind)} {count:,}" for kind, count in per_kind.items())
    return f"""---
license: mit
tags: [vision-language, image-to-text, visual-question-answering, course]
---

# mmsent's small vision-language models

Three small causal decoders (nanoGPT-style, {metrics['models']['llava']['parameters']:,} parameters for
the LLaVA-style one) that write about the course's generated product photos, reading the offline CLIP's
patch tokens (`data/clip-offline`, its top {recipe.get('vision_layers', 0)} vision layers fine-tuned with
each model, the rest frozen){_detail(recipe)}: `llava/` (projected prefix), `flamingo/` (tanh-gated
cross-attention) and `blind/` (the same decoder without the photo). Notebook 09, "Models that talk
about pictures", teaches them.

Load: `VisionLanguageModel.from_pretrained("data/vlm-offline/llava")` and
`WordTokenizer.from_pretrained("data/vlm-offline/llava")` (`mmsent.vlm`). The weights are stored as
float16 and load into float32; the table below grades them as stored.

## Evaluation ({recipe['heldout']} held-out photos, seed 20241)

Exact match per question type, then for captions product / state accuracy and the CHAIR-style
hallucination rate (captions naming a product, damage or side the photo does not have), all greedy;
the state accuracy and hallucination rate of beam-search captions ({beams} beams: they name fewer
wrong things, but where the model doubts a damage the likeliest sentence is often "an intact …", which
the rate does not count even when the product is damaged: read the two together); and the attention
lift of the damage word on the true damage mask (1 = no preference).

{evaluation_table(metrics)}
## Training

`python -m mmsent pretrain-vlm` (seed {recipe['seed']}): {recipe['photos']} generated photos (intact
and damaged, never the review set's), AdamW steps of batch {recipe['batch_size']}, examples drawn task
first ({steps}), {metrics['wall_seconds']:.0f} s in all on {metrics['cpu']} (torch {metrics['torch']}).

## Limits

Trained only on drawn photos and a closed vocabulary of about forty words: it cannot describe a real
photo, and refuses words it never saw. Even on drawn photos it errs:
{llava['hallucination_rate']:.0%} of the LLaVA-style model's captions name something the photo does
not have, it answers "is it damaged ?" right {llava['answers']['damaged']:.0%} of the time and "where
is the damage ?" {llava['answers']['where']:.0%} (blind ceiling {metrics['blind_ceilings']['where']:.0%}).
Check its words against the photo.
"""
