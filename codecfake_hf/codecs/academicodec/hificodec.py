"""The HiFi-Codec network of AcademiCodec: HiFi-GAN-style encoder, group-residual VQ, HiFi-GAN generator.

Inference only, written from yangdongchao/AcademiCodec@b6ac134 (`academicodec/models/hificodec/models.py`,
`vqvae.py`). Parameter names follow the official checkpoints (`<part>.<key>` for the parts `generator`,
`encoder`, `quantizer`), so they load strictly. Every network takes the valid length of each item of a
padded batch and zeroes what lies beyond it after every convolution and normalisation, and the encoder's
GroupNorm takes its statistics over the valid steps only: an item of a padded batch then sees exactly
what it would see alone (the upstream code runs one utterance at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.seanet import time_mask
from .config import HiFiCodecConfig

LRELU_SLOPE = 0.1


# --- masks of padded batches -------------------------------------------------------------------------

def _mask(lengths: torch.Tensor, width: int) -> torch.Tensor | None:
    """`[B, 1, width]` float mask of the valid steps, or None when every item fills the width."""
    return None if bool((lengths >= width).all()) else time_mask(lengths, width)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask


def _group_norm(norm: nn.GroupNorm, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """`norm(x)` with statistics over each item's valid steps only (upstream sees each utterance alone)."""
    if mask is None:
        return norm(x)
    batch, channels, width = x.shape
    groups = x.view(batch, norm.num_groups, -1, width)
    valid = mask.unsqueeze(1)  # [B, 1, 1, T]
    count = valid.sum(-1, keepdim=True) * groups.shape[2]
    mean = (groups * valid).sum((2, 3), keepdim=True) / count
    var = ((groups - mean) ** 2 * valid).sum((2, 3), keepdim=True) / count
    y = ((groups - mean) * torch.rsqrt(var + norm.eps)).view(batch, channels, width)
    return (y * norm.weight[:, None] + norm.bias[:, None]) * mask


# --- layers ------------------------------------------------------------------------------------------

# Not seanet.weight_norm, which computes `g * v / |v|`: this keeps `v * (g / |v|)`, the formula of torch's
# `_weight_norm`. The two round an ulp apart in most weights, so switching would move every output.
def _weight_norm_params(conv: nn.Module) -> None:
    """Replace `conv.weight` by `weight_g` `[C, 1, 1]` and `weight_v`, as `torch.nn.utils.weight_norm`
    (dim 0) names them in the official checkpoints; the weight is recomputed at each call, as upstream."""
    weight = conv.weight.detach()
    del conv.weight
    conv.weight_g = nn.Parameter(weight.norm(dim=(1, 2), keepdim=True))
    conv.weight_v = nn.Parameter(weight.clone())


def _weight(conv: nn.Module) -> torch.Tensor:
    return conv.weight_v * (conv.weight_g / conv.weight_v.norm(dim=(1, 2), keepdim=True))


class WNConv1d(nn.Conv1d):
    """`nn.Conv1d` with weight normalisation (`weight_g`, `weight_v`); arguments as `nn.Conv1d`."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _weight_norm_params(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, _weight(self), self.bias)


class WNConvTranspose1d(nn.ConvTranspose1d):
    """`nn.ConvTranspose1d` with weight normalisation (`weight_g`, `weight_v`); arguments as its base."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _weight_norm_params(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(x, _weight(self), self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class ResBlock1(nn.Module):
    """HiFi-GAN's ResBlock1: `x += conv2(lrelu(conv1_dilated(lrelu(x))))` for each dilation.

    Args:
        channels (int): input and output channels.
        kernel_size (int): kernel of every convolution.
        dilations (Sequence[int]): dilation of the first convolution of each step.
    """

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]):
        super().__init__()

        def conv(dilation: int) -> WNConv1d:
            return WNConv1d(channels, channels, kernel_size, dilation=dilation,
                            padding=(kernel_size - 1) * dilation // 2)

        self.convs1 = nn.ModuleList(conv(d) for d in dilations)
        self.convs2 = nn.ModuleList(conv(1) for _ in dilations)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """`x [B, C, T]`, zero beyond the mask -> `[B, C, T]`, zero beyond the mask."""
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            step = _masked(conv1(F.leaky_relu(x, LRELU_SLOPE)), mask)
            x = _masked(conv2(F.leaky_relu(step, LRELU_SLOPE)), mask) + x
        return x


def _resblocks(cfg: HiFiCodecConfig, channels: int, reverse: bool) -> list[ResBlock1]:
    pairs = list(zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True))
    return [ResBlock1(channels, k, d) for k, d in (reversed(pairs) if reverse else pairs)]


def _fuse(
    blocks: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor | None, norms: nn.ModuleList | None = None
) -> torch.Tensor:
    """HiFi-GAN's multi-receptive-field fusion: the mean of parallel ResBlock1s over `x [B, C, T]`.

    With `norms` (the encoder), the running sum is group-normalised after each block is added, as upstream.
    """
    total = None
    for j, block in enumerate(blocks):
        out = block(x, mask)
        total = out if total is None else total + out
        if norms is not None:
            total = _group_norm(norms[j], total, mask)
    return total / len(blocks)


class Encoder(nn.Module):
    """Waveform -> latent: HiFi-GAN's generator mirrored, strided convs, ResBlock1s and GroupNorm.

    Args:
        cfg (HiFiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: HiFiCodecConfig):
        super().__init__()
        base, self.num_kernels = cfg.encoder_base_channels, len(cfg.resblock_kernel_sizes)
        self.conv_pre = WNConv1d(1, base, 7, padding=3)
        stages = list(reversed(list(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True))))
        self.ups = nn.ModuleList(
            WNConv1d(base * 2**i, base * 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(stages)
        )
        self.resblocks, self.normalize = nn.ModuleList(), nn.ModuleList()
        for i in range(len(stages)):
            channels = base * 2 ** (i + 1)
            self.resblocks.extend(_resblocks(cfg, channels, reverse=True))
            self.normalize.extend(
                nn.GroupNorm(channels // cfg.groupnorm_channels_per_group, channels, eps=1e-6)
                for _ in range(self.num_kernels)
            )
        self.conv_post = nn.Conv1d(channels, cfg.latent_dim, 3, padding=1)  # no weight norm upstream

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`x [B, 1, T]` at the codec's rate, valid up to `lengths [B]` -> `(latent [B, D, T // hop], frames [B])`."""
        mask = _mask(lengths, x.shape[-1])
        x = _masked(self.conv_pre(_masked(x, mask)), mask)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            (kernel,), (stride,), (padding,) = up.kernel_size, up.stride, up.padding
            lengths = (lengths + 2 * padding - kernel) // stride + 1
            mask = _mask(lengths, x.shape[-1])
            stage = slice(i * self.num_kernels, (i + 1) * self.num_kernels)
            x = _fuse(self.resblocks[stage], _masked(x, mask), mask, self.normalize[stage])
        x = self.conv_post(F.leaky_relu(x))  # upstream uses the default slope, 0.01, here
        return _masked(x, mask), lengths


class Codebook(nn.Module):
    """One VQ codebook, `embedding.weight [n_codes, dim]`; nearest entry by L2 distance."""

    def __init__(self, n_codes: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_codes, dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`x [N, dim]` -> indices `[N]`. The distance is computed as upstream computes it (the `|x|^2`
        term included), so that near-ties round, and resolve, the same way."""
        table = self.embedding.weight
        distance = x.pow(2).sum(1, keepdim=True) + table.pow(2).sum(1) - 2 * x @ table.T
        return distance.argmin(1)


class GroupResidualQuantizer(nn.Module):
    """Two residual VQ layers, each splitting the latent into `n_code_groups` slices with a codebook each.

    Args:
        cfg (HiFiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: HiFiCodecConfig):
        super().__init__()
        dim = cfg.latent_dim // cfg.n_code_groups
        self.quantizer_modules = nn.ModuleList(Codebook(cfg.n_codes, dim) for _ in range(cfg.n_code_groups))
        self.quantizer_modules2 = nn.ModuleList(Codebook(cfg.n_codes, dim) for _ in range(cfg.n_code_groups))

    @property
    def layers(self) -> tuple[nn.ModuleList, nn.ModuleList]:
        return self.quantizer_modules, self.quantizer_modules2

    def encode(self, latent: torch.Tensor) -> torch.Tensor:
        """`latent [B, D, T]` -> codes `[B, T, 2 * groups]`, ordered layer by layer, group by group."""
        batch, dim, frames = latent.shape
        residual = latent.transpose(1, 2).reshape(-1, dim)
        codes = []
        for layer in self.layers:
            slices = residual.split(dim // len(layer), dim=-1)
            indices = [book.encode(part) for book, part in zip(layer, slices, strict=True)]
            residual = residual - torch.cat([b.embedding(i) for b, i in zip(layer, indices, strict=True)], -1)
            codes.extend(indices)
        return torch.stack(codes, -1).view(batch, frames, -1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[B, T, 2 * groups]` -> latent `[B, D, T]`: the sum over layers of the concatenated entries."""
        columns = iter(codes.unbind(-1))
        latent = sum(torch.cat([book.embedding(next(columns)) for book in layer], -1) for layer in self.layers)
        return latent.transpose(1, 2)


class Generator(nn.Module):
    """Latent -> waveform: HiFi-GAN V1 with the latent in place of the mel spectrogram, tanh output.

    Args:
        cfg (HiFiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: HiFiCodecConfig):
        super().__init__()
        first, self.num_kernels = cfg.upsample_initial_channel, len(cfg.resblock_kernel_sizes)
        self.conv_pre = WNConv1d(cfg.latent_dim, first, 7, padding=3)
        stages = list(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True))
        self.ups = nn.ModuleList(
            WNConvTranspose1d(first // 2**i, first // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(stages)
        )
        self.resblocks = nn.ModuleList()
        for i in range(len(stages)):
            self.resblocks.extend(_resblocks(cfg, first // 2 ** (i + 1), reverse=False))
        self.conv_post = WNConv1d(first // 2 ** len(stages), 1, 7, padding=3)

    def forward(self, latent: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """`latent [B, D, T]`, valid up to `frames [B]` -> waveform `[B, 1, T * hop]` in (-1, 1)."""
        mask = _mask(frames, latent.shape[-1])
        x = _masked(self.conv_pre(_masked(latent, mask)), mask)
        lengths = frames
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            (kernel,), (stride,), (padding,) = up.kernel_size, up.stride, up.padding
            lengths = (lengths - 1) * stride - 2 * padding + kernel
            mask = _mask(lengths, x.shape[-1])
            stage = slice(i * self.num_kernels, (i + 1) * self.num_kernels)
            x = _fuse(self.resblocks[stage], _masked(x, mask), mask)
        return torch.tanh(self.conv_post(F.leaky_relu(x, LRELU_SLOPE)))


class HiFiCodec(nn.Module):
    """The three parts of a HiFi-Codec checkpoint; `state_dict()` keys are `<part>.<upstream key>`.

    Args:
        cfg (HiFiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: HiFiCodecConfig):
        super().__init__()
        self.cfg = cfg
        self.generator = Generator(cfg)
        self.encoder = Encoder(cfg)
        self.quantizer = GroupResidualQuantizer(cfg)

    def encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`waves [B, T]` (already peak-normalised), valid up to `lengths [B]` -> `(codes [B, T', 4], frames [B])`."""
        latent, frames = self.encoder(waves.unsqueeze(1), lengths)
        return self.quantizer.encode(latent), frames

    def decode(self, codes: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """`codes [B, T', 4]`, valid up to `frames [B]` -> waveform `[B, T' * hop]`."""
        return self.generator(self.quantizer.decode(codes), frames).squeeze(1)
