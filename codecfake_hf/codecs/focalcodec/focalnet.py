"""FocalCodec's compressor, binary spherical quantiser and decompressor, as FocalCodec v0.0.1 writes them
(`focalcodec/focalnet.py`, `focalcodec/bsq.py`; module names follow them for strict loading)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import FocalConf


class FeedForward(nn.Module):
    """Linear -> GELU -> linear.

    Args:
        dim (int): width.
        ffn_dim (int): hidden width.
    """

    def __init__(self, dim: int, ffn_dim: int):
        super().__init__()
        self.in_proj = nn.Linear(dim, ffn_dim)
        self.activation = nn.GELU()
        self.out_proj = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.activation(self.in_proj(x)))


class FocalModulation(nn.Module):
    """Focal modulation (Yang et al. 2022) over time: a query modulated by gated, hierarchically pooled context.

    Args:
        dim (int): width.
        conf (FocalConf): window, levels and factor of the depthwise context convolutions; post norm.
    """

    def __init__(self, dim: int, conf: FocalConf):
        super().__init__()
        self.dim = dim
        self.focal_level = conf.focal_level
        self.normalize_modulator = conf.normalize_modulator
        self.use_post_norm = conf.use_post_norm
        self.in_proj = nn.Linear(dim, 2 * dim + conf.focal_level + 1)
        self.layers = nn.ModuleList()
        self.activation = nn.GELU()
        self.context_proj = nn.Conv1d(dim, dim, kernel_size=1, stride=1)
        self.out_proj = nn.Linear(dim, dim)
        for k in range(conf.focal_level):
            kernel = conf.focal_factor * k + conf.focal_window
            self.layers.append(nn.Sequential(
                nn.Conv1d(dim, dim, kernel_size=kernel, stride=1, groups=dim, padding=kernel // 2), nn.GELU()))
        self.norm = nn.LayerNorm(dim) if conf.use_post_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, dim]` -> `[B, T, dim]`."""
        query, context, gates = self.in_proj(x).movedim(-1, -2).split([self.dim, self.dim, self.focal_level + 1], 1)
        context_all = 0.0
        for level, layer in enumerate(self.layers):
            context = layer(context)
            context_all = context_all + context * gates[:, level: level + 1]
        # The global context: the last level's mean over the whole utterance (so no padded batches).
        context_global = self.activation(context.mean(dim=-1, keepdim=True))
        context_all = context_all + context_global * gates[:, self.focal_level:]
        if self.normalize_modulator:
            context_all = context_all / (self.focal_level + 1)
        out = (query * self.context_proj(context_all)).movedim(-2, -1)
        if self.use_post_norm:
            out = self.norm(out)
        return self.out_proj(out)


class FocalBlock(nn.Module):
    """Focal modulation and feed-forward, each pre-normed (or post-normed) with a residual.

    Args:
        dim (int): width.
        conf (FocalConf): the block options.
    """

    def __init__(self, dim: int, conf: FocalConf):
        super().__init__()
        self.use_post_norm = conf.use_post_norm
        self.use_layerscale = conf.use_layerscale
        self.modulation_norm = nn.LayerNorm(dim)
        self.modulation = FocalModulation(dim, conf)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, dim * 4)
        if conf.use_layerscale:
            self.modulation_gamma = nn.Parameter(torch.full((dim,), conf.layerscale_init))
            self.feed_forward_gamma = nn.Parameter(torch.full((dim,), conf.layerscale_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.use_post_norm else self.modulation_norm(x)
        out = self.modulation(out)
        if self.use_post_norm:
            out = self.modulation_norm(out)
        if self.use_layerscale:
            out = out * self.modulation_gamma
        out = out + x
        shortcut = out
        out = (self.feed_forward_norm(self.feed_forward(out)) if self.use_post_norm
               else self.feed_forward(self.feed_forward_norm(out)))
        if self.use_layerscale:
            out = out * self.feed_forward_gamma
        return out + shortcut


class Snake1d(nn.Module):
    """x + sin²(αx) / (α + 1e-9), per channel.

    Args:
        dim (int): channels.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.alpha + 1e-9).reciprocal() * (self.alpha * x).sin() ** 2


class DownScale(nn.Module):
    """Strided conv (kernel = stride) then snake; the time axis is zero-padded to whole strides first.

    Args:
        input_dim, output_dim (int): widths.
        factor (int): kernel and stride.
    """

    def __init__(self, input_dim: int, output_dim: int, factor: int):
        super().__init__()
        self.factor = factor
        self.downscale = nn.Conv1d(input_dim, output_dim, factor, factor)
        self.activation = Snake1d(output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, C]` -> `[B, ceil(T / factor), C']`."""
        pad = (x.shape[-2] - self.factor) % self.factor
        if pad > 0:
            x = nn.functional.pad(x, [0, 0, 0, pad])
        return self.activation(self.downscale(x.movedim(-1, -2))).movedim(-2, -1)


class UpScale(nn.Module):
    """Snake then a transposed conv (kernel = stride).

    Args:
        input_dim, output_dim (int): widths.
        factor (int): kernel and stride.
    """

    def __init__(self, input_dim: int, output_dim: int, factor: int):
        super().__init__()
        self.activation = Snake1d(input_dim)
        self.upscale = nn.ConvTranspose1d(input_dim, output_dim, kernel_size=factor, stride=factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, C]` -> `[B, T * factor, C']`."""
        return self.upscale(self.activation(x.movedim(-1, -2))).movedim(-2, -1)


class FocalEncoder(nn.Module):
    """The compressor: WavLM features `[B, F, 1024]` -> latents `[B, F / prod(factors), 13]` (before the norm).

    Args:
        conf (FocalConf): widths, downscale factors, focal options.
    """

    def __init__(self, conf: FocalConf):
        super().__init__()
        self.layers = nn.ModuleList()
        width = conf.input_dim
        for hidden, factor in zip(conf.hidden_dims, conf.factors, strict=True):
            self.layers.append(nn.Sequential(DownScale(width, hidden, factor), FocalBlock(hidden, conf)))
            width = hidden
        self.out_proj = nn.Linear(width, conf.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.out_proj(x)


class FocalDecoder(nn.Module):
    """The decompressor: codes `[B, N, 13]` -> features `[B, N * prod(factors), 1024]`.

    Args:
        conf (FocalConf): widths, upscale factors, focal options.
    """

    def __init__(self, conf: FocalConf):
        super().__init__()
        widths = (*conf.hidden_dims, conf.output_dim)
        self.in_proj = nn.Linear(conf.input_dim, widths[0])
        self.layers = nn.ModuleList()
        width = widths[0]
        for hidden, factor in zip(widths[1:], conf.factors, strict=True):
            self.layers.append(nn.Sequential(FocalBlock(width, conf), UpScale(width, hidden, factor)))
            width = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_proj(x)
        for layer in self.layers:
            x = layer(x)
        return x


class BinarySphericalQuantizer(nn.Module):
    """Binary spherical quantisation: each of the `log2(codebook_size)` dimensions to ±1/√dim by its sign.

    The token is the sign pattern read as a binary number, most significant bit first. No weights: `mask` is a
    (persistent) buffer of powers of two, which the checkpoint holds.

    Args:
        codebook_size (int): a power of two.
    """

    def __init__(self, codebook_size: int):
        super().__init__()
        self.dim = int(math.log2(codebook_size))
        self.codebook_value = 1 / math.sqrt(self.dim)
        self.register_buffer("mask", 2 ** torch.arange(self.dim - 1, -1, -1))

    @property
    def codebook(self) -> torch.Tensor:
        """`[codebook_size, dim]`: every sign pattern, in token order (for the near-tie check and decoding)."""
        bits = ((torch.arange(2**self.dim, device=self.mask.device)[:, None].int() & self.mask) != 0).float()
        return (bits * 2 - 1) * self.codebook_value

    def lats_to_codes(self, lats: torch.Tensor) -> torch.Tensor:
        """Latents `[B, N, dim]` -> codes `[B, N, dim]` (±1/√dim)."""
        value = torch.full_like(lats, self.codebook_value)
        return torch.where(lats > 0, value, -value)

    def codes_to_toks(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, N, dim]` -> tokens `[B, N]`."""
        return ((codes > 0).int() * self.mask.int()).sum(dim=-1)

    def toks_to_codes(self, toks: torch.Tensor) -> torch.Tensor:
        """Tokens `[B, N]` -> codes `[B, N, dim]`."""
        bits = ((toks[..., None].int() & self.mask) != 0).float()
        return (bits * 2 - 1) * self.codebook_value

    def quantize(self, lats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents `[B, N, dim]` -> (tokens `[B, N]`, codes `[B, N, dim]`): upstream's `lats_to_toks` then
        `toks_to_codes`, the tokens the codec emits and the codes it decodes."""
        toks = self.codes_to_toks(self.lats_to_codes(lats))
        return toks, self.toks_to_codes(toks)
