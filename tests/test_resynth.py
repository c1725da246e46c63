"""The resynthesis engine: batching, order, length rules, and per-utterance failures."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from codecfake_hf import codecs
from codecfake_hf.audio import decode_audio_bytes, encode_flac, from_pcm16, read_audio, resample, to_pcm16
from codecfake_hf.codecs import Codec
from codecfake_hf.resynth import Failure, Result, Utterance, _batches, resynthesize_stream


class ToyCodec(Codec):
    """A causal convolution with a hop-multiple length rule: exact under padding, cheap to run."""

    def __init__(self, fail_on_peak: float | None = None):
        spec = dataclasses.replace(codecs.spec("encodec_24khz"), name="toy", sample_rate=8000, hop_length=80)
        torch.manual_seed(0)
        model = torch.nn.Conv1d(1, 1, kernel_size=9, bias=False)
        super().__init__(spec, model)
        self.fail_on_peak = fail_on_peak
        self.batch_sizes: list[int] = []

    def output_length(self, length: int) -> int:
        return math.ceil(length / self.spec.hop_length) * self.spec.hop_length

    def _resynthesize(self, waves, lengths):
        self.batch_sizes.append(waves.shape[0])
        if self.fail_on_peak is not None and bool((waves.abs().amax(dim=1) == self.fail_on_peak).any()):
            raise RuntimeError("boom")
        # left padding only: a causal model, so right padding cannot reach the valid samples
        x = torch.nn.functional.pad(waves[:, None], (8, self.spec.hop_length))
        return self.model(x)[:, 0]


def speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    return (0.3 * np.sin(2 * np.pi * (120 + 40 * seed) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def test_batched_equals_one_by_one_in_input_order():
    utts = [Utterance(f"u{i}", speechlike(0.3 + 0.17 * i, 8000, i), 8000) for i in range(7)]
    batched_codec, single_codec = ToyCodec(), ToyCodec()
    batched = list(resynthesize_stream(batched_codec, utts, batch_seconds=10, window=4, progress=False))
    single = list(resynthesize_stream(single_codec, utts, batch_seconds=1e-3, progress=False))
    assert [r.id for r in batched] == [u.id for u in utts]
    assert max(batched_codec.batch_sizes) > 1 and set(single_codec.batch_sizes) == {1}
    for b, s, u in zip(batched, single, utts, strict=True):
        assert isinstance(b, Result) and b.sample_rate == 8000 and b.pcm.dtype == np.int16
        assert len(b.pcm) == math.ceil(len(u.wave) / 80) * 80
        # the same numbers up to float summation order: at most one quantisation step apart
        assert np.abs(b.pcm.astype(int) - s.pcm.astype(int)).max() <= 1


def test_inputs_are_resampled_to_the_codec_rate():
    codec = ToyCodec()
    wave = speechlike(0.5, 16000, 3)
    [result] = resynthesize_stream(codec, [Utterance("a", wave, 16000)], progress=False)
    expected, lengths = codec.resynthesize(resample(wave, 16000, 8000)[None], [4000])
    assert len(result.pcm) == 4000
    np.testing.assert_array_equal(result.pcm, to_pcm16(expected[0, : int(lengths[0])].numpy()))


def test_bad_utterances_are_reported_and_skipped(tmp_path, caplog):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"not audio" * 10)
    utts = [
        Utterance("good1", speechlike(0.4, 8000, 1), 8000),
        Utterance("silent", np.zeros(4000, dtype=np.float32), 8000),
        Utterance("short", speechlike(0.005, 8000, 2), 8000),
        Utterance("corrupt", path=str(corrupt)),
        Utterance("nan", np.array([0.1, np.nan] * 2000, dtype=np.float32), 8000),
        Utterance("good2", speechlike(0.6, 8000, 4), 8000),
    ]
    out = {r.id: r for r in resynthesize_stream(ToyCodec(), utts, progress=False)}
    assert isinstance(out["good1"], Result) and isinstance(out["good2"], Result)
    reasons = {k: v.reason for k, v in out.items() if isinstance(v, Failure)}
    assert set(reasons) == {"silent", "short", "corrupt", "nan"}
    assert "silent" in reasons["silent"]
    assert "too short for toy: 40 samples at 8000 Hz, the codec needs at least 80" in reasons["short"]
    assert str(corrupt) in reasons["corrupt"] and "not readable as audio" in reasons["corrupt"]
    assert "NaN" in reasons["nan"]
    assert "skipped corrupt" in caplog.text


def test_an_item_that_breaks_the_codec_does_not_take_its_batch_down():
    bad = speechlike(0.5, 8000, 5)
    bad[100] = 0.875  # the toy codec fails on this exact peak
    utts = [Utterance("ok1", speechlike(0.5, 8000, 6), 8000), Utterance("bad", bad, 8000),
            Utterance("ok2", speechlike(0.5, 8000, 7), 8000)]
    out = list(resynthesize_stream(ToyCodec(fail_on_peak=0.875), utts, progress=False))
    assert [type(r).__name__ for r in out] == ["Result", "Failure", "Result"]
    assert "toy failed: boom" in out[1].reason


def test_resynthesize_checks_its_arguments():
    codec = ToyCodec()
    wave = speechlike(0.1, 8000, 0)
    out, lengths = codec.resynthesize(wave, 800)  # one unbatched item is a batch of one
    assert out.shape == (1, 800) and lengths.tolist() == [800]
    with pytest.raises(ValueError, match=r"expected waves \[B, T\] and lengths \[B\], got \(2, 800\) and \(1,\)"):
        codec.resynthesize(np.stack([wave, wave]), [800])
    with pytest.raises(ValueError, match=r"lengths must lie in 1..800, got \[801\]"):
        codec.resynthesize(wave[None], [801])


def test_batches_respect_the_padded_budget_and_inexact_codecs_run_alone():
    lengths = [100, 900, 300, 500, 250]
    groups = _batches(lengths, max_samples=1000, exact=True)
    assert sorted(i for g in groups for i in g) == list(range(5))
    for group in groups:
        assert max(lengths[i] for i in group) * len(group) <= 1000 or len(group) == 1
    assert all(len(g) == 1 for g in _batches(lengths, max_samples=10_000, exact=False))


@pytest.mark.parametrize("name", codecs.registry.RELEASE_NAMES)
def test_engine_follows_each_codec_length_rule_on_the_release_clips(name, codec_fixture, demo_dir,
                                                                     release_lengths):
    """Tiny random-weight models of every config: output lengths equal the CodecFake release files'."""
    import soundfile as sf

    codec = codecs.load(name, config=codec_fixture(name).tiny_checkpoint_config, random_weights=True)
    utts = []
    for utt in ("p225_273", "p295_144", "p318_114"):
        wave, rate = read_audio(demo_dir / f"genuine+{utt}.wav")
        utts.append(Utterance(utt, wave[: rate * 2 + 777], rate))  # ~2 s keeps it fast
    results = list(resynthesize_stream(codec, utts, progress=False))
    for utt, result in zip(utts, results, strict=True):
        assert isinstance(result, Result), result
        n = len(resample(utt.wave, 16000, codec.sample_rate))
        assert len(result.pcm) == codec.output_length(n)
    # The rule itself, on the full-length release files. The pipeline fed 16 kHz codecs VCTK's 16 kHz
    # copies, and for the other rates resampled the 48 kHz originals with torchaudio, whose output
    # length is ceil(L48 * new / 48000). L48 is not in the demo; the 16 kHz copy has ceil(L48 / 3)
    # samples, so L48 is one of 3 * L16 - 2 .. 3 * L16.
    for utt in ("p225_273", "p295_144", "p318_114"):
        genuine = sf.info(demo_dir / f"genuine+{utt}.wav").frames
        released, released_rate = release_lengths[f"{name}+{utt}.wav"]
        assert released_rate == codec.sample_rate
        if codec.sample_rate == 16000:
            candidates = [genuine]
        else:
            candidates = [math.ceil(l48 * codec.sample_rate / 48000) for l48 in range(3 * genuine - 2, 3 * genuine + 1)]
        assert released in {codec.output_length(n) for n in candidates}, (utt, candidates, released)


# The pipelined engine: background reading and encoding around a codec thread, same bytes as inline.


def mixed_utterances(tmp_path) -> list[Utterance]:
    """Waves at two rates, files, encoded bytes, and failures of each stage, in one stream."""
    import io

    import soundfile as sf

    path = tmp_path / "u.wav"
    sf.write(path, speechlike(0.7, 16000, 9), 16000, subtype="PCM_16")
    buffer = io.BytesIO()
    sf.write(buffer, speechlike(0.45, 8000, 10), 8000, format="FLAC", subtype="PCM_16")
    utts = [Utterance(f"w{i}", speechlike(0.2 + 0.09 * i, 8000 if i % 3 else 16000, i), 8000 if i % 3 else 16000)
            for i in range(11)]
    utts[2] = Utterance("silent", np.zeros(4000, np.float32), 8000)
    utts[5] = Utterance("file", path=str(path))
    utts[7] = Utterance("bytes", data=buffer.getvalue())
    utts[8] = Utterance("corrupt-bytes", data=b"not audio at all")
    utts[4].wave[100] = 0.875  # the toy codec fails on this peak
    return utts


@pytest.mark.parametrize("workers", [1, 3])
def test_pipelined_engine_gives_the_sequential_bytes_in_input_order(tmp_path, workers):
    utts = mixed_utterances(tmp_path)
    sequential = list(resynthesize_stream(ToyCodec(fail_on_peak=0.875), utts, window=4, workers=0, flac=True,
                                          progress=False))
    pipelined = list(resynthesize_stream(ToyCodec(fail_on_peak=0.875), utts, window=4, workers=workers, flac=True,
                                         progress=False))
    assert [r.id for r in pipelined] == [u.id for u in utts]
    assert [type(r) for r in pipelined] == [type(r) for r in sequential]
    failures = {r.id: r.reason for r in pipelined if isinstance(r, Failure)}
    assert set(failures) == {"silent", "corrupt-bytes", "w4"}
    assert failures["corrupt-bytes"] == "corrupt-bytes: the encoded audio is not decodable (Format not recognised.)."
    assert failures["w4"] == "toy failed: boom"
    for p, s in zip(pipelined, sequential, strict=True):
        if isinstance(p, Result):
            assert p.pcm.tobytes() == s.pcm.tobytes() and p.flac == s.flac and p.sample_rate == s.sample_rate
            assert p.flac == encode_flac(p.pcm, 8000)
        else:
            assert p == s


def test_encoded_bytes_decode_to_the_waveform_that_was_quantised_into_them():
    import io

    import soundfile as sf

    pcm = to_pcm16(speechlike(0.3, 16000, 1), clamp=1.0)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, 16000, format="FLAC", subtype="PCM_16")
    wave, rate = decode_audio_bytes(buffer.getvalue(), "row")
    assert rate == 16000 and wave.dtype == np.float32
    np.testing.assert_array_equal(wave, from_pcm16(pcm))


def test_an_error_in_a_stage_thread_reaches_the_caller_and_closing_early_stops_the_threads():
    import threading

    def broken_inputs():
        yield Utterance("a", speechlike(0.3, 8000, 1), 8000)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(resynthesize_stream(ToyCodec(), broken_inputs(), window=1, workers=2, progress=False))

    class Interrupting(ToyCodec):
        def _resynthesize(self, waves, lengths):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(resynthesize_stream(Interrupting(), [Utterance("a", speechlike(0.3, 8000, 1), 8000)], workers=2,
                                 progress=False))
    before = threading.active_count()
    stream = resynthesize_stream(ToyCodec(), (Utterance(f"u{i}", speechlike(0.3, 8000, i), 8000) for i in range(50)),
                                 window=2, workers=2, progress=False)
    first = next(stream)
    stream.close()  # the caller stops reading: the feeder, codec and pool threads end
    assert first.id == "u0" and threading.active_count() == before


def test_ordered_map_keeps_order_raises_in_turn_and_runs_inline_with_no_workers():
    import threading
    import time

    from codecfake_hf.resynth import ordered_map

    def slow_square(i):
        time.sleep(0.002 * (7 - i % 7))  # later items finish first
        return i * i, threading.current_thread().name

    threaded = list(ordered_map(slow_square, range(20), workers=3, ahead=5))
    assert [v for v, _ in threaded] == [i * i for i in range(20)]
    assert all(name.startswith("ordered-map") for _, name in threaded)
    inline = list(ordered_map(slow_square, range(3), workers=0))
    assert {name for _, name in inline} == {threading.current_thread().name}

    def fails_at_3(i):
        if i == 3:
            raise ValueError("bad item 3")
        return i

    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for value in ordered_map(fails_at_3, range(10), workers=2):
            seen.append(value)
    assert seen == [0, 1, 2]


class UpsamplingCodec(ToyCodec):
    """A toy decoder that synthesises at 3/2 of the rate it is fed (8 kHz in, 12 kHz out), as NeuCodec does (16 kHz in,
    24 kHz out): one frame of 80 input samples becomes 120 output samples."""

    def __init__(self):
        super().__init__()
        self.spec = dataclasses.replace(self.spec, name="toy-up", output_rate=12000)

    def output_length(self, length: int) -> int:
        return length // 80 * 120  # whole frames only, like NeuCodec's rule

    def _resynthesize(self, waves, lengths):
        frames = waves.shape[1] // 80
        x = torch.nn.functional.interpolate(waves[:, None, : frames * 80], scale_factor=1.5, mode="linear")
        return x[:, 0]


def test_a_decoder_at_another_rate_gives_rows_at_its_output_rate_and_length():
    """`Codec.output_rate` (the spec's `output_rate`) is the rate of the results and of their FLAC bytes, and the
    length rule counts output samples; the input side (resampling, batching budget) stays at the input rate."""
    codec = UpsamplingCodec()
    assert (codec.sample_rate, codec.output_rate) == (8000, 12000) and "8000 Hz -> 12000 Hz" in repr(codec)
    assert ToyCodec().output_rate == 8000  # no output_rate: the input's
    utts = [Utterance(f"u{i}", speechlike(0.31 + 0.2 * i, 16000, i), 16000) for i in range(3)]
    results = list(resynthesize_stream(codec, utts, progress=False, flac=True, workers=0))
    for utt, result in zip(utts, results, strict=True):
        n = len(resample(utt.wave, 16000, 8000))
        assert isinstance(result, Result) and result.sample_rate == 12000
        assert len(result.pcm) == n // 80 * 120
        wave, rate = decode_audio_bytes(result.flac, result.id)
        assert rate == 12000 and np.array_equal(to_pcm16(wave), result.pcm)
    with pytest.raises(ValueError, match="output_rate=0; a rate in Hz"):
        dataclasses.replace(codec.spec, output_rate=0)
