"""Ask the committed LLaVA-style model about a photo: what the demo's "Ask about the photo" box runs.

    asker = PhotoQuestions()                      # data/vlm-offline/llava + the offline CLIP
    asker.ask("photo.png", "is it damaged ?")     # -> "yes"
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mmsent.data import open_rgb
from mmsent.encoders import clip_image_processor
from mmsent.paths import vlm_dir
from mmsent.vlm.generate import generate
from mmsent.vlm.model import VisionLanguageModel
from mmsent.vlm.text import CAPTION_PROMPT
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.vision import photo_inputs

QUESTIONS: tuple[str, ...] = (
    CAPTION_PROMPT, "is it damaged ?", "what is it ?", "what is the damage ?", "where is the damage ?",
    "is there a crack ?", "is there a burn ?", "is there a dent ?", "is there a torn box ?",
)


class PhotoQuestions:
    """A vision-language model and the CLIP it reads, loaded once; `ask` answers one question."""

    def __init__(self, model_dir: Path | None = None, clip_dir: Path | None = None) -> None:
        """`model_dir` default: the course's LLaVA-style model (`vlm_dir() / "llava"`); `clip_dir`: the
        offline CLIP."""
        from mmsent.generation.prompts import load_course_clip

        model_dir = model_dir or vlm_dir() / "llava"
        self.model = VisionLanguageModel.from_pretrained(model_dir)
        self.tokenizer = WordTokenizer.from_pretrained(model_dir)
        clip, _ = load_course_clip(clip_dir)
        self.encoders = SimpleNamespace(image_model=clip,
                                        image_processor=clip_image_processor(clip.config.vision_config.image_size))

    def ask(self, photo: str | Path, question: str) -> str:
        """The model's greedy answer to `question` about the photo file `photo`.

        Raises ValueError for a question with words outside the model's vocabulary (it names them)
        and `mmsent.errors` data errors for a photo that cannot be read.
        """
        self.tokenizer.encode(question)  # unknown words: a ValueError that lists the known ones
        sizes = self.model.config
        inputs = photo_inputs([open_rgb(photo)], sizes.vision_layers, sizes.pixel_size, self.encoders)
        return generate(self.model, self.tokenizer, question, inputs).texts[0]


def add_question_box(gr, photo) -> None:
    """Inside a `gr.Blocks`: a question box about the `photo` component, with an "Ask" button
    (API name ``/ask``: (photo, question) -> answer)."""
    asker = PhotoQuestions()

    def answer(path: str | None, question: str) -> str:
        if path is None:
            raise gr.Error("Add a photo first: the question is about the photo.")
        try:
            return f"**{asker.ask(path, question)}**"
        except ValueError as error:
            raise gr.Error(str(error)) from error

    gr.Markdown("### Ask about the photo\nA small LLaVA-style model (notebook 09) answers from the "
                "photo alone.")
    with gr.Row():
        question = gr.Dropdown(choices=list(QUESTIONS), value=QUESTIONS[1], allow_custom_value=True,
                               label="Question", elem_id="vlm-question")
        button = gr.Button("Ask", elem_id="ask")
    reply = gr.Markdown(elem_id="vlm-answer")
    button.click(answer, inputs=[photo, question], outputs=[reply], api_name="ask")
