"""FocalCodec: WavLM features, focal modulation compressor, binary spherical quantiser, Vocos decoder."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
