"""Pocket TTS's audio tokenizer (Kyutai): a causal Mimi-architecture VAE, continuous 32-dim latents at 12.5 Hz."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
