"""DualCodec: a w2v-BERT 2.0 semantic codebook and DAC acoustic codebooks at 12.5 or 25 Hz, 24 kHz."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
