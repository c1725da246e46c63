"""CosyVoice 2's HiFT vocoder: an 80-bin mel at 50 Hz -> 24 kHz speech (neural source filter + iSTFTNet).

Written from FunAudioLLM/CosyVoice's `cosyvoice/hifigan/generator.py` (`HiFTGenerator.inference`, with `SineGen2`,
the 24 kHz source generator), `f0_predictor.py` (`ConvRNNF0Predictor`) and `transformer/activation.py` (`Snake`).
Parameter names are upstream's (weight norm as torch's parametrization), so the release's `hift.pt` loads strictly.

The source generator draws random numbers at inference, in this order: the harmonics' initial phases
(`torch.rand(B, harmonics + 1)`), the additive noise of the sines (`randn_like` them: their transposed
`[B, harmonics, L]` layout decides the numbers, since torch fills a non-contiguous tensor with another kernel), and
the noise branch of `SourceModuleHnNSF` (`randn` shaped like the voicing flags; computed and unused, but it advances
the generator).
Upstream draws them from torch's global generator; here from the generator the caller passes, in the same order and
shapes, so a CPU generator seeded with s gives what upstream gives after `torch.manual_seed(s)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm


def _padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class Snake(nn.Module):
    """x + 1/alpha · sin²(alpha · x), alpha per channel (linear scale)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]
        return x + (1.0 / (alpha + 1e-9)) * torch.sin(x * alpha).pow(2)


class ResBlock(nn.Module):
    """HiFi-GAN/BigVGAN residual block with Snake activations (`ResBlock`, non-causal)."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs1 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d)))
            for d in dilations)
        self.convs2 = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=_padding(kernel_size)))
            for _ in dilations)
        self.activations1 = nn.ModuleList(Snake(channels) for _ in dilations)
        self.activations2 = nn.ModuleList(Snake(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2, act1, act2 in zip(self.convs1, self.convs2, self.activations1, self.activations2,
                                            strict=True):
            x = conv2(act2(conv1(act1(x)))) + x
        return x


class ConvRNNF0Predictor(nn.Module):
    """Five weight-normed convolutions with ELU, then a linear layer: |F0| per mel frame."""

    def __init__(self, in_channels: int, cond_channels: int, num_class: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(5):
            layers += [weight_norm(nn.Conv1d(in_channels if i == 0 else cond_channels, cond_channels, 3, padding=1)),
                       nn.ELU()]
        self.condnet = nn.Sequential(*layers)
        self.classifier = nn.Linear(cond_channels, num_class)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(self.classifier(self.condnet(x).transpose(1, 2)).squeeze(-1))


class SourceModuleHnNSF(nn.Module):
    """`SourceModuleHnNSF` over `SineGen2` (non-causal): F0 at the output rate -> one merged harmonic source.

    Args:
        sampling_rate (int): output rate; upsample_scale (int): output samples per mel frame.
        harmonic_num (int): overtones above F0; sine_amp (float), noise_std (float), voiced_threshold (float): as
            upstream's `nsf_alpha`, `nsf_sigma`, `nsf_voiced_threshold`.
    """

    def __init__(self, sampling_rate: int, upsample_scale: int, harmonic_num: int, sine_amp: float,
                 noise_std: float, voiced_threshold: float):
        super().__init__()
        self.sampling_rate, self.upsample_scale, self.harmonic_num = sampling_rate, upsample_scale, harmonic_num
        self.sine_amp, self.noise_std, self.voiced_threshold = sine_amp, noise_std, voiced_threshold
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def _sines(self, f0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """`f0 [B, L, 1]` -> `SineGen2`'s sine waves `[B, L, harmonics + 1]` (before voicing and noise)."""
        harmonics = torch.arange(1, self.harmonic_num + 2, dtype=f0.dtype, device=f0.device)
        rad_values = (f0 * harmonics / self.sampling_rate) % 1
        rand_ini = torch.rand(f0.shape[0], self.harmonic_num + 1, generator=generator).to(f0.device)
        rand_ini[:, 0] = 0
        rad_values[:, 0, :] = rad_values[:, 0, :] + rand_ini
        rad_values = F.interpolate(rad_values.transpose(1, 2), scale_factor=1 / self.upsample_scale, mode="linear")
        phase = torch.cumsum(rad_values.transpose(1, 2), dim=1) * 2 * math.pi
        phase = F.interpolate(phase.transpose(1, 2) * self.upsample_scale, scale_factor=self.upsample_scale,
                              mode="linear").transpose(1, 2)
        return torch.sin(phase) * self.sine_amp

    def forward(self, f0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        sines = self._sines(f0, generator)
        uv = (f0 > self.voiced_threshold).to(f0.dtype)
        noise_amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
        # upstream's randn_like keeps the sines' layout, [B, harmonics, L] transposed, and torch fills such a
        # non-contiguous tensor with another kernel than a contiguous one: the same layout draws the same numbers
        b, length, harmonics = sines.shape
        noise = torch.empty(b, harmonics, length).transpose(1, 2).normal_(generator=generator)
        noise = noise_amp * noise.to(sines.device)
        sines = sines * uv + noise
        torch.randn(uv.shape, generator=generator)  # upstream's unused noise branch: keeps the draws in step
        return torch.tanh(self.l_linear(sines))


class HiFTGenerator(nn.Module):
    """`HiFTGenerator` (its `inference`): mel -> F0 -> harmonic source -> upsampling generator fed with the
    source's STFT at each scale -> magnitude and phase -> iSTFT, clamped to ±`audio_limit`.

    Args: as the keys of the release's `hift` section (in_channels, base_channels, nb_harmonics, sampling_rate,
        nsf_alpha, nsf_sigma, nsf_voiced_threshold, upsample_rates, upsample_kernel_sizes, istft n_fft/hop,
        resblock and source-resblock kernels and dilations, lrelu_slope, audio_limit, f0 predictor width).
    """

    def __init__(self, *, in_channels: int, base_channels: int, nb_harmonics: int, sampling_rate: int,
                 nsf_alpha: float, nsf_sigma: float, nsf_voiced_threshold: float, upsample_rates: tuple[int, ...],
                 upsample_kernel_sizes: tuple[int, ...], n_fft: int, hop_len: int,
                 resblock_kernel_sizes: tuple[int, ...], resblock_dilation_sizes: tuple[tuple[int, ...], ...],
                 source_resblock_kernel_sizes: tuple[int, ...],
                 source_resblock_dilation_sizes: tuple[tuple[int, ...], ...], lrelu_slope: float, audio_limit: float,
                 f0_cond_channels: int):
        super().__init__()
        self.n_fft, self.hop_len, self.lrelu_slope, self.audio_limit = n_fft, hop_len, lrelu_slope, audio_limit
        self.num_kernels = len(resblock_kernel_sizes)
        self.upsample_scale = math.prod(upsample_rates) * hop_len  # output samples per mel frame
        self.m_source = SourceModuleHnNSF(sampling_rate, self.upsample_scale, nb_harmonics, nsf_alpha, nsf_sigma,
                                          nsf_voiced_threshold)
        self.conv_pre = weight_norm(nn.Conv1d(in_channels, base_channels, 7, 1, padding=3))
        self.ups = nn.ModuleList(
            weight_norm(nn.ConvTranspose1d(base_channels // 2**i, base_channels // 2 ** (i + 1), k, u,
                                           padding=(k - u) // 2))
            for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes, strict=True)))
        self.source_downs = nn.ModuleList()
        self.source_resblocks = nn.ModuleList()
        cumulative = [math.prod(([1, *upsample_rates[::-1][:-1]])[: i + 1]) for i in range(len(upsample_rates))]
        for i, (u, k, d) in enumerate(zip(cumulative[::-1], source_resblock_kernel_sizes,
                                          source_resblock_dilation_sizes, strict=True)):
            channels = base_channels // 2 ** (i + 1)
            self.source_downs.append(nn.Conv1d(n_fft + 2, channels, 1, 1) if u == 1 else
                                     nn.Conv1d(n_fft + 2, channels, u * 2, u, padding=u // 2))
            self.source_resblocks.append(ResBlock(channels, k, tuple(d)))
        self.resblocks = nn.ModuleList(
            ResBlock(base_channels // 2 ** (i + 1), k, tuple(d))
            for i in range(len(upsample_rates))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True))
        self.conv_post = weight_norm(nn.Conv1d(base_channels // 2 ** len(upsample_rates), n_fft + 2, 7, 1, padding=3))
        self.reflection_pad = nn.ReflectionPad1d((1, 0))
        self.f0_predictor = ConvRNNF0Predictor(in_channels, f0_cond_channels)

    def _window(self, device: torch.device) -> torch.Tensor:
        # scipy's get_window("hann", n_fft, fftbins=True) is the periodic Hann window
        return torch.hann_window(self.n_fft, periodic=True, dtype=torch.float32, device=device)

    def decode(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        spec = torch.view_as_real(torch.stft(source, self.n_fft, self.hop_len, self.n_fft,
                                             window=self._window(source.device), return_complex=True))
        s_stft = torch.cat([spec[..., 0], spec[..., 1]], dim=1)
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, self.lrelu_slope))
            if i == len(self.ups) - 1:
                x = self.reflection_pad(x)
            x = x + self.source_resblocks[i](self.source_downs[i](s_stft))
            xs = None
            for j in range(self.num_kernels):
                out = self.resblocks[i * self.num_kernels + j](x)
                xs = out if xs is None else xs + out
            x = xs / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        half = self.n_fft // 2 + 1
        magnitude = torch.clip(torch.exp(x[:, :half]), max=1e2)
        phase = torch.sin(x[:, half:])
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        audio = torch.istft(spectrum, self.n_fft, self.hop_len, self.n_fft, window=self._window(x.device))
        return torch.clamp(audio, -self.audio_limit, self.audio_limit)

    def forward(self, mel: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """`mel [1, 80, F]` -> audio `[1, F × upsample_scale]`, the source's random draws from `generator`."""
        f0 = self.f0_predictor(mel)
        f0 = F.interpolate(f0[:, None], scale_factor=float(self.upsample_scale), mode="nearest").transpose(1, 2)
        source = self.m_source(f0, generator).transpose(1, 2)
        return self.decode(mel, source.squeeze(1))
