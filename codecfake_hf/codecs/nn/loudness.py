"""ITU-R BS.1770 integrated loudness, measured the way audiotools' `Meter` does it (DAC's compress() path).

DAC's `compress()`/`decompress()` normalise every utterance to -16 LUFS and back with
`AudioSignal.loudness()` of descript-audiotools (0.7.2, read at its `audiotools/core/loudness.py`). That
meter is BS.1770-4 with three quirks that change the number, all reproduced here:

- the K-weighting biquads are pyloudnorm's RBJ-cookbook designs, cast to float32 before filtering;
- the 400 ms gating blocks (75 % overlap) come from julius' `unfold`, which zero-pads the signal so that
  a last, partial block is counted too (pyloudnorm drops it);
- signals shorter than 0.5 s are zero-padded to 0.5 s, and the result is floored at -70 LUFS.

audiotools filters with torchaudio's float32 `lfilter` on CPU; this module filters in float64 (scipy)
with the same float32-rounded coefficients, so the two differ only by float32 rounding inside the
filter. Measured against the values audiotools recorded in the DAC fixtures (3 s inputs): the same
float32 number at 16 and 24 kHz, 1.1e-5 dB apart at 44.1 kHz (where the 38 Hz high-pass poles sit
closest to the unit circle and float32 recursion drifts most), i.e. a gain error of 1.3e-6; the
recorded speech loudnesses (4 decimals) agree at all three rates. A Python emulation of torchaudio's
float32 loop came within 3.8e-6 dB there but not to the digit (its compiled loop may fuse multiply-adds)
and is far slower, so float64 is kept.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ABSOLUTE_GATE_LUFS = -70.0
MIN_LOUDNESS_LUFS = -70.0
MIN_DURATION_S = 0.5
# Amplitude per dB: audiotools' `EffectMixin.GAIN_FACTOR`.
GAIN_FACTOR = math.log(10.0) / 20.0


def k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads `(b, a)` at `rate` Hz, normalised so that `a[0] == 1`.

    They are pyloudnorm's (and so audiotools') RBJ-cookbook designs for any sample rate: a +4 dB high
    shelf at 1500 Hz (the head's response) and a 38 Hz high pass (RLB).

    Args:
        rate: sample rate in Hz.
    """
    return [_high_shelf(rate, gain_db=4.0, q=1.0 / math.sqrt(2.0), fc=1500.0), _high_pass(rate, q=0.5, fc=38.0)]


def _cos_w0_alpha(rate: int, q: float, fc: float) -> tuple[float, float]:
    w0 = 2.0 * math.pi * fc / rate
    return math.cos(w0), math.sin(w0) / (2.0 * q)


def _high_shelf(rate: int, gain_db: float, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    amp = 10.0 ** (gain_db / 40.0)
    cos_w0, alpha = _cos_w0_alpha(rate, q, fc)
    root = 2.0 * math.sqrt(amp) * alpha
    b = [amp * ((amp + 1) + (amp - 1) * cos_w0 + root),
         -2.0 * amp * ((amp - 1) + (amp + 1) * cos_w0),
         amp * ((amp + 1) + (amp - 1) * cos_w0 - root)]
    a = [(amp + 1) - (amp - 1) * cos_w0 + root,
         2.0 * ((amp - 1) - (amp + 1) * cos_w0),
         (amp + 1) - (amp - 1) * cos_w0 - root]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def _high_pass(rate: int, q: float, fc: float) -> tuple[np.ndarray, np.ndarray]:
    cos_w0, alpha = _cos_w0_alpha(rate, q, fc)
    b = [(1 + cos_w0) / 2.0, -(1 + cos_w0), (1 + cos_w0) / 2.0]
    a = [1 + alpha, -2.0 * cos_w0, 1 - alpha]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


def integrated_loudness(wave: np.ndarray | torch.Tensor, rate: int, block_size: float = 0.4) -> float:
    """Gated integrated loudness in LUFS of a mono waveform, as `AudioSignal(wave, rate).loudness()`.

    Args:
        wave: float mono samples `[T]` at `rate`.
        rate: sample rate in Hz.
        block_size: gating block length in seconds (BS.1770: 0.4).

    Returns:
        The loudness in LUFS, rounded to float32 as audiotools returns it, and never below -70.
    """
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu().numpy()
    # audiotools holds audio in float32; the meter sees those values.
    x = np.asarray(wave, dtype=np.float32).astype(np.float64).ravel()
    if x.size / rate < MIN_DURATION_S:
        x = np.pad(x, (0, int((MIN_DURATION_S - x.size / rate) * rate)))

    for b, a in k_weighting(rate):
        # audiotools casts the coefficients to float32 (torch `.float()`) before filtering.
        x = _lfilter(b.astype(np.float32).astype(np.float64), a.astype(np.float32).astype(np.float64), x)

    # Gating blocks as julius.core.unfold makes them: the input is zero-padded so that every sample
    # lies in at least one block, i.e. 1 + ceil((T - K) / stride) blocks.
    kernel = int(block_size * rate)
    stride = int(block_size * rate * 0.25)
    n_blocks = math.ceil((max(x.size, kernel) - kernel) / stride) + 1
    x = np.pad(x, (0, (n_blocks - 1) * stride + kernel - x.size))
    energy = np.cumsum(np.concatenate([[0.0], x * x]))
    starts = np.arange(n_blocks) * stride
    z = (energy[starts + kernel] - energy[starts]) / (block_size * rate)

    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
    above_abs = block_lufs > ABSOLUTE_GATE_LUFS
    if not above_abs.any():
        return MIN_LOUDNESS_LUFS
    relative_gate = -0.691 + 10.0 * math.log10(z[above_abs].mean()) - 10.0
    gated = above_abs & (block_lufs > relative_gate)
    if not gated.any():
        return MIN_LOUDNESS_LUFS
    lufs = -0.691 + 10.0 * math.log10(z[gated].mean())
    return float(np.float32(max(lufs, MIN_LOUDNESS_LUFS)))


def gain_to(target_lufs: float, measured_lufs: float) -> float:
    """The amplitude factor that moves `measured_lufs` to `target_lufs`, in float32 as audiotools computes it.

    Args:
        target_lufs: the loudness wanted (DAC: -16 on the way in, the input's loudness on the way out).
        measured_lufs: the loudness the signal has now.
    """
    gain_db = torch.tensor(target_lufs, dtype=torch.float32) - torch.tensor(measured_lufs, dtype=torch.float32)
    return float(torch.exp(gain_db * GAIN_FACTOR))


def _lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """scipy's `lfilter`, imported on first use (scipy.signal takes most of a second to import)."""
    from scipy.signal import lfilter

    return lfilter(b, a, x)
