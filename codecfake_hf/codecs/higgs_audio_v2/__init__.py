"""The Higgs Audio v2 tokenizer (Boson AI): X-Codec-style semantic + acoustic RVQ, 25 Hz at 24 kHz, no torchaudio."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
