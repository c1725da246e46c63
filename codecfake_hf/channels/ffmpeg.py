"""Channel conditions applied: FFmpeg's encoders and decoders through PyAV, soxr resampling, BS.1770 loudness.

Every condition maps a float32 utterance `[T]` at rate `R` to one of the same length at the same rate, so that a
condition's rows line up with the clean ones and a detector sees the rate it was trained at:

1. the utterance is brought to the channel's rate (telephony: 8 kHz; Opus: 8/12/16/24/48 kHz, the input's rate
   when Opus has it, else 48 kHz) with soxr, and quantised to 16-bit PCM, as a device would hand it to an encoder;
2. it is encoded and muxed in memory, then demuxed and decoded by FFmpeg (the decoder's rate, e.g. Opus's 48 kHz,
   is brought back to the channel's);
3. the codec's delay (encoder look-ahead, AAC's 1024 priming samples, AMR's 40) is trimmed: it is measured once per
   condition and rate on a fixed probe signal (the lag of the decoded probe's peak cross-correlation with the
   probe) and cut from every utterance, which is then cut or zero-padded to its input length;
4. back to the input's rate with soxr.

The same bytes in give the same bytes out (the encoders are deterministic for a given build); `describe` records
the FFmpeg and PyAV versions and each encoder's parameters for the dataset card.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np

from ..errors import UnknownConditionError
from .registry import chain, names
from .spec import ChannelSpec

# Opus runs at these rates only (libopus); the input's own rate when it is one, else 48 kHz.
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# The delay search range: no encoder here delays by more than this.
MAX_DELAY_S = 0.25


def _av():
    try:
        import av
    except ImportError as error:  # a dependency of the package; only a broken install lacks it
        raise UnknownConditionError("Channel conditions need PyAV (`pip install av`), which bundles FFmpeg's "
                                    f"encoders; it cannot be imported here ({error}).") from None
    return av


def check_available(spec: ChannelSpec) -> None:
    """Refuse a codec condition whose encoder the FFmpeg bundled with PyAV lacks, naming what is available."""
    if spec.kind != "codec":
        return
    av = _av()
    try:
        av.codec.Codec(spec.encoder, "w")
    except Exception:  # av.codec.codec.UnknownCodecError and friends
        available = [n for n in names() if _encoder_ok(n)]
        raise UnknownConditionError(
            f"Channel condition {spec.name!r} needs FFmpeg's {spec.encoder!r} encoder, which the FFmpeg of PyAV "
            f"{av.__version__} lacks. Available here: {', '.join(available)}.") from None


@functools.cache
def _encoder_ok(name: str) -> bool:
    spec = chain(name)[0]
    if spec.kind != "codec":
        return True
    try:
        _av().codec.Codec(spec.encoder, "w")
    except Exception:
        return False
    return True


def channel_rate(spec: ChannelSpec, rate: int) -> int:
    """The rate the condition's channel runs at for an input at `rate`."""
    if spec.rate:
        return spec.rate
    if spec.encoder == "libopus":
        return rate if rate in _OPUS_RATES else 48000
    supported = _av().codec.Codec(spec.encoder, "w").audio_rates if spec.kind == "codec" else None
    if not supported or rate in supported:
        return rate
    above = sorted(r for r in supported if r >= rate)
    return above[0] if above else max(supported)


def roundtrip(spec: ChannelSpec, wave: np.ndarray, rate: int) -> tuple[np.ndarray, int, int]:
    """Encode `wave` (float32 `[T]` at `rate`, the channel's) with `spec`'s encoder into its container in memory,
    then decode it: (decoded float32 `[T']`, the decoder's rate, the encoded payload's bytes)."""
    av = _av()
    check_available(spec)
    pcm = np.clip(np.round(np.asarray(wave, np.float64) * 32767), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    payload = 0
    with av.open(buffer, "w", format=spec.container) as out:
        stream = out.add_stream(spec.encoder, rate=rate, layout="mono")
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        if spec.options:
            stream.options = dict(spec.options)
        frame = av.AudioFrame.from_ndarray(pcm[None], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            payload += packet.size
            out.mux(packet)
    chunks, decoded_rate = [], rate
    with av.open(io.BytesIO(buffer.getvalue()), "r") as source:
        audio = source.streams.audio[0]
        decoded_rate = audio.codec_context.sample_rate
        for decoded in source.decode(audio):
            chunks.append(_mono_float(decoded.to_ndarray(), decoded.format.is_planar))
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), int(decoded_rate), payload


def _mono_float(array: np.ndarray, planar: bool) -> np.ndarray:
    first = array[0] if planar else array.reshape(-1)  # mono: one plane, or one interleaved channel
    if first.dtype == np.int16:
        return first.astype(np.float32) / 32768.0
    if first.dtype == np.int32:
        return (first.astype(np.float64) / 2**31).astype(np.float32)
    return first.astype(np.float32)


def _probe(rate: int) -> np.ndarray:
    """A fixed 2 s probe at `rate`: a rising chirp under seeded noise, so its autocorrelation has one sharp peak."""
    t = np.arange(2 * rate) / rate
    top = 0.45 * rate
    chirp = np.sin(2 * np.pi * (100 * t + (top - 100) / 4 * t**2))
    noise = np.random.default_rng(20260).standard_normal(t.shape[0])
    return (0.25 * chirp + 0.05 * noise).astype(np.float32)


@functools.cache
def codec_delay(name: str, rate: int) -> int:
    """The decoder output's lag behind the input, in samples at the channel's `rate`, for condition `name`."""
    from scipy.signal import correlate

    spec = chain(name)[0]
    probe = _probe(rate)
    decoded, decoded_rate, _ = roundtrip(spec, probe, rate)
    if decoded_rate != rate:
        decoded = _resample(decoded, decoded_rate, rate)
    window = int(MAX_DELAY_S * rate)
    correlation = correlate(decoded[: probe.shape[0] + window], probe, mode="full", method="fft")
    lags = np.arange(-probe.shape[0] + 1, correlation.shape[0] - probe.shape[0] + 1)
    allowed = (lags >= 0) & (lags <= window)
    return int(lags[allowed][np.argmax(correlation[allowed])])


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    from ..audio import resample

    return wave if rate == target else resample(wave, rate, target).astype(np.float32)


def _fit(wave: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[: min(n, wave.shape[0])] = wave[:n]
    return out


def _apply_one(spec: ChannelSpec, wave: np.ndarray, rate: int) -> np.ndarray:
    n = wave.shape[0]
    if spec.kind == "loudness":
        from ..codecs.nn.loudness import integrated_loudness

        loudness = integrated_loudness(wave, rate)
        if loudness <= -70.0:  # silence (BS.1770's floor): nothing to bring up
            return wave.astype(np.float32)
        return (wave * 10 ** ((spec.target_lufs - loudness) / 20)).astype(np.float32)
    if spec.kind == "resample":
        return _fit(_resample(_resample(wave, rate, spec.rate), spec.rate, rate), n)
    inner = channel_rate(spec, rate)
    x = _resample(wave, rate, inner)
    # An encoder needs a frame or more (AAC 1024 samples, AMR 20 ms): a shorter utterance goes through the channel
    # with trailing silence up to the delay search range (more than any frame and delay here), then is cut back.
    # Only what follows the utterance changes: the same silence an encoder's flush pads its last frame with.
    floor = int(MAX_DELAY_S * inner)
    padded = np.pad(x, (0, floor - x.shape[0])) if x.shape[0] < floor else x
    decoded, decoded_rate, _ = roundtrip(spec, padded, inner)
    decoded = _resample(decoded, decoded_rate, inner)
    lag = codec_delay(spec.name, inner)
    decoded = _fit(decoded[lag:], x.shape[0])
    return _fit(_resample(decoded, inner, rate), n)


def apply(name: str, wave: np.ndarray, rate: int) -> np.ndarray:
    """`wave` (float32 `[T]` at `rate`) through condition or chain `name`: float32 `[T]` at `rate`."""
    wave = np.asarray(wave, np.float32).reshape(-1)
    if not wave.shape[0]:  # nothing to encode: no channel changes an empty utterance's length
        chain(name)  # an unknown name is still refused
        return wave
    for spec in chain(name):
        wave = _apply_one(spec, wave, int(rate))
    return wave


def describe(name: str, rate: int) -> list[dict[str, Any]]:
    """What a dataset card records of condition or chain `name` for inputs at `rate`: per link, the encoder (FFmpeg's
    name and long name), the libavcodec and PyAV versions, bit rate, channel rate, options and the trimmed delay."""
    av = _av()
    out = []
    for spec in chain(name):
        entry: dict[str, Any] = {"condition": spec.name, "kind": spec.kind, "description": spec.description}
        if spec.kind == "codec":
            inner = channel_rate(spec, rate)
            codec = av.codec.Codec(spec.encoder, "w")
            entry.update(encoder=spec.encoder, encoder_name=codec.long_name, container=spec.container,
                         bit_rate=spec.bit_rate or None, channel_rate=inner, options=dict(spec.options),
                         delay_samples=codec_delay(spec.name, inner),
                         libavcodec=".".join(map(str, av.library_versions["libavcodec"])), pyav=av.__version__)
        elif spec.kind == "resample":
            import soxr

            entry.update(channel_rate=spec.rate, resampler=f"soxr {soxr.__version__} (VHQ)")
        else:
            entry.update(target_lufs=spec.target_lufs)
        out.append(entry)
    return out
