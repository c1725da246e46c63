"""Vocos over EnCodec tokens (charactr/vocos-encodec-24khz): its quirks (the EnCodec part from the encodec family and
two Hub repositories, Vocos's own codebook embeddings, the bandwidth condition, whole-frame outputs).

Parity with the upstream `vocos` + `encodec` packages (fixtures made by tests/fixtures/make_vocos_fixture.py),
batches, the offline Hub and the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import FakeHubCache, load_codec_fixture, rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import transformers_codebook
from safetensors.torch import save

from codecfake_hf import codecs
from codecfake_hf.audio import resample
from codecfake_hf.codecs.encodec.codec import convert_original_state_dict, original_key
from codecfake_hf.codecs.vocos.codec import ENCODEC_PREFIX
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ("vocos_encodec_24khz_1.5kbps", "vocos_encodec_24khz_3kbps", "vocos_encodec_24khz_6kbps",
         "vocos_encodec_24khz_12kbps")
REPO = "charactr/vocos-encodec-24khz"
ENCODEC_REPO = "facebook/encodec_24khz"


def tiny(codec_fixture, name):
    fixture = codec_fixture(name)
    return codecs.load(name, config=fixture.tiny_config, state_dict=fixture.weights())


def vocos_files(fixture) -> dict[str, bytes | str]:
    """charactr/vocos-encodec-24khz's files for the tiny model: config.yaml and pytorch_model.bin (no EnCodec)."""
    config = {k: v for k, v in fixture.tiny_config.items() if k != "encodec"}
    own = {k: v for k, v in fixture.weights().items() if not k.startswith(ENCODEC_PREFIX)}
    return {"config.yaml": yaml.safe_dump(config), "pytorch_model.bin": torch_save_bytes(own)}


def encodec_files(fixture) -> dict[str, bytes | str]:
    """facebook/encodec_24khz's files for the tiny EnCodec: transformers' config.json and model.safetensors (the
    encodec package's keys renamed as transformers' conversion renames them)."""
    package = {k[len(ENCODEC_PREFIX):]: v for k, v in fixture.weights().items() if k.startswith(ENCODEC_PREFIX)}
    return {"config.json": json.dumps(fixture.tiny_config["encodec"]),
            "model.safetensors": save({k: v.contiguous() for k, v in convert_original_state_dict(package).items()})}


def test_the_bandwidth_picks_codebooks_and_the_backbones_condition(codec_fixture):
    wave = torch.from_numpy(codec_fixture(NAMES[0]).npy("speech_input.npy"))
    for index, (name, nq) in enumerate(zip(NAMES, (2, 4, 8, 16), strict=True)):
        codec = tiny(codec_fixture, name)
        assert codec.bandwidth_id == index and codec.encode(wave).shape == (nq, 38), name
    # The same codes decoded under another bandwidth's condition differ: the AdaLayerNorm embeddings are used.
    six, twelve = tiny(codec_fixture, NAMES[2]), tiny(codec_fixture, NAMES[3])
    codes = six.encode(wave)
    twelve.bandwidth_id = 2
    np.testing.assert_allclose(twelve.decode(codes).numpy(), six.decode(codes).numpy(), rtol=0, atol=0)
    twelve.bandwidth_id = 3
    assert rel_l2(twelve.decode(codes).numpy(), six.decode(codes).numpy()) > 1e-3


def test_features_are_vocoss_own_codebook_rows_not_encodecs(codec_fixture):
    """Upstream embeds the codes with `codebook_weights` (the fixture draws them apart from EnCodec's codebooks)."""
    codec = tiny(codec_fixture, NAMES[1])
    codes = codec.encode(torch.from_numpy(codec_fixture(NAMES[1]).npy("input.npy")))
    rows = codec.model.feature_extractor.codebook_weights
    expected = sum(rows[1024 * k + codes[k]] for k in range(codes.shape[0]))  # [F, 1]
    features = codec.model.feature_extractor.features(codes[:, None])[0]
    np.testing.assert_allclose(features.T.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    books = torch.cat([layer.codebook.embed for layer in codec.encodec.model.quantizer.layers[:16]])
    assert not torch.equal(books, rows)


def test_output_is_whole_frames_on_real_clips(codec_fixture, demo_dir):
    codec = tiny(codec_fixture, NAMES[2])
    for utterance in ("p225_273", "p318_114"):
        wave, rate = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
        wave = resample(wave[: rate // 3], rate, 24000)
        out = resynthesize_one(codec, wave)
        assert out.shape[0] == -(-wave.shape[0] // 320) * 320 == codec.output_length(wave.shape[0])


def test_the_encodec_part_loads_from_either_naming(codec_fixture):
    """A full Vocos state dict holds EnCodec in the encodec package's naming, facebook/encodec_24khz in
    transformers'."""
    fixture = codec_fixture(NAMES[0])
    weights = fixture.weights()
    renamed = {(ENCODEC_PREFIX + original_key(k[len(ENCODEC_PREFIX):]) if k.startswith(ENCODEC_PREFIX) else k): v
               for k, v in weights.items()}
    assert "feature_extractor.encodec.encoder.layers.0.conv.weight_g" in renamed
    a = codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=weights)
    b = codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=renamed)
    wave = fixture.npy("input.npy")
    np.testing.assert_array_equal(resynthesize_one(a, wave), resynthesize_one(b, wave))


def test_state_dict_without_encodec_or_with_a_stray_key_is_named(codec_fixture):
    fixture = codec_fixture(NAMES[0])
    own = {k: v for k, v in fixture.weights().items() if not k.startswith(ENCODEC_PREFIX)}
    with pytest.raises(CheckpointError, match=r"holds no `feature_extractor\.encodec\.\*` tensors"):
        codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=own)
    extra = {**fixture.weights(), "backbone.extra": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"unexpected keys: backbone\.extra"):
        codecs.load(NAMES[0], config=fixture.tiny_config, state_dict=extra)


def test_config_of_another_model_is_refused(codec_fixture):
    config = copy.deepcopy(codec_fixture(NAMES[0]).tiny_config)
    config["backbone"]["class_path"] = "vocos.models.VocosResNetBackbone"
    with pytest.raises(CodecConfigError, match=r"`backbone.class_path` is 'vocos.models.VocosResNetBackbone'"):
        codecs.load(NAMES[0], config=config, random_weights=True)
    config = copy.deepcopy(codec_fixture(NAMES[0]).tiny_config)
    config["feature_extractor"]["init_args"]["bandwidths"] = [3.0, 6.0]
    with pytest.raises(CodecConfigError, match=r"bandwidths \[3.0, 6.0\] do not hold 1.5 kbps"):
        codecs.load(NAMES[0], config=config, random_weights=True)


def test_vocos_file_holding_encodec_tensors_is_refused(fake_hub, codec_fixture):
    fixture = codec_fixture(NAMES[0])
    files = vocos_files(fixture)
    files["pytorch_model.bin"] = torch_save_bytes(fixture.weights())  # EnCodec inside: not Vocos's file
    fake_hub.add(REPO, files)
    fake_hub.add(ENCODEC_REPO, encodec_files(fixture))
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin holds EnCodec tensors"):
        codecs.load(NAMES[0])


def test_official_random_build_embeds_encodecs_codebooks_as_vocos_initialises_them():
    codec = codecs.load(NAMES[3], random_weights=True)
    books = torch.cat([layer.codebook.embed for layer in codec.encodec.model.quantizer.layers[:16]])
    assert torch.equal(codec.model.feature_extractor.codebook_weights, books)
    assert codec.model.feature_extractor.codebook_weights.shape == (16384, 128)


def test_a_random_weight_build_loads_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build --random_weights` on a small VCTK tree (the tiny config), read back by `load_dataset`."""
    import datasets
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", "vocos_encodec_24khz_6kbps", random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and "vocos_encodec_24khz_6kbps" in report.complete
    name = "vocos_encodec_24khz_6kbps"
    rows = datasets.load_dataset(str(tmp_path / "out"), name, split="train", cache_dir=str(tmp_path / "cache"))
    fakes = rows.filter(lambda row: row["codec"] == name)
    assert len(fakes) > 0 and fakes[0]["audio"]["sampling_rate"] == codecs.spec(name).sample_rate
    for key, value in zip(("quantizer", "auxiliary", "decoder"), ("multi-codebook", "none", "frequency"), strict=True):
        assert {rows.features[key].int2str(v) for v in fakes[key]} == {value}, key


# -- the family's tester (tests/codec_tester.py) --------------------------------------------------------------------

_EN = "feature_extractor.encodec."


class VocosTester(FamilyTester):
    family = "vocos"
    architecture_key = ("backbone", "init_args", "dim")
    quantiser = transformers_codebook(
        "encodec", "EncodecEuclideanCodebook",
        layers=lambda codec: list(codec.model.feature_extractor.encodec.quantizer.layers))
    facts = {name: OfficialFacts(
        source="vocos 0.1.0: Vocos.from_hparams(charactr/vocos-encodec-24khz's config.yaml) on the meta device: the "
               "pytorch_model.bin part, 82 tensors, 10,082,690 values (backbone + head 7,984,258, the README's "
               "'7.9M'; codebook_weights 16 x 1024 x 128; the Hann window), plus EnCodec 24 kHz as "
               "tests/codecs/test_encodec.py pins it from the encodec package's checkpoint (252 tensors, 23,273,218)",
        parameters=10_082_690 + 23_273_218, tensors=82 + 252,
        shapes={"feature_extractor.codebook_weights": (16384, 128), "backbone.embed.weight": (384, 128, 7),
                "backbone.convnext.7.norm.scale.weight": (4, 384), "head.out.weight": (1282, 384),
                _EN + "quantizer.layers.31.codebook.embed": (1024, 128)},
        config={"backbone.num_layers": 8, "head.n_fft": 1280, "head.hop_length": 320,
                "bandwidth_id": index, "encodec_bandwidth": kbps})
        for index, (name, kbps) in enumerate(zip(NAMES, (1.5, 3.0, 6.0, 12.0), strict=True))}

    def config_value(self, codec, key):
        return {"backbone.num_layers": lambda: len(codec.model.backbone.convnext),
                "head.n_fft": lambda: codec.model.head.istft.n_fft,
                "head.hop_length": lambda: codec.model.head.istft.hop_length,
                "bandwidth_id": lambda: codec.bandwidth_id,
                "encodec_bandwidth": lambda: codec.encodec.bandwidth}[key]()

    def official_key_shapes(self, name, fixture):
        shapes = fixture.official_shapes()  # the Vocos file's keys (upstream, meta device)
        encodec_shapes = load_codec_fixture("encodec_24khz").official_shapes()  # the encodec package's checkpoint
        return {**shapes, **{_EN + original_key(k): v for k, v in encodec_shapes.items()}}

    def hub_layout(self, name, fixture):
        return vocos_files(fixture), "pytorch_model.bin"

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # The EnCodec part comes from a second repository: the tiny one goes into the same offline cache.
        FakeHubCache(Path(os.environ["HF_HUB_CACHE"])).add(ENCODEC_REPO, encodec_files(fixture))


TESTER = VocosTester()

