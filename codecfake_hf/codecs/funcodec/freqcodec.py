"""FunCodec's FreqCodec blocks: STFT magnitude/phase front and back end, 2-D SEANet encoder and decoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CodecConfigError
from ..nn.seanet import SLSTM, SConv1d, conv_frames, weight_norm

# Both ends of FreqCodec clamp the magnitude before the log and the phase division.
_MAG_FLOOR = 1e-6


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _groups(channels: int, ratio: int, what: str) -> int:
    """Upstream's group count for a grouped conv: `channels // 2 // ratio` when `ratio > 0`, else 1."""
    if ratio <= 0:
        return 1
    groups = channels // 2 // ratio
    if groups < 1:
        raise CodecConfigError(f"FreqCodec {what}: a group ratio of {ratio} needs at least {2 * ratio} channels, "
                               f"the layer has {channels}; lower the ratio or widen `n_filters`.")
    return groups


# `norm` values of the 2-D convs: GroupNorm after the conv (`norm.weight/bias`), a weight-normalised conv
# (`conv.weight_g/weight_v`, the legacy torch names), or neither.
NORMS = ("time_group_norm", "weight_norm", "none")


def _pad_time_freq(x: torch.Tensor, time: tuple[int, int], freq: tuple[int, int], mode: str) -> torch.Tensor:
    """`F.pad` on the last two axes `[..., F, T]`; reflect on an axis too short for it zero-extends it first."""
    if mode != "reflect":
        return F.pad(x, (*time, *freq), mode="constant" if mode == "zero" else mode)
    n_freq, n_time = x.shape[-2:]
    extra_time = max(time) - n_time + 1 if n_time <= max(time) else 0
    extra_freq = max(freq) - n_freq + 1 if n_freq <= max(freq) else 0
    x = F.pad(x, (0, extra_time, 0, extra_freq))
    x = F.pad(x, (*time, *freq), mode="reflect")
    return x[..., : x.shape[-2] - extra_freq, : x.shape[-1] - extra_time]


class _NormConv2d(nn.Module):
    """A 2-D convolution then its norm, under the key names `<attr>` and `norm`.

    Args:
        conv (nn.Module): a freshly built `nn.Conv2d` or `nn.ConvTranspose2d`.
        attr (str): the convolution's attribute name, `conv` or `convtr` (it names the state-dict keys).
        norm (str): one of `NORMS`.
        num_groups (int): groups of the GroupNorm of `time_group_norm`.
    """

    def __init__(self, conv: nn.Module, attr: str, norm: str, num_groups: int):
        super().__init__()
        self.attr = attr
        setattr(self, attr, weight_norm(conv) if norm == "weight_norm" else conv)
        self.norm = nn.GroupNorm(num_groups, conv.out_channels) if norm == "time_group_norm" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(getattr(self, self.attr)(x))


class SConv2d(nn.Module):
    """Conv2d over `[B, C, F, T]` with FunCodec's non-causal padding.

    Both axes get `(k - 1) * dilation - (stride - 1)` samples of padding, the larger half before. The time
    axis also gets the extra samples that make its last window full, and FunCodec puts them *before* the
    signal (unlike the 1-D `SConv1d`, which appends them); the frequency axis gets none.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int | tuple[int, int]): (freq, time) kernel.
        stride (int | tuple[int, int]): (freq, time) stride.
        dilation (int | tuple[int, int]): (freq, time) dilation.
        groups (int): conv groups.
        norm (str): `time_group_norm` (GroupNorm over channels, frequency and time), `weight_norm` or `none`.
        num_groups (int): groups of that GroupNorm.
        pad_mode (str): `reflect` or `zero`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, dilation: int | Sequence[int] = 1, groups: int = 1,
                 norm: str = "none", num_groups: int = 1, pad_mode: str = "reflect"):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, _pair(kernel_size), _pair(stride), dilation=_pair(dilation),
                         groups=groups)
        self.conv = _NormConv2d(conv, "conv", norm, num_groups)
        self.pad_mode = pad_mode
        (k_f, self.k_t), (s_f, self.s_t), (d_f, d_t) = conv.kernel_size, conv.stride, conv.dilation
        pad_f = (k_f - 1) * d_f - (s_f - 1)
        self.pad_t = (self.k_t - 1) * d_t - (self.s_t - 1)
        self.freq = (pad_f - pad_f // 2, pad_f // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, C_in, F, T]` -> `[B, C_out, F', ceil(T / time stride)]`."""
        length = x.shape[-1]
        frames = conv_frames(length, self.k_t, self.s_t, self.pad_t)
        extra_t = (frames - 1) * self.s_t + self.k_t - self.pad_t - length
        time = (self.pad_t - self.pad_t // 2 + extra_t, self.pad_t // 2)
        return self.conv(_pad_time_freq(x, time, self.freq, self.pad_mode))


class SConvTranspose2d(nn.Module):
    """ConvTranspose2d over `[B, C, F, T]` that trims FunCodec's non-causal padding.

    `k - stride` samples are trimmed per axis, the larger half before; `out_padding` ((freq before,
    freq after), (time before, time after)) keeps that many of them (the decoder's last layer keeps
    one frequency bin to reach `n_fft // 2 + 1`).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int | tuple[int, int]): (freq, time) kernel.
        stride (int | tuple[int, int]): (freq, time) stride.
        groups (int): conv groups.
        norm (str): one of `NORMS`.
        num_groups (int): groups of that GroupNorm.
        out_padding (int | sequence): samples of the trim to keep, as above (an int: the same everywhere).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, groups: int = 1, norm: str = "none", num_groups: int = 1,
                 out_padding: int | Sequence[Sequence[int]] = 0):
        super().__init__()
        convtr = nn.ConvTranspose2d(in_channels, out_channels, _pair(kernel_size), _pair(stride), groups=groups)
        self.convtr = _NormConv2d(convtr, "convtr", norm, num_groups)
        if isinstance(out_padding, int):
            out_padding = ((out_padding, out_padding), (out_padding, out_padding))
        self.out_padding = tuple(_pair(p) for p in out_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convtr = self.convtr.convtr
        y = self.convtr(x)
        trims = []
        for k, s, (keep_before, keep_after) in zip(convtr.kernel_size, convtr.stride, self.out_padding, strict=True):
            total = k - s
            after = total // 2
            trims.append((max(total - after - keep_before, 0), max(after - keep_after, 0)))
        (f_before, f_after), (t_before, t_after) = trims
        return y[..., f_before: y.shape[-2] - f_after, t_before: y.shape[-1] - t_after]


class SEANetResnetBlock2d(nn.Module):
    """Residual unit: `shortcut(x) + conv1x1(ELU(conv(ELU(x))))`, with a 1x1 conv shortcut unless `true_skip`.

    Args:
        dim (int): channels in and out.
        kernel_size (int): kernel of the first conv (square).
        dilation (tuple[int, int]): (freq, time) dilation of the first conv.
        compress (int): the hidden width is `dim // compress`.
        true_skip (bool): identity shortcut instead of a 1x1 conv.
        conv_group_ratio (int): grouped convs with `min(in, out) // 2 // ratio` groups when > 0.
        alpha (float): ELU alpha.
        norm (str), num_groups (int), pad_mode (str): as for `SConv2d`.
    """

    def __init__(self, dim: int, kernel_size: int, dilation: tuple[int, int], compress: int, true_skip: bool,
                 conv_group_ratio: int, alpha: float, norm: str, num_groups: int, pad_mode: str):
        super().__init__()
        hidden = dim // compress
        conv = dict(norm=norm, num_groups=num_groups, pad_mode=pad_mode)
        self.block = nn.Sequential(
            nn.ELU(alpha),
            SConv2d(dim, hidden, kernel_size, dilation=dilation,
                    groups=_groups(min(dim, hidden), conv_group_ratio, "residual conv"), **conv),
            nn.ELU(alpha),
            SConv2d(hidden, dim, 1, groups=_groups(min(dim, hidden), conv_group_ratio, "residual conv"), **conv),
        )
        self.shortcut = nn.Identity() if true_skip else SConv2d(
            dim, dim, 1, groups=_groups(dim, conv_group_ratio, "shortcut conv"), **conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class _SqueezeFreq(nn.Module):
    """`[B, C, 1, T]` -> `[B, C, T]` (the encoder's frequency axis is down to one bin here)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(2)


class _UnsqueezeFreq(nn.Module):
    """`[B, C, T]` -> `[B, C, 1, T]`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2)


def _sconv1d(in_channels: int, out_channels: int, kernel_size: int, norm: str, num_groups: int,
             pad_mode: str) -> SConv1d:
    """The 1-D conv between the 2-D stages and the latent (EnCodec's `SConv1d`, GroupNorm of one group).

    Upstream builds no FreqCodec with other GroupNorm groups: they would have to divide the 3 channels of
    the decoder's output conv and the latent dimension.
    """
    if norm == "time_group_norm" and num_groups != 1:
        raise CodecConfigError(f"FunCodec: norm_params num_groups={num_groups} is not supported; valid: 1.")
    return SConv1d(in_channels, out_channels, kernel_size, norm=norm, pad_mode=pad_mode)


def _seq_model(seq_model: str, channels: int, seq_layer_num: int, res_seq: bool) -> list[nn.Module]:
    if seq_model == "lstm":
        return [SLSTM(channels, num_layers=seq_layer_num, skip=res_seq)]
    if seq_model in ("none", None):
        return []
    raise CodecConfigError(f"FunCodec: seq_model {seq_model!r} is not supported; valid: 'lstm', 'none'.")


class SEANetEncoder2d(nn.Module):
    """2-D SEANet encoder: STFT features `[B, C_in, F, T]` -> latent `[B, dimension, T // prod(time ratios)]`.

    Args are those of FunCodec's `encodec_seanet_encoder_2d` `encoder_conf` (upstream names and defaults):
        input_size (int): feature channels (3 for magnitude/phase).
        dimension (int): latent dimension.
        n_filters (int): width of the first stage (doubled at each downsampling).
        n_residual_layers (int): residual units per stage.
        ratios (list[tuple[int, int]]): (freq, time) strides, in decoder order (the encoder reverses them).
        activation (str), activation_params (dict): ELU and its `alpha`.
        norm (str), norm_params (dict): `time_group_norm` and its `num_groups`.
        kernel_size (int), last_kernel_size (int), residual_kernel_size (int): conv kernels.
        dilation_base (int): time dilation of the j-th residual unit is `dilation_base ** j`.
        causal (bool): must be False (GroupNorm is not causal).
        pad_mode (str): padding of every conv.
        true_skip (bool): identity shortcuts in the residual units.
        compress (int): residual hidden width divisor.
        seq_model (str): `lstm` or `none` after the convs; seq_layer_num (int), res_seq (bool): its layers/skip.
        conv_group_ratio (int): grouped residual and downsampling convs when > 0.
    """

    def __init__(self, input_size: int = 1, dimension: int = 128, n_filters: int = 32, n_residual_layers: int = 1,
                 ratios: Sequence[Sequence[int]] = ((4, 1), (4, 1), (4, 2), (4, 1)), activation: str = "ELU",
                 activation_params: dict | None = None, norm: str = "weight_norm", norm_params: dict | None = None,
                 kernel_size: int = 7, last_kernel_size: int = 7, residual_kernel_size: int = 3,
                 dilation_base: int = 2, causal: bool = False, pad_mode: str = "reflect", true_skip: bool = False,
                 compress: int = 2, seq_model: str = "lstm", seq_layer_num: int = 2, res_seq: bool = True,
                 conv_group_ratio: int = -1):
        super().__init__()
        alpha, num_groups = _check_common(activation, activation_params, norm, norm_params, causal)
        self.input_size = input_size
        self.dimension = dimension
        self.ratios = [_pair(r) for r in reversed(ratios)]
        self.time_stride = math.prod(t for _, t in self.ratios)
        conv = dict(norm=norm, num_groups=num_groups, pad_mode=pad_mode)
        width = n_filters
        layers: list[nn.Module] = [SConv2d(input_size, width, kernel_size, **conv)]
        for freq_ratio, time_ratio in self.ratios:
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock2d(
                    width, residual_kernel_size, (1, dilation_base ** j), compress, true_skip, conv_group_ratio,
                    alpha, norm, num_groups, pad_mode))
            layers += [
                nn.ELU(alpha),
                SConv2d(width, width * 2, (freq_ratio * 2, time_ratio * 2), stride=(freq_ratio, time_ratio),
                        groups=_groups(width, conv_group_ratio, "downsampling conv"), **conv),
            ]
            width *= 2
        layers.append(_SqueezeFreq())
        layers += _seq_model(seq_model, width, seq_layer_num, res_seq)
        layers += [nn.ELU(alpha), _sconv1d(width, dimension, last_kernel_size, norm, num_groups, pad_mode)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, C_in, F, T]` -> `[B, dimension, T']`."""
        return self.model(x)


class SEANetDecoder2d(nn.Module):
    """2-D SEANet decoder: latent `[B, input_size, T']` -> STFT features `[B, channels, F, T' * prod(time ratios)]`.

    Args are those of FunCodec's `encodec_seanet_decoder_2d` `decoder_conf` (see `SEANetEncoder2d`), plus:
        channels (int): output feature channels (3 for magnitude/phase).
        final_activation (str | None): a `torch.nn` activation after the last conv.
        trim_right_ratio (float): must be 1.0 (only meaningful for causal models).
        last_out_padding (sequence): `out_padding` of the last transposed conv (see `SConvTranspose2d`).
        tr_conv_group_ratio (int): grouped transposed convs when > 0.
    """

    def __init__(self, input_size: int = 128, channels: int = 1, n_filters: int = 32, n_residual_layers: int = 1,
                 ratios: Sequence[Sequence[int]] = ((4, 1), (4, 1), (4, 2), (4, 1)), activation: str = "ELU",
                 activation_params: dict | None = None, final_activation: str | None = None,
                 final_activation_params: dict | None = None, norm: str = "weight_norm",
                 norm_params: dict | None = None, kernel_size: int = 7, last_kernel_size: int = 7,
                 residual_kernel_size: int = 3, dilation_base: int = 2, causal: bool = False,
                 pad_mode: str = "reflect", true_skip: bool = False, compress: int = 2, seq_model: str = "lstm",
                 seq_layer_num: int = 2, trim_right_ratio: float = 1.0, res_seq: bool = True,
                 last_out_padding: Sequence[Sequence[int]] = ((0, 1), (0, 0)), tr_conv_group_ratio: int = -1,
                 conv_group_ratio: int = -1):
        super().__init__()
        alpha, num_groups = _check_common(activation, activation_params, norm, norm_params, causal)
        if trim_right_ratio != 1.0:
            raise CodecConfigError(f"FunCodec: trim_right_ratio={trim_right_ratio} only applies to causal models.")
        self.ratios = [_pair(r) for r in ratios]
        self.time_stride = math.prod(t for _, t in self.ratios)
        conv = dict(norm=norm, num_groups=num_groups, pad_mode=pad_mode)
        width = n_filters * 2 ** len(self.ratios)
        layers: list[nn.Module] = [_sconv1d(input_size, width, kernel_size, norm, num_groups, pad_mode)]
        layers += _seq_model(seq_model, width, seq_layer_num, res_seq)
        layers.append(_UnsqueezeFreq())
        for i, (freq_ratio, time_ratio) in enumerate(self.ratios):
            last = i == len(self.ratios) - 1
            layers += [
                nn.ELU(alpha),
                SConvTranspose2d(width, width // 2, (freq_ratio * 2, time_ratio * 2), stride=(freq_ratio, time_ratio),
                                 groups=_groups(width, tr_conv_group_ratio, "transposed conv"), norm=norm,
                                 num_groups=num_groups, out_padding=last_out_padding if last else 0),
            ]
            for j in range(n_residual_layers):
                layers.append(SEANetResnetBlock2d(
                    width // 2, residual_kernel_size, (1, dilation_base ** j), compress, true_skip,
                    conv_group_ratio, alpha, norm, num_groups, pad_mode))
            width //= 2
        layers += [nn.ELU(alpha), SConv2d(n_filters, channels, last_kernel_size, **conv)]
        if final_activation is not None:
            layers.append(getattr(nn, final_activation)(**(final_activation_params or {})))
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """`[B, input_size, T']` -> `[B, channels, F, T]`."""
        return self.model(z)


def _check_common(activation: str, activation_params: dict | None, norm: str, norm_params: dict | None,
                  causal: bool) -> tuple[float, int]:
    """The options the 2-D SEANet shares; returns (ELU alpha, GroupNorm groups)."""
    if activation != "ELU":
        raise CodecConfigError(f"FunCodec: activation {activation!r} is not supported; valid: 'ELU'.")
    if causal:
        raise CodecConfigError("FunCodec: causal=True is not supported with 2-D convs and GroupNorm.")
    params = dict(norm_params or {})
    num_groups = int(params.pop("num_groups", 1))
    if params:
        raise CodecConfigError(f"FunCodec: norm_params {sorted(params)} are not supported; valid: 'num_groups'.")
    if norm not in NORMS:
        raise CodecConfigError(f"FunCodec: norm {norm!r} is not supported by the 2-D SEANet; "
                               f"valid: {', '.join(NORMS)}.")
    return float((activation_params or {}).get("alpha", 1.0)), num_groups


class MagPhaseAnalysis(nn.Module):
    """Waveform `[B, 1, T]` -> FreqCodec's magnitude/phase features `[B, 3, n_fft // 2 + 1, T // hop + 1]`.

    The STFT of torchaudio's `Spectrogram(power=None)`: periodic Hann window (`window`, a checkpoint
    buffer), centred with reflect padding, not normalised. Features: log magnitude, and the real and
    imaginary parts of the unit phasor, with magnitudes clamped at 1e-6.

    Args:
        n_fft (int): FFT size and window length.
        hop_length (int): STFT hop, in samples.
    """

    def __init__(self, n_fft: int = 512, hop_length: int = 160):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.squeeze(1), self.n_fft, self.hop_length, window=self.window, center=True,
                          pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        mag = spec.abs()
        phase = spec / torch.clamp(mag, min=_MAG_FLOOR)
        return torch.stack([torch.log(torch.clamp(mag, min=_MAG_FLOOR)), phase.real, phase.imag], dim=1)


class MagPhaseSynthesis(nn.Module):
    """Decoder features `[B, 3, F, N]` -> waveform `[B, 1, hop * (N - 1)]`.

    Magnitude `softplus(ch0)` times `ch1 + i ch2` (upstream does not renormalise that phasor), then
    torchaudio's `InverseSpectrogram`: `torch.istft`, centred, no target length.

    Args:
        n_fft (int): FFT size and window length.
        hop_length (int): STFT hop, in samples.
    """

    def __init__(self, n_fft: int = 512, hop_length: int = 160):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        spec = F.softplus(features[:, 0]) * torch.complex(features[:, 1], features[:, 2])
        wave = torch.istft(spec, self.n_fft, self.hop_length, window=self.window, center=True, normalized=False,
                           onesided=True)
        return wave.unsqueeze(1)

    def output_length(self, frames: int) -> int:
        """Samples `torch.istft` (centred, no `length`) makes of `frames` STFT frames."""
        return self.hop_length * (frames - 1)
