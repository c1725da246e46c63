"""X-Codec (semantic + acoustic RVQ codec) on transformers' `XcodecModel`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
