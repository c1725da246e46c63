"""Audio in and out: read to float32 mono, resample with soxr, clamp + PCM16 as CodecFake did, FLAC bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

# The CodecFake pipeline's save_audio() clamped every resynthesised waveform to ±0.99 and wrote
# 16-bit PCM through torchaudio, whose float -> int16 conversion scales by 2**15 and rounds.
CLAMP = 0.99
PCM16_SCALE = 32768.0

PathLike = str | os.PathLike


def read_audio(path: PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file to a float32 mono waveform and its sample rate.

    Channels are mixed by their mean (the same as an equal-gain downmix), so a stereo file with the
    same signal on both channels reads as that signal. soundfile (libsndfile) reads WAV, FLAC, OGG and
    MP3; anything else goes through FFmpeg by way of torchcodec.

    Raises:
        AudioError: the file is missing, unreadable, empty, zero-length or holds NaN/inf samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file. Check the path (and the corpus folder you passed).")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); remove it or replace it with the real audio.")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as sf_error:
        data, rate = _read_with_ffmpeg(path, sf_error)
    return _to_mono_checked(data, rate, str(path))


def _read_with_ffmpeg(path: Path, sf_error: Exception) -> tuple[np.ndarray, int]:
    try:
        from torchcodec.decoders import AudioDecoder

        samples = AudioDecoder(str(path)).get_all_samples()
    except Exception as error:  # torchcodec raises plain RuntimeError/ValueError for bad files
        raise AudioError(
            # torchcodec's messages run over several lines (with a "please report" footer): keep the first.
            f"{path}: not readable as audio (soundfile: {sf_error}; FFmpeg: {str(error).splitlines()[0]}). "
            "The file is corrupt or not audio; remove it or convert it to WAV/FLAC."
        ) from error
    return samples.data.numpy().T.astype(np.float32), int(samples.sample_rate)


def _to_mono_checked(data: np.ndarray, rate: int, name: str) -> tuple[np.ndarray, int]:
    if data.ndim == 2:
        data = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if data.size == 0:
        raise AudioError(f"{name}: the audio has zero samples; remove the file or re-record it.")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: the audio holds NaN or infinite samples; the file is corrupt.")
    if rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {rate}.")
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


def check_waveform(wave: np.ndarray, name: str) -> np.ndarray:
    """Return `wave` as float32 mono, or raise `AudioError` naming `name` if it is empty or non-finite."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:  # (samples, channels)
        wave = wave.mean(axis=1, dtype=np.float32)
    if wave.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D waveform (or samples x channels), got shape {wave.shape}.")
    return _to_mono_checked(wave, 1, name)[0]


# `soxr`: the default, soxr at its highest quality. `sinc`: torchaudio's windowed-sinc `Resample`
# defaults (codecfake_hf.resample), what the CodecFake pipeline fed its 24 and 44.1 kHz codecs.
RESAMPLERS = ("soxr", "sinc")


def resample(wave: np.ndarray, orig_rate: int, target_rate: int, method: str = "soxr") -> np.ndarray:
    """Resample a float32 waveform with `method` (see `RESAMPLERS`); a no-op when rates match.

    `soxr` (default) is soxr at "VHQ"; `sinc` is `codecfake_hf.resample.sinc_resample` (torchaudio's
    `Resample` defaults, output length `ceil(n · target / orig)`), run on the CPU.
    """
    if method not in RESAMPLERS:
        raise ValueError(f"resampler {method!r} is not one of {', '.join(RESAMPLERS)}")
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    if method == "sinc":
        import torch

        from .resample import sinc_resample

        return sinc_resample(torch.from_numpy(np.asarray(wave, dtype=np.float32)), orig_rate, target_rate).numpy()
    return soxr.resample(wave, orig_rate, target_rate, quality="VHQ").astype(np.float32, copy=False)


def to_pcm16(wave: np.ndarray, clamp: float = CLAMP) -> np.ndarray:
    """Clamp to ±`clamp` and quantise to int16 (scale 2**15, round half to even), as CodecFake did."""
    wave = np.clip(np.asarray(wave, dtype=np.float64), -clamp, clamp)
    return np.clip(np.rint(wave * PCM16_SCALE), -32768, 32767).astype(np.int16)


def from_pcm16(pcm: np.ndarray) -> np.ndarray:
    """int16 samples back to float32 in [-1, 1)."""
    return (np.asarray(pcm, dtype=np.int16).astype(np.float32) / PCM16_SCALE).astype(np.float32)


def encode_flac(pcm: np.ndarray, sample_rate: int) -> bytes:
    """Encode int16 mono samples as FLAC (16-bit, lossless) bytes."""
    pcm = np.asarray(pcm)
    if pcm.dtype != np.int16:
        raise TypeError(f"encode_flac takes int16 samples (see to_pcm16), got {pcm.dtype}")
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """Decode FLAC (or any soundfile-readable) bytes to int16 mono samples and the sample rate."""
    try:
        pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=False)
    except sf.LibsndfileError as error:
        raise AudioError(f"<bytes>: not decodable as FLAC ({error})") from error
    return pcm, int(rate)


def decode_audio_bytes(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """Encoded audio (FLAC, WAV... as soundfile reads them) to a float32 mono waveform and its rate.

    A 16-bit file decodes to `from_pcm16` of its samples exactly (libsndfile scales by 2**15 too), so a
    genuine row's audio decoded here is, sample for sample, the waveform that was quantised into it.

    Raises:
        AudioError: `name` is not decodable, empty or holds NaN/inf samples.
    """
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        reason = getattr(error, "error_string", str(error))  # without the BytesIO's address
        raise AudioError(f"{name}: the encoded audio is not decodable ({reason}).") from error
    return _to_mono_checked(samples, rate, name)
