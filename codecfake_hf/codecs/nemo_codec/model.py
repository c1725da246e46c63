"""NeMo's audio codec networks at inference, state-dict compatible with the released `.nemo` checkpoints.

Written from NeMo 2.1.0's `nemo/collections/tts/modules/audio_codec_modules.py` (the release that added the
low-frame-rate codec; its convolutions still use the legacy `torch.nn.utils.weight_norm`, whose `weight_g`/`weight_v`
keys the released checkpoints hold) and `nemo/collections/asr/parts/preprocessing/features.py` (the mel front end).
Module names, nesting and term order follow upstream, so `load_state_dict(strict=True)` takes the generator part of
a checkpoint as it is. Upstream masks every layer's output to each item's valid length; a single utterance padded
to whole frames has no invalid steps, which is how this family runs (one utterance at a time), so no mask is applied.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.seanet import weight_norm
from .config import (
    GroupFSQConf,
    HiFiGANDecoderConf,
    HiFiGANEncoderConf,
    MelProcessorConf,
    MultiBandMelEncoderConf,
    NemoCodecConfig,
)


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class Snake(nn.Module):
    """`x + sin(alpha x)^2 / (alpha + 1e-9)` per channel (NeMo's `Snake`)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


class HalfSnake(nn.Module):
    """Snake on the first half of the channels, leaky ReLU on the rest (NeMo's `HalfSnake`)."""

    def __init__(self, channels: int):
        super().__init__()
        self.snake_channels = channels // 2
        self.snake_act = Snake(self.snake_channels)
        self.lrelu = nn.LeakyReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.snake_act(x[:, : self.snake_channels]), self.lrelu(x[:, self.snake_channels:])], 1)


class CodecActivation(nn.Module):
    """NeMo's `CodecActivation`: the named activation under `.activation` (its key prefix)."""

    def __init__(self, activation: str = "elu", channels: int = 1):
        super().__init__()
        activation = activation.lower()
        if activation == "elu":
            self.activation = nn.ELU()
        elif activation == "lrelu":
            self.activation = nn.LeakyReLU()
        else:  # the config's checks admit only these four
            self.activation = Snake(channels) if activation == "snake" else HalfSnake(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x)


class Conv1dNorm(nn.Module):
    """Weight-normalised `Conv1d` with reflect padding, `(k·d - d) // 2` unless `padding` (0 counts as unset, as
    upstream's `if not padding` reads it)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 padding: int | None = None):
        super().__init__()
        if not padding:
            padding = get_padding(kernel_size, dilation)
        self.padding = padding
        self.conv = weight_norm(nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                          dilation=dilation, padding_mode="reflect"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ConvTranspose1dNorm(nn.Module):
    """Weight-normalised `ConvTranspose1d` that upsamples exactly `stride` times."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        padding, output_padding = (kernel_size - stride + 1) // 2, (kernel_size - stride) % 2
        self.conv = weight_norm(nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=stride,
                                                   padding=padding, output_padding=output_padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResidualBlock(nn.Module):
    """HiFi-GAN's residual block: `x + skip_conv(act(input_conv(act(x))))`."""

    def __init__(self, channels: int, filters: int, kernel_size: int = 3, dilation: int = 1,
                 activation: str = "lrelu"):
        super().__init__()
        self.input_activation = CodecActivation(activation, channels)
        self.skip_activation = CodecActivation(activation, filters)
        self.input_conv = Conv1dNorm(channels, filters, kernel_size, dilation=dilation)
        self.skip_conv = Conv1dNorm(filters, channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.skip_conv(self.skip_activation(self.input_conv(self.input_activation(x))))
        return x + res


class HiFiGANResBlock(nn.Module):
    """One residual block per dilation, in sequence."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], activation: str):
        super().__init__()
        self.res_blocks = nn.ModuleList([ResidualBlock(channels, channels, kernel_size, dilation, activation)
                                         for dilation in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class HiFiGANResLayer(nn.Module):
    """The mean of one `HiFiGANResBlock` per kernel size (HiFi-GAN's multi-receptive-field fusion)."""

    def __init__(self, channels: int, kernel_sizes: tuple[int, ...], dilations: tuple[int, ...], activation: str):
        super().__init__()
        self.res_blocks = nn.ModuleList([HiFiGANResBlock(channels, k, dilations, activation) for k in kernel_sizes])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residuals = [block(x) for block in self.res_blocks]
        return sum(residuals) / len(residuals)


class HiFiGANEncoder(nn.Module):
    """Waveform `[B, T]` (whole frames) -> latent `[B, encoded_dim, T / prod(down_sample_rates)]`."""

    def __init__(self, conf: HiFiGANEncoderConf):
        super().__init__()
        self.down_sample_rates = conf.down_sample_rates
        self.pre_conv = Conv1dNorm(1, conf.base_channels, conf.in_kernel_size)
        channels = conf.base_channels
        self.activations, self.down_sample_conv_layers, self.res_layers = nn.ModuleList(), nn.ModuleList(), \
            nn.ModuleList()
        for rate in conf.down_sample_rates:
            self.res_layers.append(HiFiGANResLayer(channels, conf.resblock_kernel_sizes, conf.resblock_dilation_sizes,
                                                   conf.activation))
            self.activations.append(CodecActivation(conf.activation, channels))
            # padding (k - s + 1) // 2 with k = 2s: the stage's length is divided by exactly `rate`
            self.down_sample_conv_layers.append(Conv1dNorm(channels, 2 * channels, 2 * rate, stride=rate,
                                                           padding=(rate + 1) // 2))
            channels *= 2
        self.post_activation = CodecActivation(conf.activation, channels)
        self.post_conv = Conv1dNorm(channels, conf.encoded_dim, conf.out_kernel_size)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        out = self.pre_conv(audio[:, None])
        for act, res_layer, down in zip(self.activations, self.res_layers, self.down_sample_conv_layers, strict=True):
            out = down(act(res_layer(out)))
        return self.post_conv(self.post_activation(out))

    def reflect_pads(self) -> list[tuple[int, int]]:
        """(reflect padding, samples per step) of every conv: the signal at that stage must be longer."""
        pads, step = [(self.pre_conv.padding, 1)], 1
        for res_layer, down in zip(self.res_layers, self.down_sample_conv_layers, strict=True):
            pads += [(conv.padding, step) for conv in _convs(res_layer)] + [(down.padding, step)]
            step *= down.conv.stride[0]
        return pads + [(self.post_conv.padding, step)]


def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """`librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, norm=None)` (Slaney scale, no area norm),
    `[1, n_mels, n_fft // 2 + 1]`. Only for random weights: a checkpoint holds upstream's own bank (`fb`)."""
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels, min_frequency=0.0,
                           max_frequency=sample_rate / 2, sampling_rate=sample_rate, norm=None, mel_scale="slaney")
    return torch.from_numpy(bank.T.copy()).float()[None]


class FilterbankFeatures(nn.Module):
    """NeMo's `FilterbankFeatures` with the codec's settings: reflect pad `(n_fft - hop) / 2` each side, uncentred
    STFT with a symmetric Hann window, magnitude, mel, `log(mel + guard)`. `[B, T]` -> `[B, n_mels, T // hop]`."""

    def __init__(self, conf: MelProcessorConf):
        super().__init__()
        self.n_fft = self.win_length = conf.win_length
        self.hop_length = conf.hop_length
        self.stft_pad_amount = (self.n_fft - self.hop_length) // 2
        self.log_zero_guard_value = conf.log_guard
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=False))
        self.register_buffer("fb", mel_filters(conf.sample_rate, self.n_fft, conf.mel_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x.unsqueeze(1), (self.stft_pad_amount, self.stft_pad_amount), "reflect").squeeze(1)
        x = torch.stft(x, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length, center=False,
                       window=self.window.to(dtype=torch.float), return_complex=True)
        x = torch.view_as_real(x)
        x = torch.sqrt(x.pow(2).sum(-1))
        x = torch.matmul(self.fb.to(x.dtype), x)
        return torch.log(x + self.log_zero_guard_value)


class _Preprocessor(nn.Module):
    """`AudioToMelSpectrogramPreprocessor`: holds the featurizer (its key prefix), runs it in float32."""

    def __init__(self, conf: MelProcessorConf):
        super().__init__()
        self.featurizer = FilterbankFeatures(conf)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.featurizer(audio.float())


class MelSpectrogramProcessor(nn.Module):
    def __init__(self, conf: MelProcessorConf):
        super().__init__()
        self.preprocessor = _Preprocessor(conf)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.preprocessor(audio)


class ResNetEncoder(nn.Module):
    """One mel band's encoder: conv, residual blocks, activation, conv; the length is unchanged."""

    def __init__(self, in_channels: int, conf: MultiBandMelEncoderConf):
        super().__init__()
        self.pre_conv = Conv1dNorm(in_channels, conf.hidden_channels, conf.kernel_size)
        self.res_layers = nn.ModuleList([ResidualBlock(conf.hidden_channels, conf.filters, conf.kernel_size,
                                                       activation=conf.activation) for _ in range(conf.num_layers)])
        self.post_activation = CodecActivation(conf.activation, conf.hidden_channels)
        self.post_conv = Conv1dNorm(conf.hidden_channels, conf.out_channels, conf.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_conv(x)
        for layer in self.res_layers:  # upstream's dropout: inactive at inference
            x = layer(x)
        return self.post_conv(self.post_activation(x))


class MultiBandMelEncoder(nn.Module):
    """Waveform `[B, T]` (whole frames) -> the concatenated band latents `[B, bands · out_channels, T / hop]`."""

    def __init__(self, conf: MultiBandMelEncoderConf):
        super().__init__()
        self.mel_bands = conf.mel_bands
        self.mel_processor = MelSpectrogramProcessor(conf.mel_processor)
        self.encoders = nn.ModuleList([ResNetEncoder(end - start, conf) for start, end in conf.mel_bands])

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = self.mel_processor(audio)
        return torch.cat([encoder(spec[:, start:end]) for (start, end), encoder in zip(self.mel_bands, self.encoders,
                                                                                      strict=True)], dim=1)

    def reflect_pads(self) -> list[tuple[int, int]]:
        hop = self.mel_processor.preprocessor.featurizer.hop_length
        pads = [(self.mel_processor.preprocessor.featurizer.stft_pad_amount, 1)]
        return pads + [(conv.padding, hop) for encoder in self.encoders for conv in _convs(encoder)]


class FiniteScalarQuantizer(nn.Module):
    """FSQ (Mentzer et al. 2023) as NeMo writes it: each dimension squashed by a shifted `tanh` into its levels,
    rounded, and scaled to [-1, 1]; the index is the mixed-radix number of the level indices (first dim lowest)."""

    def __init__(self, num_levels: tuple[int, ...], eps: float = 1e-3):
        super().__init__()
        base = torch.cumprod(torch.tensor([1, *num_levels[:-1]]), dim=0, dtype=torch.int32)
        self.register_buffer("dim_base_index", base.reshape(1, -1, 1))
        self.register_buffer("num_levels", torch.tensor(num_levels, dtype=torch.int32).reshape(1, -1, 1))
        self.eps = eps

    @property
    def dim(self) -> int:
        return self.num_levels.numel()

    def compress(self, inputs: torch.Tensor) -> torch.Tensor:
        """The latent in level units, `[B, D, T]`: rounding it picks the levels."""
        output_scale = (self.num_levels - 1) / 2
        output_scale = output_scale * (1 - self.eps)  # scale down a bit to avoid rounding issues (upstream)
        output_offset = torch.where(self.num_levels % 2 == 0, 0.5, 0)
        input_shift = (output_offset / output_scale).tan()
        return output_scale * (inputs + input_shift).tanh() - output_offset

    def quantize(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, D, T]` -> (codes in [-1, 1] `[B, D, T]`, indices `[B, T]` int32)."""
        codes = torch.round(self.compress(inputs)) / (self.num_levels // 2)
        scale = offset = self.num_levels // 2
        indices = torch.sum((scale * codes + offset) * self.dim_base_index, dim=1).to(torch.int32)
        return codes, indices

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices `[B, T]` -> codes `[B, D, T]`."""
        nonnegative = (indices[:, None] // self.dim_base_index) % self.num_levels
        scale = offset = self.num_levels // 2
        return (nonnegative - offset) / scale

    def grid(self) -> torch.Tensor:
        """Every level combination in level units (what `compress` is rounded to), in index order: `[K, D]`."""
        codes = self.decode(torch.arange(int(self.num_levels.prod()))[None])[0].T
        return codes * (self.num_levels // 2).reshape(1, -1)


class GroupFiniteScalarQuantizer(nn.Module):
    """The latent's channels cut into `num_groups` equal groups, each its own FSQ (one codebook each)."""

    def __init__(self, conf: GroupFSQConf):
        super().__init__()
        self.num_groups = conf.num_groups
        self.fsqs = nn.ModuleList([FiniteScalarQuantizer(conf.num_levels_per_group, conf.eps)
                                   for _ in range(conf.num_groups)])

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`[B, C, T]` -> (dequantized `[B, C, T]`, indices `[groups, B, T]`)."""
        results = [fsq.quantize(group) for group, fsq in zip(inputs.chunk(self.num_groups, dim=1), self.fsqs,
                                                              strict=True)]
        return torch.cat([codes for codes, _ in results], 1), torch.stack([indices for _, indices in results])

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Indices `[groups, B, T]` -> dequantized `[B, C, T]`."""
        return torch.cat([fsq.decode(group) for group, fsq in zip(indices, self.fsqs, strict=True)], dim=1)


class HiFiGANDecoder(nn.Module):
    """Latent `[B, input_dim, F]` -> waveform `[B, F · prod(up_sample_rates)]`."""

    def __init__(self, conf: HiFiGANDecoderConf):
        super().__init__()
        self.pre_conv = Conv1dNorm(conf.input_dim, conf.base_channels, conf.in_kernel_size)
        channels = conf.base_channels
        self.activations, self.up_sample_conv_layers, self.res_layers = nn.ModuleList(), nn.ModuleList(), \
            nn.ModuleList()
        for rate in conf.up_sample_rates:
            self.activations.append(CodecActivation(conf.activation, channels))
            self.up_sample_conv_layers.append(ConvTranspose1dNorm(channels, channels // 2, 2 * rate, stride=rate))
            channels //= 2
            self.res_layers.append(HiFiGANResLayer(channels, conf.resblock_kernel_sizes, conf.resblock_dilation_sizes,
                                                   conf.activation))
        self.post_activation = CodecActivation(conf.activation, channels)
        self.post_conv = Conv1dNorm(channels, 1, conf.out_kernel_size)
        self.out_activation = nn.Tanh() if conf.output_activation == "tanh" else _Clamp()
        self.up_sample_rates = conf.up_sample_rates

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pre_conv(x)
        for act, res_layer, up in zip(self.activations, self.res_layers, self.up_sample_conv_layers, strict=True):
            out = res_layer(up(act(out)))
        return self.out_activation(self.post_conv(self.post_activation(out)))[:, 0]

    def reflect_pads(self) -> list[tuple[int, int]]:
        """(reflect padding, code frames per step) as the encoder's, in frames: a step is 1 / upsampling so far."""
        pads, upsampled = [(self.pre_conv.padding, 1.0)], 1
        for rate, res_layer in zip(self.up_sample_rates, self.res_layers, strict=True):
            upsampled *= rate
            pads += [(conv.padding, 1 / upsampled) for conv in _convs(res_layer)]
        return pads + [(self.post_conv.padding, 1 / upsampled)]


class _Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=-1.0, max=1.0)


def _convs(module: nn.Module) -> list[Conv1dNorm]:
    return [m for m in module.modules() if isinstance(m, Conv1dNorm)]


class NemoCodecModel(nn.Module):
    """`AudioCodecModel`'s generator: `audio_encoder`, `vector_quantizer`, `audio_decoder` (its key prefixes)."""

    def __init__(self, config: NemoCodecConfig):
        super().__init__()
        self.config = config
        encoder = config.audio_encoder
        self.audio_encoder = HiFiGANEncoder(encoder) if isinstance(encoder, HiFiGANEncoderConf) \
            else MultiBandMelEncoder(encoder)
        self.vector_quantizer = GroupFiniteScalarQuantizer(config.vector_quantizer)
        self.audio_decoder = HiFiGANDecoder(config.audio_decoder)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Whole frames `[B, T]` -> codes `[groups, B, T / samples_per_frame]` (`encode_audio` + `quantize`)."""
        return self.vector_quantizer(self.audio_encoder(audio))[1]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Whole frames `[B, T]` -> `[B, T]`: NeMo's `AudioCodecModel.forward` (encode, quantise to tokens, decode
        the tokens)."""
        tokens = self.vector_quantizer(self.audio_encoder(audio))[1]
        return self.audio_decoder(self.vector_quantizer.decode(tokens))

    def min_frames(self) -> int:
        """The fewest code frames every reflect-padded conv can take (its padding must be shorter than its input)."""
        hop = self.config.samples_per_frame
        frames = [math.floor(pad * step / hop) + 1 for pad, step in self.audio_encoder.reflect_pads()]
        frames += [math.floor(pad * step) + 1 for pad, step in self.audio_decoder.reflect_pads()]
        return max(frames)
