"""Notebook 09's online section, offline: a real open VLM's code path (`mmsent.vlm.open_model`) run on
a randomly initialised tiny model of the same class (transformers' `LlavaForConditionalGeneration`
through `AutoModelForImageTextToText`, a `LlavaProcessor` with a chat template), and its grading
checked with a stand-in that answers in sentences. Not covered: the download and the real weights."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModelForImageTextToText,
    CLIPImageProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from mmsent.vlm.open_model import OpenVLM, course_answer, open_prompt, open_scores
from mmsent.vlm.text import CAPTION_PROMPT, caption, examples
from mmsent.vlm.truth import make_photos

CHAT = ("{% for message in messages %}USER: {% for part in message['content'] %}"
        "{% if part['type'] == 'image' %}<image> {% else %}{{ part['text'] }}{% endif %}{% endfor %}"
        "{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}")


@pytest.fixture(scope="module")
def photos():
    return make_photos(8, seed=11)


@pytest.fixture(scope="module")
def tiny_vlm() -> OpenVLM:
    """A 16-patch CLIP tower and a 2-layer Llama, random, with a word-level tokenizer built here."""
    words = ["<pad>", "<unk>", "<eos>", "<image>", "USER:", "ASSISTANT:", "yes", "no", "left", "right",
             "crack", "burn", "dent", "torn", "mug", "phone", "a", "the"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>",
                                        eos_token="<eos>", additional_special_tokens=["<image>"])
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy="default", chat_template=CHAT,
                               num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=32, patch_size=8),
        text_config=LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                max_position_embeddings=256, pad_token_id=0, eos_token_id=2),
        image_token_index=words.index("<image>"), image_seq_length=16,
        vision_feature_select_strategy="default", vision_feature_layer=-1)
    torch.manual_seed(0)
    return OpenVLM(AutoModelForImageTextToText.from_config(config), processor, max_new_tokens=4)


def test_a_tiny_model_of_the_real_class_answers_every_photo_and_is_graded(tiny_vlm, photos):
    replies = tiny_vlm.ask([p.image for p in photos], open_prompt("is it damaged ?")[0], batch_size=3)
    assert len(replies) == len(photos) and all(isinstance(reply, str) for reply in replies)
    items = examples([p.truth for p in photos], seed=11)
    scores = open_scores(tiny_vlm, photos, items)
    assert set(scores["answers"]) <= {"damaged", "product", "kind", "has_kind", "where"}
    assert all(0.0 <= value <= 1.0 for value in scores["answers"].values())
    assert len(scores["captions"]) == len(photos) and 0.0 <= scores["hallucination_rate"] <= 1.0


class Truthful:
    """Answers every question about a photo truly, in sentences, as a chat model would."""

    def __init__(self, photos):
        self.truth = {id(p.image): p.truth for p in photos}

    def ask(self, images, question):
        replies = []
        for image in images:
            truth = self.truth[id(image)]
            if question == open_prompt(CAPTION_PROMPT)[0]:
                replies.append(f"This is {caption(truth)}.".replace("crack", "cracked spot"))
            elif "damaged" in question:
                replies.append("Yes, it is damaged." if truth.damaged else "No, it looks fine.")
            elif "Which product" in question:
                replies.append(f"It is a {truth.product.replace('headphones', 'headphone')}.")
            elif "What is the damage" in question:
                replies.append(f"The damage is a {truth.damage.replace('torn_box', 'torn box')}.")
            elif "left or on the right" in question:
                replies.append(f"On the {truth.side}.")
            else:  # "Is there a burn in this photo?"
                named = question.removeprefix("Is there ").split(" in this photo")[0].split()[-1]
                asked = {"box": "torn_box"}.get(named, named)
                replies.append("Yes." if asked == truth.damage else "No, there is not.")
        return replies


def test_truthful_sentences_score_full_marks_and_no_hallucination(photos):
    items = examples([p.truth for p in photos], seed=11)
    scores = open_scores(Truthful(photos), photos, items)
    assert all(value == 1.0 for value in scores["answers"].values()), scores["answers"]
    assert scores["hallucination_rate"] == 0.0 and scores["product_accuracy"] == 1.0


def test_course_answer_reads_the_graded_word_among_the_questions_choices():
    assert course_answer("Yes, it is.", ("yes", "no")) == "yes"
    assert course_answer("It's a pair of headphones, and it is damaged.", open_prompt("what is it ?")[1]) == (
        "headphones")
    assert course_answer("The mug has a burnt patch.", open_prompt("what is the damage ?")[1]) == "burn"
    assert course_answer("I cannot tell.", ("yes", "no")) == ""
    assert open_prompt("is there a torn box ?")[0].startswith("Is there a torn box in this photo?")
    with pytest.raises(ValueError, match="no chat wording"):
        open_prompt("how old is it ?")
