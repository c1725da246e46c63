"""The Pocket TTS audio tokenizer (Kyutai, a Mimi-architecture codec with continuous latents) on transformers."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
