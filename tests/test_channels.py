"""Channel conditions: each runs a real FFmpeg encoder (through PyAV) or resampler, deterministically, keeps the
utterance's length and rate, and does to the audio what its channel does (band limit, bit rate, delay)."""

from __future__ import annotations

import numpy as np
import pytest

from codecfake_hf import channels
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.channels import ffmpeg
from codecfake_hf.codecs.nn.loudness import integrated_loudness
from codecfake_hf.errors import UnknownConditionError


@pytest.fixture(scope="module")
def speech(demo_dir) -> tuple[np.ndarray, int]:
    """6.4 s of real VCTK speech at 16 kHz (p225_273)."""
    wave, rate = read_audio(demo_dir / "genuine+p225_273.wav")
    return wave.astype(np.float32), rate


def band_share(wave: np.ndarray, rate: int, above_hz: float) -> float:
    """The share of `wave`'s energy above `above_hz`."""
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(wave.shape[0], 1 / rate)
    return float(power[freqs > above_hz].sum() / power.sum())


def test_the_issue_s_conditions_are_all_here():
    assert channels.names() == ["mp3_32k", "mp3_64k", "mp3_128k", "aac_32k", "aac_64k", "opus_8k", "opus_16k",
                                "opus_32k", "amr_nb_12k2", "g711_mulaw", "g722", "g726_32k", "resample_8k",
                                "resample_16k", "loudnorm"]


@pytest.mark.parametrize("name", [*channels.names(), "opus_16k+mp3_64k"])
def test_each_condition_keeps_length_and_rate_and_is_deterministic(name, speech):
    wave, rate = speech
    wave = wave[: 2 * rate]
    once, again = channels.apply(name, wave, rate), channels.apply(name, wave, rate)
    assert once.dtype == np.float32 and once.shape == wave.shape and np.isfinite(once).all()
    assert once.tobytes() == again.tobytes()
    assert not np.array_equal(once, wave) or name == "resample_16k"  # the input's own rate: soxr both ways


def test_resampling_to_the_input_s_own_rate_is_the_identity(speech):
    wave, rate = speech
    np.testing.assert_array_equal(channels.apply("resample_16k", wave, rate), wave)


@pytest.mark.parametrize("name", ["g711_mulaw", "g726_32k", "amr_nb_12k2", "resample_8k"])
def test_narrowband_channels_cut_the_band_at_4_khz(name, speech):
    """8 kHz telephony (G.711, G.726, AMR-NB) has a 4 kHz Nyquist limit: what was above it is gone."""
    wave, rate = speech
    assert band_share(wave, rate, 4100) > 2e-3  # the clean utterance has energy up there
    assert band_share(channels.apply(name, wave, rate), rate, 4100) < 1e-5


def test_g722_keeps_the_wideband_up_to_7_khz(speech):
    wave, rate = speech
    out = channels.apply("g722", wave, rate)
    assert band_share(out, rate, 4100) > 0.5 * band_share(wave, rate, 4100)


@pytest.mark.parametrize(("name", "target"), [("opus_8k", 8000), ("opus_16k", 16000), ("opus_32k", 32000),
                                              ("mp3_32k", 32000), ("aac_64k", 64000), ("amr_nb_12k2", 12200)])
def test_the_encoded_bit_rate_is_the_target_within_10_percent(name, target, speech):
    wave, rate = speech
    spec = channels.spec(name)
    inner = channels.channel_rate(spec, rate)
    _, _, payload = channels.roundtrip(spec, resample(wave, rate, inner).astype(np.float32), inner)
    measured = payload * 8 / (wave.shape[0] / rate)
    assert measured == pytest.approx(target, rel=0.10)


def test_the_codec_delay_is_trimmed(speech):
    """FFmpeg's AAC encoder primes 1024 samples (its `initial_padding`) and MP3 decoding trims LAME's own delay from
    the Xing/LAME header; after the trim, the output lines up with the input (cross-correlation peak at lag 0)."""
    wave, rate = speech
    assert channels.codec_delay("aac_64k", 16000) == 1024 and channels.codec_delay("mp3_64k", 16000) == 0
    for name in ("aac_64k", "mp3_64k", "g722"):
        out = channels.apply(name, wave, rate)
        lags = range(-40, 41)
        scores = [float(np.dot(out[max(0, k): wave.shape[0] + min(0, k)], wave[max(0, -k): wave.shape[0] - max(0, k)]))
                  for k in lags]
        assert lags[int(np.argmax(scores))] == 0, name


@pytest.mark.parametrize("name", [*channels.names(), "opus_16k+mp3_64k"])
def test_an_utterance_shorter_than_a_codec_frame_goes_through_the_channel(name, speech):
    """Nothing, one sample, 2.5 ms and 10 ms (under AAC's 1024-sample frame, AMR's 20 ms): the same length back, no
    encoder error (before: AAC refused one sample, "Invalid data found when processing input", and an empty input
    gave every FFmpeg encoder a MemoryError). The loudest 10 ms of the clip come back aligned with what went in
    (cosine >= 0.85: the delay trimmed, not silence or a shifted frame), except through AMR-NB's 12.2 kbps speech
    model, which measured 0.60 on 10 ms, and loudness normalisation, which scales."""
    wave, rate = speech
    for n in (0, 1, 40):
        out = channels.apply(name, wave[53216: 53216 + n], rate)
        assert out.shape == (n,) and out.dtype == np.float32 and np.isfinite(out).all()
    x = wave[53216: 53216 + 160]  # the loudest 10 ms of p225_273 (peak 0.33)
    out = channels.apply(name, x, rate)
    assert out.shape == (160,) and np.isfinite(out).all()
    if name not in ("amr_nb_12k2", "loudnorm"):
        assert float(np.dot(out, x) / np.linalg.norm(out) / np.linalg.norm(x)) >= 0.85, name


def test_loudnorm_brings_speech_to_minus_23_lufs(speech):
    wave, rate = speech
    quiet = 0.05 * wave
    assert integrated_loudness(channels.apply("loudnorm", quiet, rate), rate) == pytest.approx(-23.0, abs=0.05)
    assert not channels.apply("loudnorm", np.zeros(rate, np.float32), rate).any()  # silence stays silence


def test_unknown_conditions_and_chains_are_one_message_naming_the_valid_ones():
    with pytest.raises(UnknownConditionError, match=r"Unknown channel condition 'opus_61k'\. Did you mean "
                                                     r"'opus_16k'.*Valid conditions: mp3_32k, .*loudnorm"):
        channels.parse_condition_list("opus_61k")
    with pytest.raises(UnknownConditionError, match="empty link"):
        channels.parse_condition_list("opus_16k++mp3_64k")
    assert channels.parse_condition_list(" OPUS_16K, opus_16k+MP3_64k ,opus_16k") == ["opus_16k", "opus_16k+mp3_64k"]


def test_an_encoder_missing_from_the_ffmpeg_in_use_is_refused_naming_what_is_available():
    missing = channels.ChannelSpec(name="speex_16k", kind="codec", encoder="libspeex", container="ogg",
                                   bit_rate=16000, description="Speex, which PyAV's FFmpeg does not bundle")
    with pytest.raises(UnknownConditionError, match=r"needs FFmpeg's 'libspeex' encoder, which the FFmpeg of PyAV "
                                                     r"[\d.]+ lacks\. Available here: mp3_32k, .*g726_32k"):
        ffmpeg.check_available(missing)


def test_describe_records_encoder_versions_parameters_and_delay():
    (opus,) = channels.describe("opus_16k", 24000)
    assert opus["encoder"] == "libopus" and opus["bit_rate"] == 16000
    assert opus["options"] == {"application": "voip", "vbr": "off"}
    assert opus["channel_rate"] == 24000 and opus["libavcodec"].count(".") == 2 and opus["pyav"]
    first, second = channels.describe("g711_mulaw+loudnorm", 16000)
    assert (first["channel_rate"], first["bit_rate"], second["target_lufs"]) == (8000, None, -23.0)
