"""The mel VAE and HiFi-GAN vocoder of SemantiCodec's decoder (AudioLDM's `AutoencoderKL` with its vocoder).

Mirrors `latent_encoder/autoencoder.py`, `diffusionmodules/model.py` (`Encoder`, `Decoder`, `ResnetBlock`,
`AttnBlock`) and `hifigan/models.py` (`Generator`, weight norm removed as `get_vocoder` does), module for module, so
the checkpoint's `first_stage_model.*` keys load strictly. Only `decode` and the vocoder run at inference; the VAE's
encoder is kept because the checkpoint holds it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DDConf, FirstStageParams, VocoderConf

LRELU_SLOPE = 0.1


def normalize(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.norm1 = normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = normalize(out_channels)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(self.dropout(swish(self.norm2(h))))
        if self.in_channels != self.out_channels:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = normalize(channels)
        self.q, self.k, self.v = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        batch, channels, height, width = q.shape
        q, k, v = (t.reshape(batch, channels, height * width).permute(0, 2, 1) for t in (q, k, v))
        # Upstream: softmax(q k^T / sqrt(c)) applied to v with two bmm calls; the same product through the fused
        # kernel (no [hw, hw] matrix: 4096 x 4096 at the latent's 256 x 16), equal to float rounding.
        h = F.scaled_dot_product_attention(q, k, v, scale=int(channels) ** (-0.5))
        return x + self.proj_out(h.permute(0, 2, 1).reshape(batch, channels, height, width))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    """The VAE's encoder (never run by the codec: the diffusion model generates the latents)."""

    def __init__(self, conf: DDConf):
        super().__init__()
        self.conv_in = nn.Conv2d(conf.in_channels, conf.ch, 3, padding=1)
        in_mult = (1, *conf.ch_mult)
        self.down = nn.ModuleList()
        resolution = conf.resolution
        for level, mult in enumerate(conf.ch_mult):
            down = nn.Module()
            block_in, block_out = conf.ch * in_mult[level], conf.ch * mult
            down.block, down.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(conf.num_res_blocks):
                down.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if resolution in conf.attn_resolutions:
                    down.attn.append(AttnBlock(block_in))
            if level != len(conf.ch_mult) - 1:
                down.downsample = Downsample(block_in)
                resolution //= 2
            self.down.append(down)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = (ResnetBlock(block_in, block_in), AttnBlock(block_in),
                                                               ResnetBlock(block_in, block_in))
        self.norm_out = normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * conf.z_channels, 3, padding=1)


class Decoder(nn.Module):
    def __init__(self, conf: DDConf):
        super().__init__()
        levels = len(conf.ch_mult)
        block_in = conf.ch * conf.ch_mult[-1]
        resolution = conf.resolution // 2 ** (levels - 1)
        self.conv_in = nn.Conv2d(conf.z_channels, block_in, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = (ResnetBlock(block_in, block_in), AttnBlock(block_in),
                                                               ResnetBlock(block_in, block_in))
        self.up = nn.ModuleList()
        for level in reversed(range(levels)):
            up = nn.Module()
            up.block, up.attn = nn.ModuleList(), nn.ModuleList()
            block_out = conf.ch * conf.ch_mult[level]
            for _ in range(conf.num_res_blocks + 1):
                up.block.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if resolution in conf.attn_resolutions:
                    up.attn.append(AttnBlock(block_in))
            if level != 0:
                up.upsample = Upsample(block_in)
                resolution *= 2
            self.up.insert(0, up)
        self.norm_out = normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, conf.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for level in reversed(range(len(self.up))):
            for i, block in enumerate(self.up[level].block):
                h = block(h)
                if len(self.up[level].attn) > 0:
                    h = self.up[level].attn[i](h)
            if level != 0:
                h = self.up[level].upsample(h)
        return self.conv_out(swish(self.norm_out(h)))


def _padding(kernel: int, dilation: int = 1) -> int:
    return int((kernel * dilation - dilation) / 2)


class VocoderResBlock(nn.Module):
    """HiFi-GAN's `ResBlock` (type 1): three dilated convolutions, each followed by a plain one, residual."""

    def __init__(self, channels: int, kernel: int, dilation: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d))
                                    for d in dilation)
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, kernel, 1, dilation=1, padding=_padding(kernel))
                                    for _ in dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE)) + x
        return x


class Vocoder(nn.Module):
    """HiFi-GAN's v1 `Generator` (`hifigan/models.py`), weight norm removed: 64 mel bands -> 16 kHz waveform."""

    def __init__(self, conf: VocoderConf, num_mels: int):
        super().__init__()
        self.num_kernels = len(conf.resblock_kernel_sizes)
        initial = conf.upsample_initial_channel
        self.conv_pre = nn.Conv1d(num_mels, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(initial // (2**i), initial // (2 ** (i + 1)), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(conf.upsample_rates, conf.upsample_kernel_sizes, strict=True)))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = initial // (2 ** (i + 1))
            for k, d in zip(conf.resblock_kernel_sizes, conf.resblock_dilation_sizes, strict=True):
                self.resblocks.append(VocoderResBlock(ch, k, d))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """`[B, num_mels, frames]` -> `[B, 1, frames * 160]`."""
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = None
            for j in range(self.num_kernels):
                out = self.resblocks[i * self.num_kernels + j](x)
                xs = out if xs is None else xs + out
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


class AutoencoderKL(nn.Module):
    """`AutoencoderKL` with `image_key` fbank: the VAE and its vocoder."""

    def __init__(self, conf: FirstStageParams, vocoder: VocoderConf):
        super().__init__()
        dd = conf.ddconfig
        self.encoder = Encoder(dd)
        self.decoder = Decoder(dd)
        self.quant_conv = nn.Conv2d(2 * dd.z_channels, 2 * conf.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(conf.embed_dim, dd.z_channels, 1)
        self.vocoder = Vocoder(vocoder, dd.mel_bins)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents `[B, embed_dim, T/4, F/4]` -> mel `[B, 1, T, F]`."""
        return self.decoder(self.post_quant_conv(z))
