"""Audio in and out: read to float32 mono, resample with soxr, clamp + PCM16 as CodecFake did, FLAC bytes."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

# The CodecFake pipeline's save_audio() clamped every resynthesised waveform to ±0.99 and wrote
# 16-bit PCM through torchaudio, whose float -> int16 conversion scales by 2**15 and rounds.
CLAMP = 0.99
PCM16_SCALE = 32768.0
PCM24_SCALE = 8388608.0  # 2**23: a 24-bit sample's full scale

# Sample rates a file may state: outside these bounds the header is wrong or the file is not audio.
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
# Below this peak an utterance is silence: loudness normalisation (DAC) and peak normalisation
# (AcademiCodec) divide by it, and a detector would learn nothing from it.
SILENCE_PEAK = 1e-6
# A mono mix more than 60 dB below its loudest channel: the channels cancel (one is the other inverted, to
# within the last bit of 16-bit rounding), and what is left is rounding noise, not speech.
CANCELLED = 1e-3

PathLike = str | os.PathLike


def read_audio(path: PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file to a float32 mono waveform and its sample rate.

    Channels are mixed by their mean (the same as an equal-gain downmix), so a stereo file with the
    same signal on both channels reads as that signal. soundfile (libsndfile) reads WAV, FLAC, OGG and
    MP3; anything else goes through FFmpeg by way of torchcodec.

    Raises:
        AudioError: the file is missing, unreadable, empty, truncated (fewer samples than its header
            declares), zero-length, silent (also when its channels cancel out in the mix), holds
            NaN/inf samples, or states a sample rate outside `MIN_SAMPLE_RATE`..`MAX_SAMPLE_RATE`.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file. Check the path (and the corpus folder you passed).")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); remove it or replace it with the real audio.")
    _check_wav_length(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as sf_error:
        data, rate = _read_with_ffmpeg(path, sf_error)
    declared = _declared_frames(path)
    if declared is not None and data.shape[0] < declared:
        raise AudioError(f"{path}: truncated: its header declares {declared} samples, the file holds "
                         f"{data.shape[0]}. Replace it with a complete copy (or remove it).")
    check_rate(rate, str(path))
    return _to_mono_checked(data, str(path)), int(rate)


def check_rate(rate: int, name: str) -> int:
    """`rate` when it is a plausible audio rate (`MIN_SAMPLE_RATE`..`MAX_SAMPLE_RATE` Hz), else `AudioError`.

    A file's header can state any rate: 1 Hz made a 100 s row of 100 samples, 2 GHz a resampling
    that ran out of memory. Real speech audio lies within these bounds.
    """
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"{name}: sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz; "
                         "the header is wrong or this is not audio. Fix the file's rate (or remove the file).")
    return int(rate)


def _check_wav_length(path: Path) -> None:
    """A WAV whose `data` chunk declares more bytes than the file holds is truncated (libsndfile reads
    what is there without a word, which would make a short row)."""
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = os.fstat(file.fileno()).st_size
        position = 12
        while position + 8 <= size:
            file.seek(position)
            chunk, length = struct.unpack("<4sI", file.read(8))
            if chunk == b"data":
                available = size - position - 8
                # 0 and 0xFFFFFFFF: a streaming writer that never went back to fill in the size
                if length not in (0, 0xFFFFFFFF) and length > available:
                    raise AudioError(f"{path}: truncated: its header declares {length} bytes of audio, the file "
                                     f"holds {available}. Replace it with a complete copy (or remove it).")
                return
            position += 8 + length + (length & 1)


def _declared_frames(path: Path) -> int | None:
    """The sample count a FLAC header declares (None when unknown: other formats, or 0 in the header)."""
    if path.suffix.lower() != ".flac":
        return None
    try:
        frames = sf.info(str(path)).frames
    except (sf.LibsndfileError, RuntimeError):
        return None
    return int(frames) if 0 < frames < 2**62 else None


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


def _to_mono_checked(data: np.ndarray, name: str) -> np.ndarray:
    channels = data.shape[1] if data.ndim == 2 else 1
    mixed = data
    if data.ndim == 2:
        mixed = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if mixed.size == 0:
        raise AudioError(f"{name}: the audio has zero samples; remove the file or re-record it.")
    if not np.isfinite(mixed).all():
        raise AudioError(f"{name}: the audio holds NaN or infinite samples; the file is corrupt.")
    peak = float(np.abs(mixed).max())
    if channels > 1 and peak < CANCELLED * float(np.abs(data).max()):
        raise AudioError(f"{name}: silent once mixed to mono: its {channels} channels cancel out (one is the "
                         "other inverted). Keep one channel of the file (or fix its wiring).")
    if peak < SILENCE_PEAK:
        raise AudioError(f"{name}: the audio is silent (peak below {SILENCE_PEAK:g}); remove the file.")
    return np.ascontiguousarray(mixed, dtype=np.float32)


def check_waveform(wave: np.ndarray, name: str) -> np.ndarray:
    """Return `wave` as float32 mono, or raise `AudioError` naming `name` if it is empty, silent or non-finite."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim not in (1, 2):
        raise AudioError(f"{name}: expected a 1-D waveform (or samples x channels), got shape {wave.shape}.")
    return _to_mono_checked(wave, name)


def clipped_samples(wave: np.ndarray, clamp: float = 1.0) -> int:
    """How many samples of `wave` lie beyond ±`clamp` (what `to_pcm16(wave, clamp)` will clip)."""
    return int(np.count_nonzero(np.abs(wave) > clamp))


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


def is_pcm16(wave: np.ndarray) -> bool:
    """Whether 16-bit PCM holds `wave` exactly (every sample a multiple of 2**-15 within full scale), as
    a 16-bit file reads; a 24-bit or float file's audio mostly does not."""
    scaled = np.asarray(wave, dtype=np.float64) * PCM16_SCALE
    return bool(np.all(scaled == np.rint(scaled)) and np.all((scaled >= -32768) & (scaled <= 32767)))


def to_pcm24(wave: np.ndarray, clamp: float = CLAMP) -> np.ndarray:
    """Clamp to ±`clamp` and quantise to 24-bit samples (scale 2**23, round half to even), held in int32."""
    wave = np.clip(np.asarray(wave, dtype=np.float64), -clamp, clamp)
    return np.clip(np.rint(wave * PCM24_SCALE), -8388608, 8388607).astype(np.int32)


def encode_flac(pcm: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono PCM samples as lossless FLAC bytes: int16 samples (see `to_pcm16`) as 16-bit FLAC, int32
    samples holding 24-bit values (see `to_pcm24`) as 24-bit FLAC."""
    pcm = np.asarray(pcm)
    buffer = io.BytesIO()
    if pcm.dtype == np.int16:
        sf.write(buffer, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    elif pcm.dtype == np.int32:
        if pcm.size and (pcm.min() < -8388608 or pcm.max() > 8388607):
            raise ValueError("encode_flac: int32 samples must hold 24-bit values (see to_pcm24)")
        # libsndfile writes int32 as 32-bit full scale and keeps the top 24 bits: shift the value up to them.
        sf.write(buffer, pcm << 8, sample_rate, format="FLAC", subtype="PCM_24")
    else:
        raise TypeError(f"encode_flac takes int16 (see to_pcm16) or 24-bit int32 samples (see to_pcm24), "
                        f"got {pcm.dtype}")
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
        AudioError: `name` is not decodable, empty, silent, holds NaN/inf samples or states an absurd rate.
    """
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        reason = getattr(error, "error_string", str(error))  # without the BytesIO's address
        raise AudioError(f"{name}: the encoded audio is not decodable ({reason}).") from error
    return _to_mono_checked(samples, name), check_rate(rate, name)
