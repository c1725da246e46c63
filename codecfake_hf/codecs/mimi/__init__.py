"""Mimi (Kyutai, the codec of Moshi) on transformers' `MimiModel`."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
