"""SNAC's encoder and decoder (hubertsiuzdak/snac 1.2.1, `snac/layers.py`, `attention.py`): snake convolutions, noise
blocks and local windowed attention, shared by SNAC and LLM-Codec (yangdongchao/LLM-Codec, whose `codec/layers.py`
and `codec/attention.py` are SNAC's files).

Module names, nesting and term order follow upstream line by line, so `load_state_dict(strict=True)` takes the
official checkpoints as they are. The two families' files differ in two places only, which are arguments here:

- `weight_norm`: the weight-norm spelling each one's checkpoints were saved with. SNAC's package uses torch's
  parametrization (`parametrizations.weight.original0/1`, the default here); LLM-Codec's code the legacy
  `torch.nn.utils.weight_norm` (`weight_g`/`weight_v`: `nn.seanet.weight_norm`).
- `fused_attention`: SNAC's `LocalMHA` calls `F.scaled_dot_product_attention`; LLM-Codec's writes the same attention
  out (`softmax(q kᵀ / √d) v`), whose rounding differs slightly.

Two things differ from upstream on purpose:

- `NoiseBlock` draws its noise from a `torch.Generator` handed down by the codec (upstream: `torch.randn`, the global
  generator), so that a build is deterministic: the same draws, in the same order, as upstream after
  `torch.manual_seed(seed)`, always on the CPU generator (then moved to the device), whatever the device.
- einops is not used: its three `rearrange` patterns are written as `view`/`permute`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

# A function that puts weight normalisation on a module and returns it (its keys are the checkpoint's spelling).
WeightNorm = Callable[[nn.Module], nn.Module]
PARAMETRIZED: WeightNorm = parametrizations.weight_norm


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
    def __init__(self, dim: int = 16, dilation: int = 1, kernel: int = 7, groups: int = 1, *,
                 weight_norm: WeightNorm = PARAMETRIZED):
        super().__init__()
        pad = ((kernel - 1) * dilation) // 2
        self.block = nn.Sequential(
            Snake1d(dim),
            weight_norm(nn.Conv1d(dim, dim, kernel_size=kernel, dilation=dilation, padding=pad, groups=groups)),
            Snake1d(dim),
            weight_norm(nn.Conv1d(dim, dim, kernel_size=1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        pad = (x.shape[-1] - y.shape[-1]) // 2
        if pad > 0:
            x = x[..., pad:-pad]
        return x + y


class EncoderBlock(nn.Module):
    def __init__(self, output_dim: int = 16, input_dim: int | None = None, stride: int = 1, groups: int = 1, *,
                 weight_norm: WeightNorm = PARAMETRIZED):
        super().__init__()
        input_dim = input_dim or output_dim // 2
        self.block = nn.Sequential(
            ResidualUnit(input_dim, dilation=1, groups=groups, weight_norm=weight_norm),
            ResidualUnit(input_dim, dilation=3, groups=groups, weight_norm=weight_norm),
            ResidualUnit(input_dim, dilation=9, groups=groups, weight_norm=weight_norm),
            Snake1d(input_dim),
            weight_norm(nn.Conv1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                                  padding=math.ceil(stride / 2))),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class NoiseBlock(nn.Module):
    """x + noise * W x, the noise `[B, 1, T]` standard normal (upstream: `torch.randn` of the global generator).

    `generator` is set by the codec around each decode (a CPU `torch.Generator`); None draws from the global
    generator on the tensor's device, as upstream does.
    """

    def __init__(self, dim: int, *, weight_norm: WeightNorm = PARAMETRIZED):
        super().__init__()
        self.linear = weight_norm(nn.Conv1d(dim, dim, kernel_size=1, bias=False))
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
                 groups: int = 1, *, weight_norm: WeightNorm = PARAMETRIZED):
        super().__init__()
        layers: list[nn.Module] = [
            Snake1d(input_dim),
            weight_norm(nn.ConvTranspose1d(input_dim, output_dim, kernel_size=2 * stride, stride=stride,
                                           padding=math.ceil(stride / 2), output_padding=stride % 2)),
        ]
        if noise:
            layers.append(NoiseBlock(output_dim, weight_norm=weight_norm))
        layers += [
            ResidualUnit(output_dim, dilation=1, groups=groups, weight_norm=weight_norm),
            ResidualUnit(output_dim, dilation=3, groups=groups, weight_norm=weight_norm),
            ResidualUnit(output_dim, dilation=9, groups=groups, weight_norm=weight_norm),
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
    """Multi-head self-attention inside non-overlapping windows of `window_size` frames, rotary positions.

    Args:
        fused_attention (bool): `F.scaled_dot_product_attention` (SNAC) or the attention written out, softmax of
            `q kᵀ / √d` times `v` (LLM-Codec).
    """

    def __init__(self, dim: int = 1024, window_size: int = 32, dim_head: int = 64, use_rotary_pos_emb: bool = True,
                 *, fused_attention: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.heads = dim // dim_head
        self.window_size = window_size
        self.fused_attention = fused_attention
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
        if self.fused_attention:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            out = F.softmax(att, dim=-1) @ v
        out = out.permute(0, 2, 3, 1, 4).reshape(B, T, -1)  # "b h w n d -> b (w n) (h d)"
        out = self.to_out(out)
        return out.transpose(1, 2) + residual


# -- encoder and decoder ------------------------------------------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, d_model: int = 64, strides: Sequence[int] = (3, 3, 7, 7), depthwise: bool = False,
                 attn_window_size: int | None = 32, *, weight_norm: WeightNorm = PARAMETRIZED,
                 fused_attention: bool = True):
        super().__init__()
        layers: list[nn.Module] = [weight_norm(nn.Conv1d(1, d_model, kernel_size=7, padding=3))]
        for stride in strides:
            d_model *= 2
            groups = d_model // 2 if depthwise else 1
            layers += [EncoderBlock(output_dim=d_model, stride=stride, groups=groups, weight_norm=weight_norm)]
        if attn_window_size is not None:
            layers += [LocalMHA(dim=d_model, window_size=attn_window_size, fused_attention=fused_attention)]
        groups = d_model if depthwise else 1
        layers += [weight_norm(nn.Conv1d(d_model, d_model, kernel_size=7, padding=3, groups=groups))]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Decoder(nn.Module):
    def __init__(self, input_channel: int, channels: int, rates: Sequence[int], noise: bool = False,
                 depthwise: bool = False, attn_window_size: int | None = 32, d_out: int = 1, *,
                 weight_norm: WeightNorm = PARAMETRIZED, fused_attention: bool = True):
        super().__init__()
        if depthwise:
            layers: list[nn.Module] = [
                weight_norm(nn.Conv1d(input_channel, input_channel, kernel_size=7, padding=3, groups=input_channel)),
                weight_norm(nn.Conv1d(input_channel, channels, kernel_size=1)),
            ]
        else:
            layers = [weight_norm(nn.Conv1d(input_channel, channels, kernel_size=7, padding=3))]
        if attn_window_size is not None:
            layers += [LocalMHA(dim=channels, window_size=attn_window_size, fused_attention=fused_attention)]
        output_dim = channels
        for i, stride in enumerate(rates):
            input_dim = channels // 2**i
            output_dim = channels // 2 ** (i + 1)
            groups = output_dim if depthwise else 1
            layers.append(DecoderBlock(input_dim, output_dim, stride, noise, groups=groups, weight_norm=weight_norm))
        layers += [Snake1d(output_dim), weight_norm(nn.Conv1d(output_dim, d_out, kernel_size=7, padding=3)),
                   nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def noise_blocks(self) -> list[NoiseBlock]:
        return [module for module in self.modules() if isinstance(module, NoiseBlock)]
