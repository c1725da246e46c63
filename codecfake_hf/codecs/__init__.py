"""Codec configs of the CodecFake paper: the registry, the `Codec` contract and one module per family.

    >>> from codecfake_hf import codecs
    >>> codec = codecs.load("encodec_24khz")            # official weights, through the Hub cache
    >>> out, out_lengths = codec.resynthesize(waves, lengths)
"""

from .base import Codec
from .registry import REGISTRY, CodecSpec, load, names, parse_codec_list, resolve, spec

__all__ = ["REGISTRY", "Codec", "CodecSpec", "load", "names", "parse_codec_list", "resolve", "spec"]
