"""Codec configs of the CodecFake paper: the registry, the `Codec` contract and one subpackage per family.

    >>> from codecfake_hf import codecs
    >>> codec = codecs.load("encodec_24khz")            # official weights, through the Hub cache
    >>> out, out_lengths = codec.resynthesize(waves, lengths)

Layout: `registry.py` (one `CodecSpec` per config, `load`), `base.py` (`Codec`, `CodecFamily`),
`weights.py` (Hub download and strict checkpoint loading), `nn/` (layers several families share) and
`<family>/` (each family's config, network and codec; see docs/ARCHITECTURE.md).
"""

from .base import Codec, CodecFamily
from .registry import REGISTRY, CodecSpec, load, names, parse_codec_list, register, resolve, spec

__all__ = ["REGISTRY", "Codec", "CodecFamily", "CodecSpec", "load", "names", "parse_codec_list", "register",
           "resolve", "spec"]
