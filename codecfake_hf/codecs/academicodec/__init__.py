"""AcademiCodec's HiFi-Codec (group-residual VQ), state-dict compatible with the official checkpoints."""

from .codec import OPTIONS, build, default_config, download

__all__ = ["OPTIONS", "build", "default_config", "download"]
