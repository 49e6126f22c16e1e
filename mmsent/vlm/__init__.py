"""Models that talk about pictures: a small vision-language model, two ways, graded against the truth.

Notebook 09 ("Models that talk about pictures") teaches all of it. One job per module, each importing
only those above it:

    truth           photos with known content (product, damage kind, the damage's side, its mask)
    text            captions and questions with known answers; the blind ceiling per question type
    tokenizer       a word-level tokenizer over the closed vocabulary
    decoder         nanoGPT-style causal self-attention blocks that return their attention weights
    cross_attention Flamingo's tanh-gated cross-attention (gates start at zero)
    detail          a small CNN on the 128 px photo whose output is added to CLIP's patch tokens
    vision          the top layers of the course CLIP's vision tower, fine-tuned with the model; what
                    the models read of each photo (the frozen states that enter those layers and
                    the pixels), computed once per photo
    model           VisionLanguageModel: "blind", "llava" (projected prefix) or "flamingo"; save/load
    training        batches and next-word training
    generate        greedy and temperature / top-k decoding, with where each written word looked
    evaluate        exact match, caption accuracy, hallucination rate, attention lift of damage words
    card            the evaluation table and the model card
    pretrain        `python -m mmsent pretrain-vlm`: train, grade and save the three models
    open_model      a real open VLM from the hub (online), asked the same questions, graded the same way

May import: errors, paths, progress, compat, data, encoders, hub, analysis, generation.
"""

from mmsent.vlm.generate import generate, next_token
from mmsent.vlm.model import KINDS, VisionLanguageModel, VLMConfig
from mmsent.vlm.text import CAPTION_PROMPT, QUESTION_TYPES, blind_ceilings, caption, examples
from mmsent.vlm.tokenizer import WordTokenizer
from mmsent.vlm.truth import Photo, PhotoTruth, make_photos

__all__ = [
    "CAPTION_PROMPT", "KINDS", "QUESTION_TYPES", "Photo", "PhotoTruth", "VLMConfig", "VisionLanguageModel",
    "WordTokenizer", "blind_ceilings", "caption", "examples", "generate", "make_photos", "next_token",
]
