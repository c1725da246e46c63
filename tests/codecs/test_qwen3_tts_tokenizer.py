"""Qwen3-TTS's 12 Hz speech tokenizer (transformers' Mimi encoder + Qwen's decoder, written here): its quirks (16 of
Mimi's 32 codebooks, the decoder's chunks and sliding window, whole-frame output, the two halves of the checkpoint)
and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/qwen3-tts-tokenizer-12hz/ (made by tests/fixtures/make_qwen3_tts_tokenizer_fixture.py with Qwen's
`qwen_tts` code on transformers 4.57.3).
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
from near_ties import transformers_codebook
from safetensors.torch import save as save_bytes

from codecfake_hf import codecs
from codecfake_hf.codecs.qwen3_tts_tokenizer import codec as qwen
from codecfake_hf.codecs.qwen3_tts_tokenizer import model as layers
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "qwen3-tts-tokenizer-12hz"
REPO = "Qwen/Qwen3-TTS-Tokenizer-12Hz"


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def tiny(fixture):
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def test_name_taxonomy_and_licence():
    spec = codecs.spec(NAME)
    assert codecs.resolve("Qwen3-TTS-Tokenizer-12Hz") == NAME
    assert (spec.quantizer, spec.auxiliary, spec.decoder, spec.license) == (
        "multi-codebook", "semantic-distillation", "time", "apache-2.0")
    assert spec.frame_rate == 12.5 and spec.bitrate_kbps == 2.2 and spec.public_sets == ()


def test_codes_are_the_first_16_of_mimis_32(tiny, fixture):
    """Upstream encodes with all 32 Mimi codebooks and keeps the first 16 (`encoder_valid_num_quantizers`); the
    acoustic quantisers are residual in order, so encoding with 16 gives the same codes."""
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    every = tiny.model.encoder.encode(wave[None, None], num_quantizers=32).audio_codes[0]
    assert every.shape[0] == 32
    np.testing.assert_array_equal(tiny.encode(wave).numpy(), every[:16, : tiny.frames(wave.shape[0])].numpy())


def test_encoder_attends_over_the_whole_input_as_upstreams_transformers_did(tiny, fixture, monkeypatch):
    """Upstream's pinned transformers (4.57.3) masks Mimi's encoder transformer causally over the whole input, not
    within `sliding_window`; transformers 5.23 would apply the window. The fixture's speech (13 encoder steps, tiny
    window 8) shows it: with the window applied, the codes no longer match upstream's."""
    from codecfake_hf.codecs.qwen3_tts_tokenizer.codec import UNLIMITED_WINDOW

    assert tiny.model.config.encoder_config["sliding_window"] == 8
    assert tiny.model.encoder.config.sliding_window == UNLIMITED_WINDOW
    monkeypatch.setattr(qwen, "UNLIMITED_WINDOW", 8)  # the window transformers 5.23 would apply
    windowed = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    expected = fixture.npy("speech_codes.npy")
    np.testing.assert_array_equal(tiny.encode(wave).numpy(), expected)
    assert (windowed.encode(wave).numpy() != expected).any()


def test_output_is_whole_frames_on_real_clips(tiny, demo_dir):
    """`decode` returns `frames · 1920` samples, frames = ceil(T / 1920): the input's last frame decoded in full."""
    from codecfake_hf.audio import resample

    for utterance in ("p225_273", "p295_144"):
        wave16k, _ = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
        wave = resample(wave16k[:24000], 16000, 24000).astype(np.float32)
        for n in (wave.shape[0], 1920 * 7, 1920 * 7 + 1, 100):
            out = resynthesize_one(tiny, wave[:n])
            assert out.shape == (-(-n // 1920) * 1920,) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_chunked_decode_matches_upstream_across_the_chunk_boundary(tiny, fixture):
    """310 frames decode in two chunks (0-299, then 300-309 after 25 frames of context): frames 299 and 300 against
    upstream's `decode`. The tiny decoder's window (32 frames) outreaches the 25 frames of context, so a single
    310-frame pass would differ at frame 300."""
    codes = torch.from_numpy(fixture.npy("long_codes.npy").astype(np.int64))
    expected = fixture.npy("long_output.npy")
    out = tiny.decode(codes)
    assert out.shape == (310 * 1920,)
    assert rel_l2(out[299 * 1920: 301 * 1920].numpy(), expected) <= 1e-4
    with torch.inference_mode():
        whole = tiny.model.decoder(codes[None])[0, 0]
    assert rel_l2(whole[299 * 1920: 301 * 1920].numpy(), expected) > 1e-2


def test_sliding_window_mask_by_hand():
    """Window 3 over 5 frames: frame i sees frames i-2..i (transformers' `kv > q - window`, causal)."""
    mask = layers.sliding_window_mask(torch.arange(5), 3, torch.float32)
    assert (mask == 0).int().tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0],
                                          [0, 0, 1, 1, 1]]
    assert mask.min() == torch.finfo(torch.float32).min


def test_checkpoint_with_foreign_or_missing_keys_is_named(fake_hub, fixture):
    state = fixture.weights()
    config = json.dumps(fixture.tiny_config)
    fake_hub.add(REPO, {"config.json": config, "model.safetensors": save_bytes({**state, "talker.x": torch.ones(2)})})
    with pytest.raises(CheckpointError, match=r"unexpected keys: talker\.x\): it holds keys outside"):
        codecs.load(NAME)
    state.pop("decoder.quantizer.rvq_rest.output_proj.weight")
    fake_hub.add(REPO, {"config.json": config, "model.safetensors": save_bytes(state)})
    with pytest.raises(CheckpointError, match=r"\(its `decoder.` part\) does not match.*missing keys: "
                                              r"quantizer\.rvq_rest\.output_proj\.weight"):
        codecs.load(NAME)


def test_the_25hz_tokenizer_and_unsupported_options_are_named(fixture):
    config = {**fixture.tiny_config, "model_type": "qwen3_tts_tokenizer_25hz"}
    with pytest.raises(CodecConfigError, match="not 'qwen3_tts_tokenizer_12hz'"):
        codecs.load(NAME, config=config, random_weights=True)
    config = copy.deepcopy(fixture.tiny_config)
    config["decoder_config"]["num_quantizers"] = 8
    with pytest.raises(CodecConfigError, match=r"the encoder keeps 16 codebooks .* the decoder reads 8"):
        codecs.load(NAME, config=config, random_weights=True)


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with the tokenizer and NVIDIA's low-frame-rate codec (tiny configs, random weights) loads back
    through `load_dataset` with each codec's taxonomy; the card lists both weights' licences and says they mix."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    lfr = "nvidia-low-frame-rate-speech-codec-22khz"
    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", f"{NAME},{lfr}"), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and sorted(report.complete) == sorted(["genuine", NAME, lfr])
    ds = datasets.load_dataset(str(tmp_path / "out"), "all", split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    genuine = seen[("genuine", "bonafide", "bonafide", "bonafide")]
    assert genuine > 0 and seen[(NAME, "multi-codebook", "semantic-distillation", "time")] == genuine
    assert seen[(lfr, "scalar", "none", "time")] == genuine
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"- apache-2.0: `{NAME}`" in card and f"- nsclv1: `{lfr}`" in card
    assert "This build mixes 2 weight licences" in card


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    from codecfake_hf.audio import resample

    codec = codecs.load(NAME, random_weights=True)
    wave16k, _ = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    wave = resample(wave16k[:16_000], 16000, 24000).astype(np.float32)
    out = resynthesize_one(codec, wave)
    assert out.shape == (13 * 1920,) and np.isfinite(out).all()
    assert rel_l2(resynthesize_one(codecs.load(NAME, random_weights=True), wave), out) == 0.0


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _layers(codec) -> list:
    quantizer = codec.model.encoder.quantizer  # semantic rows first, then acoustic
    return [*quantizer.semantic_residual_vector_quantizer.layers, *quantizer.acoustic_residual_vector_quantizer.layers]


def _chains(codec, rows: int) -> list[list[int]]:
    # Mimi's acoustic RVQ quantises the latent itself, not what the semantic codebook left.
    return [[0], list(range(1, rows))]


class Qwen3TTSTokenizerTester(FamilyTester):
    family = "qwen3_tts_tokenizer"
    architecture_key = ("decoder_config", "decoder_dim")
    transformers_config = True  # a transformers config.json: an omitted key takes the class's default
    quantiser = transformers_codebook("mimi", "MimiEuclideanCodebook", layers=_layers, chains=_chains)
    facts = {NAME: OfficialFacts(
        source="Qwen3-TTS's Qwen3TTSTokenizerV2Model (commit 022e286, transformers 4.57.3) built on the meta device "
               "with the Hub config.json's values (tests/fixtures/make_qwen3_tts_tokenizer_fixture.py; manifest "
               "'official.counts'), in the Hub file's key layout; the Hub shows 0.2B parameters",
        parameters=170_557_441, tensors=496,
        shapes={"encoder.encoder.layers.0.conv.weight": (64, 1, 7),
                "encoder.downsample.conv.weight": (512, 512, 4),
                "encoder.quantizer.acoustic_residual_vector_quantizer.layers.30.codebook.embed_sum": (2048, 256),
                "decoder.quantizer.rvq_first.vq.layers.0._codebook.embedding_sum": (2048, 256),
                "decoder.quantizer.rvq_rest.output_proj.weight": (512, 256, 1),
                "decoder.pre_conv.conv.weight": (1024, 512, 3),
                "decoder.pre_transformer.input_proj.weight": (512, 1024),
                "decoder.pre_transformer.layers.7.self_attn.q_proj.weight": (1024, 512),
                "decoder.upsample.1.1.pwconv1.weight": (4096, 1024),
                "decoder.decoder.1.block.1.conv.weight": (1536, 768, 16),
                "decoder.decoder.6.conv.weight": (1, 96, 7)},
        config={"encoder_valid_num_quantizers": 16, "decoder_config.sliding_window": 72,
                "decoder_config.upsample_rates": (8, 5, 4, 3), "decoder_config.codebook_size": 2048})}

    def chains(self):
        return 2  # semantic | acoustic

    def facts_state(self, codec):
        return qwen.to_checkpoint(codec.model)  # the Hub file's layout (Mimi's flat keys)

    def official_key_shapes(self, name, fixture):
        """The manifest's keys (the Hub file's layout) in our model's naming: Mimi's renamed as transformers does."""
        from codecfake_hf.codecs import transformers_weights

        with torch.device("meta"):
            encoder = qwen.make_model(qwen.default_config(codecs.spec(name))).encoder
        shapes = fixture.official_shapes()
        mimi = transformers_weights.model_keys(encoder, [k[len("encoder."):] for k in shapes if
                                                         k.startswith("encoder.")])
        return {(f"encoder.{mimi[k[len('encoder.'):]]}" if k.startswith("encoder.") else k): shape
                for k, shape in shapes.items()}

    def hub_layout(self, name, fixture):
        return {"config.json": json.dumps(fixture.tiny_config),
                "model.safetensors": (fixture.tiny_dir / "weights.safetensors").read_bytes()}, "model.safetensors"

    def config_value(self, codec, key):
        value = codec.model.config
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def with_unknown_key(self, name, config, key):
        return {**config, "decoder_config": {**config["decoder_config"], key: 11}}


TESTER = Qwen3TTSTokenizerTester()
