"""Mimi (Kyutai, the codec of Moshi) on transformers' `MimiModel`."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
