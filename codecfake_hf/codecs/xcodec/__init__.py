"""X-Codec (semantic + acoustic RVQ codec) on transformers' `XcodecModel`."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
