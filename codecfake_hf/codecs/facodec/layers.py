"""The layers of Amphion's FACodec (models/codec/ns3_codec/), with upstream's parameter names and arithmetic.

Snake-beta activations inside alias-free resampling (from BigVGAN's `alias_free_torch`), weight-normalised
convolutions, the factorised residual VQ, the transformer encoder of the timbre and prosody branches, and the
mel front end. Buffers (the resampling filters, the mel basis, the positional table) are in the official state
dicts, so they are registered buffers here too and load from the checkpoint.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.alias_free import Activation1d
from ..nn.seanet import weight_norm


def wn_conv1d(*args, **kwargs) -> nn.Conv1d:
    return weight_norm(nn.Conv1d(*args, **kwargs))


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, dilation: int = 1):
        super().__init__()
        self.block = nn.Sequential(
            Activation1d(dim),
            wn_conv1d(dim, dim, kernel_size=7, dilation=dilation, padding=(6 * dilation) // 2),
            Activation1d(dim),
            wn_conv1d(dim, dim, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class EncoderBlock(nn.Module):
    """Three residual units at `dim // 2` channels, then a strided convolution to `dim`."""

    def __init__(self, dim: int, stride: int):
        super().__init__()
        self.block = nn.Sequential(
            ResidualUnit(dim // 2, 1), ResidualUnit(dim // 2, 3), ResidualUnit(dim // 2, 9),
            Activation1d(dim // 2),
            wn_conv1d(dim // 2, dim, kernel_size=2 * stride, stride=stride, padding=stride // 2 + stride % 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderBlock(nn.Module):
    """A strided transposed convolution, then three residual units."""

    def __init__(self, input_dim: int, output_dim: int, stride: int):
        super().__init__()
        self.block = nn.Sequential(
            Activation1d(input_dim),
            weight_norm(nn.ConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                                           padding=stride // 2 + stride % 2, output_padding=stride % 2)),
            ResidualUnit(output_dim, 1), ResidualUnit(output_dim, 3), ResidualUnit(output_dim, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class CNNLSTM(nn.Module):
    """Upstream's classifier head (f0, phone, speaker predictors): training only, kept for strict loading.

    Its `Rearrange` (index 4 upstream) holds no parameters and is left out.
    """

    def __init__(self, indim: int, outdim: int, heads: int):
        super().__init__()
        self.model = nn.Sequential(ResidualUnit(indim, 1), ResidualUnit(indim, 2), ResidualUnit(indim, 3),
                                   Activation1d(indim))
        self.heads = nn.ModuleList([nn.Linear(indim, outdim) for _ in range(heads)])


def reversed_head(indim: int, outdim: int, heads: int) -> nn.Sequential:
    """`nn.Sequential(GradientReversal, CNNLSTM)`: the reversal layer holds no state, so its slot is an Identity."""
    return nn.Sequential(nn.Identity(), CNNLSTM(indim, outdim, heads))


# ---------------------------------------------------------------------------------------------------------
# Factorised residual VQ (quantize/fvq.py, quantize/rvq.py).


class FactorizedVectorQuantize(nn.Module):
    """Project to `codebook_dim`, pick the nearest codeword by cosine (L2-normalised euclidean), project back."""

    def __init__(self, dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        if dim != codebook_dim:
            self.in_proj = weight_norm(nn.Linear(dim, codebook_dim))
            self.out_proj = weight_norm(nn.Linear(codebook_dim, dim))
        else:
            self.in_proj = nn.Identity()
            self.out_proj = nn.Identity()
        self._codebook = nn.Embedding(codebook_size, codebook_dim)

    @property
    def codebook(self) -> nn.Embedding:
        return self._codebook

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`z [B, D, T]` -> (quantised `[B, D, T]`, codes `[B, T]`)."""
        z_e = self.in_proj(z.transpose(1, 2)).transpose(1, 2)
        z_q, indices = self.decode_latents(z_e)
        z_q = z_e + (z_q - z_e)  # upstream's straight-through estimator: the same sum, for the same rounding
        z_q = self.out_proj(z_q.transpose(1, 2)).transpose(1, 2)
        return z_q, indices

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`latents [B, d, T]` -> (codewords `[B, d, T]`, codes `[B, T]`): the nearest normalised codeword."""
        encodings = F.normalize(latents.transpose(1, 2).reshape(-1, latents.shape[1]))
        codebook = F.normalize(self.codebook.weight)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        indices = (-dist).max(1)[1].reshape(latents.shape[0], -1)
        return self.decode_code(indices), indices

    def decode_code(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.codebook.weight).transpose(1, 2)


class ResidualVQ(nn.Module):
    """`num_quantizers` factorised VQs on successive residuals; codebook sizes are given as log2."""

    def __init__(self, num_quantizers: int, dim: int, codebook_size: int, codebook_dim: int):
        super().__init__()
        self.layers = nn.ModuleList([FactorizedVectorQuantize(dim, 2**codebook_size, codebook_dim)
                                     for _ in range(num_quantizers)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`x [B, D, T]` -> (the sum of the stages' outputs `[B, D, T]`, codes `[stages, B, T]`)."""
        quantized_out = 0.0
        residual = x
        codes = []
        for layer in self.layers:
            quantized, indices = layer(residual)
            residual = residual - quantized
            quantized_out = quantized_out + quantized
            codes.append(indices)
        return quantized_out, torch.stack(codes)


# ---------------------------------------------------------------------------------------------------------
# Transformer encoder (transformer.py), without the conditional layer norm FACodec's v2 networks do not use.


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 5000):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Upstream indexes the table by x.size(0), which is the batch for its batch-first input: item b gets row b
        # at every time step. Kept: the official weights were trained with it, and an utterance alone gets row 0.
        return x + self.pe[: x.size(0)]


class TransformerFFNLayer(nn.Module):
    def __init__(self, hidden: int, filter_size: int, kernel_size: int):
        super().__init__()
        self.ffn_1 = nn.Conv1d(hidden, filter_size, kernel_size, padding=kernel_size // 2)
        self.ffn_2 = nn.Linear(filter_size, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ffn_1(x.permute(0, 2, 1)).permute(0, 2, 1)
        return self.ffn_2(F.relu(x))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, filter_size: int, kernel_size: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden)
        self.ln_2 = nn.LayerNorm(hidden)
        self.self_attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.ffn = TransformerFFNLayer(hidden, filter_size, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        x = self.ln_1(x)
        x, _ = self.self_attn(query=x, key=x, value=x, key_padding_mask=None)
        x = residual + x
        return x + self.ffn(self.ln_2(x))


class TransformerEncoder(nn.Module):
    """Positional table, pre-norm layers with a convolutional FFN, a final LayerNorm: `[B, T, d]` -> `[B, T, d]`."""

    def __init__(self, layers: int, hidden: int, heads: int, filter_size: int, kernel_size: int, max_positions: int):
        super().__init__()
        self.position_emb = PositionalEncoding(hidden, max_positions)
        self.layers = nn.ModuleList([TransformerEncoderLayer(hidden, heads, filter_size, kernel_size)
                                     for _ in range(layers)])
        self.last_ln = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.position_emb(x)
        for layer in self.layers:
            x = layer(x)
        return self.last_ln(x)


# ---------------------------------------------------------------------------------------------------------
# The prosody features' mel front end (melspec.py).


def librosa_mel_basis(sampling_rate: int, n_fft: int, num_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """`librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` (Slaney scale and norm), `[num_mels, n_fft // 2 + 1]`.

    Only for random weights: the official state dict holds upstream's own basis, which loads over this one.
    """
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=num_mels, min_frequency=fmin,
                           max_frequency=fmax, sampling_rate=sampling_rate, norm="slaney", mel_scale="slaney")
    return torch.from_numpy(bank.T.copy()).float()


class MelSpectrogram(nn.Module):
    """Log-mel magnitudes of a reflect-padded, uncentred STFT: `[B, T]` -> `[B, num_mels, T // hop]`."""

    def __init__(self, n_fft: int, num_mels: int, sampling_rate: int, hop_size: int, win_size: int, fmin: int,
                 fmax: int):
        super().__init__()
        self.n_fft, self.hop_size, self.win_size = n_fft, hop_size, win_size
        self.register_buffer("mel_basis", librosa_mel_basis(sampling_rate, n_fft, num_mels, fmin, fmax))
        self.register_buffer("hann_window", torch.hann_window(win_size))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        pad = int((self.n_fft - self.hop_size) / 2)
        y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(y, self.n_fft, hop_length=self.hop_size, win_length=self.win_size,
                          window=self.hann_window, center=False, normalized=False, onesided=True, return_complex=True)
        spec = torch.view_as_real(spec)
        spec = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
        spec = torch.matmul(self.mel_basis, spec)
        return torch.log(torch.clamp(spec, min=1e-5))
