"""A real open vision-language model, asked the course's questions about the same photos and graded
by the same code (`grade_answers`, `caption_facts`, `hallucinates`): notebook 09's online section.

    vlm = OpenVLM.from_hub()                       # OPEN_VLM: a LLaVA on a 0.5B Qwen2, about 1.8 GB
    vlm.ask([photo.image], "Is the product in this photo damaged? Answer yes or no.")  # ["Yes."]
    open_scores(vlm, photos, items)                # the evaluation table's row for it

It goes through transformers' generic classes (`AutoProcessor`, `AutoModelForImageTextToText`, the
processor's chat template, `generate`), so any image-text-to-text model of the hub can stand in. A
chat model answers in sentences: the course's terse prompts are asked the way a person would ask
(`open_prompt`), and `course_answer` reads the one word the course grades out of the reply, among that
question's possible answers ("Yes, it is." -> "yes", "It's a pair of headphones." -> "headphones"); a
reply with none of them is wrong.
"""

from __future__ import annotations

import re

import torch
from PIL import Image

from mmsent.data.synth import PRODUCTS
from mmsent.vlm.evaluate import caption_facts, grade_answers, hallucinates
from mmsent.vlm.text import CAPTION_PROMPT, DAMAGE_WORDS, Example
from mmsent.vlm.truth import SIDES, Photo

OPEN_VLM = "llava-hf/llava-interleave-qwen-0.5b-hf"
_ASKED = {
    CAPTION_PROMPT: "Describe the product in this photo and any damage on it, in one sentence.",
    "is it damaged ?": "Is the product in this photo damaged? Answer yes or no.",
    "what is it ?": "Which product is this: phone, laptop, headphones, mug, sneaker or watch? Answer with "
                    "one word.",
    "what is the damage ?": "What is the damage: a crack, a burn, a dent or a torn box? Answer with one "
                            "word.",
    "where is the damage ?": "Is the damage on the left or on the right of the photo? Answer left or right.",
}
# Words a chat model writes for what the course calls by one name.
_SYNONYMS = {
    "headphone": "headphones", "earphones": "headphones", "sneakers": "sneaker", "shoe": "sneaker",
    "shoes": "sneaker", "trainer": "sneaker", "cup": "mug", "smartphone": "phone", "cellphone": "phone",
    "notebook": "laptop", "computer": "laptop", "wristwatch": "watch", "clock": "watch",
    "cracked": "crack", "cracks": "crack", "burnt": "burn", "burned": "burn", "burns": "burn",
    "scorch": "burn", "scorched": "burn", "dented": "dent", "dents": "dent", "tear": "torn",
    "ripped": "torn",
}
YES_NO: tuple[str, ...] = ("yes", "no")
_CHOICES = {"what is it ?": PRODUCTS, "what is the damage ?": tuple(DAMAGE_WORDS.values()),
            "where is the damage ?": SIDES}


def open_prompt(prompt: str) -> tuple[str, tuple[str, ...]]:
    """The course's prompt ("is there a burn ?") as a chat model is asked it, and the answers the
    course grades for it (for a caption: none)."""
    if prompt.startswith("is there "):  # "is there a torn box ?"
        thing = prompt.removeprefix("is there ").removesuffix(" ?")
        return f"Is there {thing} in this photo? Answer yes or no.", YES_NO
    if prompt not in _ASKED:
        raise ValueError(f"no chat wording for the prompt {prompt!r}")
    return _ASKED[prompt], _CHOICES.get(prompt, YES_NO if prompt != CAPTION_PROMPT else ())


def _words(text: str) -> list[str]:
    return [_SYNONYMS.get(word, word) for word in re.findall(r"[a-z]+", text.lower())]


def course_answer(reply: str, choices: tuple[str, ...]) -> str:
    """The first word of a free-text reply that is one of `choices` ("" when none is)."""
    return next((word for word in _words(reply) if word in choices), "")


class OpenVLM:
    """An image-text-to-text model and its processor; `ask` answers one question about many photos."""

    def __init__(self, model: torch.nn.Module, processor, max_new_tokens: int = 32) -> None:
        self.model, self.processor, self.max_new_tokens = model.eval(), processor, max_new_tokens

    @classmethod
    def from_hub(cls, name: str = OPEN_VLM, device: str | None = None) -> OpenVLM:
        """Download (once, into the Hugging Face cache) and load `name`; on `device` (default: a GPU
        when there is one)."""
        try:
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as error:  # the class first ships in transformers 4.46
            raise ImportError("a hub vision-language model needs transformers 4.46 or newer "
                              "(AutoModelForImageTextToText): pip install -U transformers") from error
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = AutoModelForImageTextToText.from_pretrained(name).to(device)
        return cls(model, AutoProcessor.from_pretrained(name))

    @torch.no_grad()
    def ask(self, images: list[Image.Image], question: str, batch_size: int = 16) -> list[str]:
        """Greedy replies to `question` about each image, one string per image."""
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        prompt = self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        device = next(self.model.parameters()).device
        replies = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]  # one prompt, one photo size: rows of equal length
            inputs = self.processor(images=chunk, text=[prompt] * len(chunk), return_tensors="pt").to(device)
            inputs.pop("token_type_ids", None)  # some tokenizers add it; a decoder's generate refuses it
            ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            new = ids[:, inputs["input_ids"].shape[1]:]
            replies += [reply.strip() for reply in self.processor.batch_decode(new, skip_special_tokens=True)]
        return replies


def open_scores(vlm: OpenVLM, photos: list[Photo], items: list[Example]) -> dict:
    """`vlm` graded like the course's models (`evaluate_vlm`'s keys, no attention lift): exact match
    per question type on `items` (about `photos`), and its captions' product / state accuracy and
    hallucination rate. Also returns the raw `captions`."""
    def answer(prompt: str, rows: list[int]) -> list[str]:
        question, choices = open_prompt(prompt)
        return [course_answer(reply, choices) for reply in vlm.ask([photos[r].image for r in rows], question)]

    def share(hits) -> float:
        return sum(hits) / max(1, len(photos))

    captions = vlm.ask([photo.image for photo in photos], open_prompt(CAPTION_PROMPT)[0])
    claims = [caption_facts(" ".join(_words(text))) for text in captions]
    truths = [photo.truth for photo in photos]
    return {
        "answers": grade_answers(items, answer),
        "product_accuracy": share(c.product == t.product for c, t in zip(claims, truths, strict=True)),
        "state_accuracy": share(bool(c.damage) == t.damaged for c, t in zip(claims, truths, strict=True)),
        "hallucination_rate": share(hallucinates(c, t) for c, t in zip(claims, truths, strict=True)),
        "lift": {},
        "captions": captions,
    }
