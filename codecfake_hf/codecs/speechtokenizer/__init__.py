"""SpeechTokenizer: SEANet encoder/decoder around residual VQ, state-dict compatible with fnlp's checkpoint."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
