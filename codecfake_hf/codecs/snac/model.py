"""SNAC's network (hubertsiuzdak/snac 1.2.1, `snac/layers.py`, `attention.py`, `vq.py`), state-dict compatible with
the official `pytorch_model.bin` files.

The encoder and decoder are `nn.snac_blocks` (LLM-Codec runs the same files), here with SNAC's spelling of weight
norm (torch's parametrization: `parametrizations.weight.original0/1`, what the package's
`torch.nn.utils.parametrizations.weight_norm` saves) and its fused attention; the quantiser is SNAC's own. Module
names, nesting and term order follow upstream line by line, so `load_state_dict(strict=True)` takes the checkpoints
as they are. The decoder's noise is drawn from a generator the codec hands down (see `nn.snac_blocks.NoiseBlock`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..nn.snac_blocks import Decoder, Encoder, NoiseBlock


def WNConv1d(*args, **kwargs) -> nn.Module:  # noqa: N802 (upstream's name)
    return weight_norm(nn.Conv1d(*args, **kwargs))


# -- quantiser (snac/vq.py) and the model --------------------------------------------------------------------------


class VectorQuantize(nn.Module):
    """One SNAC codebook: average-pool by `stride`, project to `codebook_dim`, nearest l2-normalised codeword."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, stride: int = 1):
        super().__init__()
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.stride = stride
        self.in_proj = WNConv1d(input_dim, codebook_dim, kernel_size=1)
        self.out_proj = WNConv1d(codebook_dim, input_dim, kernel_size=1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride > 1:
            z = F.avg_pool1d(z, self.stride, self.stride)
        z_e = self.in_proj(z)
        z_q, indices = self.decode_latents(z_e)
        z_q = z_e + (z_q - z_e)  # upstream's straight-through estimator, as it rounds (no gradient here)
        z_q = self.out_proj(z_q)
        if self.stride > 1:
            z_q = z_q.repeat_interleave(self.stride, dim=-1)
        return z_q, indices

    def decode_code(self, embed_id: torch.Tensor) -> torch.Tensor:
        return F.embedding(embed_id, self.codebook.weight).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, D, T]` -> (codewords `[B, D, T]`, codes `[B, T]`), by upstream's distance expression."""
        encodings = latents.transpose(1, 2).reshape(-1, latents.shape[1])  # "b d t -> (b t) d"
        codebook = self.codebook.weight
        encodings = F.normalize(encodings)
        codebook = F.normalize(codebook)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        indices = (-dist).max(1)[1].reshape(latents.size(0), -1)
        return self.decode_code(indices), indices


class ResidualVectorQuantize(nn.Module):
    def __init__(self, input_dim: int = 512, codebook_size: int = 1024, codebook_dim: int = 8,
                 vq_strides: Sequence[int] = (1, 1, 1, 1)):
        super().__init__()
        self.n_codebooks = len(vq_strides)
        self.codebook_dim = codebook_dim
        self.codebook_size = codebook_size
        self.quantizers = nn.ModuleList(
            [VectorQuantize(input_dim, codebook_size, codebook_dim, stride) for stride in vq_strides])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        z_q = 0
        residual = z
        codes = []
        for quantizer in self.quantizers:
            z_q_i, indices_i = quantizer(residual)
            z_q = z_q + z_q_i
            residual = residual - z_q_i
            codes.append(indices_i)
        return z_q, codes

    def from_codes(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        z_q = 0.0
        for i in range(self.n_codebooks):
            z_p_i = self.quantizers[i].decode_code(codes[i])
            z_q_i = self.quantizers[i].out_proj(z_p_i)
            z_q_i = z_q_i.repeat_interleave(self.quantizers[i].stride, dim=-1)
            z_q = z_q + z_q_i
        return z_q


class SNAC(nn.Module):
    """Encoder, multi-rate residual VQ, decoder; `state_dict()` in the official file's layout."""

    def __init__(self, sampling_rate: int, encoder_dim: int, encoder_rates: Sequence[int], latent_dim: int | None,
                 decoder_dim: int, decoder_rates: Sequence[int], attn_window_size: int | None, codebook_size: int,
                 codebook_dim: int, vq_strides: Sequence[int], noise: bool, depthwise: bool):
        super().__init__()
        self.sampling_rate = sampling_rate
        if latent_dim is None:
            latent_dim = encoder_dim * (2 ** len(encoder_rates))
        self.latent_dim = latent_dim
        self.hop_length = math.prod(encoder_rates)
        self.vq_strides = tuple(vq_strides)
        self.attn_window_size = attn_window_size
        self.encoder = Encoder(encoder_dim, encoder_rates, depthwise=depthwise, attn_window_size=attn_window_size)
        self.quantizer = ResidualVectorQuantize(input_dim=latent_dim, codebook_size=codebook_size,
                                                codebook_dim=codebook_dim, vq_strides=vq_strides)
        self.decoder = Decoder(latent_dim, decoder_dim, decoder_rates, noise, depthwise=depthwise,
                               attn_window_size=attn_window_size)

    @property
    def pad_to(self) -> int:
        """Inputs are zero-padded up to a multiple of this (upstream `preprocess`): hop × lcm(coarsest stride,
        attention window), so every codebook and every attention window sees whole frames."""
        return self.hop_length * math.lcm(self.vq_strides[0], self.attn_window_size or 1)

    def preprocess(self, audio: torch.Tensor) -> torch.Tensor:
        length = audio.shape[-1]
        right_pad = math.ceil(length / self.pad_to) * self.pad_to - length
        return F.pad(audio, (0, right_pad))

    def encode(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """`[B, 1, T]` -> codes, one `[B, frames / stride]` tensor per codebook (coarsest first)."""
        z = self.encoder(self.preprocess(audio))
        _, codes = self.quantizer(z)
        return codes

    def decode(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        """Codes -> `[B, 1, frames * hop]`."""
        return self.decoder(self.quantizer.from_codes(codes))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Upstream `SNAC.forward`: `[B, 1, T]` -> (reconstruction `[B, 1, T]`, codes), the quantiser's own sum of
        codewords decoded (not `from_codes`), the output cut to the input length."""
        length = audio.shape[-1]
        z = self.encoder(self.preprocess(audio))
        z_q, codes = self.quantizer(z)
        return self.decoder(z_q)[..., :length], codes

    def noise_blocks(self) -> list[NoiseBlock]:
        return [module for module in self.decoder.modules() if isinstance(module, NoiseBlock)]
