"""The built-in default input: deterministic speech-like utterances made in code (no download).

Used by `python -m builder demo` where no public speech set can be reached. Each utterance is a
sum of harmonics of a speaker's own pitch (with a falling intonation) shaped by vowel
formants, cut into syllables by an envelope, with short noise bursts for fricatives. It is not
speech, but it has speech's harmonic structure, formants and rhythm, so codecs treat it much as they
treat speech. Speakers borrow the VCTK names of the paper's splits so that every split has rows.
"""

from __future__ import annotations

import numpy as np

from .base import Corpus, Record

SAMPLE_RATE = 16000
# speaker -> (pitch in Hz, gender); p225 train, p226 validation, p227 and p228 test in the paper's split.
SPEAKERS = {"p225": (210.0, "F"), "p226": (115.0, "M"), "p227": (105.0, "M"), "p228": (220.0, "F")}
# (F1, F2, F3) in Hz of a few English vowels.
VOWELS = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240), "e": (530, 1840, 2480),
          "o": (570, 840, 2410)}


def _formant_gain(freq: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Spectral envelope at `freq` (Hz): a sum of resonance peaks at `formants` ([..., 3] Hz)."""
    gain = np.zeros_like(freq)
    for k, bandwidth in enumerate((80.0, 100.0, 150.0)):
        gain += (1.0 / (k + 1)) / (1.0 + ((freq - formants[..., k]) / bandwidth) ** 2)
    return gain


def synthesize(seed: int, pitch: float, seconds: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """One deterministic speech-like utterance, float32 at `rate`, peak 0.5.

    Additive synthesis: every harmonic of a gliding pitch below Nyquist, weighted by the formant
    envelope of the syllable's vowel; syllables 180 ms with a smooth envelope, some ending in noise.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = pitch * (1.1 - 0.2 * t / seconds) * (1 + 0.03 * np.sin(2 * np.pi * 4 * t))
    phase = 2 * np.pi * np.cumsum(f0 / rate)
    syllable = int(0.18 * rate)
    names = rng.choice(list(VOWELS), size=n // syllable + 1)
    formants = np.array([VOWELS[v] for v in names], dtype=np.float64)[np.arange(n) // syllable]
    out = np.zeros(n)
    for k in range(1, int(rate / 2 / f0.min())):
        freq = k * f0
        out += np.where(freq < rate / 2, _formant_gain(freq, formants), 0.0) * np.sin(k * phase)
    envelope = np.sin(np.pi * (np.arange(n) % syllable) / syllable) ** 0.7
    out *= envelope
    for start in range(0, n, syllable):
        if rng.random() < 0.4:  # a fricative-like noise burst at the syllable's end
            stop = min(n, start + syllable)
            burst = min(int(0.05 * rate), stop - start)
            out[stop - burst:stop] += 0.3 * np.std(out[start:stop]) * rng.standard_normal(burst)
    out -= out.mean()
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


class SyntheticSpeech(Corpus):
    """`builtin:demo`: `per_speaker` utterances for each of four speakers, each `seconds` long.

    Args:
        per_speaker (int): utterances per speaker.
        seconds (float): length of each utterance.
    """

    kind = "builtin"
    description = "the project's built-in synthetic speech-like utterances (not real speech)"

    def __init__(self, per_speaker: int = 2, seconds: float = 1.5):
        super().__init__("demo")
        self.per_speaker = per_speaker
        self.seconds = seconds

    def records(self) -> list[Record]:
        return [
            Record(utterance_id=f"{speaker}_{k + 1:03d}", speaker_id=speaker, index=i * self.per_speaker + k,
                   text=f"synthetic utterance {k + 1} of speaker {speaker}", gender=gender)
            for i, (speaker, (_, gender)) in enumerate(SPEAKERS.items())
            for k in range(self.per_speaker)
        ]

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        pitch = SPEAKERS[record.speaker_id][0]
        return synthesize(int(record.index or 0), pitch, self.seconds), SAMPLE_RATE
