"""WavTokenizer: EnCodec's SEANet encoder, one 4096-entry codebook and a Vocos decoder with an ISTFT head,
state-dict compatible with the novateur checkpoints."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
