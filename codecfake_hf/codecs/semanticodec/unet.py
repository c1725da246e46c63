"""The latent diffusion UNet SemantiCodec's decoder runs (`openaimodel.UNetModel` with spatial transformers).

Mirrors `semanticodec/modules/decoder/latent_diffusion/modules/diffusionmodules/openaimodel.py` and `attention.py`
for the configuration every release uses (2-D, `use_spatial_transformer`, `num_head_channels` set, `extra_sa_layer`,
`legacy`, no class or FiLM conditioning, no scale-shift norm, convolutional resampling), module for module, so the
checkpoint's `model.diffusion_model.*` keys load strictly. Each attention level holds a self-attention transformer
(no context) and a cross-attention one over the codec's features with their mask.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import UNetParams


class GroupNorm32(nn.GroupNorm):
    """`normalization(channels)`: 32 groups, computed in float32."""

    def __init__(self, channels: int):
        super().__init__(32, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type(x.dtype)


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32) / half).to(
        device=timesteps.device)
    args = timesteps[:, None].float() * freqs[None]
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
    return embedding


class ResBlock(nn.Module):
    """openaimodel's `ResBlock` (timestep embedding added between the two convolutions)."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        self.in_layers = nn.Sequential(GroupNorm32(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3,
                                                                                    padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(GroupNorm32(out_channels), nn.SiLU(), nn.Dropout(p=0.0),
                                        nn.Conv2d(out_channels, out_channels, 3, padding=1))
        self.skip_connection = (nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).type(h.dtype)[..., None, None]
        return self.skip_connection(x) + self.out_layers(h)


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttention(nn.Module):
    """attention.py's `CrossAttention`: self-attention without a context; a context's mask keeps the keys where it is
    1 (the codec's mask is all ones)."""

    def __init__(self, query_dim: int, context_dim: int | None, heads: int, dim_head: int):
        super().__init__()
        inner = dim_head * heads
        context_dim = context_dim if context_dim is not None else query_dim
        self.scale = dim_head**-0.5
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = t.shape
        return t.reshape(batch, tokens, self.heads, width // self.heads).permute(0, 2, 1, 3).reshape(
            batch * self.heads, tokens, width // self.heads)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        q, k, v = self._heads(self.to_q(x)), self._heads(self.to_k(context)), self._heads(self.to_v(context))
        sim = torch.einsum("b i d, b j d -> b i j", q, k) * self.scale
        if mask is not None:
            mask = mask.reshape(mask.shape[0], -1).repeat_interleave(self.heads, dim=0)[:, None, :]
            sim.masked_fill_(~(mask == 1), -torch.finfo(sim.dtype).max)
        out = torch.einsum("b i j, b j d -> b i d", sim.softmax(dim=-1), v)
        batch = out.shape[0] // self.heads
        out = out.reshape(batch, self.heads, out.shape[1], out.shape[2]).permute(0, 2, 1, 3).reshape(
            batch, out.shape[1], -1)
        return self.to_out(out)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None):
        super().__init__()
        self.attn1 = CrossAttention(dim, None, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context=context, mask=mask) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    def __init__(self, channels: int, heads: int, dim_head: int, depth: int, context_dim: int | None):
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(32, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(BasicTransformerBlock(inner, heads, dim_head, context_dim)
                                                for _ in range(depth))
        self.proj_out = nn.Conv2d(inner, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, channels, height, width = x.shape
        h = self.proj_in(self.norm(x))
        h = h.reshape(batch, h.shape[1], height * width).transpose(1, 2)
        for block in self.transformer_blocks:
            h = block(h, context=context, mask=mask)
        h = h.transpose(1, 2).reshape(batch, -1, height, width)
        return self.proj_out(h) + x


class TimestepEmbedSequential(nn.Sequential):
    """Runs its layers; the first spatial transformer of a level gets no context, the next one the codec's."""

    def forward(self, x, emb, context: torch.Tensor, mask: torch.Tensor):  # type: ignore[override]
        contexts = [(None, None), (context, mask)]
        transformers = 0
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                ctx, msk = contexts[transformers] if transformers < len(contexts) else (None, None)
                x = layer(x, ctx, mask=msk)
                transformers += 1
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    """`UNetModel(**unet_config.params)` for the released configuration.

    Args:
        conf (UNetParams): the config's `unet_config.params`.
    """

    def __init__(self, conf: UNetParams):
        super().__init__()
        channels, heads_channels = conf.model_channels, conf.num_head_channels
        depth, context_dim = conf.transformer_depth, conf.context_dim[0]
        emb = channels * 4
        self.model_channels = channels
        self.time_embed = nn.Sequential(nn.Linear(channels, emb), nn.SiLU(), nn.Linear(emb, emb))

        def attention_layers(ch: int) -> list[nn.Module]:
            # legacy: dim_head = ch // num_heads = num_head_channels
            heads = ch // heads_channels
            layers: list[nn.Module] = []
            if conf.extra_sa_layer:
                layers.append(SpatialTransformer(ch, heads, ch // heads, depth, None))
            layers.append(SpatialTransformer(ch, heads, ch // heads, depth, context_dim))
            return layers

        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(nn.Conv2d(conf.in_channels, channels, 3,
                                                                             padding=1))])
        chans, ch, ds = [channels], channels, 1
        for level, mult in enumerate(conf.channel_mult):
            for _ in range(conf.num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, emb, mult * channels)]
                ch = mult * channels
                if ds in conf.attention_resolutions:
                    layers += attention_layers(ch)
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                chans.append(ch)
            if level != len(conf.channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                chans.append(ch)
                ds *= 2
        self.middle_block = TimestepEmbedSequential(ResBlock(ch, emb), *attention_layers(ch), ResBlock(ch, emb))
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(conf.channel_mult))[::-1]:
            for i in range(conf.num_res_blocks + 1):
                layers = [ResBlock(ch + chans.pop(), emb, channels * mult)]
                ch = channels * mult
                if ds in conf.attention_resolutions:
                    layers += attention_layers(ch)
                if level and i == conf.num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))
        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(channels, conf.out_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels))
        hs = []
        h = x
        for module in self.input_blocks:
            h = module(h, emb, context, mask)
            hs.append(h)
        h = self.middle_block(h, emb, context, mask)
        for module in self.output_blocks:
            h = module(torch.cat([h, hs.pop()], dim=1), emb, context, mask)
        return self.out(h)
