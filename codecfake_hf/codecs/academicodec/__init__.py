"""AcademiCodec's HiFi-Codec (group-residual VQ), state-dict compatible with the official checkpoints."""

from .codec import build, default_config, download

__all__ = ["build", "default_config", "download"]
