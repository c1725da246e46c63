"""SemantiCodec's encoder input: Kaldi log-mel filterbanks of a zero-padded utterance, torchaudio's way, in torch.

Upstream (`semanticodec/utils.py` `extract_kaldi_fbank_feature`) removes the utterance's mean, calls
`torchaudio.compliance.kaldi.fbank(waveform, htk_compat=True, sample_frequency=16000, use_energy=False,
window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`, pads or cuts the frames to a whole number of
1024-frame windows and normalises with AudioMAE's AudioSet statistics. torchaudio cannot be installed beside the CPU
torch this package uses, so `kaldi_fbank` repeats the operations of torchaudio 2.9's `compliance/kaldi.py` for those
arguments, in its order (25 ms frames every 10 ms, snip_edges, per-frame DC removal, pre-emphasis 0.97 with the
first sample replicated, a symmetric Hann window, zero padding to 512 points, power spectrum, Kaldi's triangular mel
filters between 20 Hz and Nyquist, log floored at float32's epsilon). tests/codecs/test_semanticodec.py holds it to
torchaudio's own output recorded in the fixture.
"""

from __future__ import annotations

import functools
import math

import torch

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
SHIFT = 160  # 10 ms
PADDED_WINDOW = 512  # round_to_power_of_two
MEL_BINS = 128
LOW_FREQ = 20.0
PREEMPHASIS = 0.97
# AudioMAE's AudioSet normalisation, as upstream applies it: (fbank - mean) / (2 * std).
NORM_MEAN = -4.2677393
NORM_STD = 4.5689974


def _mel(freq: torch.Tensor | float) -> torch.Tensor | float:
    if isinstance(freq, torch.Tensor):
        return 1127.0 * (1.0 + freq / 700.0).log()
    return 1127.0 * math.log(1.0 + freq / 700.0)


@functools.cache
def mel_banks(num_bins: int = MEL_BINS) -> torch.Tensor:
    """Kaldi's triangular mel filters `[num_bins, 257]` (torchaudio's `get_mel_banks` without VTLN, with its zero
    column for the Nyquist bin appended), float32."""
    num_fft_bins = PADDED_WINDOW / 2
    nyquist = 0.5 * SAMPLE_RATE
    fft_bin_width = SAMPLE_RATE / PADDED_WINDOW
    mel_low, mel_high = _mel(LOW_FREQ), _mel(nyquist)
    delta = (mel_high - mel_low) / (num_bins + 1)
    index = torch.arange(num_bins).unsqueeze(1)
    left = mel_low + index * delta
    center = mel_low + (index + 1.0) * delta
    right = mel_low + (index + 2.0) * delta
    mel = _mel(fft_bin_width * torch.arange(num_fft_bins)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    bins = torch.max(torch.zeros(1), torch.min(up, down))
    return torch.nn.functional.pad(bins, (0, 1), mode="constant", value=0)


def kaldi_fbank(wave: torch.Tensor, num_bins: int = MEL_BINS) -> torch.Tensor:
    """`torchaudio.compliance.kaldi.fbank` of one float32 signal `[T]` with upstream's arguments -> `[frames,
    num_bins]`, frames = 1 + (T - 400) // 160."""
    epsilon = torch.tensor(torch.finfo(torch.float).eps, device=wave.device, dtype=wave.dtype)
    frames = 1 + (wave.shape[0] - WINDOW) // SHIFT
    strided = wave.as_strided((frames, WINDOW), (SHIFT * wave.stride(0), wave.stride(0)))
    strided = strided - torch.mean(strided, dim=1).unsqueeze(1)
    previous = torch.nn.functional.pad(strided.unsqueeze(0), (1, 0), mode="replicate").squeeze(0)
    strided = strided - PREEMPHASIS * previous[:, :-1]
    window = torch.hann_window(WINDOW, periodic=False, device=wave.device, dtype=wave.dtype).unsqueeze(0)
    strided = strided * window
    strided = torch.nn.functional.pad(strided.unsqueeze(0), (0, PADDED_WINDOW - WINDOW), mode="constant",
                                      value=0).squeeze(0)
    spectrum = torch.fft.rfft(strided).abs().pow(2.0)
    energies = torch.mm(spectrum, mel_banks(num_bins).to(device=wave.device, dtype=wave.dtype).T)
    return torch.max(energies, epsilon).log()


def encoder_features(wave: torch.Tensor, target_length: int) -> torch.Tensor:
    """Upstream's `extract_kaldi_fbank_feature` on one zero-padded utterance `[T]`: mean removed, fbank, cut or
    zero-padded to `target_length` frames, normalised -> `[target_length, 128]`."""
    fbank = kaldi_fbank(wave - wave.mean())
    missing = target_length - fbank.shape[0]
    if missing > 0:
        fbank = torch.nn.functional.pad(fbank, (0, 0, 0, missing))
    elif missing < 0:
        fbank = fbank[:target_length]
    return (fbank - NORM_MEAN) / (NORM_STD * 2)
