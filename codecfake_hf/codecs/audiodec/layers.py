"""AudioDec's streaming layers: causal convolutions that keep their left context between calls.

Written from facebookresearch/AudioDec (`layers/conv_layer.py`) as a reference; the autoencoder and the
vocoder of `model.py` are built from them. Each layer holds its checkpoint's `pad_buffer`; a
`StreamState` passed through a call carries every layer's context instead (see `audiodec.py`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import CodecConfigError
from ..nn import seanet

# Per layer: its left context, [1 or B, C, pad_length]. A layer missing from the dict reads its
# `pad_buffer` (the checkpoint's value); `None` instead of a dict means zero context throughout.
StreamState = dict[nn.Module, torch.Tensor]


def make_conv(cls: type[nn.Module], *args: Any, weight_norm: bool = False, **kwargs: Any) -> nn.Module:
    """`cls(*args, **kwargs)`, weight-normalised with the checkpoint's `weight_g`/`weight_v` names if asked."""
    conv = cls(*args, **kwargs)
    return seanet.weight_norm(conv) if weight_norm else conv


class _Causal(nn.Module):
    """Left context of a causal layer: zeros (`state=None`) or the stream state, which it updates."""

    pad_length: int

    def _with_context(self, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
        if state is None:
            return F.pad(x, (self.pad_length, 0))
        context = state.get(self, self.pad_buffer)
        x = torch.cat((context.expand(x.shape[0], -1, -1), x), dim=-1)
        state[self] = x[..., x.shape[-1] - self.pad_length:]
        return x


class CausalConv1d(_Causal):
    """Conv1d padded on the left by `(kernel_size - 1) * dilation` samples (upstream `CausalConv1d.inference`).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel width.
        stride (int): stride; `T` samples give `ceil(T / stride)` outputs.
        dilation (int): dilation.
        groups (int): channel groups.
        bias (bool): whether the conv has a bias.
        weight_norm (bool): weight-normalised conv (`conv.weight_g`/`conv.weight_v` keys).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True, weight_norm: bool = False):
        super().__init__()
        self.conv = make_conv(nn.Conv1d, in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                              groups=groups, bias=bias, weight_norm=weight_norm)
        self.pad_length = (kernel_size - 1) * dilation
        self.register_buffer("pad_buffer", torch.zeros(1, in_channels, self.pad_length))

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return self.conv(self._with_context(x, state))


class CausalConvTranspose1d(_Causal):
    """Transposed conv (kernel `2 * stride`) fed one frame of left context, cut to `T * stride` samples.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel width (upstream always uses `2 * stride`).
        stride (int): upsampling factor.
        bias (bool): whether the conv has a bias.
        weight_norm (bool): weight-normalised conv (`deconv.weight_g`/`deconv.weight_v` keys).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 bias: bool = True, weight_norm: bool = False):
        super().__init__()
        self.deconv = make_conv(nn.ConvTranspose1d, in_channels, out_channels, kernel_size, stride=stride,
                                bias=bias, weight_norm=weight_norm)
        self.stride = stride
        self.pad_length = math.ceil(kernel_size / stride) - 1
        self.register_buffer("pad_buffer", torch.zeros(1, in_channels, self.pad_length))

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return self.deconv(self._with_context(x, state))[..., self.stride:-self.stride]


_ACTIVATIONS = {"ELU": nn.ELU, "LeakyReLU": nn.LeakyReLU, "ReLU": nn.ReLU}


def make_activation(name: str, params: Mapping[str, Any]) -> nn.Module:
    """`nn.<name>(**params)` for the nonlinearities AudioDec's configs name (`ELU`, `LeakyReLU`, `ReLU`)."""
    if name not in _ACTIVATIONS:
        raise CodecConfigError(f"AudioDec: activation {name!r} is not supported; choose one of {sorted(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name](**params)
