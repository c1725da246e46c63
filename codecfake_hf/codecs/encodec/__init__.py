"""EnCodec (transformers `EncodecModel`), run as the CodecFake pipeline ran it."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
