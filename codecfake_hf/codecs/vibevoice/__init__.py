"""VibeVoice's acoustic tokenizer (Microsoft): a causal σ-VAE, continuous 64-dim latents at 7.5 Hz, on transformers."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
