"""Where the shouting is, in time: span masks over the encoder's tokens, and the attention lift on them.

The generator stores the time span of every shouted burst (`shout_spans`, seconds). The encoder's
token i stands for the audio around `i * token_seconds`, so a span covers the tokens whose time
falls inside it. The **lift** of an attention row over time on a call's spans is

    share of the attention on the shouted tokens / share of the tokens that are shouted

1 means the model listens to the shouting no more than to anything else; 2, twice as much. As the
damage masks of the photos (`mmsent.analysis.attention_lift`), spans judge a trained model and are never
one of its inputs (the encoder's pretraining uses them as targets, on other snippets).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def span_mask(spans: Sequence[tuple[float, float]], num_tokens: int, token_seconds: float) -> np.ndarray:
    """bool [num_tokens]: True where the token's time (i * token_seconds) falls inside a span [start, end).

    Times are rounded to the microsecond, so that 3 * 0.04 counts as 0.12, not 0.12000000000000001.
    """
    times = np.round(np.arange(num_tokens) * token_seconds, 6)
    mask = np.zeros(num_tokens, dtype=bool)
    for start, end in spans:
        mask |= (times >= start) & (times < end)
    return mask


def span_lift(weights: np.ndarray, mask: np.ndarray) -> float:
    """Share of the attention on the masked tokens / share of the tokens masked (1 = no preference).

    weights [tokens], summing to 1; mask bool [tokens] with at least one True.
    """
    if not mask.any():
        raise ValueError("the span mask is empty: this call has no shouting to measure the attention on")
    return float(np.asarray(weights)[mask].sum() / mask.mean())
