"""AudioDec (`audiodec_24k_320d`): causal SEANet-style encoder, 8-layer residual VQ, causal HiFi-GAN vocoder.

Inference-only, state-dict compatible with the official checkpoints of `AudioDecBenchmark/AudioDec`
(the autoencoder `symAD_libritts_24000_hop300` and the vocoder `AudioDec_v1_..._clean`), written
from facebookresearch/AudioDec as a reference. The network runs at 24 kHz with a 300-sample hop (the
release name says 320d; the checkpoint's hop is 3*4*5*5 = 300), and the output is padded up to a
whole number of hops, as upstream's causal convolutions make it.

Streaming state. Upstream's layers keep their left context (`pad_buffer`) between calls. Loading
primes the vocoder by decoding the codes of 8192 zero samples (`load_receiver` ->
`initial_decoder`), and the CodecFake pipeline never reset the vocoder afterwards, so in the release
each utterance began from the tail of the one before it and its output depended on the order of
the corpus. codecfake-hf starts *every* utterance from the state right after loading (what the
first utterance of the release got): that state is computed once at build time, kept as a
snapshot and restored for each utterance, so results do not depend on order or batching. The
encoder starts each utterance from zeros, as the pipeline's `tx_encoder.reset_buffer()` did.
`decoder_state="zeros"` decodes from a cleared vocoder state instead (upstream `reset_buffer()`).
"""

from __future__ import annotations

import copy
import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn import functional as F

from ..errors import CheckpointError
from . import seanet, weights
from .base import Codec
from .registry import CodecSpec

logger = logging.getLogger(__name__)

# Upstream `AudioDec(receptive_length=8192)`: load_receiver primes the vocoder with the codes of
# this many zero samples (28 frames at hop 300).
PRIMING_LENGTH = 8192
DECODER_STATES = ("primed", "zeros")

# Per layer: its left context, [1 or B, C, pad_length]. A layer missing from the dict reads its
# `pad_buffer` (the checkpoint's value); `None` instead of a dict means zero context throughout.
StreamState = dict[nn.Module, torch.Tensor]


# ---------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------


def _conv(cls: type[nn.Module], *args: Any, weight_norm: bool = False, **kwargs: Any) -> nn.Module:
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
        self.conv = _conv(nn.Conv1d, in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
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
        self.deconv = _conv(nn.ConvTranspose1d, in_channels, out_channels, kernel_size, stride=stride, bias=bias,
                            weight_norm=weight_norm)
        self.stride = stride
        self.pad_length = math.ceil(kernel_size / stride) - 1
        self.register_buffer("pad_buffer", torch.zeros(1, in_channels, self.pad_length))

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return self.deconv(self._with_context(x, state))[..., self.stride:-self.stride]


_ACTIVATIONS = {"ELU": nn.ELU, "LeakyReLU": nn.LeakyReLU, "ReLU": nn.ReLU}


def _activation(name: str, params: Mapping[str, Any]) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"AudioDec: activation {name!r} is not supported; choose one of {sorted(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name](**params)


# ---------------------------------------------------------------------------------------------------
# Autoencoder (symAudioDec): encoder + projector + residual VQ; its own decoder is only carried
# ---------------------------------------------------------------------------------------------------


class ResidualUnit(nn.Module):
    """`x + conv2(act(conv1(act(x))))`: causal dilated conv (kernel 7, no bias), then a 1x1 conv.

    Args:
        channels (int): channels in and out.
        dilation (int): dilation of the kernel-7 conv.
        activation (nn.Module): the nonlinearity (ELU in the official model).
    """

    def __init__(self, channels: int, dilation: int, activation: nn.Module):
        super().__init__()
        self.activation = activation
        self.conv1 = CausalConv1d(channels, channels, 7, dilation=dilation, bias=False)
        self.conv2 = nn.Conv1d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return x + self.conv2(self.activation(self.conv1(self.activation(x), state)))


class EncoderBlock(nn.Module):
    """Three residual units (dilations 1, 3, 9), then a causal strided conv (kernel `2 * stride`).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        stride (int): downsampling factor.
        bias (bool): whether the strided conv has a bias.
        activation (dict): `{"name", "params"}` of the nonlinearity.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, bias: bool, activation: dict):
        super().__init__()
        self.res_units = nn.ModuleList(
            ResidualUnit(in_channels, d, _activation(**activation)) for d in (1, 3, 9)
        )
        self.conv = CausalConv1d(in_channels, out_channels, 2 * stride, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        for unit in self.res_units:
            x = unit(x, state)
        return self.conv(x, state)


class DecoderBlock(nn.Module):
    """Upstream's decoder block (transposed conv, 3 residual units): carried for strict loading, never run."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, bias: bool, activation: dict):
        super().__init__()
        self.conv = CausalConvTranspose1d(in_channels, out_channels, 2 * stride, stride, bias=bias)
        self.res_units = nn.ModuleList(
            ResidualUnit(out_channels, d, _activation(**activation)) for d in (1, 3, 9)
        )


@dataclass
class AutoencoderParams:
    """`generator_params` of the autoencoder's config.yml (upstream `StreamGenerator` arguments).

    Only the official choices are built: causal mode, the `audiodec` codec, a conv1d projector and a
    residual VQ, without weight norm. Defaults are the official checkpoint's.
    """

    input_channels: int = 1
    output_channels: int = 1
    encode_channels: int = 32
    decode_channels: int = 32
    code_dim: int = 64
    codebook_num: int = 8
    codebook_size: int = 1024
    bias: bool = True
    enc_ratios: tuple[int, ...] = (2, 4, 8, 16)
    dec_ratios: tuple[int, ...] = (16, 8, 4, 2)
    enc_strides: tuple[int, ...] = (3, 4, 5, 5)
    dec_strides: tuple[int, ...] = (5, 5, 4, 3)
    mode: str = "causal"
    codec: str = "audiodec"
    projector: str = "conv1d"
    quantier: str = "residual_vq"  # sic: upstream's spelling
    nonlinear_activation: str = "ELU"
    nonlinear_activation_params: dict | None = None
    use_weight_norm: bool = False

    def __post_init__(self):
        official = {"mode": "causal", "codec": "audiodec", "projector": "conv1d",
                    "quantier": "residual_vq", "use_weight_norm": False, "input_channels": 1}
        for name, value in official.items():
            if getattr(self, name) != value:
                raise ValueError(f"AudioDec autoencoder: `{name}={getattr(self, name)!r}` is not supported "
                                 f"(only {value!r}, the official checkpoint's).")
        if len(self.enc_ratios) != len(self.enc_strides) or len(self.dec_ratios) != len(self.dec_strides):
            raise ValueError("AudioDec autoencoder: `enc_ratios`/`enc_strides` and `dec_ratios`/`dec_strides` "
                             "must have equal lengths.")


class SymAudioDec(nn.Module):
    """The autoencoder checkpoint's generator: the CodecFake pipeline runs its encoder, projector and
    quantiser; its decoder (`decoder.*` keys) is built only so that the checkpoint loads strictly.

    Args:
        params (AutoencoderParams): the config's `generator_params`.
    """

    def __init__(self, params: AutoencoderParams):
        super().__init__()
        act = {"name": params.nonlinear_activation, "params": params.nonlinear_activation_params or {}}
        self.hop_length = math.prod(params.enc_strides)
        self.encoder = nn.Module()
        self.encoder.conv = CausalConv1d(params.input_channels, params.encode_channels, 7, bias=False)
        channels = [params.encode_channels] + [params.encode_channels * r for r in params.enc_ratios]
        self.encoder.conv_blocks = nn.ModuleList(
            EncoderBlock(c_in, c_out, s, params.bias, act)
            for c_in, c_out, s in zip(channels[:-1], channels[1:], params.enc_strides, strict=True)
        )
        self.decoder = nn.Module()
        self.decoder.conv1 = CausalConv1d(params.code_dim, params.decode_channels * params.dec_ratios[0], 7,
                                          bias=False)
        channels = [params.decode_channels * r for r in params.dec_ratios] + [params.decode_channels]
        self.decoder.conv_blocks = nn.ModuleList(
            DecoderBlock(c_in, c_out, s, params.bias, act)
            for c_in, c_out, s in zip(channels[:-1], channels[1:], params.dec_strides, strict=True)
        )
        self.decoder.conv2 = CausalConv1d(params.decode_channels, params.output_channels, 7, bias=False)
        self.projector = nn.Module()
        encoded = params.encode_channels * params.enc_ratios[-1]
        self.projector.project = CausalConv1d(encoded, params.code_dim, 3, bias=False)
        self.quantizer = nn.Module()
        self.quantizer.codebook = ResidualVQ(params.codebook_num, params.code_dim, params.codebook_size)

    def encode(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """`[B, 1, T]` at 24 kHz -> latents `[B, code_dim, ceil(T / hop)]`."""
        x = self.encoder.conv(x, state)
        for block in self.encoder.conv_blocks:
            x = block(x, state)
        return self.projector.project(x, state)


class VectorQuantizer(nn.Module):
    """One codebook. `embed` is `[dim, codebook_size]`; `cluster_size`/`embed_avg` are EMA training
    buffers, carried for strict loading and unused here.

    Args:
        dim (int): code dimension.
        codebook_size (int): entries.
    """

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        embed = torch.randn(dim, codebook_size)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed_avg", embed.clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`[N, dim]` -> nearest entry `[N]`, by upstream's expanded squared distance (same ties)."""
        dist = x.pow(2).sum(1, keepdim=True) - 2 * x @ self.embed + self.embed.pow(2).sum(0, keepdim=True)
        return (-dist).max(1).indices


class ResidualVQ(nn.Module):
    """Residual vector quantisation over `num_quantizers` codebooks.

    Args:
        num_quantizers (int): codebooks.
        dim (int): code dimension.
        codebook_size (int): entries per codebook.
    """

    def __init__(self, num_quantizers: int, dim: int, codebook_size: int):
        super().__init__()
        self.codebook_size = codebook_size
        self.layers = nn.ModuleList(VectorQuantizer(dim, codebook_size) for _ in range(num_quantizers))

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents `[B, T, dim]` -> codes `[B, Q, T]` (each row 0..codebook_size-1)."""
        residual = z.reshape(-1, z.shape[-1])
        codes = []
        for layer in self.layers:
            idx = layer.encode(residual)
            quantized = F.embedding(idx, layer.embed.t())
            # Upstream subtracts the straight-through value `r + (q - r)`, not `q`; keep its rounding.
            residual = residual - (residual + (quantized - residual))
            codes.append(idx.view(z.shape[:-1]))
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, Q, T]` -> the sum of their entries `[B, T, dim]` (upstream `lookup`)."""
        codebook = torch.cat([layer.embed.t() for layer in self.layers])  # [Q * size, dim]
        offsets = torch.arange(len(self.layers), device=codes.device)[:, None] * self.codebook_size
        return F.embedding(codes + offsets, codebook).sum(dim=1)


# ---------------------------------------------------------------------------------------------------
# Vocoder (causal HiFi-GAN with multi-group residual blocks)
# ---------------------------------------------------------------------------------------------------


class MultiGroupBlock(nn.Module):
    """Upstream `MultiGroupConv1d`: the input repeated `groups` times, three grouped residual layers
    (`x += convs2(act(convs1(act(x))))`), then a 1x1 conv back to `channels`.

    Args:
        channels (int): channels in and out.
        kernel_size (int): kernel of the grouped convs.
        dilations (tuple[int, ...]): dilation of each `convs1` layer (`convs2` is undilated).
        groups (int): groups (and repeats of the input).
        bias (bool): whether the grouped convs have a bias.
        use_additional_convs (bool): whether the `convs2` layers exist.
        activation (dict): `{"name", "params"}` of the nonlinearity.
        weight_norm (bool): weight-normalised convs.
    """

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], groups: int, bias: bool,
                 use_additional_convs: bool, activation: dict, weight_norm: bool):
        super().__init__()
        wide = channels * groups
        self.groups = groups
        self.activation = _activation(**activation)
        self.convs1 = nn.ModuleList(
            CausalConv1d(wide, wide, kernel_size, dilation=d, groups=groups, bias=bias, weight_norm=weight_norm)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            CausalConv1d(wide, wide, kernel_size, groups=groups, bias=bias, weight_norm=weight_norm)
            for _ in dilations
        ) if use_additional_convs else None
        self.conv_out = _conv(nn.Conv1d, wide, channels, 1, bias=False, weight_norm=weight_norm)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        x = x.repeat(1, self.groups, 1)
        for i, conv1 in enumerate(self.convs1):
            xt = conv1(self.activation(x), state)
            if self.convs2 is not None:
                xt = self.convs2[i](self.activation(xt), state)
            x = xt + x
        return self.conv_out(x)


@dataclass
class VocoderParams:
    """`generator_params` of the vocoder's config.yml (upstream HiFi-GAN `StreamGenerator` arguments).

    `stats` is only a switch here: when set, the latents are normalised by the `mean`/`scale`
    buffers, which the checkpoint holds (upstream reads the file at construction and the checkpoint
    then overwrites them); random-weight builds use mean 0, scale 1. Defaults are the official model's.
    """

    in_channels: int = 64
    out_channels: int = 1
    channels: int = 512
    kernel_size: int = 7
    upsample_scales: tuple[int, ...] = (5, 5, 4, 3)
    upsample_kernel_sizes: tuple[int, ...] = (10, 10, 8, 6)
    resblock_kernel_sizes: tuple[int, ...] = (11,)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5),)
    groups: int = 3
    bias: bool = True
    use_additional_convs: bool = True
    nonlinear_activation: str = "LeakyReLU"
    nonlinear_activation_params: dict | None = None
    use_weight_norm: bool = True
    stats: str | None = "stats/symAD_libritts_24000_hop300_clean.npy"

    def __post_init__(self):
        if self.nonlinear_activation_params is None:
            self.nonlinear_activation_params = {"negative_slope": 0.1}
        if len(self.resblock_kernel_sizes) != 1 or len(self.resblock_dilations) != 1 or self.groups <= 1:
            raise ValueError("AudioDec vocoder: only the multi-group block (one resblock kernel, groups > 1) "
                             f"is supported, got resblock_kernel_sizes={self.resblock_kernel_sizes}, "
                             f"groups={self.groups}.")
        if self.kernel_size % 2 == 0 or self.resblock_kernel_sizes[0] % 2 == 0:
            raise ValueError("AudioDec vocoder: `kernel_size` and `resblock_kernel_sizes` must be odd.")
        if list(self.upsample_kernel_sizes) != [2 * s for s in self.upsample_scales]:
            raise ValueError(f"AudioDec vocoder: `upsample_kernel_sizes` must be twice `upsample_scales`, got "
                             f"{self.upsample_kernel_sizes} and {self.upsample_scales}.")


class HiFiGANVocoder(nn.Module):
    """The vocoder checkpoint's generator: latents `[B, T, in_channels]` -> waveform `[B, 1, T * hop]`.

    Args:
        params (VocoderParams): the config's `generator_params`.
    """

    def __init__(self, params: VocoderParams):
        super().__init__()
        wn = params.use_weight_norm
        act = {"name": params.nonlinear_activation, "params": params.nonlinear_activation_params}
        self.hop_length = math.prod(params.upsample_scales)
        self.norm = params.stats is not None
        if self.norm:
            self.register_buffer("mean", torch.zeros(params.in_channels))
            self.register_buffer("scale", torch.ones(params.in_channels))
        self.input_conv = CausalConv1d(params.in_channels, params.channels, params.kernel_size, weight_norm=wn)
        self.activation_upsamples = _activation(**act)
        widths = [params.channels // 2**i for i in range(len(params.upsample_scales) + 1)]
        self.upsamples = nn.ModuleList(
            CausalConvTranspose1d(c_in, c_out, k, s, weight_norm=wn)
            for c_in, c_out, k, s in zip(widths[:-1], widths[1:], params.upsample_kernel_sizes,
                                         params.upsample_scales, strict=True)
        )
        self.blocks = nn.ModuleList(
            MultiGroupBlock(c, params.resblock_kernel_sizes[0], tuple(params.resblock_dilations[0]), params.groups,
                            params.bias, params.use_additional_convs, act, wn)
            for c in widths[1:]
        )
        self.activation_output = nn.LeakyReLU()  # upstream's default slope 0.01, not the config's
        self.output_conv = CausalConv1d(widths[-1], params.out_channels, params.kernel_size, weight_norm=wn)

    def decode(self, zq: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Upstream `StreamGenerator.decode`: normalise, causal convs with left context, tanh."""
        if self.norm:
            zq = (zq - self.mean) / self.scale
        x = self.input_conv(zq.transpose(1, 2), state)
        for upsample, block in zip(self.upsamples, self.blocks, strict=True):
            x = block(upsample(self.activation_upsamples(x), state), state)
        return torch.tanh(self.output_conv(self.activation_output(x), state))


class AudioDecModel(nn.Module):
    """Autoencoder + vocoder, under the key prefixes `autoencoder.generator.` and `vocoder.generator.`.

    Args:
        autoencoder (SymAudioDec): the analyser (encoder, projector, residual VQ).
        vocoder (HiFiGANVocoder): the synthesiser.
    """

    def __init__(self, autoencoder: SymAudioDec, vocoder: HiFiGANVocoder):
        super().__init__()
        if autoencoder.hop_length != vocoder.hop_length:
            raise ValueError(f"AudioDec: the encoder's hop ({autoencoder.hop_length}) differs from the "
                             f"vocoder's ({vocoder.hop_length}).")
        self.autoencoder = nn.ModuleDict({"generator": autoencoder})
        self.vocoder = nn.ModuleDict({"generator": vocoder})
        self.hop_length = vocoder.hop_length

    def encode(self, waves: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """`[B, T]` at 24 kHz -> codes `[B, Q, ceil(T / hop)]`, each 0..codebook_size-1."""
        analyser = self.autoencoder["generator"]
        z = analyser.encode(waves.unsqueeze(1), state)
        return analyser.quantizer.codebook.encode(z.transpose(1, 2))

    def decode(self, codes: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        """Codes `[B, Q, F]` -> `[B, F * hop]` at 24 kHz, from the vocoder context in `state`."""
        zq = self.autoencoder["generator"].quantizer.codebook.decode(codes)
        return self.vocoder["generator"].decode(zq, state).squeeze(1)

    @torch.no_grad()
    def primed_state(self, length: int = PRIMING_LENGTH) -> StreamState:
        """The vocoder context left by upstream's `load_receiver`: encode `length` zeros from the
        loaded `pad_buffer`s, decode their codes from the loaded buffers, keep each layer's tail."""
        device = self.vocoder["generator"].input_conv.pad_buffer.device
        codes = self.encode(torch.zeros(1, length, device=device), state={})
        state: StreamState = {}
        self.decode(codes, state)
        return {layer: context.clone() for layer, context in state.items()}


# ---------------------------------------------------------------------------------------------------
# The codec and the family contract
# ---------------------------------------------------------------------------------------------------


class AudioDecCodec(Codec):
    """AudioDec as the CodecFake pipeline ran it, each utterance from the state right after loading.

    Args:
        spec (CodecSpec): the registry entry.
        model (AudioDecModel): the network.
        device (str | torch.device): where it runs.
        decoder_state (str): `"primed"` (the vocoder context right after loading, what the release's
            first utterance got) or `"zeros"` (a cleared context).
    """

    # Every layer is causal: an item's valid frames never see the zeros after it, and each item of a
    # batch starts from the same snapshot, so padded batches give what each item gets alone.
    batch_exact = True

    def __init__(self, spec: CodecSpec, model: AudioDecModel, device: str | torch.device = "cpu",
                 decoder_state: str = "primed"):
        if decoder_state not in DECODER_STATES:
            raise ValueError(f"`decoder_state` must be one of {DECODER_STATES}, got {decoder_state!r}.")
        super().__init__(spec, model, device)
        self.decoder_state = decoder_state
        self._initial_state = self.model.primed_state() if decoder_state == "primed" else None

    def output_length(self, length: int) -> int:
        """Padded up to whole 300-sample frames (153708 -> 153900)."""
        return -(-int(length) // self.model.hop_length) * self.model.hop_length

    def min_input_length(self) -> int:
        return 1

    @torch.inference_mode()
    def encode(self, waves: torch.Tensor) -> torch.Tensor:
        """`[B, T]` (or `[T]`) float32 at 24 kHz -> codes `[B, 8, ceil(T / 300)]`, 0..1023 per codebook."""
        waves = torch.as_tensor(waves, dtype=torch.float32, device=self.device)
        return self.model.encode(waves if waves.dim() == 2 else waves.reshape(1, -1))

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, 8, F]` -> `[B, F * 300]` at 24 kHz, from this codec's initial vocoder state."""
        state = None if self._initial_state is None else dict(self._initial_state)
        return self.model.decode(torch.as_tensor(codes, dtype=torch.long, device=self.device), state)

    def _resynthesize(self, waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(waves))


# The inference-relevant part of the official config.yml files (the rest configures training).
_OFFICIAL_CONFIG = {
    "autoencoder": {
        "model_type": "symAudioDec",
        "sampling_rate": 24000,
        "generator_params": {
            "input_channels": 1, "output_channels": 1, "encode_channels": 32, "decode_channels": 32,
            "code_dim": 64, "codebook_num": 8, "codebook_size": 1024, "bias": True,
            "enc_ratios": [2, 4, 8, 16], "dec_ratios": [16, 8, 4, 2],
            "enc_strides": [3, 4, 5, 5], "dec_strides": [5, 5, 4, 3],
            "mode": "causal", "codec": "audiodec", "projector": "conv1d", "quantier": "residual_vq",
        },
    },
    "vocoder": {
        "model_type": "HiFiGAN",
        "sampling_rate": 24000,
        "generator_params": {
            "in_channels": 64, "out_channels": 1, "channels": 512, "kernel_size": 7,
            "upsample_scales": [5, 5, 4, 3], "upsample_kernel_sizes": [10, 10, 8, 6],
            "resblock_kernel_sizes": [11], "resblock_dilations": [[1, 3, 5]], "groups": 3, "bias": True,
            "use_additional_convs": True, "nonlinear_activation": "LeakyReLU",
            "nonlinear_activation_params": {"negative_slope": 0.1}, "use_weight_norm": True,
            "stats": "stats/symAD_libritts_24000_hop300_clean.npy",
        },
    },
}
PARTS = ("autoencoder", "vocoder")
_MODEL_TYPES = {part: _OFFICIAL_CONFIG[part]["model_type"] for part in PARTS}


def default_config(spec: CodecSpec) -> dict:
    """The official configs, as `{"autoencoder": config.yml, "vocoder": config.yml}` (each reduced to
    `model_type`, `sampling_rate` and `generator_params`; `download` returns the files whole).

    `build` also takes the fixtures' short form `{"autoencoder_generator_params": …,
    "vocoder_generator_params": …}`.
    """
    return copy.deepcopy(_OFFICIAL_CONFIG)


def _generator_params(config: Mapping[str, Any], part: str) -> dict:
    if part in config:
        section = config[part]
        if isinstance(section, Mapping) and section.get("model_type", _MODEL_TYPES[part]) != _MODEL_TYPES[part]:
            raise ValueError(f"AudioDec: the {part} config has model_type {section['model_type']!r}; "
                             f"only {_MODEL_TYPES[part]!r} is supported.")
        if isinstance(section, Mapping) and isinstance(section.get("generator_params"), Mapping):
            return dict(section["generator_params"])
    elif f"{part}_generator_params" in config:
        return dict(config[f"{part}_generator_params"])
    raise ValueError(f"AudioDec: the config has no {part!r} generator_params (expected "
                     f"{{'{part}': {{'generator_params': ...}}}} or '{part}_generator_params'); "
                     f"got keys {sorted(config)}.")


def _network(config: Mapping[str, Any], part: str) -> nn.Module:
    """The generator of `part` (`autoencoder` or `vocoder`), built from its `generator_params` in `config`."""
    network, params = (SymAudioDec, AutoencoderParams) if part == "autoencoder" else (HiFiGANVocoder, VocoderParams)
    values = _generator_params(config, part)
    known = {f.name for f in fields(params)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"AudioDec {part}: unknown generator_params {unknown}; known: {sorted(known)}.")
    return network(params(**values))


def _read_yaml(path: Path, *, codec: str) -> dict:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CheckpointError(f"{codec}: config file {path} could not be read as YAML ({error}). Delete it "
                              "from the cache and download it again.") from error
    if not isinstance(config, dict) or not isinstance(config.get("generator_params"), dict):
        raise CheckpointError(f"{codec}: config file {path} has no `generator_params` mapping; it is not an "
                              "AudioDec config.yml. Delete it from the cache and download it again.")
    return config


def _generator_state(path: Path, *, codec: str) -> dict[str, torch.Tensor]:
    """`checkpoint['model']['generator']` of an AudioDec trainer checkpoint, loaded without running code."""
    checkpoint = weights.load_checkpoint(path, codec=codec)
    model = checkpoint.get("model") if isinstance(checkpoint, Mapping) else None
    if not isinstance(model, Mapping) or not isinstance(model.get("generator"), Mapping):
        found = sorted(checkpoint) if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise CheckpointError(f"{codec}: checkpoint file {path} has no ['model']['generator'] state dict "
                              f"(found {found}); it is not an AudioDec trainer checkpoint.")
    return dict(model["generator"])


def _hub_name(spec: CodecSpec, part: str, suffix: str) -> str:
    names = [n for n in spec.hub_files if n.startswith(f"{part}/") and n.endswith(suffix)]
    if len(names) != 1:
        raise ValueError(f"{spec.name}: expected one {part}/…{suffix} in the registry's `hub_files`, got {names}.")
    return names[0]


def download(spec: CodecSpec) -> tuple[dict, dict]:
    """The official config.yml files and generator weights, through the Hub cache.

    The `.pkl` checkpoints are `torch.save` zip files: they load with `torch.load(weights_only=True)`
    (the trainer's optimizer and scheduler states hold only tensors, numbers, lists and a
    `collections.Counter`, all on torch's allow-list); the configs load with `yaml.safe_load`. The
    vocoder's statistics `.npy` is not read: its mean/scale are buffers of the vocoder checkpoint,
    which upstream loads over the file's values. Each generator is checked against the architecture of
    its config here, where the checkpoint's path is known.

    Returns:
        `(config, state_dict)`: config `{"autoencoder": …, "vocoder": …}` holds the two config.yml
        files whole; state_dict is `{"autoencoder": {"generator": …}, "vocoder": {"generator": …}}`.
    """
    config: dict[str, Any] = {}
    state_dict: dict[str, dict] = {}
    for part in PARTS:
        config_path = weights.hub_file(spec.hub_repo, _hub_name(spec, part, "/config.yml"), codec=spec.name)
        checkpoint_path = weights.hub_file(spec.hub_repo, _hub_name(spec, part, ".pkl"), codec=spec.name)
        config[part] = _read_yaml(config_path, codec=spec.name)
        generator = _generator_state(checkpoint_path, codec=spec.name)
        weights.check_against(functools.partial(_network, config, part), generator,
                              source=f"{spec.name}: checkpoint file {checkpoint_path}")
        state_dict[part] = {"generator": generator}
    return config, state_dict


def build(spec: CodecSpec, config: dict, state_dict: Mapping[str, Any] | None, *,
          device: str | torch.device = "cpu", decoder_state: str = "primed") -> AudioDecCodec:
    """Build the codec from `config` (either layout of `default_config`) and load `state_dict` strictly.

    `state_dict` is nested as `{"autoencoder": {"generator": …}, "vocoder": {"generator": …}}` (the
    checkpoints' `['model']['generator']`), or flat with those prefixes (`autoencoder.generator.encoder…`,
    as the fixtures store it); None keeps random weights. `decoder_state` is `"primed"` (default: the
    vocoder state right after loading, as the release's first utterance got) or `"zeros"`.
    """
    model = AudioDecModel(_network(config, "autoencoder"), _network(config, "vocoder"))
    if model.hop_length != spec.hop_length:
        raise ValueError(f"{spec.name}: the config's hop is {model.hop_length}, the registry's {spec.hop_length}.")
    if state_dict is not None:
        _load(model, weights.flatten(state_dict), spec.name)
    return AudioDecCodec(spec, model, device, decoder_state=decoder_state)


def _load(model: AudioDecModel, flat: dict[str, torch.Tensor], codec: str) -> None:
    prefixes = tuple(f"{part}.generator." for part in PARTS)
    stray = sorted(k for k in flat if not k.startswith(prefixes))
    if stray:
        shown = ", ".join(stray[:5]) + (f", ... ({len(stray)} in all)" if len(stray) > 5 else "")
        raise CheckpointError(f"{codec}: state dict keys outside {prefixes}: {shown}. Pass "
                              "{'autoencoder': {'generator': ...}, 'vocoder': {'generator': ...}} or flat keys "
                              "with those prefixes.")
    for part, prefix in zip(PARTS, prefixes, strict=True):
        part_dict = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
        weights.load_strict(getattr(model, part)["generator"], part_dict, source=f"{codec}: the {part} state dict")


__all__ = ["AudioDecCodec", "AudioDecModel", "build", "default_config", "download"]
