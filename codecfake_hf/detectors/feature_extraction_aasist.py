# codecfake-hf (Apache-2.0). Saved models carry this file as their remote code (`trust_remote_code=True`):
# it imports only torch, numpy, transformers and the other model files, never the rest of codecfake_hf.
"""`AasistFeatureExtractor`: raw 16 kHz waveforms cut to AASIST's 64,600-sample windows, as clovaai/aasist does."""

from __future__ import annotations

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor


def cut_window(wave: np.ndarray, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A `length`-sample window of a 1-D wave, as upstream's data_utils cuts it.

    Evaluation (`rng` None): the first `length` samples (`pad`). Training (`rng` given): a window at a random
    offset (`pad_random`). A shorter wave is tiled (repeated) up to `length` first, never zero-padded: the
    length of the silence would be a cue. `length <= 0` returns the wave whole.
    """
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if length <= 0:
        return wave
    if wave.shape[0] < length:
        wave = np.tile(wave, int(np.ceil(length / max(wave.shape[0], 1))))
    offset = int(rng.integers(0, wave.shape[0] - length + 1)) if rng is not None else 0
    return wave[offset:offset + length]


class AasistFeatureExtractor(SequenceFeatureExtractor):
    """Cuts each 16 kHz mono waveform to one `max_length`-sample window for AASIST (no normalisation, as upstream).

    Args:
        max_length (int): window in samples, 64600 (4.04 s); 0 keeps whole clips (zero-padded to the longest
            of a batch).
        sampling_rate (int): 16000; other rates are refused (resample first, e.g. by casting the `Audio` column).
        padding_value (float): 0.0, only used with `max_length=0`.
    """

    model_input_names = ["input_values"]

    def __init__(self, max_length: int = 64600, sampling_rate: int = 16000, padding_value: float = 0.0, **kwargs):
        kwargs.pop("feature_size", None)
        super().__init__(feature_size=1, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        self.max_length = int(max_length)
        self.return_attention_mask = False

    def __call__(self, raw_speech, sampling_rate: int | None = None, random_window: bool = False,
                 seed: int | np.random.Generator | None = None, return_tensors: str | None = None,
                 **kwargs) -> BatchFeature:
        """One waveform (1-D) or a list of them -> `input_values` [B, max_length].

        Args:
            sampling_rate: the rate of `raw_speech`; must equal the extractor's (checked when given).
            random_window: a random window (training) instead of the first one (evaluation).
            seed: seed or generator of the random windows.
            return_tensors: "pt", "np" or None (lists).
        """
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(f"AasistFeatureExtractor takes {self.sampling_rate} Hz audio, got {sampling_rate} Hz: "
                             "resample first (e.g. cast the Audio column to Audio(sampling_rate="
                             f"{self.sampling_rate}))")
        batched = isinstance(raw_speech, list | tuple) and len(raw_speech) > 0 and np.ndim(raw_speech[0]) >= 1
        if not batched and isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2:
            raw_speech, batched = list(raw_speech), True
        waves = list(raw_speech) if batched else [raw_speech]
        rng = (seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)) if random_window \
            else None
        windows = [cut_window(np.asarray(wave, dtype=np.float32), self.max_length, rng) for wave in waves]
        longest = max(window.shape[0] for window in windows)
        values = np.full((len(windows), longest), self.padding_value, dtype=np.float32)
        for row, window in enumerate(windows):
            values[row, :window.shape[0]] = window
        return BatchFeature({"input_values": values}, tensor_type=return_tensors)
