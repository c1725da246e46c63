"""AudioDec's networks: the autoencoder (encoder, projector, residual VQ) and the causal HiFi-GAN vocoder.

Inference-only, state-dict compatible with the official checkpoints of `AudioDecBenchmark/AudioDec`,
written from facebookresearch/AudioDec as a reference. `AudioDecModel` joins the two under the key
prefixes of the checkpoints; `audiodec.py` runs it as the CodecFake pipeline did.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import CodecConfigError
from .config import AutoencoderParams, VocoderParams
from .layers import CausalConv1d, CausalConvTranspose1d, StreamState, make_activation, make_conv

# Upstream `AudioDec(receptive_length=8192)`: load_receiver primes the vocoder with the codes of
# this many zero samples (28 frames at hop 300).
PRIMING_LENGTH = 8192


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
            ResidualUnit(in_channels, d, make_activation(**activation)) for d in (1, 3, 9)
        )
        self.conv = CausalConv1d(in_channels, out_channels, 2 * stride, stride=stride, bias=bias)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        for unit in self.res_units:
            x = unit(x, state)
        return self.conv(x, state)


class DecoderBlock(nn.Module):
    """Upstream's decoder block (transposed conv, 3 residual units): carried for strict loading, never run.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        stride (int): upsampling factor.
        bias (bool): whether the transposed conv has a bias.
        activation (dict): `{"name", "params"}` of the nonlinearity.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, bias: bool, activation: dict):
        super().__init__()
        self.conv = CausalConvTranspose1d(in_channels, out_channels, 2 * stride, stride, bias=bias)
        self.res_units = nn.ModuleList(
            ResidualUnit(out_channels, d, make_activation(**activation)) for d in (1, 3, 9)
        )


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
        self.activation = make_activation(**activation)
        self.convs1 = nn.ModuleList(
            CausalConv1d(wide, wide, kernel_size, dilation=d, groups=groups, bias=bias, weight_norm=weight_norm)
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            CausalConv1d(wide, wide, kernel_size, groups=groups, bias=bias, weight_norm=weight_norm)
            for _ in dilations
        ) if use_additional_convs else None
        self.conv_out = make_conv(nn.Conv1d, wide, channels, 1, bias=False, weight_norm=weight_norm)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        x = x.repeat(1, self.groups, 1)
        for i, conv1 in enumerate(self.convs1):
            xt = conv1(self.activation(x), state)
            if self.convs2 is not None:
                xt = self.convs2[i](self.activation(xt), state)
            x = xt + x
        return self.conv_out(x)


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
        self.activation_upsamples = make_activation(**act)
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
            raise CodecConfigError(f"AudioDec: the encoder's hop ({autoencoder.hop_length}) differs from the "
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
