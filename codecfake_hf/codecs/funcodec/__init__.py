"""FunCodec: EnCodec-style (time domain) and FreqCodec (magnitude/phase) models, state-dict compatible."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
