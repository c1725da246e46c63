"""BiCodec's global tokenizer, as Spark-TTS writes it (sparktts/modules/speaker/: `ecapa_tdnn.py`, `pooling_layers.py`,
`perceiver_encoder.py`, `speaker_encoder.py`; sparktts/modules/fsq/: `finite_scalar_quantization.py`,
`residual_fsq.py`): an ECAPA-TDNN over the reference segment's mel spectrogram, a perceiver resampler to
`token_num` latents, a residual FSQ of them (the global tokens), and the projection of the quantised latents to the
d-vector the decoder is conditioned on. Module names follow upstream's, so the checkpoint's keys load strictly.

The ECAPA-TDNN's x-vector head (attentive statistics pooling, batch norm, linear) is computed upstream but unused by
`tokenize`; it is not built here, and its keys are dropped from the checkpoint explicitly (`codec.UNUSED`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SpeakerEncoderArgs


class Conv1dReluBn(nn.Module):
    """Conv1d, ReLU, BatchNorm1d (upstream's order).

    Args:
        in_channels, out_channels, kernel_size, padding, dilation (int): of the convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, padding: int = 0,
                 dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, 1, padding, dilation)
        self.bn = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


class Res2Conv1dReluBn(nn.Module):
    """Res2Net convolution: the channels in `scale` splits, each but the last convolved after adding the previous
    split's output.

    Args:
        channels (int): width (a multiple of `scale`).
        kernel_size, padding, dilation (int): of each split's convolution.
        scale (int): splits.
    """

    def __init__(self, channels: int, kernel_size: int, padding: int, dilation: int, scale: int):
        super().__init__()
        self.scale, self.width = scale, channels // scale
        self.nums = scale if scale == 1 else scale - 1
        self.convs = nn.ModuleList(nn.Conv1d(self.width, self.width, kernel_size, 1, padding, dilation)
                                   for _ in range(self.nums))
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(self.nums))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        splits = torch.split(x, self.width, 1)
        sp = splits[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            if i >= 1:
                sp = sp + splits[i]
            sp = bn(F.relu(conv(sp)))
            out.append(sp)
        if self.scale != 1:
            out.append(splits[self.nums])
        return torch.cat(out, dim=1)


class SEConnect(nn.Module):
    """Squeeze-excitation over time (upstream's `SE_Connect`).

    Args:
        channels (int): width.
        se_bottleneck_dim (int): the squeeze's width (128).
    """

    def __init__(self, channels: int, se_bottleneck_dim: int = 128):
        super().__init__()
        self.linear1 = nn.Linear(channels, se_bottleneck_dim)
        self.linear2 = nn.Linear(se_bottleneck_dim, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))
        return x * out.unsqueeze(2)


class SERes2Block(nn.Module):
    """1×1 conv, Res2Net conv, 1×1 conv, squeeze-excitation, plus the input (upstream's `SE_Res2Block`).

    Args:
        channels (int): width.
        kernel_size, padding, dilation (int): of the Res2Net convolutions.
        scale (int): Res2Net splits.
    """

    def __init__(self, channels: int, kernel_size: int, padding: int, dilation: int, scale: int):
        super().__init__()
        self.se_res2block = nn.Sequential(
            Conv1dReluBn(channels, channels), Res2Conv1dReluBn(channels, kernel_size, padding, dilation, scale),
            Conv1dReluBn(channels, channels), SEConnect(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.se_res2block(x)


class EcapaTdnn(nn.Module):
    """`ECAPA_TDNN_GLOB_c512` up to its frame-level features (`forward(mels, return_latent=True)[1]`).

    Args:
        feat_dim (int): mel bins.
        channels (int): width (512).
        out_channels (int): the last convolution's width (`512 * 3`, hard-coded upstream).
    """

    def __init__(self, feat_dim: int, channels: int, out_channels: int):
        super().__init__()
        self.layer1 = Conv1dReluBn(feat_dim, channels, kernel_size=5, padding=2)
        self.layer2 = SERes2Block(channels, kernel_size=3, padding=2, dilation=2, scale=8)
        self.layer3 = SERes2Block(channels, kernel_size=3, padding=3, dilation=3, scale=8)
        self.layer4 = SERes2Block(channels, kernel_size=3, padding=4, dilation=4, scale=8)
        self.conv = nn.Conv1d(channels * 3, out_channels, kernel_size=1)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Mels `[B, frames, feat_dim]` -> features `[B, out_channels, frames]`."""
        out1 = self.layer1(mels.permute(0, 2, 1))
        out2 = self.layer2(out1)
        out3 = self.layer3(out2)
        out4 = self.layer4(out3)
        return F.relu(self.conv(torch.cat([out2, out3, out4], dim=1)))


class RMSNorm(nn.Module):
    """`F.normalize(x) · sqrt(dim) · gamma` (the perceiver's, unconditional).

    Args:
        dim (int): width.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class GEGLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: int = 4) -> nn.Sequential:
    """Linear to 2 × int(dim · mult · 2 / 3), GEGLU, linear back (upstream's `FeedForward` without its causal conv)."""
    inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, inner * 2), GEGLU(), nn.Linear(inner, dim))


class Attention(nn.Module):
    """Multi-head attention of the latents over themselves and the context (`cross_attn_include_queries`), by
    upstream's einsum path (no flash attention, no mask).

    Args:
        dim (int): width.
        heads, dim_head (int): heads and their width.
    """

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        context = torch.cat((x, context), dim=-2)
        q, k, v = (self.to_q(x), *self.to_kv(context).chunk(2, dim=-1))
        q, k, v = (t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2) for t in (q, k, v))
        sim = torch.einsum("b h i d, b h j d -> b h i j", q, k) * (q.shape[-1] ** -0.5)
        out = torch.einsum("b h i j, b h j d -> b h i d", sim.softmax(dim=-1), v)
        return self.to_out(out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1))


class PerceiverResampler(nn.Module):
    """`num_latents` learnt latents attending, layer by layer, to themselves and the projected context.

    Args:
        dim (int): the latents' width.
        dim_context (int): the context's width (projected to `dim` where it differs).
        num_latents (int): latents (global tokens).
        heads, dim_head (int): attention heads.
        depth (int): attention + feed-forward layers (2).
        ff_mult (int): the feed-forward's expansion (4).
    """

    def __init__(self, dim: int, dim_context: int, num_latents: int, heads: int, dim_head: int, depth: int = 2,
                 ff_mult: int = 4):
        super().__init__()
        self.proj_context = nn.Linear(dim_context, dim) if dim_context != dim else nn.Identity()
        self.latents = nn.Parameter(torch.zeros(num_latents, dim))
        self.layers = nn.ModuleList(nn.ModuleList([Attention(dim, heads, dim_head), feed_forward(dim, ff_mult)])
                                    for _ in range(depth))
        self.norm = RMSNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Context `[B, T, dim_context]` -> latents `[B, num_latents, dim]`."""
        x = self.proj_context(x)
        latents = self.latents.expand(x.shape[0], -1, -1)
        for attn, ff in self.layers:
            latents = attn(latents, x) + latents
            latents = ff(latents) + latents
        return self.norm(latents)


class FSQ(nn.Module):
    """Finite scalar quantisation of `len(levels)` dimensions (no projections: the residual FSQ's stages).

    Args:
        levels (tuple[int, ...]): levels per dimension.
    """

    def __init__(self, levels: tuple[int, ...]):
        super().__init__()
        self.register_buffer("_levels", torch.tensor(levels, dtype=torch.int32), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]]), dim=0, dtype=torch.int32)
        self.register_buffer("_basis", basis, persistent=False)
        self.codebook_size = math.prod(levels)

    def bound(self, z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        half_l = (self._levels - 1) * (1 + eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = (offset / half_l).atanh()
        return (z + shift).tanh() * half_l - offset

    def quantize_indices(self, z: torch.Tensor) -> torch.Tensor:
        """`[B, N, D]` -> indices `[B, N]` (the nearest level of each bounded dimension, mixed radix)."""
        half_width = self._levels // 2
        zhat = self.bound(z).round() / half_width
        return ((zhat * half_width + half_width) * self._basis).sum(dim=-1).to(torch.int32)

    def codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices `[...]` -> codes `[..., D]` in [-1, 1] (upstream's implicit codebook)."""
        half_width = self._levels // 2
        levels = (indices.unsqueeze(-1) // self._basis) % self._levels
        return (levels - half_width) / half_width


class ResidualFSQ(nn.Module):
    """Residual FSQ in a projected space, channel-first (upstream's `ResidualFSQ(is_channel_first=True)` in eval).

    Args:
        levels (tuple[int, ...]): levels per dimension.
        num_quantizers (int): stages; stage i quantises the residual scaled by (levels - 1)^i.
        dim (int): the input's width (projected to `len(levels)`).
    """

    def __init__(self, levels: tuple[int, ...], num_quantizers: int, dim: int):
        super().__init__()
        self.project_in = nn.Linear(dim, len(levels)) if dim != len(levels) else nn.Identity()
        self.project_out = nn.Linear(len(levels), dim) if dim != len(levels) else nn.Identity()
        self.layers = nn.ModuleList(FSQ(levels) for _ in range(num_quantizers))
        scales = torch.stack([(torch.Tensor(levels) - 1) ** -i for i in range(num_quantizers)])
        self.register_buffer("scales", scales, persistent=False)

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, dim, N]` -> indices `[B, num_quantizers, N]`."""
        residual = self.project_in(x.transpose(1, 2))
        found = []
        for layer, scale in zip(self.layers, self.scales, strict=True):
            index = layer.quantize_indices(residual / scale)
            residual = residual - layer.codes(index).to(residual.dtype) * scale
            found.append(index)
        return torch.stack(found, dim=1)

    def output(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices `[B, num_quantizers, N]` -> the projected sum of the stages' codes `[B, N, dim]`
        (`get_output_from_indices`)."""
        codes = torch.stack([layer.codes(indices[:, i]) for i, layer in enumerate(self.layers)])
        return self.project_out((codes * self.scales[:, None, None, :]).sum(0))


class SpeakerEncoder(nn.Module):
    """Mels -> global tokens, and global tokens -> the d-vector (upstream's `SpeakerEncoder.tokenize`/`detokenize`).

    Args:
        args (SpeakerEncoderArgs): the config section, hard-coded sizes included.
    """

    def __init__(self, args: SpeakerEncoderArgs):
        super().__init__()
        self.speaker_encoder = EcapaTdnn(args.input_dim, args.ecapa_channels, args.ecapa_out_channels)
        self.perceiver_sampler = PerceiverResampler(args.latent_dim, args.ecapa_out_channels, args.token_num,
                                                    args.perceiver_heads, args.perceiver_dim_head)
        self.quantizer = ResidualFSQ(args.fsq_levels, args.fsq_num_quantizers, args.latent_dim)
        self.project = nn.Linear(args.latent_dim * args.token_num, args.out_dim)

    def tokenize(self, mels: torch.Tensor) -> torch.Tensor:
        """Mels `[B, frames, mel bins]` -> global tokens `[B, num_quantizers, token_num]`."""
        features = self.speaker_encoder(mels)
        return self.quantizer.indices(self.perceiver_sampler(features.transpose(1, 2)).transpose(1, 2))

    def detokenize(self, tokens: torch.Tensor) -> torch.Tensor:
        """Global tokens `[B, num_quantizers, token_num]` -> d-vector `[B, out_dim]` (the quantised latents flattened
        channel-first, as upstream's `zq.reshape(B, -1)`)."""
        zq = self.quantizer.output(tokens).transpose(1, 2)
        return self.project(zq.reshape(zq.shape[0], -1))
