"""SoCodec: chinese-hubert-large features through a causal VQ-VAE with four product-VQ streams and an ECAPA-TDNN
speaker embedding, decoded to a mel spectrogram and a BigVGAN vocoder; state-dict compatible with hhguo/SoCodec's two
safetensors files and TencentGameMate/chinese-hubert-large's transformers weights."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
