"""SemantiCodec (Liu et al. 2024): AudioMAE k-means semantic codes and LSTM-residual acoustic codes, decoded by a
latent diffusion model, a mel VAE and HiFi-GAN; state-dict compatible with the checkpoints of
`haoheliu/SemantiCodec`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
