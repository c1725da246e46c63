"""Builds: the input recipe (`paper` | `matched`), `precision` and seeded random weights, end to end on VCTK trees.

The codecs are the fixtures' tiny configs at the three rates CodecFake used (DAC 16 kHz, EnCodec 24 kHz,
DAC 44.1 kHz), each recording what it was fed.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree

from builder import BuildRequest, build
from builder.__main__ import parse
from builder.plan import Plan, PlanMismatchError
from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.resample import output_length, sinc_resample

DAC16, ENCODEC, DAC44 = "descript-audio-codec-16khz", "encodec_24khz", "descript-audio-codec-44khz"


class RecordingCodecs(TinyCodecs):
    """Tiny codecs that keep every input item they are given (its valid samples), per codec."""

    def __init__(self, codec_fixture):
        super().__init__(codec_fixture)
        self.inputs: dict[str, list[np.ndarray]] = {}

    def __call__(self, name, device, random_weights):
        codec = super().__call__(name, device, random_weights)
        counted = codec.resynthesize

        def recorded(waves, lengths):
            for wave, n in zip(np.asarray(waves), np.asarray(lengths), strict=True):
                self.inputs.setdefault(name, []).append(np.array(wave[: int(n)]))
            return counted(waves, lengths)

        codec.resynthesize = recorded
        return codec


def genuine_rows(out) -> dict[str, tuple[np.ndarray, int]]:
    """utterance id -> (float32 samples, rate) of each genuine row, decoded from the shards."""
    rows = {}
    for path in sorted(out.glob("data/genuine/*.parquet")):
        for row in pq.read_table(path, columns=["utterance_id", "audio"]).to_pylist():
            pcm, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
            rows[row["utterance_id"]] = (pcm.astype(np.float32) / 32768.0, rate)
    return rows


def assert_fed(recorded: list[np.ndarray], expected: list[np.ndarray]) -> None:
    """Each expected input was given to the codec once (in whatever order batching chose)."""
    assert sorted(len(w) for w in recorded) == sorted(len(w) for w in expected)
    for wave in expected:
        assert any(len(r) == len(wave) and np.abs(r - wave).max() <= 1e-7 for r in recorded), len(wave)


@pytest.fixture(scope="module")
def vctk48(tmp_path_factory, demo_dir):
    return make_vctk_tree(tmp_path_factory.mktemp("recipe") / "VCTK", demo_dir, "0.92", per_speaker=1)


def sources(tree) -> dict[str, tuple[np.ndarray, int]]:
    files = sorted(tree.glob("wav48_silence_trimmed/*/*_mic1.flac"))
    return {path.name.split("_mic")[0]: read_audio(path) for path in files}


def test_paper_recipe_feeds_24_and_44k_codecs_the_48k_source_and_16k_codecs_the_genuine_rows(
        tmp_path, vctk48, codec_fixture):
    out = tmp_path / "out"
    factory = RecordingCodecs(codec_fixture)
    report = build(config_for(vctk48, out, f"{DAC16},{ENCODEC},{DAC44}", recipe="paper"), codec_factory=factory,
                   progress=False)
    assert report.failed == {} and report.skipped == []
    source, genuine = sources(vctk48), genuine_rows(out)
    assert {rate for _, rate in genuine.values()} == {16000} and set(source) == set(genuine)
    for name, rate in ((ENCODEC, 24000), (DAC44, 44100)):
        expected = [sinc_resample(torch.from_numpy(wave), 48000, rate).numpy() for wave, _ in source.values()]
        assert [len(w) for w in expected] == [output_length(len(w), 48000, rate) for w, _ in source.values()]
        assert_fed(factory.inputs[name], expected)
    assert_fed(factory.inputs[DAC16], [wave for wave, _ in genuine.values()])  # exactly the stored rows
    assert Plan.load(out).identity["recipe"] == "paper"
    card = (out / "README.md").read_text()
    assert "Input recipe `paper`" in card and "windowed-sinc" in card


def test_matched_recipe_feeds_every_codec_its_genuine_row_and_is_the_default_off_vctk(tmp_path, vctk48,
                                                                                        codec_fixture):
    out = tmp_path / "out"
    factory = RecordingCodecs(codec_fixture)
    build(config_for(vctk48, out, ENCODEC, recipe="matched"), codec_factory=factory, progress=False)
    genuine = genuine_rows(out)
    assert_fed(factory.inputs[ENCODEC], [resample(wave, 16000, 24000) for wave, _ in genuine.values()])
    card = (out / "README.md").read_text()
    assert "Input recipe `matched`" in card and "no codec saw input above 8 kHz" in card
    # A VCTK source defaults to `paper`; any other source (here a folder of the same files) to `matched`.
    assert Plan.load(out).identity["recipe"] == "matched"
    default_out = tmp_path / "default"
    build(BuildRequest(source=f"folder:{vctk48 / 'wav48_silence_trimmed'}", codecs=ENCODEC, out=str(default_out),
                       device="cpu", limit=1), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert Plan.load(default_out).identity["recipe"] == "matched"


def test_a_folder_keeps_its_recipe_and_a_codec_keeps_its_precision(tmp_path, vctk48, codec_fixture):
    out = tmp_path / "out"
    build(config_for(vctk48, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert Plan.load(out).identity["recipe"] == "paper"  # the default for a vctk: source
    with pytest.raises(PlanMismatchError, match="recipe: 'paper' there, 'matched' now"):
        build(config_for(vctk48, out, ENCODEC, recipe="matched"), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
    # A codec whose shards are half written in fp32 is not finished in bf16 (nor with another seed).
    killed = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        build(config_for(vctk48, killed, ENCODEC, shard_size=1), progress=False,
              codec_factory=TinyCodecs(codec_fixture, interrupt_after=1))
    report = build(config_for(vctk48, killed, ENCODEC, shard_size=1, precision="bf16"),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {ENCODEC: f"data/{ENCODEC}/ holds shards made with precision='fp32'; finish it with "
                                      f"the same options, or delete data/{ENCODEC}/ to rebuild it."}


def test_bf16_build_says_so_in_the_card_and_plan(tmp_path, vctk48, codec_fixture):
    out = tmp_path / "out"
    report = build(config_for(vctk48, out, ENCODEC, precision="bf16", limit=1),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and Plan.load(out).parts[ENCODEC]["precision"] == "bf16"
    card = " ".join((out / "README.md").read_text().split())
    assert f"Precision: `{ENCODEC}` in bf16; the other codecs in exact fp32" in card


def test_two_random_weight_builds_are_identical_byte_for_byte(tmp_path, vctk48):
    def official_random(name, device, random_weights):  # the registry's own seeded path, official architecture
        return codecs.load(name, random_weights=True, seed=3, device=device)

    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        build(config_for(vctk48, out, ENCODEC, limit=1, random_weights=True, seed=3), codec_factory=official_random,
              progress=False)
    files = [sorted(p.relative_to(out) for p in out.glob("data/*/*.parquet")) for out in outs]
    assert files[0] == files[1] and len(files[0]) == 6
    for name in files[0]:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert "seed 3, so a rebuild gives the same rows" in " ".join((outs[0] / "README.md").read_text().split())
    assert Plan.load(outs[0]).parts[ENCODEC]["seed"] == 3


def test_cli_flags_for_recipe_precision_and_seed():
    request = parse("build", ["--source", "vctk:x", "--out", "o", "--recipe", "matched", "--precision", "bf16",
                              "--seed", "5"])
    assert (request.recipe, request.precision, request.seed) == ("matched", "bf16", 5)
    assert parse("build", ["--source", "vctk:x", "--out", "o"]).recipe is None  # decided by the source
    with pytest.raises(SystemExit):
        parse("build", ["--source", "vctk:x", "--out", "o", "--precision", "fp16"])
    from codecfake_hf.errors import CodecFakeError

    with pytest.raises(CodecFakeError, match="`precision` must be one of fp32, tf32, bf16, got 'fp16'"):
        BuildRequest(source="vctk:x", out="o", precision="fp16").check()
    with pytest.raises(CodecFakeError, match="`recipe` must be one of paper, matched"):
        BuildRequest(source="vctk:x", out="o", recipe="48k").check()
