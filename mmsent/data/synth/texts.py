"""Review texts: clear texts are composed from parts; ambiguous texts never depend on the label."""

from __future__ import annotations

import numpy as np

from mmsent.data.synth.vocabulary import (
    pick,
)

# Each product has a few names; plural names change the verbs ("these headphones are").
_PRODUCT_NAMES: dict[str, tuple[tuple[str, bool], ...]] = {
    "phone": (("phone", False), ("smartphone", False), ("handset", False)),
    "laptop": (("laptop", False), ("notebook", False)),
    "headphones": (("headphones", True), ("headset", False)),
    "mug": (("mug", False), ("coffee mug", False), ("cup", False)),
    "sneaker": (("sneakers", True), ("trainers", True), ("shoes", True)),
    "watch": (("watch", False), ("smartwatch", False)),
}
_SINGULAR = {"is": "is", "was": "was", "it": "it", "It": "It", "works": "works", "has": "has",
             "obj": "it", "this": "this", "This": "This"}
_PLURAL = {"is": "are", "was": "were", "it": "they", "It": "They", "works": "work", "has": "have",
           "obj": "them", "this": "these", "This": "These"}

# Words like "great", "love", "perfect", "broke" appear on both sides (and in ambiguous texts),
# and openers are shared, so no single word gives the label away.
_OPENERS = ("", "", "", "Update:", "Honest review:", "Arrived yesterday.", "Second one I've bought.",
            "Long-time customer here.", "After a month of daily use:", "Quick review:",
            "Bought this for work.")
_POSITIVE_CORES = (
    "{This} {p} {works} perfectly.", "The {p} arrived in great shape and {works} flawlessly.",
    "Love {this} {p}, best purchase this year.", "Not a single scratch on {obj}, well packed.",
    "Honestly the best {p} I have owned.", "No complaints at all, the {p} {is} excellent.",
    "Great quality for the price.", "Exactly as described and {it} {works} like a charm.",
    "Solid build, lovely finish, zero issues so far.", "I can't fault {obj}.",
    "The {p} {is} gorgeous and does everything I need.", "Sturdy, well made and looks fantastic.",
    "Better than the expensive brands.", "Bought {obj} as a gift and my sister adores {obj}.",
    "Setup took two minutes and {it} {has} been reliable since.",
    "Not bad at all, actually better than I expected.", "Nothing broken, nothing missing, {it} just {works}.",
    "Really happy with the {p}.", "Fast delivery and the {p} {is} in perfect condition.",
    "Would happily buy {this} {p} again.", "Top quality, {it} {was} worth every penny.",
    "I was worried after reading other reviews, but mine {is} perfect.",
    "My old {p} broke, and the new one is a huge upgrade.",
    "Does exactly what I hoped, and looks great doing it.",
)
_NEGATIVE_CORES = (
    "The {p} arrived broken.", "Stopped working after two days.",
    "{It} {was} perfect for a week, then {it} died.", "I wanted to love {this} {p}, but {it} fell apart.",
    "Not worth the money, the {p} feels flimsy.", "The seller ignored my messages and the {p} {is} faulty.",
    "Nothing works as advertised.", "Looked great in the pictures, awful in real life.",
    "Smells of burnt plastic after an hour of use.", "Arrived scratched and clearly used.",
    "Worst purchase this year.", "Cheap materials, and {it} broke on day one.",
    "The box was soaked and the {p} inside {was} ruined.", "Not great, not even good.",
    "Do not buy {this} {p}.", "Returned {obj} the same day.", "Poor quality control, mine came damaged.",
    "Complete waste of money.", "The {p} {is} nothing like the description.",
    "Half of it was missing from the box.", "Very disappointed with {this} {p}.",
    "Great packaging, shame the {p} inside {is} defective.", "Love the colour, hate everything else.",
    "{It} {has} a crack I only noticed at home.",
)
_POSITIVE_CLOSERS = ("", "", "Highly recommend.", "Would buy again.", "Very happy.", "Thank you, seller!",
                     "Five stars.", "Recommended to all my friends.", "😊", "👍", "Delighted.")
_NEGATIVE_CLOSERS = ("", "", "Avoid.", "Refund requested.", "Never again.", "Very unhappy.",
                     "Returning {obj}.", "One star.", "😡", "👎", "Disappointed.")
# Ambiguous texts: drawn the same way whatever the label and whatever the photo.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "sarcasm": (
        "Great, just great.", "Well. It arrived.", "{This} {p} {is} 🔥🔥🔥", "Wow. Just wow.",
        "Exactly what I expected from this seller.", "Perfect. Just perfect.",
        "Well, that was an experience.", "Oh, {this} {p}... where do I even start.", "Thanks a lot, seller.",
        "Love the surprise when I opened the box.", "Words cannot describe {this} {p}.",
        "I have thoughts about {this} {p}.", "The photo says it all.", "Pictures speak louder than words.",
        "Unboxing was... memorable.", "Ten out of ten, no notes.",
        "Can't wait to tell everyone about {this} {p}.", "My {p} {has} arrived. Let that sink in.",
        "Didn't expect that at all.", "Same as the photo. Judge for yourself.",
    ),
    "emoji": ("🔥🔥🔥", "😳", "😂😂😂", "🤯", "👀", "😶", "🙃", "😬😬", "📦😮", "💀", "The {p}: 🤯",
              "{This} {p} 🔥"),
    "short": ("ok", "Hmm.", "Fine.", "Meh?", "Well.", "...", "It's here.", "Received.", "As seen.",
              "No words.", "Interesting.", "Sure.", "So.", "Yep.", "Got it.", "The {p}."),
}
_AMBIGUOUS_STYLE_SHARES: dict[str, float] = {"sarcasm": 0.5, "emoji": 0.2, "short": 0.3}
SHOWCASE_TEXT = "This phone is 🔥🔥🔥"


def _fill(template: str, product: str, rng: np.random.Generator) -> str:
    """Put a product name (and the matching verb forms) into a template."""
    name, plural = pick(rng, _PRODUCT_NAMES[product])
    return template.format(p=name, **(_PLURAL if plural else _SINGULAR))


def write_text(text_kind: str, product: str, rng: np.random.Generator) -> str:
    """One review text of the given kind ("clear_positive", "clear_negative" or "ambiguous").

    A clear text is an optional opener, one or two sentences of one sentiment and an optional
    closer; an ambiguous text is one sarcastic, emoji or too-short line.
    """
    if text_kind == "ambiguous":
        style = str(rng.choice(list(_AMBIGUOUS_STYLE_SHARES), p=list(_AMBIGUOUS_STYLE_SHARES.values())))
        return _fill(pick(rng, _AMBIGUOUS[style]), product, rng)
    positive = text_kind == "clear_positive"
    cores = _POSITIVE_CORES if positive else _NEGATIVE_CORES
    sentences = [cores[i] for i in rng.choice(len(cores), size=1 + int(rng.random() < 0.5), replace=False)]
    closer = pick(rng, _POSITIVE_CLOSERS if positive else _NEGATIVE_CLOSERS)
    return " ".join(_fill(part, product, rng) for part in (pick(rng, _OPENERS), *sentences, closer) if part)
