"""DualCodec (amphion/dualcodec 12hz_v1 and 25hz_v1, the `dualcodec` package's Inference): its quirks (the length
rule through the 16 kHz w2v-BERT frames and DAC's odd stride, the codebook count option, w2v-BERT cut after the
hidden state it reads, the separate w2v-BERT repository) and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/dualcodec_*/ (made by tests/fixtures/make_dualcodec_fixture.py from the dualcodec package).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from codec_tester import FamilyTester, OfficialFacts
from conftest import FakeHubCache, rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.audio import resample
from codecfake_hf.codecs.dualcodec import codec as dualcodec
from codecfake_hf.codecs.dualcodec import config as dualcodec_config
from codecfake_hf.codecs.dualcodec import model as dualcodec_model
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ("dualcodec_12hz_v1", "dualcodec_25hz_v1")
STATS = "w2vbert2_mean_var_stats_emilia.pt"


@pytest.fixture(scope="module")
def tiny(codec_fixture):
    return {name: codecs.load(name, config=codec_fixture(name).tiny_config, state_dict=codec_fixture(name).weights())
            for name in NAMES}


def clip_24k(demo_dir, utterance: str = "p225_273") -> np.ndarray:
    wave, rate = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
    return resample(wave, rate, 24000).astype(np.float32)


def test_names_rates_codebooks_and_taxonomy():
    for name, (hop, n, size) in zip(NAMES, ((1920, 8, 4096), (960, 12, 1024)), strict=True):
        spec = codecs.spec(name)
        assert (spec.sample_rate, spec.hop_length, spec.n_codebooks, spec.codebook_size) == (24000, hop, n, size)
        assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("multi-codebook", "semantic-distillation", "time")
        assert spec.license == "apache-2.0" and spec.public_sets == ()
    # with the semantic codebook's 14 bits: 12.5 × (14 + 7 × 12) and 25 × (14 + 11 × 10) bits/s
    assert "1.225 kbps" in codecs.spec(NAMES[0]).notes and "3.1 kbps" in codecs.spec(NAMES[1]).notes
    assert codecs.resolve("12hz_v1") == NAMES[0] and codecs.resolve("dualcodec-25hz") == NAMES[1]


def test_default_config_is_the_packages_hydra_section(codec_fixture):
    for name in NAMES:
        assert dualcodec.default_config(codecs.spec(name)) == codec_fixture(name).manifest["official"]["config"]


def test_length_rule_by_hand(tiny, demo_dir):
    """1 s at 24 kHz -> 16,000 samples at 16 kHz -> K = 1 + 15600 // 160 = 98 filterbank frames -> 49 stacked ->
    12 frames at 12.5 Hz (pooled by 4), 24 at 25 Hz (by 2); DAC's decoders give 12 × 1920 - 4 and 24 × 960 - 4 (the
    stride-5 transposed conv gives 5L - 1, then the last stride, 4, multiplies)."""
    assert dualcodec.semantic_frames(24000, 4) == 12 and dualcodec.semantic_frames(24000, 2) == 24
    assert tiny[NAMES[0]].output_length(24000) == 23036 and tiny[NAMES[1]].output_length(24000) == 23036
    wave = clip_24k(demo_dir)
    for name, codec in tiny.items():
        for n in (24000, wave.shape[0], 30_001):
            out = resynthesize_one(codec, wave[:n])
            assert out.shape == (codec.output_length(n),) and np.isfinite(out).all(), (name, n)
        codes = codec.encode(torch.from_numpy(wave[:24000]))
        assert codes.shape == (1, codecs.spec(name).n_codebooks, 12 if name == NAMES[0] else 24)


def test_too_short_input_is_named(tiny):
    codec = tiny[NAMES[0]]
    # one pooled frame needs K >= 7 filterbank frames at 12.5 Hz (T16 >= 1360: T >= 2039, ceil(2039 · 2 / 3) = 1360),
    # K >= 3 at 25 Hz (T16 >= 720: T >= 1079)
    assert codec.min_input_length() == 2039 and tiny[NAMES[1]].min_input_length() == 1079
    with pytest.raises(ValueError, match="2038 samples is shorter than 2039"):
        codec.resynthesize(np.zeros((1, 2038), np.float32), [2038])
    assert resynthesize_one(codec, np.full(2039, 0.1, np.float32)).shape == (codec.output_length(2039),) == (1916,)


def test_fewer_codebooks_decode_the_semantic_one_first(codec_fixture):
    fixture = codec_fixture(NAMES[1])
    wave = fixture.npy("speech_input.npy")
    every = codecs.load(NAMES[1], config=fixture.tiny_config, state_dict=fixture.weights())
    one = codecs.load(NAMES[1], config=fixture.tiny_config, state_dict=fixture.weights(), n_quantizers=1)
    codes = one.encode(torch.from_numpy(wave))
    assert codes.shape[1] == 1
    np.testing.assert_array_equal(codes.numpy(), every.encode(torch.from_numpy(wave))[:, :1].numpy())
    assert rel_l2(resynthesize_one(one, wave), resynthesize_one(every, wave)) > 1e-2
    with pytest.raises(CodecConfigError, match=r"n_quantizers=13; this checkpoint has 1 to 12 codebooks"):
        codecs.load(NAMES[1], config=fixture.tiny_config, random_weights=True, n_quantizers=13)


def test_wav2vec_bert_layers_past_the_one_read_are_dropped_and_a_missing_one_is_named(codec_fixture):
    """The tiny w2v-BERT has 4 layers and the codec reads hidden_states[3]: layer 3 is in the file and ignored; a
    file without layer 2 is refused naming its keys."""
    fixture = codec_fixture(NAMES[0])
    weights = fixture.weights()
    assert any(k.startswith("semantic_model.encoder.layers.3.") for k in weights)
    codec = codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=weights)
    assert not any(k.startswith("semantic_model.encoder.layers.3.") for k in codec.model.state_dict())
    broken = {k: v for k, v in weights.items() if not k.startswith("semantic_model.encoder.layers.2.")}
    with pytest.raises(CheckpointError, match=r"missing keys: semantic_model\.encoder\.layers\.2\."):
        codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=broken)


def test_semantic_width_other_than_the_w2v_bert_models_is_named(codec_fixture):
    config = {**codec_fixture(NAMES[1]).tiny_config, "semantic_dim": 16}
    with pytest.raises(CodecConfigError, match=r"w2v-BERT model is 8 wide but `semantic_dim` is 16"):
        codecs.load(NAMES[1], config=config, random_weights=True)


def test_statistics_file_without_its_keys_is_named(codec_fixture, fake_hub, monkeypatch):
    fixture = codec_fixture(NAMES[0])
    files, _ = TESTER.hub_layout(NAMES[0], fixture)
    files[STATS] = torch_save_bytes({"mean": torch.zeros(8)})
    fake_hub.add(codecs.spec(NAMES[0]).hub_repo, files)
    TESTER.official_config_is_tiny(monkeypatch, NAMES[0], fixture)
    with pytest.raises(CheckpointError, match=r"w2vbert2_mean_var_stats_emilia\.pt holds no `mean` and `var`"):
        codecs.load(NAMES[0])


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with DualCodec (the fixture's tiny config) loads back through `load_dataset` with the
    taxonomy the spec gives."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", NAMES[1]), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAMES[1]]
    ds = datasets.load_dataset(str(tmp_path / "out"), NAMES[1], split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(NAMES[1], "multi-codebook", "semantic-distillation", "time")] == seen[
        ("genuine", "bonafide", "bonafide", "bonafide")] > 0


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    wave = clip_24k(demo_dir)[:30_000]
    codec = codecs.load(NAMES[1], random_weights=True)
    out = resynthesize_one(codec, wave)
    assert out.shape == (codec.output_length(30_000),) and np.isfinite(out).all()


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _stages(codec):
    return [codec.model.semantic_vq.quantizers[0], *codec.model.dac.quantizer.quantizers[: codec.n_quantizers - 1]]


def _search(quantizer, latents):
    # decode_latents' distance: squared euclidean between the L2-normalised projected latent and codebook
    return rows(F.normalize(latents.transpose(1, 2), dim=-1)), F.normalize(quantizer.codebook.weight)


def _w2v_shapes(layers: int) -> dict[str, tuple[int, ...]]:
    """transformers' Wav2Vec2BertModel at facebook/w2v-bert-2.0's architecture (`Wav2Vec2BertConfig()`), first
    `layers` layers, on the meta device: the w2v-BERT keys the codec loads."""
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    with torch.device("meta"):
        model = Wav2Vec2BertModel(Wav2Vec2BertConfig(num_hidden_layers=layers))
    return {f"semantic_model.{k}": tuple(v.shape) for k, v in model.state_dict().items()}


_SOURCE = ("dualcodec 0.4.2's DualCodec(**the Hydra model section) built on the meta device (tests/fixtures/"
           "make_dualcodec_fixture.py; manifest 'official.counts'), plus transformers' Wav2Vec2BertModel at "
           "Wav2Vec2BertConfig() (411,231,104 entries, 549 tensors for the 17 layers read) and the statistics "
           "file's mean and var (1024 each).")


class DualCodecTester(FamilyTester):
    family = "dualcodec"
    architecture_key = ("n_codebooks",)
    quantiser = Quantiser(
        where=lambda: (dualcodec_model.VectorQuantize, "decode_latents"),
        stages=_stages,
        search=_search,
        # the semantic codebook quantises the semantic features; the acoustic ones a chain on the DAC latent
        chains=lambda codec, n: [[0], list(range(1, n))],
        chosen=lambda result: result[1],
        impose=lambda quantizer, args, result, codes: (quantizer.decode_code(codes), codes),
    )
    facts = {
        "dualcodec_12hz_v1": OfficialFacts(
            source=_SOURCE, parameters=84_014_578 + 411_231_104 + 2048, tensors=420 + 549 + 2,
            shapes={"dac.encoder.block.0.weight_v": (32, 1, 7), "dac.encoder.block.7.weight_v": (1024, 1024, 3),
                    "dac.decoder.model.0.weight_v": (1536, 1024, 7),
                    "dac.quantizer.quantizers.6.codebook.weight": (4096, 8),
                    "semantic_vq.quantizers.0.codebook.weight": (16384, 8),
                    "convnext_encoder.0.weight_v": (768, 1024, 1), "convnext_decoder.4.weight_v": (1024, 768, 1),
                    "semantic_model.encoder.layers.16.ffn2.output_dense.weight": (1024, 4096),
                    "semantic_stats.var": (1024,)},
            config={"n_codebooks": 7, "codebook_size": 4096, "semantic_downsample_factor": 4, "semantic_layer": 17,
                    "encoder_rates": (4, 5, 6, 8, 2)}),
        "dualcodec_25hz_v1": OfficialFacts(
            source=_SOURCE, parameters=102_291_874 + 411_231_104 + 2048, tensors=392 + 549 + 2,
            shapes={"dac.encoder.block.0.weight_v": (64, 1, 7), "dac.encoder.block.6.weight_v": (1024, 1024, 3),
                    "dac.decoder.model.0.weight_v": (1536, 1024, 7),
                    "dac.quantizer.quantizers.10.codebook.weight": (1024, 8),
                    "semantic_vq.quantizers.0.codebook.weight": (16384, 8),
                    "semantic_model.encoder.layers.16.ffn2.output_dense.weight": (1024, 4096)},
            config={"n_codebooks": 11, "codebook_size": 1024, "semantic_downsample_factor": 2, "semantic_layer": 17,
                    "encoder_rates": (4, 5, 6, 8)}),
    }

    def chains(self):
        return 2  # semantic | acoustic

    def hub_layout(self, name, fixture):
        """amphion/dualcodec's two files; the tiny w2v-BERT goes to its own repository in `official_config_is_tiny`."""
        from safetensors.torch import save

        weights = fixture.weights()
        codec = {k: v for k, v in weights.items() if not k.startswith(("semantic_model.", "semantic_stats."))}
        stats = {"mean": weights["semantic_stats.mean"], "var": weights["semantic_stats.var"]}
        checkpoint, stats_name = codecs.spec(name).hub_files
        return {checkpoint: save(codec), stats_name: torch_save_bytes(stats)}, checkpoint

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        """The Hydra section is in the code: make it the tiny one; and put the tiny w2v-BERT (config.json +
        model.safetensors) in facebook/w2v-bert-2.0 of the offline cache the test set up."""
        from safetensors.torch import save
        from transformers import Wav2Vec2BertConfig

        tiny = {k: v for k, v in fixture.tiny_config.items() if k != "semantic_model"}
        monkeypatch.setitem(dualcodec_config.OFFICIAL_CONFIGS, name, tiny)
        semantic = {k.removeprefix("semantic_model."): v for k, v in fixture.weights().items()
                    if k.startswith("semantic_model.")}
        config = Wav2Vec2BertConfig(**fixture.tiny_config["semantic_model"]).to_dict()
        FakeHubCache(Path(os.environ["HF_HUB_CACHE"])).add(
            dualcodec.SEMANTIC_REPO, {"config.json": json.dumps(config), "model.safetensors": save(semantic)})

    def official_key_shapes(self, name, fixture):
        return {**fixture.official_shapes(), **_w2v_shapes(17)}


TESTER = DualCodecTester()
