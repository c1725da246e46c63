"""LLM-Codec (UniAudio 1.5): SNAC's network over frozen LLM-vocabulary codebooks; loads the released file strictly."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
