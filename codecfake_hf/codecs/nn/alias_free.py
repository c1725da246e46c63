"""BigVGAN's anti-aliased activation (its `alias_free_torch` package, which BigCodec, Amphion's FACodec and SoCodec's
vocoder each carry a copy of): SnakeBeta at twice the rate, between a Kaiser-windowed sinc upsampler and low-pass
decimator.

Module and buffer names are upstream's (`act.alpha`, `act.beta`, `upsample.filter`, `downsample.lowpass.filter`), so
the three families' checkpoints load into these modules strictly. The filters are computed here, as upstream
computes them (the checkpoints hold copies).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def kaiser_sinc_filter1d(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """The low-pass filter `[1, 1, kernel_size]`: julius' Kaiser-windowed sinc, normalised to sum 1.

    Args:
        cutoff (float): cutoff, as a fraction of the rate (0 gives an all-zero filter, as upstream's).
        half_width (float): transition half-width, as a fraction of the rate.
        kernel_size (int): taps.
    """
    even = kernel_size % 2 == 0
    half_size = kernel_size // 2
    delta_f = 4 * half_width
    attenuation = 2.285 * (half_size - 1) * math.pi * delta_f + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    time = torch.arange(-half_size, half_size) + 0.5 if even else torch.arange(kernel_size) - half_size
    if cutoff == 0:
        return torch.zeros_like(time).view(1, 1, kernel_size)
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (taps / taps.sum()).view(1, 1, kernel_size)


class UpSample1d(nn.Module):
    """×`ratio` upsampling: replicate padding, a transposed depthwise convolution with the low-pass filter, trimmed.

    Args:
        ratio (int): upsampling factor.
        kernel_size (int): filter taps.
    """

    def __init__(self, ratio: int = 2, kernel_size: int = 12):
        super().__init__()
        self.ratio, self.kernel_size, self.stride = ratio, kernel_size, ratio
        self.pad = kernel_size // ratio - 1
        self.pad_left = self.pad * self.stride + (kernel_size - self.stride) // 2
        self.pad_right = self.pad * self.stride + (kernel_size - self.stride + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter1d(0.5 / ratio, 0.6 / ratio, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, self.filter.expand(channels, -1, -1), stride=self.stride,
                                            groups=channels)
        return x[..., self.pad_left:-self.pad_right]


class LowPassFilter1d(nn.Module):
    """The low-pass filter as a replicate-padded, strided depthwise convolution.

    Args:
        cutoff (float): cutoff, as a fraction of the rate.
        half_width (float): transition half-width.
        stride (int): decimation.
        kernel_size (int): filter taps.
    """

    def __init__(self, cutoff: float = 0.5, half_width: float = 0.6, stride: int = 1, kernel_size: int = 12):
        super().__init__()
        even = kernel_size % 2 == 0
        self.pad_left, self.pad_right = kernel_size // 2 - int(even), kernel_size // 2
        self.stride = stride
        self.register_buffer("filter", kaiser_sinc_filter1d(cutoff, half_width, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(channels, -1, -1), stride=self.stride, groups=channels)


class DownSample1d(nn.Module):
    """The low-pass filter at half the band, decimating by `ratio`."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12):
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, stride=ratio, kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class SnakeBeta(nn.Module):
    """`x + 1 / (beta + 1e-9) * sin(alpha * x)^2` per channel, `alpha` and `beta` on a log scale (`alpha_logscale`,
    which every family here uses).

    Args:
        channels (int): channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.no_div_by_zero = 0.000000001

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha.unsqueeze(0).unsqueeze(-1))
        beta = torch.exp(self.beta.unsqueeze(0).unsqueeze(-1))
        return x + (1.0 / (beta + self.no_div_by_zero)) * torch.pow(torch.sin(x * alpha), 2)


class Activation1d(nn.Module):
    """The anti-aliased activation: upsample ×2, SnakeBeta, downsample ×2.

    Args:
        channels (int): channels of the SnakeBeta.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d(2, 12)
        self.downsample = DownSample1d(2, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))
