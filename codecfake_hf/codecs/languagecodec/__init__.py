"""LanguageCodec: EnCodec's SEANet encoder, a masked-channel residual VQ (8 of 1024-entry codebooks) and a Vocos
decoder, state-dict compatible with jishengpeng/Languagecodec's released Lightning checkpoint."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
