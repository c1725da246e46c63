"""BigCodec: SnakeBeta convolutional encoder/decoder with LSTMs around one 8192-entry factorised VQ codebook,
state-dict compatible with Alethia/BigCodec's bigcodec.pt."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
