"""TiCodec (frame-level residual VQ + time-invariant codes), state-dict compatible with the official checkpoints."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
