"""FocalCodec (lucadellalib/focalcodec, v0.0.1: the 50, 25 and 12.5 Hz non-causal checkpoints): its quirks (the
decoder's short output padded by repeating its last sample, WavLM's 400-sample first frame, binary tokens, v0.0.2's
config vocabulary) and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/focalcodec_*/ (made by tests/fixtures/make_focalcodec_fixture.py from FocalCodec's own code).
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.focalcodec import codec as focalcodec
from codecfake_hf.codecs.focalcodec import focalnet
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ("focalcodec_50hz", "focalcodec_25hz", "focalcodec_12_5hz")
UTTERANCES = ("p225_273", "p295_144", "p318_114")


@pytest.fixture(scope="module")
def tiny(codec_fixture):
    return {name: codecs.load(name, config=codec_fixture(name).tiny_config, state_dict=codec_fixture(name).weights())
            for name in NAMES}


def test_names_rates_and_taxonomy():
    for name, rate, hop in zip(NAMES, (50, 25, 12.5), (320, 640, 1280), strict=True):
        spec = codecs.spec(name)
        assert (spec.frame_rate, spec.hop_length, spec.n_codebooks, spec.codebook_size) == (rate, hop, 1, 8192)
        assert spec.bitrate_kbps == pytest.approx(13 * rate / 1000)  # the README's 0.65 / 0.33 / 0.16 kbps, rounded
        assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("scalar", "semantic-distillation", "frequency")
        assert spec.public_sets == () and spec.license == "apache-2.0"
    assert codecs.resolve("focalcodec-12.5hz") == codecs.resolve("lucadellalib/focalcodec_12_5hz") == NAMES[2]


def test_default_config_is_the_fixtures_official_one(codec_fixture):
    for name in NAMES:
        config = focalcodec.default_config(codecs.spec(name))
        assert config == codec_fixture(name).manifest["official"]["config"]


def test_length_is_the_inputs_and_a_short_decode_repeats_its_last_sample(tiny, demo_dir):
    """The decoder gives frames × 320 samples, `frames = floor((T - 400) / 320) + 1` (WavLM's convolutions, by hand:
    T = 16000 -> 49 frames -> 15680 samples); upstream pads the rest with `mode="replicate"`."""
    codec = tiny["focalcodec_50hz"]
    wave, _ = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    tokens = codec.encode(torch.from_numpy(wave[:16000]))
    assert tokens.shape == (1, 49) and codec.decode(tokens).shape == (15680,)
    out = resynthesize_one(codec, wave[:16000])
    assert out.shape == (16000,) and np.all(out[15680:] == out[15679])
    for name, model in tiny.items():
        for utterance in UTTERANCES:
            wave, _ = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
            for n in (wave.shape[0], 16000, 12_799, 401):
                out = resynthesize_one(model, wave[:n])
                assert out.shape == (n,) and model.output_length(n) == n, (name, utterance, n)
                assert np.isfinite(out).all()


def test_lower_rates_decode_whole_strides_then_cut(tiny):
    """At 25 and 12.5 Hz the compressor pads WavLM's frames to whole strides (12 frames -> 6 and 3 tokens, 13 -> 7
    and 4) and the decoder gives tokens × hop samples, cut back to the input."""
    for name, (twelve, thirteen) in {"focalcodec_25hz": (6, 7), "focalcodec_12_5hz": (3, 4)}.items():
        codec = tiny[name]
        assert codec.encode(torch.zeros(4000)).shape == (1, twelve)  # floor(3600 / 320) + 1 = 12 frames
        assert codec.encode(torch.zeros(4320)).shape == (1, thirteen)
        assert codec.decode(codec.encode(torch.zeros(4320))).shape == (thirteen * codecs.spec(name).hop_length,)


def test_too_short_input_is_named(tiny):
    codec = tiny["focalcodec_50hz"]
    with pytest.raises(ValueError, match="399 samples is shorter than 400"):
        codec.resynthesize(np.zeros((1, 399), np.float32), [399])
    assert resynthesize_one(codec, np.full(400, 0.1, np.float32)).shape == (400,)


def test_tokens_are_the_sign_pattern_read_as_binary():
    """BSQ by hand: dimension d's sign is bit 12 - d of the token; codes are ±1/√13."""
    quantizer = focalnet.BinarySphericalQuantizer(8192)
    latents = torch.tensor([[[1.0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0.5],
                             [-1.0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, -0.5]]])
    tokens, codes = quantizer.quantize(latents)
    assert tokens.tolist() == [[4096 + 1, 2]]
    torch.testing.assert_close(codes, torch.where(latents > 0, 1.0, -1.0) / 13**0.5)
    assert quantizer.codebook[4097].tolist() == codes[0, 0].tolist()


def test_v002_vocabulary_builds_the_same_model(codec_fixture):
    """FocalCodec v0.0.2 names Vocos's input width `input_dim` and adds streaming arguments; a non-causal config in
    its words builds the same network, and a causal one (another checkpoint family) is refused by name."""
    config = copy.deepcopy(codec_fixture(NAMES[0]).tiny_config)
    config["decoder_config"]["input_dim"] = config["decoder_config"].pop("input_channels")
    for section in ("encoder_config", "compressor_config", "decompressor_config", "decoder_config"):
        config[section].update(causal=False, window_size=512)
    weights = codec_fixture(NAMES[0]).weights()
    codec = codecs.load(NAMES[0], config=config, state_dict=weights)
    wave = codec_fixture(NAMES[0]).npy("input.npy")
    reference = codecs.load(NAMES[0], config=codec_fixture(NAMES[0]).tiny_config, state_dict=weights)
    assert rel_l2(resynthesize_one(codec, wave), resynthesize_one(reference, wave)) == 0.0
    config["compressor_config"]["causal"] = True
    with pytest.raises(CodecConfigError, match=r"`compressor_config`: `causal` is True; .*non-causal"):
        codecs.load(NAMES[0], config=config, random_weights=True)


def test_another_module_name_is_refused(codec_fixture):
    config = {**codec_fixture(NAMES[0]).tiny_config, "decoder_name": "WaveNeXt"}
    with pytest.raises(CodecConfigError, match=r"`decoder_name` is 'WaveNeXt'; .* use 'Vocos'"):
        codecs.load(NAMES[0], config=config, random_weights=True)


def test_config_of_another_rate_is_refused(codec_fixture):
    with pytest.raises(CodecConfigError, match=r"focalcodec_25hz: the config gives one token per 320 samples; .* 640"):
        codecs.load("focalcodec_25hz", config=codec_fixture(NAMES[0]).tiny_config, random_weights=True)


def test_fused_qkv_checkpoint_is_named(codec_fixture, fake_hub):
    """A state dict with v0.0.2's fused `qkv_proj` (the causal releases' layout) is named with the keys it lacks."""
    fixture = codec_fixture(NAMES[0])
    state = fixture.weights()
    prefix = "encoder.encoder.layers.0.attention."
    for part in ("weight", "bias"):
        state[f"{prefix}qkv_proj.{part}"] = torch.cat([state.pop(f"{prefix}{p}_proj.{part}") for p in "qkv"])
    from safetensors.torch import save as save_bytes

    fake_hub.add(codecs.spec(NAMES[0]).hub_repo, {"config.json": json.dumps(fixture.tiny_config),
                                                  "model.safetensors": save_bytes(state)})
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match .*missing keys: .*k_proj"):
        codecs.load(NAMES[0])


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with FocalCodec (the fixture's tiny config) loads back through `load_dataset` with the
    taxonomy the spec gives."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", NAMES[0]), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAMES[0]]
    ds = datasets.load_dataset(str(tmp_path / "out"), NAMES[0], split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(NAMES[0], "scalar", "semantic-distillation", "frequency")] == seen[
        ("genuine", "bonafide", "bonafide", "bonafide")] > 0


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    wave, _ = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    for name in NAMES:
        codec = codecs.load(name, random_weights=True)
        out = resynthesize_one(codec, wave[:16_100])
        assert out.shape == (16_100,) and np.isfinite(out).all()
        again = resynthesize_one(codecs.load(name, random_weights=True), wave[:16_100])
        assert rel_l2(again, out) == 0.0  # the same seeded weights


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _impose(quantizer, args, result, tokens):
    return tokens, quantizer.toks_to_codes(tokens)


_SOURCE = ("FocalCodec v0.0.1's FocalCodec(**config) built on the meta device with the official config "
           "(tests/fixtures/make_focalcodec_fixture.py; manifest 'official.counts'). The config is v0.0.1's "
           "constructor defaults, which FocalCodec's SpeechBrain recipe repeats for the 50 Hz model (widths, depths, "
           "13 bits), focal window 7 / factor 2 (v0.0.1 cannot run the recipe's even window 14), and for 25 / 12.5 Hz "
           "one or two stride-2 stages; not compared with the Hub's config.json. Checked against the Hub's file list: "
           "4 bytes x these counts = 568.5, 576.9 and 581.1 MB, its model.safetensors are 569, 577 and 581 MB.")
_SHAPES = {"encoder.encoder.layers.5.attention.q_proj.weight": (1024, 1024),
           "encoder.feature_extractor.layers.0.conv.weight": (512, 1, 10),
           "encoder.encoder.positional_embedding.conv.weight": (1024, 64, 128),
           "compressor.layers.2.1.modulation.layers.1.0.weight": (256, 1, 9),
           "compressor.out_proj.weight": (13, 256), "quantizer.mask": (13,),
           "decoder.head.proj.weight": (1026, 512), "decoder.backbone.layers.7.gamma": (512,)}
_CONFIG = {"encoder.num_layers": 6, "compressor.focal_window": 7, "quantizer.codebook_size": 8192,
           "decoder.num_layers": 8}


def _facts(parameters: int, down: tuple[int, int], up: tuple[int, int]) -> OfficialFacts:
    return OfficialFacts(
        source=_SOURCE, parameters=parameters, tensors=355,
        shapes={**_SHAPES, "compressor.layers.0.0.downscale.weight": (1024, 1024, down[0]),
                "compressor.layers.1.0.downscale.weight": (512, 1024, down[1]),
                "decompressor.layers.1.1.upscale.weight": (512, 1024, up[0]),
                "decompressor.layers.2.1.upscale.weight": (1024, 1024, up[1])},
        config=_CONFIG)


class FocalCodecTester(FamilyTester):
    family = "focalcodec"
    architecture_key = ("compressor_config", "hidden_dims")
    quantiser = Quantiser(
        where=lambda: (focalnet.BinarySphericalQuantizer, "quantize"),
        stages=lambda codec: [codec.model.quantizer],
        # The nearest of the 8,192 codewords (all of one norm) to the normalised latent is its sign pattern.
        search=lambda quantizer, latents: (rows(latents), quantizer.codebook),
        chosen=lambda result: result[0],
        impose=_impose,
    )
    facts = {
        "focalcodec_50hz": _facts(142_128_318, (1, 1), (1, 1)),
        "focalcodec_25hz": _facts(144_225_470, (2, 1), (1, 2)),
        "focalcodec_12_5hz": _facts(145_274_046, (2, 2), (2, 2)),
    }

    def hub_layout(self, name, fixture):
        return {"config.json": json.dumps(fixture.tiny_config),
                "model.safetensors": (fixture.tiny_dir / "weights.safetensors").read_bytes()}, "model.safetensors"


TESTER = FocalCodecTester()
