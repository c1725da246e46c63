"""SpeechTokenizer: SEANet encoder/decoder around residual VQ, state-dict compatible with fnlp's checkpoint."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
