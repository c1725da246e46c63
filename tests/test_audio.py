"""codecfake_hf.audio: reading, resampling, PCM16 quantisation and FLAC round trips."""

import numpy as np
import pytest
import soundfile as sf

from codecfake_hf import AudioError
from codecfake_hf.audio import (
    CLAMP,
    check_waveform,
    decode_audio_bytes,
    decode_flac,
    encode_flac,
    from_pcm16,
    is_pcm16,
    read_audio,
    resample,
    to_pcm16,
    to_pcm24,
)


def test_pcm16_flac_round_trip_is_bit_exact():
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32768, size=48_000, dtype=np.int16)
    decoded, rate = decode_flac(encode_flac(pcm, 24_000))
    assert rate == 24_000
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, pcm)


def test_pcm24_flac_round_trip_is_bit_exact_and_decodes_to_the_24_bit_values():
    import io

    rng = np.random.default_rng(1)
    pcm = rng.integers(-2 ** 23, 2 ** 23, size=24_000, dtype=np.int32)
    pcm[:2] = -(2 ** 23), 2 ** 23 - 1  # both ends of the range
    data = encode_flac(pcm, 48_000)
    assert sf.info(io.BytesIO(data)).subtype == "PCM_24"
    stored, _ = sf.read(io.BytesIO(data), dtype="int32")
    np.testing.assert_array_equal(stored >> 8, pcm)
    wave, rate = decode_audio_bytes(data, "x")  # what a codec is fed from a genuine row: exact in float32
    assert rate == 48_000
    np.testing.assert_array_equal(wave.astype(np.float64) * 2 ** 23, pcm)
    with pytest.raises(ValueError, match="24-bit values"):
        encode_flac(pcm << 4, 48_000)
    with pytest.raises(TypeError, match="int16"):
        encode_flac(pcm.astype(np.float32), 48_000)


def test_is_pcm16_and_to_pcm24():
    assert is_pcm16(from_pcm16(np.array([-32768, 0, 5, 32767], dtype=np.int16)))
    assert not is_pcm16(np.array([2.0 ** -20], dtype=np.float32))
    assert not is_pcm16(np.array([1.0], dtype=np.float32))  # beyond 16-bit full scale
    np.testing.assert_array_equal(to_pcm24(np.array([-2.0, -1.0, 2.0 ** -23, 0.5, 1.0]), clamp=1.0),
                                  [-(2 ** 23), -(2 ** 23), 1, 2 ** 22, 2 ** 23 - 1])


def test_to_pcm16_clamps_to_099_and_scales_by_2_15():
    wave = np.array([-2.0, -0.99, -0.5, 0.0, 0.25, 0.99, 1.5, 1e-5], dtype=np.float32)
    pcm = to_pcm16(wave)
    limit = round(CLAMP * 32768)  # 32440
    np.testing.assert_array_equal(pcm, [-limit, -limit, -16384, 0, 8192, limit, limit, 0])
    # float -> int16 -> float stays within half a quantisation step inside the clamp range
    inside = np.linspace(-0.99, 0.99, 1001, dtype=np.float32)
    assert np.abs(from_pcm16(to_pcm16(inside)) - inside).max() <= 0.5 / 32768 + 1e-9


def test_read_audio_mixes_channels_by_mean(tmp_path):
    left = np.full(1000, 0.5, dtype=np.float32)
    right = np.full(1000, -0.25, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16_000, subtype="FLOAT")
    wave, rate = read_audio(path)
    assert rate == 16_000 and wave.dtype == np.float32 and wave.shape == (1000,)
    np.testing.assert_allclose(wave, 0.125)


def test_read_audio_reads_flac_and_resample_keeps_a_tone(tmp_path):
    t = np.arange(48_000) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "tone.flac"
    sf.write(path, tone, 48_000, subtype="PCM_16")
    wave, rate = read_audio(path)
    assert rate == 48_000
    down = resample(wave, rate, 16_000)
    assert down.shape == (16_000,) and down.dtype == np.float32
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)
    # soxr VHQ: away from the edges the resampled tone matches the analytic one closely
    assert np.abs(down[500:-500] - expected[500:-500]).max() < 1e-3
    assert resample(down, 16_000, 16_000) is not None and np.array_equal(resample(down, 16_000, 16_000), down)


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"RIFF\x00\x00not really a wave file at all" * 4), "not readable as audio"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), 16_000), "zero samples"),
        (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2], dtype=np.float32), 16_000, subtype="FLOAT"),
         "NaN or infinite"),
    ],
    ids=["missing", "empty-file", "corrupt", "zero-length", "non-finite"],
)
def test_bad_files_raise_audio_error_naming_file_and_cause(tmp_path, make, cause):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=cause) as info:
        read_audio(path)
    assert str(path) in str(info.value)


def test_check_waveform_names_the_input():
    with pytest.raises(AudioError, match="p225_001: the audio holds NaN"):
        check_waveform(np.array([0.0, np.inf], dtype=np.float32), "p225_001")
    with pytest.raises(AudioError, match="p225_002: the audio has zero samples"):
        check_waveform(np.zeros(0, dtype=np.float32), "p225_002")


def test_real_release_clip_reads_at_its_rate(demo_dir):
    wave, rate = read_audio(demo_dir / "genuine+p225_273.wav")
    assert rate == 16_000 and wave.shape == (102_472,)
    assert 0.01 < np.abs(wave).max() <= 1.0
