"""FocalCodec's decoder: a Vocos ConvNeXt backbone and ISTFT head, as FocalCodec v0.0.1 writes them
(`focalcodec/vocos.py`: its own overlap-add ISTFT with "same" padding; module names follow it)."""

from __future__ import annotations

import torch
from torch import nn

from .config import VocosConf


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> layer norm -> linear -> GELU -> linear -> layer scale, with a residual.

    Args:
        dim (int): width.
        ffn_dim (int): hidden width.
        kernel_size (int): depthwise taps.
        padding (int): depthwise padding.
        layerscale (float): the layer scale's initial value (a parameter; the checkpoint sets it).
    """

    def __init__(self, dim: int, ffn_dim: int, kernel_size: int, padding: int, layerscale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=padding, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, ffn_dim)
        self.activation = nn.GELU()
        self.pwconv2 = nn.Linear(ffn_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layerscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, dim, T]` -> `[B, dim, T]`."""
        out = self.norm(self.dwconv(x).movedim(-1, -2))
        out = self.gamma * self.pwconv2(self.activation(self.pwconv1(out)))
        return x + out.movedim(-1, -2)


class VocosBackbone(nn.Module):
    """Embedding conv, input norm, ConvNeXt blocks, output norm.

    Args:
        conf (VocosConf): widths and depth.
    """

    def __init__(self, conf: VocosConf):
        super().__init__()
        # Upstream hands the backbone the default kernel (7) and padding (3), whatever the config says.
        layerscale = 1 / conf.num_layers if conf.layerscale_init is None else conf.layerscale_init
        self.embedding = nn.Conv1d(conf.input_channels, conf.dim, 7, padding=3)
        self.input_norm = nn.LayerNorm(conf.dim, eps=1e-6)
        self.layers = nn.ModuleList(ConvNeXtBlock(conf.dim, conf.ffn_dim, 7, 3, layerscale)
                                    for _ in range(conf.num_layers))
        self.output_norm = nn.LayerNorm(conf.dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, C, T]` -> `[B, dim, T]`."""
        out = self.input_norm(self.embedding(x).movedim(-1, -2)).movedim(-1, -2)
        for layer in self.layers:
            out = layer(out)
        return self.output_norm(out.movedim(-1, -2)).movedim(-1, -2)


class ISTFT(nn.Module):
    """Inverse STFT by overlap-add with a Hann window and its squared envelope, `(n_fft - hop) / 2` trimmed each side:
    `T` frames -> `T * hop` samples.

    Args:
        n_fft (int): FFT size and window length.
        hop_length (int): hop.
    """

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.pad = (n_fft - hop_length) // 2
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Complex `[B, n_fft / 2 + 1, T]` -> `[B, T * hop]`."""
        frames = spectrum.shape[-1]
        ifft = torch.fft.irfft(spectrum, self.n_fft, dim=1, norm="backward") * self.window[None, :, None]
        size = (frames - 1) * self.hop_length + self.n_fft
        out = nn.functional.fold(ifft, output_size=(1, size), kernel_size=(1, self.n_fft),
                                 stride=(1, self.hop_length))[:, 0, 0, self.pad: -self.pad]
        squares = (self.window**2).expand(1, frames, -1).movedim(-1, -2)
        envelope = nn.functional.fold(squares, output_size=(1, size), kernel_size=(1, self.n_fft),
                                      stride=(1, self.hop_length)).squeeze()[self.pad: -self.pad]
        return out / envelope


class ISTFTHead(nn.Module):
    """Linear to log-magnitude and phase, then the ISTFT.

    Args:
        dim (int): the backbone's width.
        n_fft (int): FFT size.
        hop_length (int): hop.
    """

    def __init__(self, dim: int, n_fft: int, hop_length: int):
        super().__init__()
        self.proj = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, dim, T]` -> `[B, T * hop]`."""
        magnitude, phase = self.proj(x.movedim(-1, -2)).movedim(-1, -2).chunk(2, dim=-2)
        magnitude = magnitude.exp().clamp(max=1e2)
        return self.istft(magnitude * torch.complex(phase.cos(), phase.sin()))


class Vocos(nn.Module):
    """Features `[B, T, C]` -> waveform `[B, T * hop]` at 16 kHz.

    Args:
        conf (VocosConf): the backbone and head.
    """

    def __init__(self, conf: VocosConf):
        super().__init__()
        self.backbone = VocosBackbone(conf)
        self.head = ISTFTHead(conf.dim, conf.n_fft, conf.hop_length)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(features.movedim(-1, -2)))
