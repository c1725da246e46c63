"""FACodec (Amphion, NaturalSpeech 3): factorised VQ of prosody, content and acoustic detail, plus a timbre
embedding; state-dict compatible with the v2 checkpoints of `amphion/naturalspeech3_facodec`."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
