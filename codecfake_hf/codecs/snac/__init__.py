"""SNAC (Multi-Scale Neural Audio Codec): residual VQ at several rates; loads the official files strictly."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
