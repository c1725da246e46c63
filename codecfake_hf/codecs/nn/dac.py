"""DAC's building blocks (descript-audio-codec's `nn/layers.py` and the residual unit of `model/dac.py`), as the
codecs built on them copy them: DualCodec's `dac_layers.py` and BiCodec's `blocks/layers.py` hold the same code, so
their checkpoints share these keys (`alpha`, `weight_g`/`weight_v`) and this arithmetic."""

from __future__ import annotations

import torch
from torch import nn

from .seanet import weight_norm


def WNConv1d(*args, **kwargs) -> nn.Conv1d:  # noqa: N802 (upstream's name)
    """A weight-normalised Conv1d with the legacy `weight_g`/`weight_v` keys the checkpoints hold."""
    return weight_norm(nn.Conv1d(*args, **kwargs))


def WNConvTranspose1d(*args, **kwargs) -> nn.ConvTranspose1d:  # noqa: N802
    """A weight-normalised ConvTranspose1d (norm over every dim but 0, the input channels, as torch's legacy one)."""
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


class Snake1d(nn.Module):
    """x + sin²(αx) / (α + 1e-9), α per channel `[1, C, 1]`.

    Args:
        channels (int): C.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], shape[1], -1)
        x = x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)
        return x.reshape(shape)


class ResidualUnit(nn.Module):
    """Snake, dilated conv (7 taps), snake, 1×1 conv, plus the input (centre-cropped to the output).

    Args:
        dim (int): channels.
        dilation (int): of the 7-tap conv.
    """

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        pad = ((7 - 1) * dilation) // 2
        self.block = nn.Sequential(Snake1d(dim), WNConv1d(dim, dim, kernel_size=7, dilation=dilation, padding=pad),
                                   Snake1d(dim), WNConv1d(dim, dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        pad = (x.shape[-1] - y.shape[-1]) // 2
        if pad > 0:
            x = x[..., pad:-pad]
        return x + y
