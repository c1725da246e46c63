"""FocalCodec's encoder: WavLM-large's convolutional front end and first transformer layers, as FocalCodec v0.0.1
writes them (`focalcodec/wavlm.py`; module names follow it, so the checkpoint's `encoder.*` keys load strictly)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import WavLMConf


class Fp32LayerNorm(nn.LayerNorm):
    """A layer norm computed in float32 whatever the input's dtype (fairseq's, as upstream)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.layer_norm(x.float(), self.normalized_shape,
                                       None if self.weight is None else self.weight.float(),
                                       None if self.bias is None else self.bias.float(), self.eps)
        return out.type_as(x)


class ConvBlock(nn.Module):
    """Conv1d (no bias) -> layer norm over channels -> GELU.

    Args:
        input_dim (int): channels in.
        output_dim (int): channels out.
        kernel_size (int): taps.
        stride (int): stride.
    """

    def __init__(self, input_dim: int, output_dim: int, kernel_size: int, stride: int):
        super().__init__()
        self.conv = nn.Conv1d(input_dim, output_dim, kernel_size, stride, bias=False)
        self.norm = Fp32LayerNorm(output_dim, elementwise_affine=True)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return self.activation(self.norm(out.movedim(-1, -2)).movedim(-1, -2))


class FeatureExtractor(nn.Module):
    """The convolutional front end: waveform `[B, T, 1]` -> frames `[B, F, C]`, `F = floor((T - 400) / 320) + 1`.

    Args:
        config (WavLMConf): the convolutions' widths, kernels and strides.
    """

    def __init__(self, config: WavLMConf):
        super().__init__()
        self.layers = nn.ModuleList()
        width = 1
        for hidden, kernel, stride in zip(config.hidden_dims, config.kernel_sizes, config.strides, strict=True):
            self.layers.append(ConvBlock(width, hidden, kernel, stride))
            width = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.movedim(-1, -2)
        for layer in self.layers:
            out = layer(out)
        return out.movedim(-2, -1)


class PositionalConvEmbedding(nn.Module):
    """A grouped convolution over time, "same"-padded (the last frame dropped for an even kernel), then GELU.

    Args:
        dim (int): channels.
        kernel_size (int): taps (128).
        groups (int): groups (16).
    """

    def __init__(self, dim: int, kernel_size: int, groups: int):
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size=kernel_size, padding=kernel_size // 2, groups=groups)
        self.remove = 1 if kernel_size % 2 == 0 else 0  # upstream's SamePad
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x.movedim(-1, -2))
        if self.remove:
            out = out[..., : -self.remove]
        return self.activation(out).movedim(-1, -2)


class MultiHeadAttention(nn.Module):
    """Self-attention with WavLM's gated relative position bias.

    Args:
        dim (int): width.
        num_heads (int): heads.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.gru_rel_pos_linear = nn.Linear(head_dim, 8)
        self.gru_rel_pos_const = nn.Parameter(torch.ones(1, num_heads, 1, 1))

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        """`x [B, T, D]`, `position_bias [H, T, T]` -> `[B, T, D]`."""
        gated = x.reshape(x.shape[:-1] + (self.num_heads, -1)).movedim(-3, -2)  # [B, H, T, head_dim]
        projected = self.gru_rel_pos_linear(gated).reshape(gated.shape[:-1] + (2, 4)).sum(dim=-1)
        gate_a, gate_b = projected.sigmoid().chunk(2, dim=-1)
        gate = gate_a * (gate_b * self.gru_rel_pos_const - 1.0) + 2.0
        bias = gate * position_bias
        batch, frames, _ = x.shape
        q, k, v = (proj(x).reshape(batch, frames, self.num_heads, -1).movedim(-3, -2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        out = nn.functional.scaled_dot_product_attention(q, k.type_as(q), v.type_as(q), attn_mask=bias.type_as(q))
        return self.out_proj(out.movedim(1, 2).contiguous().reshape(batch, frames, -1))


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


class TransformerLayer(nn.Module):
    """Pre-norm attention and feed-forward, each with a residual.

    Args:
        dim (int): width.
        ffn_dim (int): feed-forward width.
        num_heads (int): heads.
    """

    def __init__(self, dim: int, ffn_dim: int, num_heads: int):
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, num_heads)
        self.feed_forward_norm = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, ffn_dim)

    def forward(self, x: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        out = x + self.attention(self.attention_norm(x), position_bias)
        return out + self.feed_forward(self.feed_forward_norm(out))


class TransformerEncoder(nn.Module):
    """Convolutional positional embedding, then the transformer layers under one relative position bias.

    The final `norm` is in the checkpoint but FocalCodec reads the last layer's output without it (upstream's
    `output_norm=False`).

    Args:
        config (WavLMConf): widths, layers, buckets.
    """

    def __init__(self, config: WavLMConf):
        super().__init__()
        self.num_buckets = config.num_buckets // 2  # one half for each direction
        self.max_exact = self.num_buckets // 2
        self.max_distance = config.max_distance
        self.positional_embedding = PositionalConvEmbedding(config.dim, config.conv_pos, config.conv_pos_groups)
        self.relative_embedding = nn.Embedding(config.num_buckets, config.num_heads)
        self.layers = nn.ModuleList(TransformerLayer(config.dim, config.ffn_dim, config.num_heads)
                                    for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[1]
        out = x + self.positional_embedding(x)
        position_bias = self.compute_bias(frames).type_as(out)
        for layer in self.layers:
            out = layer(out, position_bias)
        return out

    def compute_bias(self, frames: int) -> torch.Tensor:
        """`[H, T, T]`: the relative embedding of each (query, key) offset's bucket."""
        position = torch.arange(frames, dtype=torch.long)
        relative = position[None, :] - position[:, None]
        buckets = self.bucket(relative).to(self.relative_embedding.weight.device)
        return self.relative_embedding(buckets).movedim(-1, 0)

    def bucket(self, relative: torch.Tensor) -> torch.Tensor:
        """T5's buckets: exact below `max_exact`, logarithmic up to `max_distance`, one side per sign."""
        buckets = (relative > 0).to(torch.long) * self.num_buckets
        distance = relative.abs()
        large = (distance.float() / self.max_exact).log()
        large /= math.log(self.max_distance / self.max_exact)
        large *= self.num_buckets - self.max_exact
        large += self.max_exact
        large = large.to(torch.long).clamp(max=self.num_buckets - 1)
        return buckets + torch.where(distance < self.max_exact, distance, large)


class WavLM(nn.Module):
    """Waveform `[B, T]` at 16 kHz -> features `[B, F, dim]`, one per 320 samples (no input normalisation, as
    FocalCodec's `sig_to_feats`).

    Args:
        config (WavLMConf): the architecture.
    """

    def __init__(self, config: WavLMConf):
        super().__init__()
        self.feature_extractor = FeatureExtractor(config)
        self.norm = nn.LayerNorm(config.hidden_dims[-1])
        self.feature_proj = nn.Linear(config.hidden_dims[-1], config.dim)
        self.encoder = TransformerEncoder(config)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        out = self.feature_proj(self.norm(self.feature_extractor(wave[..., None])))
        return self.encoder(out)
