"""Speech-like call snippets, drawn from a random stream: a source-filter "voice" in plain NumPy.

A snippet is `CLIP_SECONDS` of 16 kHz mono audio. It is planned first (`plan_voice`: when each
syllable starts, how long it lasts, its vowel, pitch and loudness, which syllables are shouted),
then rendered (`render_voice`), like a very small speech synthesiser:

1. **source**: a glottal buzz, a sawtooth whose frequency follows the pitch contour (the speaker's
   base pitch, raised and swinging more when angry, falling slowly over the phrase);
2. **filter**: each syllable's buzz is shaped by the formants of its vowel (three resonance peaks
   applied in the frequency domain), with a short noise burst at its onset for a consonant;
3. **envelope**: a rise and fall per syllable at the speaking rate, words of 1 to 3 syllables,
   short gaps between words and longer pauses between phrases;
4. **line**: a noise floor; a bad line adds loud noise, a muffled line cuts the high frequencies.

Shouted syllables (angry voices only) are louder, higher and brighter. Their time spans are part of
the plan, so the generator knows exactly where every shout is, as it knows where the damage is in a
photo. Times are whole multiples of 10 ms (one spectrogram hop).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000  # samples per second
CLIP_SECONDS = 3.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)
TICK = 0.01  # seconds: every planned time is a whole number of ticks

VOICE_STATES: tuple[str, ...] = ("calm", "angry", "unclear")
VOICE_DETAILS: dict[str, tuple[str, ...]] = {
    "calm": ("",), "angry": ("shouting",), "unclear": ("bad_line", "muffled"),
}
# (F1, F2, F3) in Hz, textbook averages of adult speakers.
VOWEL_FORMANTS: dict[str, tuple[float, float, float]] = {
    "a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
    "o": (570, 840, 2410), "u": (300, 870, 2240),
}
FORMANT_BANDWIDTHS = (90.0, 110.0, 170.0)
FORMANT_GAINS = (1.0, 0.6, 0.3)


@dataclass(frozen=True)
class VoiceStyle:
    """How a voice state speaks. Pitch factors multiply the speaker's base pitch."""

    pitch: float  # mean pitch factor
    swing: float  # relative spread of the syllables' pitch around it
    rate: float  # syllables per second
    loudness: float  # peak amplitude of a normal syllable (full scale = 1)
    noise: float  # amplitude of the line noise
    muffled: bool = False


STYLES: dict[str, VoiceStyle] = {
    "calm": VoiceStyle(pitch=1.0, swing=0.08, rate=4.0, loudness=0.22, noise=0.004),
    "shouting": VoiceStyle(pitch=1.15, swing=0.14, rate=5.0, loudness=0.28, noise=0.004),
    "bad_line": VoiceStyle(pitch=1.05, swing=0.03, rate=4.5, loudness=0.14, noise=0.05),
    "muffled": VoiceStyle(pitch=1.05, swing=0.03, rate=4.5, loudness=0.12, noise=0.008, muffled=True),
}
SHOUT_PITCH = 1.5  # a shouted syllable's pitch and loudness, relative to the voice's own
SHOUT_LOUDNESS = 2.8
SPEAKER_PITCH_HZ = (90.0, 220.0)  # base pitch of a speaker, uniform in this range


@dataclass(frozen=True)
class Syllable:
    """One syllable: start and duration in seconds (multiples of `TICK`), pitch in Hz, peak amplitude."""

    start: float
    duration: float
    vowel: str
    pitch: float
    loudness: float
    shouted: bool


@dataclass(frozen=True)
class VoicePlan:
    """Everything `render_voice` draws: the syllables and the shouted spans [(start s, end s), ...]."""

    detail: str
    speaker_pitch: float
    syllables: tuple[Syllable, ...]
    shout_spans: tuple[tuple[float, float], ...]


def _ticks(seconds: float) -> float:
    return round(seconds / TICK) * TICK


def _shouted_runs(count: int, rng: np.random.Generator) -> set[int]:
    """Indices of 1 or 2 runs of 2 to 4 consecutive syllables, apart from each other."""
    runs = 1 if count < 10 or rng.random() < 0.5 else 2
    shouted: set[int] = set()
    for part in range(runs):  # one run in each part of the syllables, so runs never touch
        low, high = part * count // runs, (part + 1) * count // runs
        length = int(rng.integers(2, 5))
        first = int(rng.integers(low, max(low + 1, high - length)))
        shouted.update(range(first, min(first + length, high)))
    return shouted


def plan_voice(voice_detail: str, rng: np.random.Generator) -> VoicePlan:
    """Draw the syllables of one snippet; `voice_detail` is a value of `VOICE_DETAILS`."""
    style = STYLES["calm" if voice_detail == "" else voice_detail]
    speaker = float(rng.uniform(*SPEAKER_PITCH_HZ))
    timing: list[tuple[float, float]] = []
    time = _ticks(rng.uniform(0.1, 0.35))
    while True:
        word = [_ticks(rng.uniform(0.7, 1.3) / style.rate) for _ in range(int(rng.integers(1, 4)))]
        # Added left to right: Python 3.12's sum() rounds float sums otherwise (compensated), which
        # moved a few snippets' last word across this line and changed the committed table on 3.12+.
        if time + functools.reduce(operator.add, word) > CLIP_SECONDS - 0.1:
            break
        for duration in word:
            timing.append((time, duration))
            time = _ticks(time + duration)
        pause = rng.uniform(0.25, 0.5) if rng.random() < 0.25 else rng.uniform(0.03, 0.08)
        time = _ticks(time + pause)
    shouted = _shouted_runs(len(timing), rng) if voice_detail == "shouting" else set()
    syllables = []
    for index, (start, duration) in enumerate(timing):
        fall = 1.0 - 0.12 * start / CLIP_SECONDS  # pitch falls slowly over the phrase
        pitch = speaker * style.pitch * fall * (1.0 + style.swing * rng.standard_normal())
        loudness = style.loudness * rng.uniform(0.8, 1.2)
        shout = index in shouted
        syllables.append(Syllable(
            start, duration, str(rng.choice(list(VOWEL_FORMANTS))),
            pitch * (SHOUT_PITCH if shout else 1.0), loudness * (SHOUT_LOUDNESS if shout else 1.0), shout,
        ))
    spans: list[tuple[float, float]] = []
    for index in sorted(shouted):
        syllable = syllables[index]
        end = _ticks(syllable.start + syllable.duration)
        if spans and index - 1 in shouted:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((syllable.start, end))
    return VoicePlan(voice_detail, speaker, tuple(syllables), tuple(spans))


def _formant_response(frequencies: np.ndarray, vowel: str, bright: bool) -> np.ndarray:
    """Gain of the vocal tract at `frequencies` [bins] for `vowel`: three resonance peaks."""
    response = np.zeros_like(frequencies)
    for centre, width, gain in zip(VOWEL_FORMANTS[vowel], FORMANT_BANDWIDTHS, FORMANT_GAINS, strict=True):
        centre = centre * 1.12 if bright else centre  # a shout opens the mouth: F1 and F2 rise
        response += gain / (1.0 + ((frequencies - centre) / (width / 2)) ** 2)
    if bright:  # a pressed, shouted voice keeps more of its high harmonics
        response *= np.sqrt(1.0 + frequencies / 500.0)
    return response


def _shaped(signal: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """`signal` [n] filtered by the gain curve `gain` [n // 2 + 1] (frequency domain)."""
    return np.fft.irfft(np.fft.rfft(signal) * gain, n=len(signal))


def render_voice(plan: VoicePlan, rng: np.random.Generator) -> np.ndarray:
    """The snippet as int16 samples [CLIP_SAMPLES] at `SAMPLE_RATE`; `rng` draws the noises."""
    style = STYLES["calm" if plan.detail == "" else plan.detail]
    audio = np.zeros(CLIP_SAMPLES)
    for syllable in plan.syllables:
        start = round(syllable.start * SAMPLE_RATE)
        length = round(syllable.duration * SAMPLE_RATE)
        position = np.arange(length) / length  # 0 .. 1 through the syllable
        pitch = syllable.pitch * (1.0 + 0.06 * (0.5 - position))  # a small glide down
        phase = np.cumsum(pitch) / SAMPLE_RATE
        buzz = 2.0 * (phase % 1.0) - 1.0  # sawtooth: every harmonic of the pitch
        frequencies = np.fft.rfftfreq(length, 1.0 / SAMPLE_RATE)
        voiced = _shaped(buzz, _formant_response(frequencies, syllable.vowel, syllable.shouted))
        voiced /= np.abs(voiced).max() + 1e-9
        envelope = np.sin(np.pi * position) ** 0.6
        audio[start:start + length] += syllable.loudness * voiced * envelope
        onset = min(length, round(0.03 * SAMPLE_RATE))  # a consonant: a short hiss as the syllable starts
        hiss = rng.standard_normal(onset) * np.linspace(0.35, 0.0, onset)
        high = np.clip((np.fft.rfftfreq(onset, 1.0 / SAMPLE_RATE) - 2000.0) / 3000.0, 0.0, 1.0)
        audio[start:start + onset] += syllable.loudness * _shaped(hiss, high)
    if style.muffled:  # a hand over the phone: little above 700 Hz
        frequencies = np.fft.rfftfreq(CLIP_SAMPLES, 1.0 / SAMPLE_RATE)
        audio = _shaped(audio, 1.0 / (1.0 + (frequencies / 700.0) ** 4))
    audio += style.noise * rng.standard_normal(CLIP_SAMPLES)
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
