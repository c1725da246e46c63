"""Channel conditions: what real audio goes through before it reaches a detector (MP3, AAC, Opus, AMR-NB, G.711,
G.722, G.726, resampling, loudness normalisation, and chains of them), beside the codec registry.

    >>> from codecfake_hf import channels
    >>> channels.names()                                  # single conditions; chain them with `+`
    >>> out = channels.apply("opus_16k+mp3_64k", wave, 16000)   # float32 [T] at 16 kHz -> float32 [T] at 16 kHz
    >>> channels.describe("opus_16k", 16000)              # encoder, versions, parameters, delay: for the card
"""

from .ffmpeg import apply, channel_rate, codec_delay, describe, roundtrip
from .registry import REGISTRY, canonical, chain, names, parse_condition_list, spec
from .spec import ChannelSpec

__all__ = ["REGISTRY", "ChannelSpec", "apply", "canonical", "chain", "channel_rate", "codec_delay", "describe",
           "names", "parse_condition_list", "roundtrip", "spec"]
