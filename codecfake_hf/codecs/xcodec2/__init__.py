"""X-Codec 2 (HKUSTAudio, the codec of Llasa) on transformers' `Xcodec2Model`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
