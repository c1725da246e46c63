"""LLM-Codec's network (yangdongchao/LLM-Codec, `codec/MSCodec.py`, `vq.py`; `layers.py` and `attention.py` are
SNAC's), state-dict compatible with the `codec_model` of the released `semantic_acoustic.pth`.

The encoder and decoder are `nn.snac_blocks` with this repository's spelling: the legacy `torch.nn.utils.weight_norm`
(`weight_g`/`weight_v`, `nn.seanet.weight_norm`) and the attention written out. The quantiser is LLM-Codec's own: each
stage holds a frozen codebook of LLM vocabulary embeddings (`codebook.weight`, in the checkpoint) and a linear map
`cb_proj` into the latent space; the search is SNAC's (l2-normalised latent against the l2-normalised projected
codebook, upstream's distance expression). Only `use_cblinear: true`, the released setting, is built.

Upstream projects the whole codebook (LLaMA-2's: 32000 × 4096) twice per stage and call; inside
`ResidualVectorQuantizeLLM.projected()` each stage projects it once and reuses it (the same matmul on the same
weights: the same numbers).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.seanet import weight_norm
from ..nn.snac_blocks import Decoder, Encoder, NoiseBlock


class VectorQuantizeLLM(nn.Module):
    """One stage: average-pool by `stride`, nearest l2-normalised projected codeword, repeated back over `stride`."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, stride: int = 1):
        super().__init__()
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.stride = stride
        self.cb_proj = nn.Linear(codebook_dim, input_dim)  # maps the codebook's width to the latent's
        self.codebook = nn.Embedding(codebook_size, codebook_dim)
        self.codebook.weight.requires_grad_(False)  # frozen LLM embeddings (upstream: requires_grad = False)
        self._projected: torch.Tensor | None = None

    def projected_codebook(self) -> torch.Tensor:
        """`cb_proj(codebook)` `[K, input_dim]`: the codewords in the latent's space."""
        if self._projected is not None:
            return self._projected
        return self.cb_proj(self.codebook.weight)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride > 1:
            z = F.avg_pool1d(z, self.stride, self.stride)
        z_e = z
        z_q, indices = self.decode_latents(z_e)
        z_q = z_e + (z_q - z_e)  # upstream's straight-through estimator, as it rounds (no gradient here)
        if self.stride > 1:
            z_q = z_q.repeat_interleave(self.stride, dim=-1)
        return z_q, indices

    def decode_code(self, embed_id: torch.Tensor) -> torch.Tensor:
        return F.embedding(embed_id, self.projected_codebook()).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, D, T]` -> (codewords `[B, D, T]`, codes `[B, T]`), by upstream's distance expression."""
        encodings = latents.transpose(1, 2).reshape(-1, latents.shape[1])  # "b d t -> (b t) d"
        codebook = self.projected_codebook()
        encodings = F.normalize(encodings)
        codebook = F.normalize(codebook)
        dist = (encodings.pow(2).sum(1, keepdim=True) - 2 * encodings @ codebook.t()
                + codebook.pow(2).sum(1, keepdim=True).t())
        indices = (-dist).max(1)[1].reshape(latents.size(0), -1)
        return self.decode_code(indices), indices


class ResidualVectorQuantizeLLM(nn.Module):
    """Residual stages at `vq_strides`, the first over the global (word) codebook, the others over the local one."""

    def __init__(self, input_dim: int, vq_strides: Sequence[int], global_codebook: tuple[int, int],
                 local_codebook: tuple[int, int]):
        super().__init__()
        self.n_codebooks = len(vq_strides)
        shapes = [global_codebook, local_codebook, local_codebook]  # upstream: [g_ckpt, checkpoint, checkpoint]
        self.quantizers = nn.ModuleList(
            [VectorQuantizeLLM(input_dim, *shapes[i], stride) for i, stride in enumerate(vq_strides)])

    @contextlib.contextmanager
    def projected(self) -> Iterator[None]:
        """Inside the block each stage projects its codebook once (weights must not change meanwhile)."""
        for quantizer in self.quantizers:
            quantizer._projected = quantizer.cb_proj(quantizer.codebook.weight)
        try:
            yield
        finally:
            for quantizer in self.quantizers:
                quantizer._projected = None

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
            z_q_i = self.quantizers[i].decode_code(codes[i])
            z_q = z_q + z_q_i.repeat_interleave(self.quantizers[i].stride, dim=-1)
        return z_q


class MSCodecLM(nn.Module):
    """Encoder, multi-rate residual VQ over LLM codebooks, decoder; `state_dict()` in the checkpoint's layout.

    Args:
        sample_rate: audio rate in Hz.
        encoder_dim: width of the encoder's first convolution (doubled at each stride).
        encoder_rates: encoder strides; their product is the hop.
        latent_dim: the latent's width (encoder_dim × 2^len(encoder_rates)).
        decoder_dim: width of the decoder's first convolution (halved at each rate).
        decoder_rates: decoder upsampling rates.
        attn_window_size: local attention window at the latent rate; None: no attention.
        vq_strides: per codebook, latent frames per code (coarsest first).
        noise: whether the decoder blocks add noise.
        depthwise: depthwise (grouped) convolutions.
        global_codebook: (entries, width) of the first codebook (upstream: the tensor `global_embedding_path` holds).
        local_codebook: (entries, width) of the others (upstream: `local_embedding_path`'s `weight`).
    """

    def __init__(self, sample_rate: int, encoder_dim: int, encoder_rates: Sequence[int], latent_dim: int,
                 decoder_dim: int, decoder_rates: Sequence[int], attn_window_size: int | None,
                 vq_strides: Sequence[int], noise: bool, depthwise: bool, global_codebook: tuple[int, int],
                 local_codebook: tuple[int, int]):
        super().__init__()
        self.sampling_rate = sample_rate
        self.latent_dim = latent_dim
        self.hop_length = math.prod(encoder_rates)
        self.vq_strides = tuple(vq_strides)
        self.attn_window_size = attn_window_size
        spelling = {"weight_norm": weight_norm, "fused_attention": False}
        self.encoder = Encoder(encoder_dim, encoder_rates, depthwise=depthwise, attn_window_size=attn_window_size,
                               **spelling)
        self.quantizer = ResidualVectorQuantizeLLM(latent_dim, vq_strides, global_codebook, local_codebook)
        self.decoder = Decoder(latent_dim, decoder_dim, decoder_rates, noise, depthwise=depthwise,
                               attn_window_size=attn_window_size, **spelling)

    @property
    def pad_to(self) -> int:
        """Inputs are zero-padded up to a multiple of this (upstream `preprocess`): hop × lcm(coarsest stride,
        attention window), so that every codebook and every attention window sees whole frames."""
        return self.hop_length * math.lcm(self.vq_strides[0], self.attn_window_size or 1)

    def preprocess(self, audio: torch.Tensor) -> torch.Tensor:
        length = audio.shape[-1]
        right_pad = math.ceil(length / self.pad_to) * self.pad_to - length
        return F.pad(audio, (0, right_pad))

    def encode(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """`[B, 1, T]` -> codes, one `[B, frames / stride]` tensor per codebook (coarsest first)."""
        _, codes = self.quantizer(self.encoder(self.preprocess(audio)))
        return codes

    def decode(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        """Codes -> `[B, 1, frames * hop]`."""
        return self.decoder(self.quantizer.from_codes(codes))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Upstream `MSCodecLM.forward` (less its training losses): `[B, 1, T]` -> (reconstruction `[B, 1, T]`,
        codes), the quantiser's own sum of codewords decoded, the output cut to the input length."""
        length = audio.shape[-1]
        z_q, codes = self.quantizer(self.encoder(self.preprocess(audio)))
        return self.decoder(z_q)[..., :length], codes

    def noise_blocks(self) -> list[NoiseBlock]:
        return self.decoder.noise_blocks()
