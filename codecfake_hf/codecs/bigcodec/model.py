"""BigCodec's network (Aria-K-Alethia/BigCodec, `vq/`): a SnakeBeta convolutional encoder and decoder with LSTMs, and
one low-dimensional factorised VQ codebook.

Module names, term order and nesting follow upstream's `vq/codec_encoder.py`, `vq/codec_decoder.py`, `vq/module.py`,
`vq/factorized_vector_quantize.py`, `vq/activations.py` and `vq/alias_free_torch/`, so the two state dicts of
`bigcodec.pt` (`CodecEnc`, `generator`) load strictly into `encoder` and `decoder`. The anti-aliased activations'
Kaiser-sinc filters are buffers of the checkpoint; they are computed here as upstream computes them and then loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.alias_free import Activation1d
from ..nn.seanet import weight_norm


def wn_conv1d(*args, **kwargs) -> nn.Conv1d:
    return weight_norm(nn.Conv1d(*args, **kwargs))


class ResidualUnit(nn.Module):
    """`x + block(x)`: activation, dilated k7 conv, activation, 1x1 conv.

    Args:
        dim (int): channels.
        dilation (int): dilation of the k7 conv.
    """

    def __init__(self, dim: int, dilation: int = 1):
        super().__init__()
        pad = ((7 - 1) * dilation) // 2
        self.block = nn.Sequential(
            Activation1d(dim), wn_conv1d(dim, dim, kernel_size=7, dilation=dilation, padding=pad),
            Activation1d(dim), wn_conv1d(dim, dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EncoderBlock(nn.Module):
    """Residual units at `dim // 2`, then a strided conv to `dim` (downsampling by `stride`).

    Args:
        dim (int): output channels.
        stride (int): downsampling factor.
        dilations (Sequence[int]): the residual units' dilations.
    """

    def __init__(self, dim: int, stride: int, dilations: Sequence[int]):
        super().__init__()
        self.block = nn.Sequential(
            *(ResidualUnit(dim // 2, dilation=d) for d in dilations), Activation1d(dim // 2),
            wn_conv1d(dim // 2, dim, kernel_size=2 * stride, stride=stride, padding=stride // 2 + stride % 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """Activation, a transposed conv upsampling by `stride`, then residual units.

    Args:
        input_dim (int): input channels.
        output_dim (int): output channels.
        stride (int): upsampling factor.
        dilations (Sequence[int]): the residual units' dilations.
    """

    def __init__(self, input_dim: int, output_dim: int, stride: int, dilations: Sequence[int]):
        super().__init__()
        self.block = nn.Sequential(
            Activation1d(input_dim),
            weight_norm(nn.ConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                                           padding=stride // 2 + stride % 2, output_padding=stride % 2)),
            *(ResidualUnit(output_dim, dilation=d) for d in dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ResLSTM(nn.Module):
    """A batch-first LSTM over `[B, C, T]` with a residual skip (upstream's `ResLSTM`).

    Args:
        dimension (int): channels.
        num_layers (int): LSTM layers.
        bidirectional (bool): half-width LSTM in each direction.
    """

    def __init__(self, dimension: int, num_layers: int = 2, bidirectional: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(dimension, dimension // 2 if bidirectional else dimension, num_layers, batch_first=True,
                            bidirectional=bidirectional)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        y, _ = self.lstm(x)
        return (y + x).transpose(1, 2)


class CodecEncoder(nn.Module):
    """Upstream's `CodecEncoder`: waveform `[B, 1, T]` -> latent `[B, out_channels, T / prod(up_ratios)]`.

    Args:
        ngf (int): width of the first conv (doubled by each block).
        use_rnn (bool): an LSTM before the last conv.
        rnn_bidirectional (bool): its direction.
        rnn_num_layers (int): its layers.
        up_ratios (Sequence[int]): the blocks' strides.
        dilations (Sequence[int]): residual units' dilations.
        out_channels (int): latent channels.
    """

    def __init__(self, ngf: int = 48, use_rnn: bool = True, rnn_bidirectional: bool = False, rnn_num_layers: int = 2,
                 up_ratios: Sequence[int] = (2, 2, 2, 5, 5), dilations: Sequence[int] = (1, 3, 9),
                 out_channels: int = 1024):
        super().__init__()
        self.hop_length = math.prod(up_ratios)
        d_model = ngf
        block: list[nn.Module] = [wn_conv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in up_ratios:
            d_model *= 2
            block.append(EncoderBlock(d_model, stride=stride, dilations=dilations))
        if use_rnn:
            block.append(ResLSTM(d_model, num_layers=rnn_num_layers, bidirectional=rnn_bidirectional))
        block += [Activation1d(d_model), wn_conv1d(d_model, out_channels, kernel_size=3, padding=1)]
        self.block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class FactorizedVectorQuantize(nn.Module):
    """Upstream's factorised VQ: project to `codebook_dim`, pick the nearest l2-normalised codeword, project back.

    Args:
        dim (int): input channels.
        codebook_size (int): codewords.
        codebook_dim (int): codeword dimension.
    """

    def __init__(self, dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        if dim != codebook_dim:
            self.in_proj = weight_norm(nn.Linear(dim, codebook_dim))
            self.out_proj = weight_norm(nn.Linear(codebook_dim, dim))
        else:
            self.in_proj, self.out_proj = nn.Identity(), nn.Identity()
        self._codebook = nn.Embedding(codebook_size, codebook_dim)

    def nearest(self, latents: torch.Tensor) -> torch.Tensor:
        """Projected latents `[B, T, codebook_dim]` -> codes `[B, T]` (cosine: both sides l2-normalised)."""
        encodings = F.normalize(latents.reshape(-1, latents.shape[-1]))
        codebook = F.normalize(self._codebook.weight)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        return (-dist).max(1)[1].view(latents.shape[:2])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, dim, T]` -> (quantised `[B, dim, T]`, codes `[B, T]`)."""
        z_e = self.in_proj(z.transpose(1, 2))  # [B, T, codebook_dim]
        indices = self.nearest(z_e)
        z_q = self._codebook(indices)
        # Upstream's straight-through expression, kept for its rounding: z_e + (z_q - z_e).
        z_q = z_e + (z_q - z_e)
        return self.out_proj(z_q).transpose(1, 2), indices


class ResidualVQ(nn.Module):
    """Upstream's `ResidualVQ` over factorised quantisers (one in the release).

    Args:
        num_quantizers (int): stages.
        dim (int): input channels.
        codebook_size (int): codewords per stage.
        codebook_dim (int): codeword dimension.
    """

    def __init__(self, num_quantizers: int, dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(FactorizedVectorQuantize(dim, codebook_size, codebook_dim)
                                    for _ in range(num_quantizers))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, dim, T]` -> (the sum of the stages' outputs, codes `[stages, B, T]`)."""
        quantized_out, residual, codes = 0.0, x, []
        for layer in self.layers:
            quantized, indices = layer(residual)
            residual = residual - quantized
            quantized_out = quantized_out + quantized
            codes.append(indices)
        return quantized_out, torch.stack(codes)


class CodecDecoder(nn.Module):
    """Upstream's `CodecDecoder`: the quantiser, and the network from quantised latent to waveform.

    Args:
        in_channels (int): latent channels.
        upsample_initial_channel (int): width after the first conv.
        use_rnn (bool), rnn_bidirectional (bool), rnn_num_layers (int): the LSTM after the first conv.
        up_ratios (Sequence[int]): the blocks' upsampling factors.
        dilations (Sequence[int]): residual units' dilations.
        vq_num_quantizers (int), vq_dim (int), codebook_size (int), codebook_dim (int): the quantiser.
    """

    def __init__(self, in_channels: int = 1024, upsample_initial_channel: int = 1536, use_rnn: bool = True,
                 rnn_bidirectional: bool = False, rnn_num_layers: int = 2, up_ratios: Sequence[int] = (5, 5, 2, 2, 2),
                 dilations: Sequence[int] = (1, 3, 9), vq_num_quantizers: int = 1, vq_dim: int = 1024,
                 codebook_size: int = 8192, codebook_dim: int = 8):
        super().__init__()
        self.hop_length = math.prod(up_ratios)
        self.quantizer = ResidualVQ(vq_num_quantizers, vq_dim, codebook_size, codebook_dim)
        channels = upsample_initial_channel
        layers: list[nn.Module] = [wn_conv1d(in_channels, channels, kernel_size=7, padding=3)]
        if use_rnn:
            layers.append(ResLSTM(channels, num_layers=rnn_num_layers, bidirectional=rnn_bidirectional))
        output_dim = channels
        for i, stride in enumerate(up_ratios):
            input_dim, output_dim = channels // 2**i, channels // 2 ** (i + 1)
            layers.append(DecoderBlock(input_dim, output_dim, stride, dilations))
        layers += [Activation1d(output_dim), wn_conv1d(output_dim, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quantised latent `[B, in_channels, F]` -> waveform `[B, 1, F * hop]`."""
        return self.model(x)


class BigCodecModel(nn.Module):
    """BigCodec as upstream's `inference.py` runs it: encoder, the decoder's quantiser, the decoder's network.

    Args:
        encoder (CodecEncoder): `CodecEnc` of the checkpoint.
        decoder (CodecDecoder): `generator` of the checkpoint.
    """

    def __init__(self, encoder: CodecEncoder, decoder: CodecDecoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, T]` (T a multiple of the hop) -> (waveform `[B, T]`, codes `[stages, B, T / hop]`)."""
        quantized, codes = self.decoder.quantizer(self.encoder(waves[:, None]))
        return self.decoder(quantized)[:, 0], codes
