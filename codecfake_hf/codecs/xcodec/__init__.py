"""X-Codec (semantic + acoustic RVQ codec) on transformers' `XcodecModel`."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
