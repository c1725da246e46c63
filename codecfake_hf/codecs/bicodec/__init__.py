"""BiCodec: Spark-TTS's codec, 50 Hz semantic tokens of one codebook and 32 global (speaker) tokens, 16 kHz."""

from .codec import OPTIONS, build, default_config, download
from .specs import SPECS

__all__ = ["OPTIONS", "SPECS", "build", "default_config", "download"]
