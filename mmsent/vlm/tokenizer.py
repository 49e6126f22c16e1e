"""A word-level tokenizer over the generator's closed vocabulary.

The captions and questions come from a few templates, so every word they can contain is known in
advance (`mmsent.vlm.text.all_words`, about fifty). Each word is one token; four special tokens
frame a sequence:

    <bos> is it damaged ? <ans> yes <eos>
    <bos> describe the photo . <ans> a mug with a crack on the left <eos>

<pad> fills short sequences of a batch; <ans> marks where the answer starts (the model is trained
to predict only what follows it). Real tokenizers (BPE, WordPiece) split unknown words into pieces;
this one refuses them, because the model never saw them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mmsent.errors import CheckpointError
from mmsent.hub.folder_check import folder_file, read_small_json
from mmsent.vlm.text import all_words

PAD, BOS, ANSWER, EOS = "<pad>", "<bos>", "<ans>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, BOS, ANSWER, EOS)


class WordTokenizer:
    """Words <-> ids. `vocabulary`: the ids' words in order (specials first)."""

    def __init__(self, words: list[str] | None = None) -> None:
        self.vocabulary: list[str] = [*SPECIALS, *(all_words() if words is None else words)]
        self.ids = {word: index for index, word in enumerate(self.vocabulary)}
        self.pad_id, self.bos_id, self.answer_id, self.eos_id = (self.ids[s] for s in SPECIALS)

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> list[int]:
        """Ids of the words of `text` (split on spaces); ValueError on a word outside the vocabulary."""
        unknown = [word for word in text.split() if word not in self.ids]
        if unknown:
            raise ValueError(f"words outside the vocabulary: {unknown}; known words: {self.vocabulary[4:]}")
        return [self.ids[word] for word in text.split()]

    def prompt_ids(self, prompt: str) -> list[int]:
        """<bos> prompt <ans>: what the model reads before it answers."""
        return [self.bos_id, *self.encode(prompt), self.answer_id]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """The words of `ids` up to the first <eos>, specials left out."""
        words = []
        for index in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if index == self.eos_id:
                break
            if index >= len(SPECIALS):
                words.append(self.vocabulary[index])
        return " ".join(words)

    def training_pair(self, prompt: str, answer: str) -> tuple[list[int], list[int]]:
        """(input ids, target ids) of one example, same length; targets are -100 (ignored) on the prompt.

        input:  <bos> p1 .. pk <ans> a1 .. am
        target:  -100 .. -100  a1   a2 .. <eos>   (position t predicts token t + 1)
        """
        prompt_ids, answer_ids = self.prompt_ids(prompt), self.encode(answer)
        inputs = prompt_ids + answer_ids
        targets = [-100] * (len(prompt_ids) - 1) + answer_ids + [self.eos_id]
        return inputs, targets

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the vocabulary (``vocab.json``: the words in id order) into `folder`."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "vocab.json").write_text(json.dumps(self.vocabulary) + "\n")

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> WordTokenizer:
        """The tokenizer `save_pretrained` wrote into `folder`."""
        fix = "Rebuild it with `python -m mmsent pretrain-vlm`."
        path = folder_file(Path(folder), "vocab.json")
        vocabulary = read_small_json(path, fix=fix, kind=list)
        if not all(isinstance(word, str) for word in vocabulary) or len(set(vocabulary)) != len(vocabulary):
            raise CheckpointError(f"{path} must be a list of distinct words (strings). {fix}")
        if list(vocabulary[:len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"{folder}/vocab.json does not start with the special tokens {SPECIALS}")
        return cls(vocabulary[len(SPECIALS):])
