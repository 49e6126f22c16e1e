"""Notebook 04 (the data pipeline): checks for its exercises, and its quiz.

    from mmsent.exercises import nb04
    nb04.ex1.check(padding_fraction)   # padding_fraction(loader) -> share of token positions that are padding
    nb04.ex2.check(emoji_as_words)     # emoji_as_words("This phone is 🔥🔥🔥") -> the emoji spelt as words
    nb04.ex3.check(odd)                # the table loaded from a CSV of odd photos and an empty file
    nb04.ex4.check(stars)              # the table loaded with the star rating as its label
    nb04.quiz

Exercise 3's check opens the learner's odd photos (grayscale, transparent RGBA, CMYK JPEG) and reads the
table's problems for the empty file. The checks of exercises 1 and 2 run the learner's function on small
made-up inputs with known answers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from mmsent.data import open_rgb
from mmsent.data.images import NOT_AN_IMAGE
from mmsent.exercises.framework import Exercise, Mistake, expect, returned
from mmsent.exercises.quiz import quiz

# Two batches of attention masks: 6 of 8 positions are tokens, then 2 of 2. Padding: 2 of 10 positions.
BATCHES = [{"attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])},
           {"attention_mask": torch.tensor([[1, 1]])}]
PADDING = 0.2


def _check_padding_fraction(padding_fraction: Callable[[Any], float]) -> str:
    expect(callable(padding_fraction), "pass your function itself (padding_fraction), not its result")
    full = returned(padding_fraction([{"attention_mask": torch.ones(3, 5, dtype=torch.long)}]),
                    "padding_fraction(a loader without padding)")
    expect(abs(float(full)) < 1e-9, f"a batch without padding gives {float(full):.3f}, not 0: count the "
           "positions where attention_mask is 0, over all positions")
    value = float(returned(padding_fraction(BATCHES), "padding_fraction(loader)"))
    if abs(value - PADDING) < 1e-6:
        return f"{PADDING:.0%} padding on the made-up loader (2 of 10 positions), counted over the epoch"
    slips = {
        100 * PADDING: "that is a percentage; return the share, between 0 and 1",
        1 - PADDING: "that is the share of real tokens; padding is where attention_mask is 0",
        (2 / 8 + 0 / 2) / 2: "that is the mean of the batches' padding shares, but the batches differ in "
                             "size; add up padded and total positions over the epoch, then divide once",
        2.0: "that is the number of padded positions; divide by all positions",
    }
    for number, slip in slips.items():
        if abs(value - number) < 1e-6:
            raise Mistake(f"on a made-up loader (2 of 10 positions padded) you return {value:.3f}: {slip}")
    raise Mistake(f"on a made-up loader with 2 of 10 positions padded you return {value:.3f}, not {PADDING}")


def _emoji(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) == "So"]


def _check_emoji_as_words(emoji_as_words: Callable[[str], str]) -> str:
    expect(callable(emoji_as_words), "pass your function itself (emoji_as_words), not its result")
    fire = returned(emoji_as_words("This phone is 🔥🔥🔥"), "emoji_as_words('This phone is 🔥🔥🔥')")
    expect(isinstance(fire, str), f"your function returns a {type(fire).__name__}; it must return the text")
    expect(not _emoji(fire), f"emoji are left in {fire!r}: replace each one by unicodedata.name(char)")
    words = fire.lower().split()
    expect(words[:3] == ["this", "phone", "is"], f"the words before the emoji changed: {fire!r}")
    expect(fire.lower().count("fire") == 3,
           f"{fire!r} names fire {fire.lower().count('fire')} times; there are three 🔥, one name each")
    expect("firefire" not in fire.lower(),
           f"{fire!r}: the names run together, so the tokenizer reads one unknown word; put a space on "
           "each side of every name")
    shocked = returned(emoji_as_words("This phone is 🤯"), "emoji_as_words('This phone is 🤯')")
    expect("exploding" in shocked.lower(), f"{shocked!r} does not spell 🤯 ('SHOCKED FACE WITH EXPLODING "
           "HEAD'): use unicodedata.name for every emoji, not a fixed list")
    plain = "Great phone, works fine."
    kept = returned(emoji_as_words(plain), f"emoji_as_words({plain!r})")
    expect(kept.split() == plain.split(), f"a text without emoji keeps its words: {plain!r} became {kept!r}")
    return f"{fire.split()[-1].lower()!r} and {shocked.split()[-1].lower()!r}: the emoji read as words now"


def _check_star_classes(table: Any) -> str:
    encoder = getattr(table, "labels", None)
    expect(encoder is not None, f"you passed a {type(table).__name__}; pass the table that load_reviews "
           "returned (it has .frame and .labels)")
    classes = list(encoder.classes)
    expect(set(classes) != {"negative", "positive"},
           "your classes are still the sentiment: map the rating column to the label (columns={'overall': "
           "'label', ...}) and do not keep a sentiment column")
    expect(all(name.isdigit() for name in classes), f"your classes {classes} are not all star ratings: "
           "the label column must be the integer rating (overall), nothing else")
    expect(set(classes) <= {"1", "2", "3", "4", "5"}, f"your classes {classes} are not ratings from 1 to 5")
    expect("3" in classes, f"your classes {classes} miss 3 stars: section 8 dropped the 3-star reviews for "
           "the two-class problem; a five-class problem keeps them")
    ids = encoder.encode(classes).tolist()
    expect(ids == sorted(ids) and classes == sorted(classes, key=int), f"your classes {classes} are not in "
           "the order of the ratings")
    return f"classes {classes}, ids {ids}: the star ratings, sorted by value"


ex1 = Exercise(
    "Notebook 04, exercise 1 (batch size and padding)",
    _check_padding_fraction,
    hints=(
        "Padding is where attention_mask is 0: count those positions, and all positions, over every batch.",
        "Add them up over the epoch and divide once at the end: batches of different sizes must weigh "
        "by their size.",
    ),
    solution_code="""
def padding_fraction(loader):
    positions = real = 0
    for batch in loader:
        positions += batch["attention_mask"].numel()
        real += int(batch["attention_mask"].sum())
    return 1 - real / positions

nb04.ex1.check(padding_fraction)
# then: padding_fraction(make_loader(text_set, size, shuffle=True, group_by_length=grouped, ...))
""",
)

ex2 = Exercise(
    "Notebook 04, exercise 2 (emoji as words)",
    _check_emoji_as_words,
    hints=(
        "unicodedata.category(char) == 'So' picks out the emoji; unicodedata.name(char) names them.",
        "Put a space on each side of every name, so '🔥🔥🔥' becomes three words, not 'FIREFIREFIRE'.",
    ),
    solution_code="""
import unicodedata

def emoji_as_words(text):
    words = []
    for char in text:
        category = unicodedata.category(char)
        if category == "So":                       # an emoji (symbol, other)
            words.append(f" {unicodedata.name(char, 'emoji').lower()} ")
        elif category not in ("Mn", "Cf", "Sk"):   # drop invisible modifiers
            words.append(char)
    return "".join(words)

nb04.ex2.check(emoji_as_words)
""",
)

ex4 = Exercise(
    "Notebook 04, exercise 4 (star ratings as classes)",
    _check_star_classes,
    hints=(
        "load_reviews(path, columns={'reviewText': 'text', 'photo': 'image_path', 'overall': 'label'}): "
        "the rating becomes the label.",
        "Keep every rating, 3 stars included; integer labels become the class names '1' ... '5'.",
    ),
    solution_code="""
stars = load_reviews(folder / "stars.csv",
                     columns={"reviewText": "text", "photo": "image_path", "overall": "label"})
print(stars.labels.classes)
nb04.ex4.check(stars)
""",
)

def _photo_kinds(paths: list[str]) -> dict[str, str]:
    """{kind of odd photo: its file} among `paths`: 'grayscale', 'transparent RGBA', 'CMYK JPEG', 'RGBA'."""
    kinds = {}
    for path in paths:
        with Image.open(path) as image:
            if image.mode == "L":
                kinds["grayscale"] = path
            elif image.mode == "RGBA":
                transparent = image.getchannel("A").getextrema()[0] == 0
                kinds["transparent RGBA" if transparent else "RGBA"] = path
            elif image.mode == "CMYK" and image.format == "JPEG":
                kinds["CMYK JPEG"] = path
    return kinds


def _check_odd_photos(table: Any) -> str:
    expect(hasattr(table, "frame") and hasattr(table, "problems"),
           f"you passed a {type(table).__name__}; pass the table load_reviews(folder / 'odd.csv') returns")
    kept = [path for path in table.frame["image_path"] if isinstance(path, str)]
    kinds = _photo_kinds(kept)
    expect("grayscale" in kinds, "none of your kept photos is grayscale: save one with image.convert('L')")
    expect("transparent RGBA" in kinds or "RGBA" not in kinds,
           "your RGBA photo has no transparent pixel: paste (0, 0, 0, 0) into a corner before saving it")
    expect("transparent RGBA" in kinds, "none of your kept photos is RGBA: save one with "
           "image.convert('RGBA') and a transparent corner, as a PNG (JPEG has no transparency)")
    expect("CMYK JPEG" in kinds,
           "none of your kept photos is a CMYK JPEG: image.convert('CMYK').save('cmyk.jpg')")
    empty = table.problems[table.problems["problem"] == NOT_AN_IMAGE]
    expect(not empty.empty, "no row of your table points at the empty file: write empty.png with 0 bytes "
           "((folder / 'empty.png').write_bytes(b'')), add a row for it to the CSV and load again")
    modes = {kind: open_rgb(path).mode for kind, path in kinds.items()}
    expect(set(modes.values()) == {"RGB"}, f"open_rgb gave the modes {modes}, not RGB")  # its promise
    return ("the grayscale, transparent RGBA and CMYK JPEG photos are all kept, and open_rgb turns each "
            f"into plain RGB; the empty file is reported ('{NOT_AN_IMAGE}') and its review is "
            f"{empty['action'].iloc[0]}")


ex3 = Exercise(
    "Notebook 04, exercise 3 (odd photos)",
    _check_odd_photos,
    hints=(
        "Start from one RGB photo: image.convert('L'), image.convert('RGBA') (then paste (0, 0, 0, 0) into a "
        "corner) and image.convert('CMYK'), saved as gray.png, rgba.png and cmyk.jpg.",
        "(folder / 'empty.png').write_bytes(b'') makes the empty file; the CSV needs text, image_path (the "
        "file names) and label columns.",
    ),
    solution_code="""
import tempfile
from pathlib import Path

folder = Path(tempfile.mkdtemp())
source = open_rgb(reviews["image_path"].iloc[0])
source.convert("L").save(folder / "gray.png")
transparent = source.convert("RGBA")
transparent.paste((0, 0, 0, 0), (0, 0, 40, 40))  # a fully transparent top-left corner
transparent.save(folder / "rgba.png")
source.convert("CMYK").save(folder / "cmyk.jpg")
(folder / "empty.png").write_bytes(b"")
pd.DataFrame({"text": ["Works.", "Broke.", "Fine.", "Meh."],
              "image_path": ["gray.png", "rgba.png", "cmyk.jpg", "empty.png"],
              "label": ["positive", "negative", "positive", "negative"]}).to_csv(folder / "odd.csv",
                                                                             index=False)
odd = load_reviews(folder / "odd.csv")
nb04.ex3.check(odd)
""",
)


quiz = quiz(
    "04 · The data pipeline",
    (
        "Why does the collate function pad each batch only to its own longest review, not to a fixed "
        "length?",
        [
            ("Padding is wasted compute: padding to the batch's longest review wastes far fewer positions "
             "than padding every review to the longest possible.", True,
             "Every padded position still goes through the encoder, then is masked out. Dynamic padding "
             "cuts the waste to the batch's own spread of lengths; grouping reviews of similar length cuts "
             "it to a few percent."),
            ("Because BERT cannot read sequences of a fixed length.", False,
             "BERT reads any length up to its maximum; fixed padding works, it is only slower."),
            ("So that the attention mask is not needed.", False,
             "The mask is needed either way: whenever a batch holds reviews of different lengths, some "
             "positions are padding and must be ignored."),
        ],
    ),
    (
        "The BERT tokenizer turns \"This phone is 🔥🔥🔥\" and \"This phone is 🤯\" into the same ids. What "
        "follows for the text encoder?",
        [
            ("It cannot tell the two reviews apart: every emoji is the same [UNK] token.", True,
             "Whatever the encoder learns, identical ids give identical vectors. Spelling the emoji as words "
             "(exercise 2) gives them distinct tokens, so at least the text encoder can see a difference."),
            ("Nothing: the encoder still reads the emoji from the raw text.", False,
             "The encoder only ever sees the token ids; what the tokenizer drops is gone."),
            ("The reviews are removed by load_reviews as invalid.", False,
             "They are valid reviews and kept; only their emoji are lost in tokenization."),
        ],
    ),
    (
        "A review's photo file is missing or unreadable. What does the pipeline do?",
        [
            ("Keeps the review text-only: zeros in place of the photo, image_present False, and the problem "
             "in the report.", True,
             "A text is still useful evidence, so the review is kept; image_present tells the model that "
             "the zeros are not a photo (notebook 05's gate then closes), and the report names the row so "
             "you can fix the file."),
            ("Stops with a DataError.", False,
             "Only hopeless input raises (a missing column, no usable row); one bad photo is reported and "
             "worked around."),
            ("Drops the review silently.", False,
             "Nothing is silent: skipped rows and text-only reviews are both reported by row and id."),
        ],
    ),
    (
        "The image processor normalises each channel with CLIP's mean and std. Why CLIP's, not your own "
        "photos'?",
        [
            ("The pretrained encoder learned on inputs normalised that way; the same statistics keep your "
             "photos in the range its weights expect.", True,
             "A pretrained network's first layer is tuned to the distribution of its training inputs. "
             "Preprocessing must match what the encoder saw, not the statistics of a new dataset."),
            ("Because your photos have no mean and std.", False,
             "Any set of photos has a mean and a std; the point is to match the encoder, not the data."),
            ("To make the photos look better on screen.", False,
             "Normalised values are centred near 0, negative numbers included: they are made for the "
             "encoder's weights, not for a screen."),
        ],
    ),
)
