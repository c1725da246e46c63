"""HILCodec's network (Ahn et al. 2024, arXiv 2405.04752), state-dict compatible with the generator of the released
checkpoints (`model` of aask1357/hilcodec's `<epoch>.pth`).

Written after aask1357/hilcodec at commit 616e8c36 (MIT): `models/hilcodec/models.py` (`HILCodec`),
`models/hilcodec/modules/seanet.py` (`SEANetEncoder`, `SEANetDecoder`, `SEANetResnetBlock`, `SpecBlock`, `L2Norm`,
`Scale`), `models/hilcodec/modules/conv.py` (`SConv1d`, `SConvTranspose1d`, `CausalSTFT`) and
`models/hilcodec/vector_quantize.py` (`EuclideanCodebook`, `ResidualVQ`). Module names, nesting and term order
follow upstream, so the checkpoint loads strictly and each line can be checked against its reference:

- a variance-constrained SEANet: residual blocks of depthwise-separable convolutions, each branch scaled by
  `res_scale` times a learnt scalar (`res_scale_param`, zero at init) and its input by `(1 + idx·res_scale²)^-1/2`;
  the input is divided by the training set's waveform std (0.112) and the output multiplied by it (`inout_norm`);
- a causal magnitude STFT (a fixed convolution, `CausalSTFT`) of the input at every encoder scale, log-compressed,
  standardised with upstream's fixed statistics and added through a 1x1 convolution (`SpecBlock`);
- the latent l2-normalised to norm sqrt(dim), then an 8-stage residual VQ over 1024-entry codebooks (EMA
  codebooks: `embed` is what inference reads; `ema_embed`, `ema_num` are kept so the checkpoint loads strictly);
- every convolution weight-normed (`weight_g`/`weight_v`, the legacy `torch.nn.utils.weight_norm` names of the
  checkpoint) and causal (left padding; the transposed convolutions trimmed on the right).

The model is causal end to end, so items of a zero-padded batch get exactly what they get alone on their valid
samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.seanet import NormConv, SConv1d

# Constants of upstream's SEANetEncoder/SEANetDecoder that HILCodec never overrides (their constructors' defaults):
# the training set's waveform std and, per encoder scale, the mean and std of the log-magnitude spectrogram.
WAV_STD = 0.1122080159
SPEC_MEANS = (-4.554, -4.315, -4.021, -3.726, -3.477)
SPEC_STDS = (2.830, 2.837, 2.817, 2.796, 2.871)


def activation(name: str, params: Mapping[str, Any]) -> nn.Module:
    """`nn.<name>(**params)` (upstream runs it in place; every tensor it sees here is fresh, see `ResnetBlock`)."""
    return getattr(nn, name)(**params)


class Scale(nn.Module):
    """Multiplication by a fixed number (upstream's `Scale(learnable=False)`: no parameter, no key).

    Args:
        value (float): the factor.
    """

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value * x


class SConvTranspose1d(nn.Module):
    """Upstream's causal `SConvTranspose1d` (grouped, bias optional): `T` frames -> `T * stride`, the transposed
    convolution's `kernel_size - stride` extra samples trimmed on the right (`trim_right_ratio` 1).

    Args:
        channels (int): input and output channels (the layer is depthwise: groups = channels).
        kernel_size (int): kernel width.
        stride (int): upsampling factor.
        bias (bool): whether the convolution has a bias.
        norm (str): `weight_norm` or `none`.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, bias: bool, norm: str):
        super().__init__()
        conv = nn.ConvTranspose1d(channels, channels, kernel_size, stride, groups=channels, bias=bias)
        self.convtr = NormConv(conv, norm, True, {}, "convtr")
        self.trim = kernel_size - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convtr(x)
        return y[..., : y.shape[-1] - self.trim]


class CausalSTFT(nn.Module):
    """Magnitude STFT as a strided convolution over the left-padded signal (`n_fft - 1` samples of `pad_mode`
    padding), one frame per `hop_size` samples: `[B, 1, T]` -> `[B, n_fft // 2 + 1, T / hop_size]`.

    `weight` stacks the real and imaginary DFT rows times a periodic Hann window, computed as upstream computes it
    (a buffer of the checkpoint, or a parameter when the config makes it learnable).

    Args:
        n_fft (int): window and FFT size.
        hop_size (int): hop.
        pad_mode (str): `F.pad` mode of the left padding.
        learnable (bool): whether `weight` is a parameter (upstream's `spec_learnable`).
    """

    def __init__(self, n_fft: int, hop_size: int, pad_mode: str, learnable: bool):
        super().__init__()
        self.n_fft, self.hop_size, self.pad_mode, self.eps = n_fft, hop_size, pad_mode, 1e-12
        n = torch.arange(n_fft, dtype=torch.float32).view(1, 1, n_fft)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float32).view(-1, 1, 1)
        window = torch.hann_window(n_fft)
        weight = torch.cat([torch.cos(-2 * math.pi / n_fft * k * n), torch.sin(-2 * math.pi / n_fft * k * n)],
                           dim=0) * window
        if learnable:
            self.weight = nn.Parameter(weight)
        else:
            self.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.n_fft - 1, 0), mode=self.pad_mode)
        x = F.conv1d(x, self.weight, None, stride=self.hop_size)
        b, c, t = x.shape
        return x.view(b, 2, c // 2, t).square().sum(dim=1).clamp_min(self.eps).sqrt()


class SpecBlock(nn.Module):
    """Adds the compressed, standardised spectrogram of the input waveform to the features of one encoder scale:
    `x + layer((compress(|STFT(wav)|) - mean) / std) * res_scale * scale_param`.

    Args:
        compression (str | float): `log`, `""` (none) or a power-law exponent.
        n_fft (int): STFT size.
        channels (int): the features' channels.
        stride (int): the STFT's hop (the scale's total downsampling).
        norm (str): convolution norm.
        pad_mode (str): padding mode.
        learnable (bool): whether the STFT's filters are a parameter.
        mean (float), std (float): the spectrogram's statistics (`SPEC_MEANS`, `SPEC_STDS`).
        res_scale (float | None): the branch's fixed scale.
        zero_init (bool): whether the branch has the learnt scalar `scale_param`.
        inout_norm (bool): whether the spectrogram is standardised.
    """

    def __init__(self, compression: str | float, n_fft: int, channels: int, stride: int, norm: str, pad_mode: str,
                 learnable: bool, mean: float, std: float, res_scale: float | None, zero_init: bool,
                 inout_norm: bool):
        super().__init__()
        self.spec = CausalSTFT(n_fft, stride, pad_mode, learnable)
        self.compression = compression
        self.inout_norm, self.mean, self.std, self.scale = inout_norm, mean, std, res_scale
        self.layer = SConv1d(n_fft // 2 + 1, channels, 1, bias=False, norm=norm, pad_mode=pad_mode)
        self.scale_param = nn.Parameter(torch.zeros(1)) if zero_init else None

    def forward(self, x: torch.Tensor, wav: torch.Tensor) -> torch.Tensor:
        y = self.spec(wav)
        if self.compression == "log":
            y = y.clamp_min(1e-5).log()
        elif self.compression != "":
            y = y.sign() * y.abs().pow(float(self.compression))
        if self.inout_norm:
            y = (y - self.mean) / self.std
        y = self.layer(y)
        scale = 1.0 if self.scale is None else self.scale
        if self.scale_param is not None:
            scale = self.scale_param * scale
        return x + y * scale


class ResnetBlock(nn.Module):
    """Upstream's `SEANetResnetBlock` with an identity shortcut: for each dilation, (activation, 1x1 convolution
    without bias, depthwise convolution), the branch scaled by `res_scale · res_scale_param` and added to the input;
    the branch's input is first scaled by `(1 + idx · res_scale²)^-1/2`.

    Args:
        dim (int): channels.
        kernel_size (int): the depthwise convolutions' width.
        dilations (Sequence[int]): one per (1x1, depthwise) pair.
        act (str), act_params (Mapping): the activation.
        norm (str): convolution norm.
        pad_mode (str): padding mode.
        groups (int): the depthwise convolutions' groups (`dim // expansion` for upstream's -1).
        bias (bool): whether the depthwise convolutions have a bias.
        res_scale (float | None): the branch's fixed scale (None: 1, and no input scaling).
        idx (int): the block's position, for the input scale.
        zero_init (bool): whether the branch has the learnt scalar `res_scale_param`.
    """

    def __init__(self, dim: int, kernel_size: int, dilations: Sequence[int], act: str, act_params: Mapping[str, Any],
                 norm: str, pad_mode: str, groups: int, bias: bool, res_scale: float | None, idx: int,
                 zero_init: bool):
        super().__init__()
        self.pre_scale = (1 + idx * res_scale**2) ** -0.5 if res_scale is not None else None
        block: list[nn.Module] = []
        for dilation in dilations:
            block += [activation(act, act_params),
                      SConv1d(dim, dim, 1, bias=False, norm=norm, pad_mode="constant"),
                      SConv1d(dim, dim, kernel_size, dilation=dilation, groups=groups, bias=bias, causal=True,
                              norm=norm, pad_mode=pad_mode)]
        self.block = nn.Sequential(*block)
        self.shortcut = nn.Identity()
        self.res_scale = res_scale
        self.res_scale_param = nn.Parameter(torch.zeros(1)) if zero_init else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_scale is not None:
            y = self.block(x * self.pre_scale)
        else:
            # Upstream's first activation runs in place on the block's input, which is also its identity shortcut:
            # without the input scale, the shortcut is the activated input.
            x = self.block[0](x)
            y = self.block[1:](x)
        scale = 1.0 if self.res_scale is None else self.res_scale
        if self.res_scale_param is not None:
            scale = scale * self.res_scale_param
        return y * scale + x


class L2Norm(nn.Module):
    """Each frame's vector l2-normalised over the channels, times sqrt(channels) when `inout_norm`.

    Args:
        channels (int): channels.
        inout_norm (bool): whether to rescale to norm sqrt(channels).
    """

    def __init__(self, channels: int, inout_norm: bool):
        super().__init__()
        self.scale, self.inout_norm = channels**0.5, inout_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.normalize(x, p=2.0, dim=1, eps=1e-12)
        return y * self.scale if self.inout_norm else y


def _down_scale(res_scale: float | None, n_residual: int) -> nn.Module:
    """The scale before each resampling stage: the residual stack's variance undone (`(1 + n·res_scale²)^-1/2`)."""
    return nn.Identity() if res_scale is None else Scale((1 + n_residual * res_scale**2) ** -0.5)


class Encoder(nn.Module):
    """Upstream's `SEANetEncoder` (HILCodec's arguments): `[B, 1, T]` -> `[B, dim, T / hop]`.

    Args:
        config (ModelArgs): `model_kwargs` of the config file (see `codec.ModelArgs`).
        channels (int): audio channels.
    """

    def __init__(self, config, channels: int = 1):
        super().__init__()
        c = config
        act, act_params, norm, pad = c.activation, c.activation_kwargs, c.norm, c.pad_mode
        n_filters, ratios, dimension = c.channels_enc, list(reversed(c.strides)), c.vq_kwargs.dim
        mult = 1
        self.conv_pre = nn.Sequential(
            Scale(1 / WAV_STD) if c.inout_norm else nn.Identity(),
            SConv1d(channels, n_filters, c.kernel_size, bias=c.bias, causal=True, norm=norm, pad_mode=pad))
        self.blocks, self.spec_blocks, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        stride = 1
        for block_idx, ratio in enumerate(ratios):
            dim = mult * n_filters
            self.blocks.append(nn.Sequential(*[
                ResnetBlock(dim, c.residual_kernel_size, [c.dilation_base**j, 1], act, act_params, norm, pad,
                            c.depthwise_groups(dim), c.bias, c.res_scale_enc, idx=j, zero_init=c.zero_init)
                for j in range(1, c.n_residual_enc + 1)]))  # idx = j: the SpecBlock counts as the first branch
            self.spec_blocks.append(SpecBlock(
                c.spec_compression, mult * c.n_fft_base, dim, stride, norm, pad, c.spec_learnable,
                SPEC_MEANS[block_idx], SPEC_STDS[block_idx], c.res_scale_enc, c.zero_init, c.inout_norm))
            stride *= ratio
            self.downsample.append(nn.Sequential(
                _down_scale(c.res_scale_enc, c.n_residual_enc),
                activation(act, act_params),
                SConv1d(dim, 2 * dim, 1, bias=False, norm=norm, pad_mode="constant"),
                SConv1d(2 * dim, 2 * dim, 2 * ratio, stride=ratio, groups=2 * dim, bias=c.bias, causal=True,
                        norm=norm, pad_mode=pad)))
            mult *= 2
        dim = mult * n_filters
        self.spec_post = SpecBlock(c.spec_compression, mult * c.n_fft_base, dim, stride, norm, pad, c.spec_learnable,
                                   SPEC_MEANS[-1], SPEC_STDS[-1], c.res_scale_enc, c.zero_init, c.inout_norm)
        self.conv_post = nn.Sequential(
            activation(act, act_params),
            SConv1d(dim, dim, c.last_kernel_size, groups=dim, bias=False, causal=True, norm=norm, pad_mode=pad),
            SConv1d(dim, dimension, 1, bias=c.bias, norm=norm, pad_mode="constant"),
            L2Norm(dimension, c.inout_norm) if c.encoder_l2norm else nn.Identity())

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(wav)
        for block, spec_block, downsample in zip(self.blocks, self.spec_blocks, self.downsample, strict=True):
            x = spec_block(x, wav)
            x = block(x)
            x = downsample(x)
        x = self.spec_post(x, wav)
        return self.conv_post(x)


class Decoder(nn.Module):
    """Upstream's `SEANetDecoder` (HILCodec's arguments): `[B, dim, F]` -> `[B, 1, F * hop]`, all in one
    `model` sequence (its indices are the checkpoint's keys).

    Args:
        config (ModelArgs): `model_kwargs` of the config file.
        channels (int): audio channels.
    """

    def __init__(self, config, channels: int = 1):
        super().__init__()
        c = config
        act, act_params, norm, pad = c.activation, c.activation_kwargs, c.norm, c.pad_mode
        n_filters = c.channels_dec
        mult = 2 ** len(c.strides)
        model: list[nn.Module] = [
            SConv1d(c.vq_kwargs.dim, mult * n_filters, 1, bias=False, norm=norm, pad_mode="constant"),
            SConv1d(mult * n_filters, mult * n_filters, c.kernel_size, groups=mult * n_filters, bias=c.bias,
                    causal=True, norm=norm, pad_mode=pad)]
        for i, ratio in enumerate(c.strides):
            dim = mult * n_filters
            model += [
                _down_scale(c.res_scale_dec, c.n_residual_dec) if i > 0 else nn.Identity(),
                activation(act, act_params),
                SConvTranspose1d(dim, 2 * ratio, ratio, bias=False, norm=norm),
                SConv1d(dim, dim // 2, 1, bias=c.bias, norm=norm, pad_mode="constant")]
            model += [ResnetBlock(dim // 2, c.residual_kernel_size, [c.dilation_base**j, 1], act, act_params, norm,
                                  pad, c.depthwise_groups(dim // 2), c.bias, c.res_scale_dec, idx=j,
                                  zero_init=c.zero_init)
                      for j in range(c.n_residual_dec)]
            mult //= 2
        model += [
            _down_scale(c.res_scale_dec, c.n_residual_dec),
            activation(act, act_params),
            SConv1d(n_filters, channels, c.last_kernel_size, bias=c.bias, causal=True, norm=norm, pad_mode=pad),
            Scale(WAV_STD) if c.inout_norm else nn.Identity()]
        if c.final_activation is not None:
            model.append(getattr(nn, c.final_activation)())
        self.model = nn.Sequential(*model)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)


class EuclideanCodebook(nn.Module):
    """One EMA codebook; inference reads `embed` only (`ema_embed`, `ema_num`: training state, kept for strict
    loading; upstream's `_extra_state` flag `initted` holds no tensor and is not kept).

    Args:
        dim (int): codeword dimension.
        codebook_size (int): codewords.
    """

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        embed = torch.randn(codebook_size, dim)  # upstream's init without k-means: a random model is not degenerate
        self.register_buffer("embed", embed)
        self.register_buffer("ema_embed", embed.clone())
        self.register_buffer("ema_num", torch.ones(codebook_size))

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, D]` -> indices `[B, T]` of the nearest codewords, by upstream's expression
        (`-2 x·e + |e|²`: |x|² is constant over the codewords and left out, as upstream leaves it out)."""
        flatten = x.reshape(-1, x.shape[-1])
        embed = self.embed.t()
        distance = -2 * flatten @ embed + embed.pow(2).sum(0, keepdim=True)
        return distance.min(dim=-1).indices.view(*x.shape[:-1])

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices -> codewords `[..., D]`."""
        return F.embedding(indices, self.embed)


class ResidualVQ(nn.Module):
    """Upstream's `ResidualVQ` at inference (SoundStream's Algorithm 1) over `[B, D, T]` latents.

    Args:
        dim (int): latent dimension.
        codebook_size (int): codewords per stage.
        num_quantizers (int): stages.
    """

    def __init__(self, dim: int, codebook_size: int, num_quantizers: int):
        super().__init__()
        self.layers = nn.ModuleList(EuclideanCodebook(dim, codebook_size) for _ in range(num_quantizers))

    def forward(self, x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents `[B, D, T]` through the first `n` stages -> (their codewords' sum `[B, D, T]`, codes `[B, n, T]`)."""
        residual = x.transpose(1, 2)
        codes = []
        quantized_out = None
        for layer in self.layers[:n]:
            indices = layer.nearest(residual)
            quantized = layer.decode(indices)
            codes.append(indices)
            residual = residual - quantized
            quantized_out = quantized if quantized_out is None else quantized_out + quantized
        return quantized_out.transpose(1, 2), torch.stack(codes, dim=1)


class HILCodecModel(nn.Module):
    """Upstream's `HILCodec` generator: `encoder`, `quantizer`, `decoder` (the checkpoint's `model` keys).

    Args:
        config (ModelArgs): `model_kwargs` of the config file.
        channels (int): audio channels (`data.channels`).
    """

    def __init__(self, config, channels: int = 1):
        super().__init__()
        self.encoder = Encoder(config, channels)
        self.decoder = Decoder(config, channels)
        vq = config.vq_kwargs
        self.quantizer = ResidualVQ(vq.dim, vq.codebook_size, vq.num_quantizers)

    def forward(self, wav: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, 1, T]` (T a multiple of the hop) -> (`[B, 1, T]`, codes `[B, n, T / hop]`): upstream's
        `HILCodec.forward(x, n)` in eval mode."""
        quantized, codes = self.quantizer(self.encoder(wav), n)
        return self.decoder(quantized).float(), codes
