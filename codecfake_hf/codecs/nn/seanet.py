"""SEANet convolutional encoder/decoder blocks (EnCodec-style), key-compatible with EnCodec-derived checkpoints."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ...errors import CodecConfigError

# `norm` values of SConv1d / SConvTranspose1d. Keys they give a conv named `conv` (EnCodec's layout):
#   none:            conv.conv.{weight,bias}
#   weight_norm:     conv.conv.{weight_g,weight_v,bias}       (legacy torch.nn.utils.weight_norm names)
#   layer_norm:      conv.conv.{weight,bias} + conv.norm.{weight,bias}   (LayerNorm over channels)
#   time_group_norm: conv.conv.{weight,bias} + conv.norm.{weight,bias}   (GroupNorm(1, C) over C and time)
# EnCodec's 'time_layer_norm' builds no norm module at all, so it is accepted as an alias of 'none'.
CONV_NORMS = ("none", "weight_norm", "layer_norm", "time_group_norm", "time_layer_norm")
PAD_MODES = ("reflect", "constant", "replicate")


# ---------------------------------------------------------------------------------------------------------
# Helpers on lengths. Every function here works on Python ints and on integer tensors alike.


def conv_frames(length, kernel_size: int, stride: int, padding_total: int):
    """Output frames of an `SConv1d`: the input is padded so that the last window is full (never dropped).

    `kernel_size` is the dilated span, `(kernel - 1) * dilation + 1`, as `SConv1d.kernel_size` holds it.
    """
    return (length - kernel_size + padding_total + stride - 1) // stride + 1


def _extra_padding(length, kernel_size: int, stride: int, padding_total: int):
    """Right padding beyond `padding_total` that makes the last window of a strided conv full."""
    frames = conv_frames(length, kernel_size, stride, padding_total)
    return (frames - 1) * stride + kernel_size - padding_total - length


def pad1d(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """`F.pad` on `[B, C, T]`; reflect padding wider than the signal first appends zeros (as EnCodec does)."""
    if mode != "reflect" or x.shape[-1] > max(left, right):
        return F.pad(x, (left, right), mode)
    extra = max(left, right) - x.shape[-1] + 1
    padded = F.pad(F.pad(x, (0, extra)), (left, right), mode)
    return padded[..., : padded.shape[-1] - extra]


def pad1d_per_item(
    x: torch.Tensor, lengths: torch.Tensor, left: int, right: torch.Tensor, width: int, mode: str
) -> torch.Tensor:
    """`pad1d` of each item at its own length, in one gather: `x [B, C, T]` -> `[B, C, width]`.

    Item `b` comes out as `pad1d(x[b, :, :lengths[b]], left, right[b], mode)` followed by don't-care
    values, so a padded batch sees, at every layer, exactly the edges each item has alone.
    """
    n = lengths[:, None]
    q = torch.arange(width, device=x.device)[None, :] - left  # position in the unpadded signal
    if mode == "reflect":
        # pad1d's zero extension for short signals: reflect about the end of the zero-extended signal.
        n_ext = torch.maximum(n, torch.clamp(right[:, None], min=left) + 1)
        idx = q.abs()
        idx = torch.where(idx >= n_ext, 2 * (n_ext - 1) - idx, idx)
        keep = (idx >= 0) & (idx < n)
    elif mode == "replicate":
        idx = torch.minimum(q.clamp(min=0), n - 1)
        keep = torch.ones_like(idx, dtype=torch.bool)
    else:  # constant (zeros)
        idx = q
        keep = (q >= 0) & (q < n)
    idx = idx.clamp(0, x.shape[-1] - 1)
    gathered = x.gather(2, idx[:, None, :].expand(x.shape[0], x.shape[1], width))
    return gathered * keep[:, None, :].to(x.dtype)


def time_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """`[B, 1, width]` float mask, 1 on the first `lengths[b]` steps of item `b`."""
    steps = torch.arange(width, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).float()[:, None, :]


def run_layers(layers: nn.Sequential, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Apply `layers` in order, passing valid lengths to those that take them (see `LengthAware`)."""
    for layer in layers:
        if isinstance(layer, LengthAware):
            x = layer(x, lengths)
            lengths = layer.output_lengths(lengths) if lengths is not None else None
        else:  # activations: pointwise in time
            x = layer(x)
    return x


def fold_lengths(layers: nn.Sequential, lengths):
    """Valid output length after `layers` for a valid input length (int or tensor)."""
    for layer in layers:
        if isinstance(layer, LengthAware):
            lengths = layer.output_lengths(lengths)
    return lengths


class LengthAware(nn.Module):
    """A layer that takes `forward(x [B, C, T], lengths [B] | None)` and knows its output lengths.

    With `lengths`, item `b` is valid on its first `lengths[b]` steps, and the layer computes its valid
    outputs exactly as for that item alone; what lies beyond is left unspecified.
    """

    def output_lengths(self, lengths):
        return lengths


# ---------------------------------------------------------------------------------------------------------
# Normalised convolutions.


def _norm_except_dim0(v: torch.Tensor) -> torch.Tensor:
    # vector_norm: Tensor.norm over a tuple of dims is a matrix norm, which takes exactly two (1-D convs only).
    return torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)


def _recompute_weight(module: nn.Module, _inputs: Any) -> None:
    module.weight = module.weight_g * module.weight_v / _norm_except_dim0(module.weight_v)


def weight_norm(module: nn.Module) -> nn.Module:
    """Weight normalisation over every dim but 0, stored as `weight_g`/`weight_v`.

    These are the names of the legacy `torch.nn.utils.weight_norm` that the official checkpoints were
    saved with; that function is deprecated, and its successor (parametrizations) renames the keys.
    """
    v = module.weight.detach().clone()
    del module._parameters["weight"]
    module.weight_g = nn.Parameter(_norm_except_dim0(v))
    module.weight_v = nn.Parameter(v)
    module.register_forward_pre_hook(_recompute_weight)
    _recompute_weight(module, None)  # so that `module.weight` exists before the first call
    return module


class ConvLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of `[B, C, T]`, at each time step.

    Args:
        channels (int): C.
        **kwargs: passed to `nn.LayerNorm`.
    """

    def __init__(self, channels: int, **kwargs: Any):
        super().__init__(channels, **kwargs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class TimeGroupNorm(nn.GroupNorm):
    """GroupNorm(1, C) over channels and time of `[B, C, T]`; with `lengths`, statistics of the valid steps.

    Args:
        channels (int): C.
        **kwargs: passed to `nn.GroupNorm` (`eps`, `affine`).
    """

    def __init__(self, channels: int, **kwargs: Any):
        super().__init__(1, channels, **kwargs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            return super().forward(x)
        mask = time_mask(lengths, x.shape[-1]).to(x.dtype)
        count = (lengths * x.shape[1]).to(x.dtype)[:, None, None]
        mean = (x * mask).sum(dim=(1, 2), keepdim=True) / count
        var = (((x - mean) * mask) ** 2).sum(dim=(1, 2), keepdim=True) / count
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight[:, None] + self.bias[:, None] if self.affine else y


def _norm_module(norm: str, channels: int, causal: bool, norm_params: Mapping[str, Any]) -> nn.Module:
    if norm == "layer_norm":
        return ConvLayerNorm(channels, **norm_params)
    if norm == "time_group_norm":
        if causal:
            raise CodecConfigError("norm='time_group_norm' normalises over time and cannot be causal.")
        return TimeGroupNorm(channels, **norm_params)
    return nn.Identity()


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise CodecConfigError(f"`{name}` must be one of {', '.join(map(repr, choices))}, got {value!r}.")


class NormConv(nn.Module):
    """A convolution (`conv` or `convtr`) followed by its normalisation (`norm`), EnCodec's key layout.

    Args:
        conv (nn.Module): a freshly built `nn.Conv1d` or `nn.ConvTranspose1d`.
        norm (str): one of `CONV_NORMS`.
        causal (bool): whether the surrounding layer is causal (time_group_norm cannot be).
        norm_params (Mapping): keyword arguments of the norm module.
        attr (str): the convolution's attribute name, `conv` or `convtr` (it names the state-dict keys).
    """

    def __init__(self, conv: nn.Module, norm: str, causal: bool, norm_params: Mapping[str, Any], attr: str):
        super().__init__()
        _check_choice("norm", norm, CONV_NORMS)
        self.attr = attr
        setattr(self, attr, weight_norm(conv) if norm == "weight_norm" else conv)
        self.norm = _norm_module(norm, conv.out_channels, causal, norm_params)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = getattr(self, self.attr)(x)
        return x if isinstance(self.norm, nn.Identity) else self.norm(x, lengths)


class SConv1d(LengthAware):
    """Conv1d that pads its input itself ("same" length at stride 1, `ceil(T / stride)` frames otherwise).

    Non-causal: `(kernel_size - 1) * dilation - (stride - 1)` samples of padding split as evenly as
    possible (the extra one on the left); causal: all on the left. Extra right padding makes the last
    window full, so no input sample is dropped.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel width.
        stride (int): stride.
        dilation (int): dilation.
        groups (int): convolution groups.
        bias (bool): whether the conv has a bias.
        causal (bool): pad on the left only.
        norm (str): one of `CONV_NORMS`.
        norm_params (Mapping | None): keyword arguments of the norm module.
        pad_mode (str): one of `PAD_MODES`.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
        groups: int = 1, bias: bool = True, causal: bool = False, norm: str = "none",
        norm_params: Mapping[str, Any] | None = None, pad_mode: str = "reflect",
    ):
        super().__init__()
        _check_choice("pad_mode", pad_mode, PAD_MODES)
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups,
                         bias=bias)
        self.conv = NormConv(conv, norm, causal, norm_params or {}, "conv")
        self.causal, self.pad_mode = causal, pad_mode
        # The dilated kernel's span, as EnCodec's length arithmetic uses it: with the raw width, a dilated
        # stride-1 conv would report `T + (k - 1) * (d - 1)` valid outputs for its `T`.
        self.kernel_size, self.stride = (kernel_size - 1) * dilation + 1, stride
        self.padding_total = self.kernel_size - stride
        self.pad_right = 0 if causal else self.padding_total // 2
        self.pad_left = self.padding_total - self.pad_right

    def output_lengths(self, lengths):
        return conv_frames(lengths, self.kernel_size, self.stride, self.padding_total)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, C_in, T]` -> `[B, C_out, ceil(T / stride)]`."""
        if lengths is None:
            extra = _extra_padding(x.shape[-1], self.kernel_size, self.stride, self.padding_total)
            return self.conv(pad1d(x, self.pad_left, self.pad_right + extra, self.pad_mode))
        extra = _extra_padding(lengths, self.kernel_size, self.stride, self.padding_total)
        width = self.pad_left + x.shape[-1] + self.pad_right + _extra_padding(
            x.shape[-1], self.kernel_size, self.stride, self.padding_total)
        x = pad1d_per_item(x, lengths, self.pad_left, self.pad_right + extra, width, self.pad_mode)
        return self.conv(x, self.output_lengths(lengths))


class SConvTranspose1d(LengthAware):
    """ConvTranspose1d that trims its fixed padding (`kernel_size - stride`): `T` frames -> `T * stride`.

    Non-causal: trimmed as evenly as possible (the extra one on the left); causal: `trim_right_ratio`
    of it on the right, the rest on the left.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel width.
        stride (int): stride (upsampling factor).
        causal (bool): causal trimming.
        norm (str): one of `CONV_NORMS`.
        trim_right_ratio (float): share of the padding trimmed on the right when causal (1.0 non-causal).
        norm_params (Mapping | None): keyword arguments of the norm module.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, causal: bool = False,
        norm: str = "none", trim_right_ratio: float = 1.0, norm_params: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not 0.0 <= trim_right_ratio <= 1.0 or (not causal and trim_right_ratio != 1.0):
            raise CodecConfigError(f"`trim_right_ratio` must lie in [0, 1], and be 1.0 unless causal; got "
                                   f"{trim_right_ratio} (causal={causal}).")
        conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride)
        self.convtr = NormConv(conv, norm, causal, norm_params or {}, "convtr")
        self.kernel_size, self.stride = kernel_size, stride
        padding_total = kernel_size - stride
        self.trim_right = math.ceil(padding_total * trim_right_ratio) if causal else padding_total // 2
        self.trim_left = padding_total - self.trim_right

    def output_lengths(self, lengths):
        return (lengths - 1) * self.stride + self.kernel_size - self.trim_left - self.trim_right

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, C_in, T]` -> `[B, C_out, T * stride]` (for kernel_size >= stride)."""
        raw_lengths = None
        if lengths is not None:
            # Frames past an item's end would add to its last outputs (an item alone has none there).
            x = x * time_mask(lengths, x.shape[-1]).to(x.dtype)
            raw_lengths = (lengths - 1) * self.stride + self.kernel_size
        y = self.convtr(x, raw_lengths)
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]


# ---------------------------------------------------------------------------------------------------------
# Blocks.


class SLSTM(LengthAware):
    """LSTM over `[B, C, T]` (convolutional layout) with a residual skip; no state is kept between calls.

    A bidirectional LSTM outputs `2 * C` channels; the skip then adds the input to both halves.

    Args:
        dimension (int): C, the input and hidden size.
        num_layers (int): stacked LSTM layers.
        skip (bool): add the input to the output.
        bidirectional (bool): run a backward LSTM too (its output is concatenated).
    """

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True, bidirectional: bool = False):
        super().__init__()
        self.skip, self.bidirectional = skip, bidirectional
        self.lstm = nn.LSTM(dimension, dimension, num_layers, bidirectional=bidirectional)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, C, T]` -> `[B, C or 2C, T]`."""
        x = x.permute(2, 0, 1)  # [T, B, C]
        if lengths is not None and self.bidirectional:
            # The backward direction would start from the padding; packing starts it at each item's end.
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            y = pad_packed_sequence(self.lstm(packed)[0], total_length=x.shape[0])[0]
        else:  # a forward-only LSTM is causal: padding after an item cannot reach its valid steps
            y = self.lstm(x)[0]
        if self.skip:
            y = y + (x.repeat(1, 1, 2) if self.bidirectional else x)
        return y.permute(1, 2, 0)


def _activation(activation: str, activation_params: Mapping[str, Any] | None) -> nn.Module:
    """`nn.<activation>(**activation_params)`, e.g. `ELU`, `{'alpha': 1.0}`."""
    if not isinstance(getattr(nn, activation, None), type):
        raise CodecConfigError(f"unknown activation {activation!r}: expected a torch.nn module name, e.g. 'ELU'.")
    return getattr(nn, activation)(**(activation_params or {}))


class SEANetResnetBlock(LengthAware):
    """Residual block: `shortcut(x) + block(x)`, the block being (activation, conv) pairs.

    Args:
        dim (int): input and output channels.
        kernel_sizes (Sequence[int]): kernel width of each conv of the block.
        dilations (Sequence[int]): dilation of each conv of the block.
        activation (str): torch.nn activation name.
        activation_params (Mapping | None): its keyword arguments.
        norm (str): one of `CONV_NORMS`.
        norm_params (Mapping | None): keyword arguments of the norm module.
        causal (bool): causal convolutions.
        pad_mode (str): one of `PAD_MODES`.
        compress (int): the block's hidden width is `dim // compress`.
        true_skip (bool): identity shortcut; otherwise a 1x1 `SConv1d`.
    """

    def __init__(
        self, dim: int, kernel_sizes: Sequence[int] = (3, 1), dilations: Sequence[int] = (1, 1),
        activation: str = "ELU", activation_params: Mapping[str, Any] | None = None, norm: str = "weight_norm",
        norm_params: Mapping[str, Any] | None = None, causal: bool = False, pad_mode: str = "reflect",
        compress: int = 2, true_skip: bool = True,
    ):
        super().__init__()
        if len(kernel_sizes) != len(dilations):
            raise CodecConfigError(f"one dilation per kernel size: got {list(kernel_sizes)} and {list(dilations)}.")
        conv = dict(norm=norm, norm_params=norm_params, causal=causal, pad_mode=pad_mode)
        hidden = dim // compress
        block: list[nn.Module] = []
        for i, (kernel_size, dilation) in enumerate(zip(kernel_sizes, dilations, strict=True)):
            in_chs = dim if i == 0 else hidden
            out_chs = dim if i == len(kernel_sizes) - 1 else hidden
            block += [_activation(activation, activation_params),
                      SConv1d(in_chs, out_chs, kernel_size, dilation=dilation, **conv)]
        self.block = nn.Sequential(*block)
        self.shortcut = nn.Identity() if true_skip else SConv1d(dim, dim, 1, **conv)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, dim, T]` -> `[B, dim, T]`."""
        shortcut = self.shortcut(x) if isinstance(self.shortcut, nn.Identity) else self.shortcut(x, lengths)
        return shortcut + run_layers(self.block, x, lengths)


class SEANetEncoder(LengthAware):
    """SEANet encoder: waveform `[B, channels, T]` -> latent `[B, dimension, ceil(T / prod(ratios))]`.

    `model` is one `nn.Sequential`: conv; for each ratio, `n_residual_layers` residual blocks, then
    activation and a strided conv doubling the width; optional LSTM; activation, conv.

    Args:
        channels (int): audio channels.
        dimension (int): latent channels.
        n_filters (int): width of the first conv.
        n_residual_layers (int): residual blocks per stage.
        ratios (Sequence[int]): upsampling ratios, decoder order; the encoder downsamples in reverse order.
        activation (str): torch.nn activation name.
        activation_params (Mapping | None): its keyword arguments (None: `{'alpha': 1.0}` for ELU).
        norm (str): one of `CONV_NORMS`.
        norm_params (Mapping | None): keyword arguments of the norm modules.
        kernel_size (int): kernel width of the first conv.
        last_kernel_size (int): kernel width of the last conv.
        residual_kernel_size (int): kernel width of the residual blocks' first conv.
        dilation_base (int): residual block `j` of a stage has dilation `dilation_base ** j`.
        causal (bool): causal convolutions.
        pad_mode (str): one of `PAD_MODES`.
        true_skip (bool): identity shortcuts in residual blocks (else 1x1 convs).
        compress (int): residual blocks' hidden width divisor.
        lstm (int): LSTM layers before the last conv (0: none).
        bidirectional (bool): bidirectional LSTM (the last conv then takes twice the channels).
    """

    def __init__(
        self, channels: int = 1, dimension: int = 128, n_filters: int = 32, n_residual_layers: int = 1,
        ratios: Sequence[int] = (8, 5, 4, 2), activation: str = "ELU",
        activation_params: Mapping[str, Any] | None = None, norm: str = "weight_norm",
        norm_params: Mapping[str, Any] | None = None, kernel_size: int = 7, last_kernel_size: int = 7,
        residual_kernel_size: int = 3, dilation_base: int = 2, causal: bool = False, pad_mode: str = "reflect",
        true_skip: bool = False, compress: int = 2, lstm: int = 2, bidirectional: bool = False,
    ):
        super().__init__()
        act = dict(activation=activation, activation_params=_default_params(activation, activation_params))
        conv = dict(norm=norm, norm_params=norm_params, causal=causal, pad_mode=pad_mode)
        self.ratios = list(reversed(ratios))
        self.hop_length = math.prod(self.ratios)
        width = n_filters
        model: list[nn.Module] = [SConv1d(channels, width, kernel_size, **conv)]
        for ratio in self.ratios:
            model += [SEANetResnetBlock(width, (residual_kernel_size, 1), (dilation_base**j, 1), **act, **conv,
                                        compress=compress, true_skip=true_skip)
                      for j in range(n_residual_layers)]
            model += [_activation(**act), SConv1d(width, width * 2, ratio * 2, stride=ratio, **conv)]
            width *= 2
        if lstm:
            model += [SLSTM(width, num_layers=lstm, bidirectional=bidirectional)]
            width *= 2 if bidirectional else 1
        model += [_activation(**act), SConv1d(width, dimension, last_kernel_size, **conv)]
        self.model = nn.Sequential(*model)

    def output_lengths(self, lengths):
        return fold_lengths(self.model, lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, channels, T]` -> `[B, dimension, frames]`; with `lengths`, each item as if alone."""
        return run_layers(self.model, x, lengths)


class SEANetDecoder(LengthAware):
    """SEANet decoder: latent `[B, dimension, F]` -> waveform `[B, channels, F * prod(ratios)]`.

    `model` is one `nn.Sequential`: conv; optional LSTM; for each ratio, activation and a transposed
    conv halving the width, then `n_residual_layers` residual blocks; activation, conv; optional final
    activation. No trimming to an input length happens here: that is the codec's length rule.

    Args:
        channels (int): audio channels.
        dimension (int): latent channels.
        n_filters (int): width of the last stage.
        n_residual_layers (int): residual blocks per stage.
        ratios (Sequence[int]): upsampling ratios, in order.
        activation (str): torch.nn activation name.
        activation_params (Mapping | None): its keyword arguments (None: `{'alpha': 1.0}` for ELU).
        final_activation (str | None): torch.nn activation applied to the output (e.g. `Tanh`), or none.
        final_activation_params (Mapping | None): its keyword arguments.
        norm (str): one of `CONV_NORMS`.
        norm_params (Mapping | None): keyword arguments of the norm modules.
        kernel_size (int): kernel width of the first conv.
        last_kernel_size (int): kernel width of the last conv.
        residual_kernel_size (int): kernel width of the residual blocks' first conv.
        dilation_base (int): residual block `j` of a stage has dilation `dilation_base ** j`.
        causal (bool): causal convolutions.
        pad_mode (str): one of `PAD_MODES`.
        true_skip (bool): identity shortcuts in residual blocks (else 1x1 convs).
        compress (int): residual blocks' hidden width divisor.
        lstm (int): LSTM layers after the first conv (0: none).
        trim_right_ratio (float): share of a causal transposed conv's padding trimmed on the right.
        bidirectional (bool): bidirectional LSTM; its `2 * C` output needs a model that expects it, so
            this is False in every known checkpoint.
    """

    def __init__(
        self, channels: int = 1, dimension: int = 128, n_filters: int = 32, n_residual_layers: int = 1,
        ratios: Sequence[int] = (8, 5, 4, 2), activation: str = "ELU",
        activation_params: Mapping[str, Any] | None = None, final_activation: str | None = None,
        final_activation_params: Mapping[str, Any] | None = None, norm: str = "weight_norm",
        norm_params: Mapping[str, Any] | None = None, kernel_size: int = 7, last_kernel_size: int = 7,
        residual_kernel_size: int = 3, dilation_base: int = 2, causal: bool = False, pad_mode: str = "reflect",
        true_skip: bool = False, compress: int = 2, lstm: int = 2, trim_right_ratio: float = 1.0,
        bidirectional: bool = False,
    ):
        super().__init__()
        act = dict(activation=activation, activation_params=_default_params(activation, activation_params))
        conv = dict(norm=norm, norm_params=norm_params, causal=causal)
        self.ratios = list(ratios)
        self.hop_length = math.prod(self.ratios)
        width = n_filters * 2 ** len(self.ratios)
        model: list[nn.Module] = [SConv1d(dimension, width, kernel_size, **conv, pad_mode=pad_mode)]
        if lstm:
            model += [SLSTM(width, num_layers=lstm, bidirectional=bidirectional)]
        for ratio in self.ratios:
            model += [_activation(**act), SConvTranspose1d(width, width // 2, ratio * 2, stride=ratio, **conv,
                                                           trim_right_ratio=trim_right_ratio)]
            width //= 2
            model += [SEANetResnetBlock(width, (residual_kernel_size, 1), (dilation_base**j, 1), **act, **conv,
                                        pad_mode=pad_mode, compress=compress, true_skip=true_skip)
                      for j in range(n_residual_layers)]
        model += [_activation(**act), SConv1d(n_filters, channels, last_kernel_size, **conv, pad_mode=pad_mode)]
        if final_activation is not None:
            model += [_activation(final_activation, final_activation_params)]
        self.model = nn.Sequential(*model)

    def output_lengths(self, lengths):
        return fold_lengths(self.model, lengths)

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """`[B, dimension, F]` -> `[B, channels, F * hop_length]`; with `lengths` (frames), each item as if alone."""
        return run_layers(self.model, z, lengths)


def _default_params(activation: str, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # EnCodec's default activation_params are {'alpha': 1.0}, meant for its default ELU.
    if params is None:
        return {"alpha": 1.0} if activation == "ELU" else {}
    return params
