"""The TiCodec network: HiFi-Codec's encoder and generator plus a time-invariant branch and its codebooks.

Inference only, written from y-ren16/TiCodec@13af0eb (`academicodec/models/ticodec/models.py`, `vqvae.py`).
TiCodec is AcademiCodec's HiFi-Codec with two additions: the encoder's stage `n // 2 - 1` feeds a
`GlobalTokenEncoder` (three convolutions, a mean over time, a linear layer and BatchNorm) whose 128-dim output is
quantised by `global_code_num` codebooks once per utterance (the time-invariant codes), and the generator adds
the dequantised global feature to every frame of the stage whose width equals it. Parameter names follow the
official checkpoints (`<part>.<key>` for the parts `generator`, `encoder`, `quantizer`), so they load strictly.

Every network takes the valid length of each item of a padded batch and zeroes what lies beyond it after every
convolution and normalisation; the encoder's GroupNorm and the global branch's mean take their statistics over
the valid steps only: an item of a padded batch then sees exactly what it would see alone (upstream runs one
utterance at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import TiCodecConfig

LRELU_SLOPE = 0.1


# --- masks of padded batches -------------------------------------------------------------------------

def _mask(lengths: torch.Tensor, width: int) -> torch.Tensor | None:
    """`[B, 1, width]` float mask of the valid steps, or None when every item fills the width."""
    if bool((lengths >= width).all()):
        return None
    return (torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]).float()[:, None, :]


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


def _conv_lengths(conv: nn.Module, lengths: torch.Tensor) -> torch.Tensor:
    """Output lengths of a (strided) convolution for inputs of `lengths` steps."""
    (kernel,), (stride,), (padding,), (dilation,) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    return (lengths + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# --- layers ------------------------------------------------------------------------------------------

def _weight_norm_params(conv: nn.Module) -> None:
    """Replace `conv.weight` by `weight_g` `[C, 1, 1]` and `weight_v`, as `torch.nn.utils.weight_norm` (dim 0)
    names them in the official checkpoints."""
    weight = conv.weight.detach()
    del conv.weight
    conv.weight_g = nn.Parameter(weight.norm(dim=(1, 2), keepdim=True))
    conv.weight_v = nn.Parameter(weight.clone())


def _weight(conv: nn.Module) -> torch.Tensor:
    # `v * (g / |v|)`: torch's `_weight_norm`, which upstream's `remove_weight_norm` evaluates once before
    # inference (vqvae_copy_syn.py); `g * v / |v|` rounds an ulp apart in most weights.
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


def _resblocks(cfg: TiCodecConfig, channels: int, reverse: bool) -> list[ResBlock1]:
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


class GlobalTokenEncoder(nn.Module):
    """The time-invariant branch: three bias-free convolutions, the mean over time, linear + BatchNorm.

    Args:
        channels_in (int): channels of the encoder stage it reads.
        hidden (int): channels of its middle convolution.
        channels_out (int): width of the global feature.
        kernel_size (int): kernel of the three convolutions.
        stride (int): their stride; padding `(kernel_size - stride) // 2`, as upstream.
    """

    def __init__(self, channels_in: int, hidden: int, channels_out: int, kernel_size: int, stride: int):
        super().__init__()
        pad = (kernel_size - stride) // 2
        self.conv = nn.Sequential(
            nn.Conv1d(channels_in, hidden, kernel_size, stride, pad, bias=False), nn.LeakyReLU(LRELU_SLOPE),
            nn.Conv1d(hidden, hidden, kernel_size, stride, pad, bias=False), nn.LeakyReLU(LRELU_SLOPE),
            nn.Conv1d(hidden, channels_out, kernel_size, stride, pad, bias=False), nn.LeakyReLU(LRELU_SLOPE),
        )
        # Upstream's `fn`: Linear, LeakyReLU, BatchNorm1d (in eval mode: its running statistics).
        self.fn = nn.Sequential(nn.Linear(channels_out, channels_out), nn.LeakyReLU(LRELU_SLOPE),
                                nn.BatchNorm1d(channels_out))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`x [B, C, T]`, valid up to `lengths [B]` -> global feature `[B, channels_out]`."""
        mask = _mask(lengths, x.shape[-1])
        for layer in self.conv:
            x = layer(x)
            if isinstance(layer, nn.Conv1d):
                lengths = _conv_lengths(layer, lengths)
                mask = _mask(lengths, x.shape[-1])
            x = _masked(x, mask)
        if mask is None:
            x = torch.mean(x, dim=2)
        else:  # the mean over each item's own frames, as upstream's mean over the whole utterance
            x = x.sum(2) / lengths.to(x.dtype)[:, None]
        return self.fn(x)


class Encoder(nn.Module):
    """Waveform -> frame-level latent and global feature: HiFi-Codec's mirrored generator plus the global branch.

    Args:
        cfg (TiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: TiCodecConfig):
        super().__init__()
        base, self.num_kernels = cfg.encoder_base_channels, len(cfg.resblock_kernel_sizes)
        self.conv_pre = WNConv1d(1, base, 7, padding=3)
        self.normalize = nn.ModuleList()
        stages = list(reversed(list(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True))))
        self.ups = nn.ModuleList(
            WNConv1d(base * 2**i, base * 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(stages)
        )
        self.resblocks = nn.ModuleList()
        for i in range(len(stages)):
            channels = base * 2 ** (i + 1)
            self.resblocks.extend(_resblocks(cfg, channels, reverse=True))
            self.normalize.extend(
                nn.GroupNorm(channels // cfg.groupnorm_channels_per_group, channels, eps=1e-6)
                for _ in range(self.num_kernels)
            )
        self.conv_post = nn.Conv1d(cfg.latent_dim, cfg.latent_dim, 3, padding=1)  # no weight norm upstream
        # Upstream builds `linear` but its forward never calls it; kept so that the checkpoints load strictly.
        self.linear = nn.Sequential(nn.Linear(cfg.global_dim, cfg.global_dim), nn.LeakyReLU(LRELU_SLOPE))
        self.GlobalTokenEncoder = GlobalTokenEncoder(*cfg.global_feature_conv)
        self.middle = len(stages) // 2 - 1

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`x [B, 1, T]`, valid up to `lengths [B]` -> `(latent [B, D, T // hop], global feature [B, G],
        frames [B])`."""
        mask = _mask(lengths, x.shape[-1])
        x = _masked(self.conv_pre(_masked(x, mask)), mask)
        global_feature = None
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            lengths = _conv_lengths(up, lengths)
            mask = _mask(lengths, x.shape[-1])
            stage = slice(i * self.num_kernels, (i + 1) * self.num_kernels)
            x = _fuse(self.resblocks[stage], _masked(x, mask), mask, self.normalize[stage])
            if i == self.middle:
                global_feature = self.GlobalTokenEncoder(x, lengths)
        x = self.conv_post(F.leaky_relu(x))  # upstream uses the default slope, 0.01, here
        return _masked(x, mask), global_feature, lengths


class Codebook(nn.Module):
    """One frame-level VQ codebook, `embedding.weight [n_codes, dim]`; nearest entry by L2 distance."""

    def __init__(self, n_codes: int, dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_codes, dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`x [N, dim]` -> indices `[N]`."""
        return _nearest(self.embedding.weight, x)


class GlobalCodebook(Codebook):
    """One time-invariant codebook: the same search, once per utterance on one slice of the global feature.

    A method of its own, so that whatever wraps `Codebook.encode` (the tests' near-tie recorder) sees the
    frame-level rows only.
    """

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`x [B, dim]` -> indices `[B]`."""
        return _nearest(self.embedding.weight, x)


def _nearest(table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # The distance as upstream's Quantizer_module computes it (the |x|^2 term included), so that near-ties
    # round, and resolve, the same way.
    distance = torch.sum(x**2, 1, keepdim=True) + torch.sum(table**2, 1) - 2 * torch.matmul(x, table.T)
    return torch.argmin(distance, 1)


_LAYER_NAMES = ("quantizer_modules", "quantizer_modules2", "quantizer_modules3", "quantizer_modules4")


class Quantizer(nn.Module):
    """Residual group VQ of the frame-level latent (1, 2 or 4 layers) and the time-invariant codebooks.

    Args:
        cfg (TiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: TiCodecConfig):
        super().__init__()
        dim = cfg.latent_dim // cfg.n_code_groups
        for name in _LAYER_NAMES[: cfg.residul_layer]:
            setattr(self, name, nn.ModuleList(Codebook(cfg.n_codes, dim) for _ in range(cfg.n_code_groups)))
        self.quantizer_modules_globaltokens = nn.ModuleList(
            GlobalCodebook(cfg.n_codes, cfg.global_dim // cfg.global_code_num) for _ in range(cfg.global_code_num))
        self.latent_dim, self.global_dim = cfg.latent_dim, cfg.global_dim
        self.n_layers = cfg.residul_layer

    @property
    def layers(self) -> list[nn.ModuleList]:
        """The frame-level layers, in residual order."""
        return [getattr(self, name) for name in _LAYER_NAMES[: self.n_layers]]

    def encode(self, latent: torch.Tensor) -> torch.Tensor:
        """`latent [B, D, T]` -> codes `[B, layers * groups, T]`, layer by layer, group by group (upstream's order)."""
        batch, dim, frames = latent.shape
        residual = latent.transpose(1, 2).reshape(-1, dim)
        codes = []
        for layer in self.layers:
            slices = residual.split(dim // len(layer), dim=-1)
            indices = [book.encode(part) for book, part in zip(layer, slices, strict=True)]
            residual = residual - torch.cat([b.embedding(i) for b, i in zip(layer, indices, strict=True)], -1)
            codes.extend(indices)
        return torch.stack(codes, 0).view(-1, batch, frames).transpose(0, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[B, layers * groups, T]` -> latent `[B, D, T]`: the sum over layers of the concatenated entries."""
        columns = iter(codes.unbind(1))
        latent = sum(torch.cat([book.embedding(next(columns)) for book in layer], -1) for layer in self.layers)
        return latent.transpose(1, 2)

    def encode_global(self, feature: torch.Tensor) -> torch.Tensor:
        """Global feature `[B, G]` -> time-invariant codes `[B, global_code_num]`."""
        books = self.quantizer_modules_globaltokens
        slices = feature.reshape(-1, self.global_dim).split(self.global_dim // len(books), dim=-1)
        return torch.stack([book.encode(part) for book, part in zip(books, slices, strict=True)], -1)

    def decode_global(self, codes: torch.Tensor) -> torch.Tensor:
        """Time-invariant codes `[B, global_code_num]` -> global feature `[B, G]`."""
        return torch.cat([book.embedding(c) for book, c in zip(self.quantizer_modules_globaltokens,
                                                                codes.unbind(-1), strict=True)], -1)


class Generator(nn.Module):
    """Latent + global feature -> waveform: HiFi-GAN V1 with the latent in place of the mel spectrogram.

    Args:
        cfg (TiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: TiCodecConfig):
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

    def forward(self, latent: torch.Tensor, global_feature: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """`latent [B, D, T]`, valid up to `frames [B]`, and `global_feature [B, G]` -> waveform `[B, 1, T * hop]`."""
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
            if x.shape[-2] == global_feature.shape[-1]:  # upstream: the stage as wide as the global feature
                x = _masked(x + global_feature.unsqueeze(-1), mask)
        return torch.tanh(self.conv_post(F.leaky_relu(x, LRELU_SLOPE)))


class TiCodecModel(nn.Module):
    """The three parts of a TiCodec checkpoint; `state_dict()` keys are `<part>.<upstream key>`.

    Args:
        cfg (TiCodecConfig): the model's hyper-parameters.
    """

    def __init__(self, cfg: TiCodecConfig):
        super().__init__()
        self.cfg = cfg
        self.generator = Generator(cfg)
        self.encoder = Encoder(cfg)
        self.quantizer = Quantizer(cfg)

    def encode(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`waves [B, T]`, valid up to `lengths [B]` -> `(codes [B, K, T'], global codes [B, G], frames [B])`."""
        latent, feature, frames = self.encoder(waves.unsqueeze(1), lengths)
        return self.quantizer.encode(latent), self.quantizer.encode_global(feature), frames

    def decode(self, codes: torch.Tensor, global_codes: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """`codes [B, K, T']`, valid up to `frames [B]`, and `global_codes [B, G]` -> waveform `[B, T' * hop]`."""
        feature = self.quantizer.decode_global(global_codes)
        return self.generator(self.quantizer.decode(codes), feature, frames).squeeze(1)
