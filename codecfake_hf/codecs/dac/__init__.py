"""Descript Audio Codec (transformers `DacModel`) behind the `dac` package's compress()/decompress()."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
