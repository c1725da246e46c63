"""Qwen3-TTS's 12 Hz speech tokenizer: transformers' Mimi encoder (16 of its 32 codebooks) and Qwen's decoder
(split-RVQ dequantiser, sliding-window transformer, ConvNeXt upsampler, SnakeBeta waveform decoder), written here;
state-dict compatible with `Qwen/Qwen3-TTS-Tokenizer-12Hz`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
