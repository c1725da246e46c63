"""SNAC's network (hubertsiuzdak/snac 1.2.1, `snac/layers.py`, `attention.py`, `vq.py`), state-dict compatible with
the official `pytorch_model.bin` files.

Module names, nesting and term order follow upstream line by line, so `load_state_dict(strict=True)` takes the
checkpoints as they are (weight norm as torch's parametrization: `parametrizations.weight.original0/1`, what the
package's `torch.nn.utils.parametrizations.weight_norm` saves) and a reader can check each module against its
reference. Two things differ on purpose:

- `NoiseBlock` draws its noise from a `torch.Generator` handed down by the codec (upstream: `torch.randn`, the global
  generator), so that a build is deterministic: the same draws, in the same order, as upstream after
  `torch.manual_seed(seed)`, always on the CPU generator (then moved to the device), whatever the device.
- einops is not used: its three `rearrange` patterns are written as `view`/`permute`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def WNConv1d(*args, **kwargs) -> nn.Module:  # noqa: N802 (upstream's name)
    return weight_norm(nn.Conv1d(*args, **kwargs))


def WNConvTranspose1d(*args, **kwargs) -> nn.Module:  # noqa: N802 (upstream's name)
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


def snake(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Upstream's `snake` (a TorchScript function there): x + 1/(alpha + 1e-9) * sin(alpha x)^2."""
    shape = x.shape
    x = x.reshape(shape[0], shape[1], -1)
    x = x + (alpha + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)
    return x.reshape(shape)


class Snake1d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return snake(x, self.alpha)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int = 16, dilation: int = 1, kernel: int = 7, groups: int = 1):
        super().__init__()
        pad = ((kernel - 1) * dilation) // 2
        self.block = nn.Sequential(
            Snake1d(dim),
            WNConv1d(dim, dim, kernel_size=kernel, dilation=dilation, padding=pad, groups=groups),
            Snake1d(dim),
            WNConv1d(dim, dim, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        pad = (x.shape[-1] - y.shape[-1]) // 2
        if pad > 0:
            x = x[..., pad:-pad]
        return x + y


class EncoderBlock(nn.Module):
    def __init__(self, output_dim: int = 16, input_dim: int | None = None, stride: int = 1, groups: int = 1):
        super().__init__()
        input_dim = input_dim or output_dim // 2
        self.block = nn.Sequential(
            ResidualUnit(input_dim, dilation=1, groups=groups),
            ResidualUnit(input_dim, dilation=3, groups=groups),
            ResidualUnit(input_dim, dilation=9, groups=groups),
            Snake1d(input_dim),
            WNConv1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride, padding=math.ceil(stride / 2)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class NoiseBlock(nn.Module):
    """x + noise * W x, the noise `[B, 1, T]` standard normal (upstream: `torch.randn` of the global generator).

    `generator` is set by the codec around each decode (a CPU `torch.Generator`); None draws from the global
    generator on the tensor's device, as upstream does.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.linear = WNConv1d(dim, dim, kernel_size=1, bias=False)
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        if self.generator is None:
            noise = torch.randn((B, 1, T), device=x.device, dtype=x.dtype)
        else:
            noise = torch.randn((B, 1, T), generator=self.generator, dtype=x.dtype).to(x.device)
        h = self.linear(x)
        n = noise * h
        return x + n


class DecoderBlock(nn.Module):
    def __init__(self, input_dim: int = 16, output_dim: int = 8, stride: int = 1, noise: bool = False,
                 groups: int = 1):
        super().__init__()
        layers: list[nn.Module] = [
            Snake1d(input_dim),
            WNConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                              padding=math.ceil(stride / 2), output_padding=stride % 2),
        ]
        if noise:
            layers.append(NoiseBlock(output_dim))
        layers += [
            ResidualUnit(output_dim, dilation=1, groups=groups),
            ResidualUnit(output_dim, dilation=3, groups=groups),
            ResidualUnit(output_dim, dilation=9, groups=groups),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


# -- local windowed attention (snac/attention.py) -----------------------------------------------------------------


class SinusoidalEmbeddings(nn.Module):
    """Rotary frequencies; `inv_freq` is a persistent buffer (it is in the checkpoint), `scale` is not."""

    def __init__(self, dim: int, scale_base: int | None = None, use_xpos: bool = False):
        super().__init__()
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)
        self.use_xpos = use_xpos
        self.scale_base = scale_base
        if use_xpos and scale_base is None:
            raise ValueError("scale base must be defined if using xpos")
        scale = (torch.arange(0, dim, 2) + 0.4 * dim) / (1.4 * dim)
        self.register_buffer("scale", scale, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seq_len, device = x.shape[-2], x.device
        t = torch.arange(seq_len, device=device).type_as(self.inv_freq)
        freqs = torch.einsum("i , j -> i j", t, self.inv_freq)
        freqs = torch.cat((freqs, freqs), dim=-1)
        if not self.use_xpos:
            return freqs, torch.ones(1, device=device)
        power = (t - (seq_len // 2)) / self.scale_base
        scale = self.scale ** power[:, None]
        return freqs, torch.cat((scale, scale), dim=-1)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """einops `b ... (r d) -> b ... r d` (r = 2), then (-x2, x1)."""
    x = x.reshape(*x.shape[:-1], 2, x.shape[-1] // 2)
    x1, x2 = x.unbind(dim=-2)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q: torch.Tensor, k: torch.Tensor, freqs: torch.Tensor, scale):
    q_len = q.shape[-2]
    q_freqs = freqs[..., -q_len:, :]
    inv_scale = scale**-1
    if scale.ndim == 2:
        scale = scale[-q_len:, :]
    q = (q * q_freqs.cos() * scale) + (rotate_half(q) * q_freqs.sin() * scale)
    k = (k * freqs.cos() * inv_scale) + (rotate_half(k) * freqs.sin() * inv_scale)
    return q, k


class LocalMHA(nn.Module):
    """Multi-head self-attention inside non-overlapping windows of `window_size` frames, rotary positions."""

    def __init__(self, dim: int = 1024, window_size: int = 32, dim_head: int = 64, use_rotary_pos_emb: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.heads = dim // dim_head
        self.window_size = window_size
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.rel_pos = SinusoidalEmbeddings(dim_head, scale_base=window_size // 2) if use_rotary_pos_emb else None
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        residual = x
        x = self.norm(x.transpose(1, 2))
        windows = T // self.window_size
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        # einops "b (w n) (h d) -> b h w n d"
        q, k, v = (t.reshape(B, windows, -1, self.heads, t.shape[-1] // self.heads).permute(0, 3, 1, 2, 4)
                   for t in (q, k, v))
        if self.rel_pos is not None:
            pos_emb, scale = self.rel_pos(k)
            q, k = apply_rotary_pos_emb(q, k, pos_emb, scale)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.permute(0, 2, 3, 1, 4).reshape(B, T, -1)  # "b h w n d -> b (w n) (h d)"
        out = self.to_out(out)
        return out.transpose(1, 2) + residual


# -- encoder, decoder, quantiser ----------------------------------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, d_model: int = 64, strides: Sequence[int] = (3, 3, 7, 7), depthwise: bool = False,
                 attn_window_size: int | None = 32):
        super().__init__()
        layers: list[nn.Module] = [WNConv1d(1, d_model, kernel_size=7, padding=3)]
        for stride in strides:
            d_model *= 2
            groups = d_model // 2 if depthwise else 1
            layers += [EncoderBlock(output_dim=d_model, stride=stride, groups=groups)]
        if attn_window_size is not None:
            layers += [LocalMHA(dim=d_model, window_size=attn_window_size)]
        groups = d_model if depthwise else 1
        layers += [WNConv1d(d_model, d_model, kernel_size=7, padding=3, groups=groups)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    def __init__(self, input_channel: int, channels: int, rates: Sequence[int], noise: bool = False,
                 depthwise: bool = False, attn_window_size: int | None = 32, d_out: int = 1):
        super().__init__()
        if depthwise:
            layers: list[nn.Module] = [
                WNConv1d(input_channel, input_channel, kernel_size=7, padding=3, groups=input_channel),
                WNConv1d(input_channel, channels, kernel_size=1),
            ]
        else:
            layers = [WNConv1d(input_channel, channels, kernel_size=7, padding=3)]
        if attn_window_size is not None:
            layers += [LocalMHA(dim=channels, window_size=attn_window_size)]
        output_dim = channels
        for i, stride in enumerate(rates):
            input_dim = channels // 2**i
            output_dim = channels // 2 ** (i + 1)
            groups = output_dim if depthwise else 1
            layers.append(DecoderBlock(input_dim, output_dim, stride, noise, groups=groups))
        layers += [Snake1d(output_dim), WNConv1d(output_dim, d_out, kernel_size=7, padding=3), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


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
