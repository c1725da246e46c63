"""HILCodec: a causal, variance-constrained SEANet with spectrogram branches and an 8-stage residual VQ, state-dict
compatible with the generator (`model`) of aask1357/hilcodec's released checkpoints."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
