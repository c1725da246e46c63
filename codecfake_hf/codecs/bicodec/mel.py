"""The reference segment's mel spectrogram: torchaudio's `MelSpectrogram` as BiCodec builds it, written in torch.

Upstream: `torchaudio.transforms.MelSpectrogram(sample_rate, n_fft, win_length, hop_length, f_min, f_max,
n_mels=num_mels, power=1, norm="slaney", mel_scale="slaney")` with torchaudio's other defaults: a periodic Hann window
of `win_length` (centred in `n_fft` by `torch.stft`), `center=True` with reflection padding, one-sided, unnormalised
magnitudes (power 1), then `spec.transpose(-1, -2) @ fb` with `fb = melscale_fbanks(n_fft // 2 + 1, f_min, f_max or
sample_rate / 2, n_mels, sample_rate, "slaney", "slaney")`. torchaudio cannot be installed beside this package's CPU
torch, so the filter bank is transformers' `mel_filter_bank` (the same Slaney-scale, Slaney-normed triangles, in
float64, then float32); the fixture records torchaudio's own bank and output to hold the two together. Its buffers
are not saved (Spark-TTS's checkpoint holds neither the window nor the bank).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import MelParams


def mel_filter_bank(params: MelParams) -> torch.Tensor:
    """`[n_fft // 2 + 1, num_mels]`, torchaudio's `melscale_fbanks(..., norm="slaney", mel_scale="slaney")`."""
    from transformers.audio_utils import mel_filter_bank as bank

    fmax = params.mel_fmax if params.mel_fmax is not None else params.sample_rate / 2
    return torch.from_numpy(bank(num_frequency_bins=params.n_fft // 2 + 1, num_mel_filters=params.num_mels,
                                 min_frequency=params.mel_fmin, max_frequency=fmax,
                                 sampling_rate=params.sample_rate, norm="slaney", mel_scale="slaney")).float()


class MelSpectrogram(nn.Module):
    """Waveform `[B, T]` -> mel magnitudes `[B, num_mels, 1 + T // hop_length]`.

    Args:
        params (MelParams): the config's `mel_params`.
    """

    def __init__(self, params: MelParams):
        super().__init__()
        self.params = params
        self.register_buffer("window", torch.hann_window(params.win_length), persistent=False)
        self.register_buffer("fb", mel_filter_bank(params), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        p = self.params
        spec = torch.stft(wave, p.n_fft, hop_length=p.hop_length, win_length=p.win_length, window=self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True).abs()
        return torch.matmul(spec.transpose(-1, -2), self.fb).transpose(-1, -2)
