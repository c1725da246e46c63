"""`ChannelSpec`: one named channel condition, a deterministic transform through a real encoder (or resampler)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

KINDS = ("codec", "resample", "loudness")


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """The facts of one channel condition.

    Args:
        name (str): the condition's name (`opus_16k`); a chain joins names with `+` (`opus_16k+mp3_64k`).
        kind (str): `codec` (encode and decode through an FFmpeg encoder), `resample` (down to `rate` and back) or
            `loudness` (a gain to `target_lufs`, ITU-R BS.1770 / EBU R128).
        description (str): what the condition stands for, in words (the card says it).
        encoder (str): FFmpeg's encoder name (`libopus`, `libmp3lame`, ...), for `codec`.
        container (str): the container the packets are muxed into and read back from (`ogg`, `mp3`, `adts`, ...).
        bit_rate (int): the encoder's target bit rate in bit/s (0: the codec's own, as for G.711).
        rate (int | None): the rate the channel runs at (telephony: 8000); None: the input's rate where the encoder
            supports it, else the nearest supported rate above it.
        options (Mapping[str, str]): encoder options (`{"application": "voip"}` for Opus).
        target_lufs (float): the integrated loudness a `loudness` condition brings every utterance to.
    """

    name: str
    kind: str
    description: str
    encoder: str = ""
    container: str = ""
    bit_rate: int = 0
    rate: int | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    target_lufs: float = -23.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ChannelSpec {self.name!r}: kind={self.kind!r}; valid: {', '.join(KINDS)}.")
        if "+" in self.name or "@" in self.name:
            raise ValueError(f"ChannelSpec {self.name!r}: `+` joins a chain and `@` a codec to a condition.")
        if self.kind == "codec" and not (self.encoder and self.container):
            raise ValueError(f"ChannelSpec {self.name!r}: a codec condition names its encoder and container.")
        if self.kind == "resample" and not self.rate:
            raise ValueError(f"ChannelSpec {self.name!r}: a resample condition names its rate.")
