"""Descript Audio Codec (transformers `DacModel`) behind the `dac` package's compress()/decompress()."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
