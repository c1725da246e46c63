"""codecfake-hf: build, publish and benchmark codec-resynthesised deepfake speech on the HF stack."""

from .errors import (
    AudioError,
    BackendNotBuiltError,
    CheckpointError,
    CodecConfigError,
    CodecFakeError,
    UnknownCodecError,
    WeightsUnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "BackendNotBuiltError",
    "CheckpointError",
    "CodecConfigError",
    "CodecFakeError",
    "UnknownCodecError",
    "WeightsUnavailableError",
    "__version__",
]
