"""FunCodec: EnCodec-style (time domain) and FreqCodec (magnitude/phase) models, state-dict compatible."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
