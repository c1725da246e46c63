"""Vocos over EnCodec tokens: EnCodec 24 kHz codes decoded by a ConvNeXt backbone and an ISTFT head."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
