"""SpeechTokenizer: SEANet encoder/decoder around residual VQ, state-dict compatible with fnlp's checkpoint."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
