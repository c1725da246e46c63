"""SemantiCodec's pipeline (`semanticodec/main.py` of SemantiCodec-inference): padding, fbank, encoder, windowed
diffusion decoding, overlap-add, trimming."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .config import SemantiCodecConfig
from .diffusion import LatentDiffusion
from .encoder import PATCH_TOKENS, WINDOW_FRAMES, SemanticAcousticEncoder
from .fbank import encoder_features

SAMPLE_RATE = 16000
SEGMENT_DURATION = 10.24
SEGMENT_SAMPLES = int(SAMPLE_RATE * SEGMENT_DURATION)
PATCH_DURATION = 0.16
SEGMENT_OVERLAP_RATIO = 0.0625


def token_count(samples: int, token_rate: int) -> int:
    """Tokens `encode` keeps for `samples` samples: `math.ceil(target_token_len)` of upstream's `load_audio`, whose
    float arithmetic (the duration padded to whole 0.16 s patches, always adding) it repeats."""
    duration = samples / SAMPLE_RATE
    duration = duration + (PATCH_DURATION - duration % PATCH_DURATION)
    windows = samples // SEGMENT_SAMPLES + 1  # the padding to 10.24 s always adds, even to a whole window
    available = windows * PATCH_TOKENS * token_rate // 100
    return min(math.ceil(8 * duration / PATCH_DURATION / (100 / token_rate)), available)


def output_samples(tokens: int, token_rate: int) -> int:
    """`decode`'s trim: `int((tokens / 8) * 16 * 0.01 * stack_factor_K * 16000)`."""
    return int((tokens / 8) * 16 * 0.01 * (100 / token_rate) * SAMPLE_RATE)


def split_windows(tokens: torch.Tensor, window: int, overlap: float = SEGMENT_OVERLAP_RATIO) -> list[torch.Tensor]:
    """`long_token_split_window`: windows of `window` tokens overlapping by `int(window x overlap)`, the last one
    shorter."""
    length = tokens.shape[1]
    step = window - int(window * overlap)
    start, windows = 0, []
    while start + window < length:
        windows.append(tokens[:, start:start + window, :])
        start += step
    if length - start > 0:
        windows.append(tokens[:, start:, :])
    return windows


def overlap_add(waveforms: list[np.ndarray], overlap_duration: float) -> np.ndarray:
    """`overlap_add_waveform` (numpy, as upstream): linear fades over the overlaps of `[1, 1, samples]` windows."""
    if overlap_duration < 1e-4:
        return np.concatenate(waveforms, axis=-1)
    overlap = int(overlap_duration * SAMPLE_RATE)
    output = np.array([]).reshape(1, 1, -1)
    for i, waveform in enumerate(waveforms):
        if i > 0:
            waveform[:, :, :overlap] *= np.linspace(0, 1, overlap).reshape(1, 1, -1)
        if output.size > 0:
            output[:, :, -overlap:] *= np.linspace(1, 0, overlap).reshape(1, 1, -1)
            output[:, :, -overlap:] += waveform[:, :, :overlap]
            output = np.concatenate((output, waveform[:, :, overlap:]), axis=2)
        else:
            output = waveform
    return output


class SemantiCodecModel(nn.Module):
    """The encoder and decoder checkpoints' models (`encoder.*`, `decoder.*`) and upstream's encode/decode.

    Args:
        config (SemantiCodecConfig): the codec's config.
    """

    def __init__(self, config: SemantiCodecConfig):
        super().__init__()
        self.config = config
        self.encoder = SemanticAcousticEncoder(config)
        self.decoder = LatentDiffusion(config)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """`load_audio` after reading: zero-padded to whole 10.24 s windows (always adding) -> fbank
        `[1, 1024 k, 128]`."""
        padded = torch.nn.functional.pad(wave, (0, SEGMENT_SAMPLES - wave.shape[-1] % SEGMENT_SAMPLES))
        windows = padded.shape[-1] // SEGMENT_SAMPLES
        return encoder_features(padded, WINDOW_FRAMES * windows)[None]

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """One utterance `[T]` at 16 kHz -> tokens `[1, L, 2]` (semantic, acoustic)."""
        return self.encoder(self.features(wave), token_count(wave.shape[-1], self.config.token_rate))

    def decode(self, tokens: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Tokens `[1, L, 2]` -> waveform `[output_samples(L)]`, the diffusion noise drawn from `generator`."""
        window = PATCH_TOKENS // self.config.stack
        waveforms = []
        for windowed in split_windows(tokens, window):
            latent = self.encoder.token_to_quantized_feature(windowed)
            latent = torch.cat([latent, torch.ones(latent.shape[0], window - latent.shape[1], latent.shape[2],
                                                   device=latent.device) * -1], dim=1)
            waveforms.append(self.decoder.generate_sample(latent, generator).cpu().numpy())
        output = overlap_add(waveforms, SEGMENT_DURATION * SEGMENT_OVERLAP_RATIO)
        return torch.from_numpy(np.ascontiguousarray(output[0, 0, :output_samples(tokens.shape[1],
                                                                                   self.config.token_rate)]))
