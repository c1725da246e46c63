"""Mimi (Kyutai, the codec of Moshi) on transformers' `MimiModel`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
