"""FunCodec: EnCodec-style (time domain) and FreqCodec (magnitude/phase) models, state-dict compatible."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
