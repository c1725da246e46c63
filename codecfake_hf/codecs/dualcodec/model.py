"""DualCodec's network, as the `dualcodec` package writes it (`model_codec/dualcodec_model.py`, `dac_model.py`,
`dac_quantize.py`, `cnn.py`; module names follow it, so amphion/dualcodec's safetensors load strictly), and its
semantic front end: facebook/w2v-bert-2.0 through transformers' `Wav2Vec2BertModel`, normalised by the statistics
file of the Hub repository."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import CodecConfigError
from ..nn.dac import ResidualUnit, Snake1d, WNConv1d, WNConvTranspose1d
from .config import DualCodecConfig


class EncoderBlock(nn.Module):
    """Three residual units (dilations 1, 3, 9) at half width, snake, strided conv doubling the width.

    Args:
        dim (int): output width.
        stride (int): downsampling.
    """

    def __init__(self, dim: int, stride: int):
        super().__init__()
        self.block = nn.Sequential(
            ResidualUnit(dim // 2, 1), ResidualUnit(dim // 2, 3), ResidualUnit(dim // 2, 9), Snake1d(dim // 2),
            WNConv1d(dim // 2, dim, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Encoder(nn.Module):
    """DAC's encoder: waveform `[B, 1, T]` -> latent `[B, d_latent, T / hop]`.

    Args:
        d_model (int): first width (doubled at each stride).
        strides (tuple[int, ...]): downsampling per block.
        d_latent (int): latent width.
    """

    def __init__(self, d_model: int, strides: tuple[int, ...], d_latent: int):
        super().__init__()
        block: list[nn.Module] = [WNConv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in strides:
            d_model *= 2
            block.append(EncoderBlock(d_model, stride))
        block += [Snake1d(d_model), WNConv1d(d_model, d_latent, kernel_size=3, padding=1)]
        self.block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """Snake, transposed conv upsampling, three residual units.

    Args:
        input_dim, output_dim (int): widths.
        stride (int): upsampling.
    """

    def __init__(self, input_dim: int, output_dim: int, stride: int):
        super().__init__()
        self.block = nn.Sequential(
            Snake1d(input_dim),
            WNConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                              padding=math.ceil(stride / 2)),
            ResidualUnit(output_dim, 1), ResidualUnit(output_dim, 3), ResidualUnit(output_dim, 9))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    """DAC's decoder: latent `[B, C, F]` -> waveform `[B, 1, F * hop]` (tanh).

    Args:
        input_channel (int): latent width.
        channels (int): first width (halved at each stride).
        rates (tuple[int, ...]): upsampling per block.
    """

    def __init__(self, input_channel: int, channels: int, rates: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(input_channel, channels, kernel_size=7, padding=3)]
        output_dim = channels
        for i, stride in enumerate(rates):
            output_dim = channels // 2 ** (i + 1)
            layers.append(DecoderBlock(channels // 2**i, output_dim, stride))
        layers += [Snake1d(output_dim), WNConv1d(output_dim, 1, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class VectorQuantize(nn.Module):
    """A factorised codebook: project down, nearest entry by cosine (L2-normalised), project up.

    Args:
        input_dim (int): the latent's width.
        codebook_size (int): entries.
        codebook_dim (int): the entries' width.
    """

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        self.in_proj = WNConv1d(input_dim, codebook_dim, kernel_size=1)
        self.out_proj = WNConv1d(codebook_dim, input_dim, kernel_size=1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, input_dim, F]` -> (quantised `[B, input_dim, F]`, codes `[B, F]`)."""
        z_q, indices = self.decode_latents(self.in_proj(z))
        return self.out_proj(z_q), indices

    def decode_code(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, F]` -> entries `[B, codebook_dim, F]`."""
        return F.embedding(codes, self.codebook.weight).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected latents `[B, D, F]` -> (their nearest entries `[B, D, F]`, codes `[B, F]`)."""
        encodings = F.normalize(latents.transpose(1, 2).reshape(-1, latents.shape[1]))
        codebook = F.normalize(self.codebook.weight)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        indices = (-dist).max(1)[1].reshape(latents.shape[0], -1)
        return self.decode_code(indices), indices


class ResidualVectorQuantize(nn.Module):
    """Residual VQ over factorised codebooks.

    Args:
        input_dim (int): latent width.
        n_codebooks (int): stages.
        codebook_size (int): entries per stage.
        codebook_dim (int): entries' width.
    """

    def __init__(self, input_dim: int, n_codebooks: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        self.quantizers = nn.ModuleList(VectorQuantize(input_dim, codebook_size, codebook_dim)
                                        for _ in range(n_codebooks))

    def forward(self, z: torch.Tensor, n_quantizers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent `[B, C, F]` -> (quantised latent, codes `[B, n, F]`) with the first `n_quantizers` stages."""
        z_q, residual, codes = 0.0, z, []
        for quantizer in self.quantizers[: n_quantizers or len(self.quantizers)]:
            z_q_i, indices = quantizer(residual)
            z_q = z_q + z_q_i
            residual = residual - z_q_i
            codes.append(indices)
        return z_q, torch.stack(codes, dim=1)

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, n, F]` -> the quantised latent `[B, C, F]`."""
        z_q = 0.0
        for i in range(codes.shape[1]):
            z_q = z_q + self.quantizers[i].out_proj(self.quantizers[i].decode_code(codes[:, i]))
        return z_q


class DAC(nn.Module):
    """The acoustic branch: DAC's encoder, residual VQ and decoder (`distill=False`: no projection head).

    Args:
        config (DualCodecConfig): widths, strides, codebooks.
    """

    def __init__(self, config: DualCodecConfig):
        super().__init__()
        self.hop_length = config.hop_length
        self.encoder = Encoder(config.encoder_dim, config.encoder_rates, config.latent)
        self.quantizer = ResidualVectorQuantize(config.latent, config.n_codebooks, config.codebook_size,
                                                config.codebook_dim)
        self.decoder = Decoder(config.latent, config.decoder_dim, config.decoder_rates)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (7 taps; left-padded by 6 when causal), layer norm, MLP, residual (no layer scale).

    Args:
        dim (int): width.
        intermediate_dim (int): MLP width.
        is_causal (bool): pad on the left only.
    """

    def __init__(self, dim: int, intermediate_dim: int, is_causal: bool):
        super().__init__()
        self.is_causal = is_causal
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=0 if is_causal else 3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        if self.is_causal:
            x = F.pad(x, (6, 0))
        x = self.norm(self.dwconv(x).transpose(1, 2))
        x = self.pwconv2(self.act(self.pwconv1(x)))
        return residual + x.transpose(1, 2)


class SemanticStats(nn.Module):
    """The w2v-BERT features' mean and variance (w2vbert2_mean_var_stats_emilia.pt's `mean` and `var`).

    Args:
        dim (int): feature width.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / torch.sqrt(self.var)


class DualCodecModel(nn.Module):
    """DualCodec with its semantic front end: the package's `DualCodec` modules plus `semantic_model` (w2v-BERT 2.0's
    first `semantic_layer` layers) and `semantic_stats`.

    Args:
        config (DualCodecConfig): the architecture.
    """

    def __init__(self, config: DualCodecConfig):
        super().__init__()
        from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

        self.config = config
        self.dac = DAC(config)

        def blocks() -> list[nn.Module]:
            return [ConvNeXtBlock(config.convnext_dim, config.convnext_intermediate_dim, config.is_causal)
                    for _ in range(config.convnext_layers)]

        self.convnext_encoder = nn.Sequential(WNConv1d(config.semantic_dim, config.convnext_dim, kernel_size=1),
                                              *blocks())
        self.semantic_vq = ResidualVectorQuantize(config.convnext_dim, 1, config.semantic_codebook_size,
                                                  config.semantic_codebook_dim)
        self.convnext_decoder = nn.Sequential(*blocks(), WNConv1d(config.convnext_dim, config.latent, kernel_size=1))
        semantic = Wav2Vec2BertConfig(**{**config.semantic_model, "num_hidden_layers": config.semantic_layer})
        if semantic.hidden_size != config.semantic_dim:
            raise CodecConfigError(f"DualCodec config: the w2v-BERT model is {semantic.hidden_size} wide but "
                                   f"`semantic_dim` is {config.semantic_dim}.")
        semantic._attn_implementation = "eager"  # the same kernels for every shape and device
        self.semantic_model = Wav2Vec2BertModel(semantic)
        self.semantic_stats = SemanticStats(semantic.hidden_size)

    def semantic_features(self, features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """w2v-BERT input features `[B, F, 160]` -> normalised, pooled features `[B, semantic_dim, F / factor]`
        (upstream's `_extract_semantic_code` and `avg_pool1d`)."""
        hidden = self.semantic_model(input_features=features, attention_mask=attention_mask).last_hidden_state
        feat = self.semantic_stats(hidden).transpose(1, 2)
        factor = self.config.semantic_downsample_factor
        return F.avg_pool1d(feat, factor, factor)

    def semantic_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Semantic codes `[B, 1, S]` -> the latent the acoustic branch subtracts and adds back `[B, latent, S]`."""
        semantic = self.semantic_vq.from_codes(codes)
        return self.convnext_decoder(semantic) if self.config.decode_semantic_for_codec else semantic

    def encode(self, wave: torch.Tensor, semantic: torch.Tensor, n_quantizers: int) -> torch.Tensor:
        """Waveform `[B, 1, T]` at 24 kHz and pooled features -> codes `[B, n_quantizers, S]` (semantic first)."""
        semantic_codes = self.semantic_vq(self.convnext_encoder(semantic))[1]
        if n_quantizers == 1:
            return semantic_codes
        latent = self.semantic_latent(semantic_codes)
        # upstream's DAC.preprocess: right-pad to whole hops
        wave = F.pad(wave, (0, math.ceil(wave.shape[-1] / self.dac.hop_length) * self.dac.hop_length - wave.shape[-1]))
        z = self.dac.encoder(wave)
        if abs(z.shape[-1] - latent.shape[-1]) > 2:
            raise ValueError(f"DualCodec: {z.shape[-1]} acoustic frames against {latent.shape[-1]} semantic ones")
        z = z[..., : latent.shape[-1]] - latent
        acoustic_codes = self.dac.quantizer(z, n_quantizers - 1)[1]
        return torch.cat([semantic_codes, acoustic_codes], dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, n, S]` (semantic first) -> waveform `[B, 1, S * hop]` at 24 kHz (`decode_from_codes`)."""
        z = self.semantic_latent(codes[:, :1])
        if codes.shape[1] > 1:
            z = self.dac.quantizer.from_codes(codes[:, 1:]) + z
        return self.dac.decoder(z)
