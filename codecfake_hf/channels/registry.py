"""The channel conditions: named, parameterised, deterministic transforms that real audio goes through on its way to
a detector (lossy codecs, telephony, resampling, loudness normalisation), as ASVspoof 5 evaluates them.

The codec conditions run FFmpeg's own encoders through PyAV, whose wheels bundle an FFmpeg with aac, libmp3lame,
libopus, pcm_mulaw, libopencore_amrnb, g722 and g726 (checked with av 18.1; Debian's FFmpeg has no AMR encoder, and
no AMR-WB encoder is in either). A condition whose encoder the FFmpeg in use lacks is refused by name, with the list
of what is available.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from ..errors import UnknownConditionError
from .spec import ChannelSpec

_SPECS = [
    *(ChannelSpec(name=f"mp3_{k}k", kind="codec", encoder="libmp3lame", container="mp3", bit_rate=k * 1000,
                  description=f"MP3 (LAME) at {k} kbit/s CBR, as a re-upload or download would")
      for k in (32, 64, 128)),
    *(ChannelSpec(name=f"aac_{k}k", kind="codec", encoder="aac", container="adts", bit_rate=k * 1000,
                  description=f"AAC-LC (FFmpeg's encoder) at {k} kbit/s, as M4A or a messenger's voice note")
      for k in (32, 64)),
    *(ChannelSpec(name=f"opus_{k}k", kind="codec", encoder="libopus", container="ogg", bit_rate=k * 1000,
                  # CBR: libopus's default VBR spends ~75 % of the target on speech with pauses; CBR holds the rate
                  options={"application": "voip", "vbr": "off"},
                  description=f"Opus (libopus, VoIP mode, CBR) at {k} kbit/s, as a VoIP or messenger call")
      for k in (8, 16, 32)),
    ChannelSpec(name="amr_nb_12k2", kind="codec", encoder="libopencore_amrnb", container="amr", bit_rate=12200,
                rate=8000, description="AMR-NB at 12.2 kbit/s, 8 kHz: a GSM/3G mobile call"),
    ChannelSpec(name="g711_mulaw", kind="codec", encoder="pcm_mulaw", container="wav", rate=8000,
                description="G.711 mu-law, 8 kHz (64 kbit/s): a landline telephone call, 4 kHz band"),
    ChannelSpec(name="g722", kind="codec", encoder="g722", container="wav", bit_rate=64000, rate=16000,
                description="G.722 sub-band ADPCM at 64 kbit/s, 16 kHz: wideband (HD voice) telephony"),
    ChannelSpec(name="g726_32k", kind="codec", encoder="g726", container="wav", bit_rate=32000, rate=8000,
                description="G.726 ADPCM at 32 kbit/s, 8 kHz: DECT and VoIP telephony"),
    *(ChannelSpec(name=f"resample_{k}k", kind="resample", rate=k * 1000,
                  description=f"down to {k} kHz and back (soxr, very high quality): a {k} kHz hop in the chain")
      for k in (8, 16)),
    ChannelSpec(name="loudnorm", kind="loudness", target_lufs=-23.0,
                description="loudness normalised to -23 LUFS (EBU R128; ITU-R BS.1770 integrated loudness, one gain)"),
]

REGISTRY: Mapping[str, ChannelSpec] = MappingProxyType({s.name: s for s in _SPECS})
"""Condition name -> `ChannelSpec`, in the order of the table above (read-only)."""


def names() -> list[str]:
    """Every single condition's name (chains are written `a+b`)."""
    return list(REGISTRY)


def spec(name: str) -> ChannelSpec:
    """The `ChannelSpec` of one condition (not a chain), or UnknownConditionError listing the valid names."""
    found = REGISTRY.get(str(name).strip().lower())
    if found is None:
        close = difflib.get_close_matches(str(name).lower(), names(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownConditionError(f"Unknown channel condition {name!r}.{hint} Valid conditions: "
                                    f"{', '.join(names())}; chain them with `+` (`opus_16k+mp3_64k`).")
    return found


def chain(name: str) -> tuple[ChannelSpec, ...]:
    """The specs of a condition or chain (`opus_16k+mp3_64k`: Opus first, then MP3), each checked."""
    parts = [part.strip() for part in str(name).split("+")]
    if not all(parts):
        raise UnknownConditionError(f"Channel condition {name!r} has an empty link; write `a+b`, e.g. "
                                    "`opus_16k+mp3_64k`.")
    return tuple(spec(part) for part in parts)


def canonical(name: str) -> str:
    """The canonical spelling of a condition or chain (lower case, no spaces)."""
    return "+".join(s.name for s in chain(name))


def parse_condition_list(text: str) -> list[str]:
    """`a,b+c` -> canonical conditions in order, without repeats; each link checked, and each encoder available."""
    from .ffmpeg import check_available

    result: list[str] = []
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        name = canonical(item)
        for link in chain(name):
            check_available(link)
        if name not in result:
            result.append(name)
    if not result:
        raise UnknownConditionError(f"No channel condition named in {text!r}. Valid conditions: {', '.join(names())}.")
    return result
