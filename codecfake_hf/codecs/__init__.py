"""Codec configs: the registry, the `Codec` contract and one folder per family (the unit of change).

    >>> from codecfake_hf import codecs
    >>> codec = codecs.load("encodec_24khz")            # official weights, through the Hub cache
    >>> out, out_lengths = codec.resynthesize(waves, lengths)

Layout: `spec.py` (`CodecSpec`, the taxonomy), `registry.py` (collects every family's specs and installed
plugins', `load`), `base.py` (`Codec`, `Runtime`, `CodecFamily`), `weights.py` (Hub download and strict
checkpoint loading), `nn/` (layers several families share) and `<family>/` (each family's specs, config, network
and codec; see docs/ARCHITECTURE.md, "Add a codec family").
"""

from .base import Codec, CodecFamily, Runtime
from .registry import REGISTRY, load, load_plugins, names, parse_codec_list, register, resolve, spec
from .spec import CodecSpec

__all__ = ["REGISTRY", "Codec", "CodecFamily", "CodecSpec", "Runtime", "load", "names", "parse_codec_list",
           "register", "resolve", "spec"]

# Plugin families last: their modules may import the names above.
load_plugins()
