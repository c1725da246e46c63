"""EnCodec (transformers `EncodecModel`), run as the CodecFake pipeline ran it."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
