"""Descript Audio Codec (transformers `DacModel`) behind the `dac` package's compress()/decompress()."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
