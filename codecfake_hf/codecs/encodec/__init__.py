"""EnCodec (transformers `EncodecModel`), run as the CodecFake pipeline ran it."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
