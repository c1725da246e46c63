"""NVIDIA NeMo's audio codecs (low-frame-rate speech codec, mel/spectral codecs): FSQ codecs with HiFi-GAN decoders,
state-dict compatible with the generator of the released `.nemo` checkpoints, run without the NeMo toolkit."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
