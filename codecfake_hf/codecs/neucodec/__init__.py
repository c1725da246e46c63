"""NeuCodec (Neuphonic; X-Codec 2 with a 24 kHz decoder) on transformers' `NeuCodecModel`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
