"""The Higgs Audio v2 tokenizer (Boson AI; 2 or 8 of 8 codebooks): its quirks.

Its fixture (tests/fixtures/codecs/higgs-audio-v2-nq{2,8}/) is transformers' own `HiggsAudioV2TokenizerModel` run in a
side environment with torchaudio (tests/fixtures/make_higgs_audio_v2_fixture.py); here transformers' module cannot be
imported (it imports torchaudio), so codecfake-hf mirrors it (codecs/higgs_audio_v2/model.py). Parity, batches,
lengths, the official key set and facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.higgs_audio_v2 import codec as higgs
from codecfake_hf.codecs.higgs_audio_v2.model import HiggsAudioV2TokenizerEuclideanCodebook
from codecfake_hf.errors import CheckpointError, CodecConfigError
from codecfake_hf.resample import sinc_resample

NQ2, NQ8 = "higgs-audio-v2-nq2", "higgs-audio-v2-nq8"


def test_transformers_model_needs_torchaudio_which_is_why_it_is_mirrored():
    """The reason for codecs/higgs_audio_v2/model.py: transformers' class is a placeholder without torchaudio."""
    import transformers

    with pytest.raises(ImportError, match="torchaudio"):
        transformers.HiggsAudioV2TokenizerModel(transformers.HiggsAudioV2TokenizerConfig())


def test_semantic_input_is_torchaudios_resampling(codec_fixture):
    """What the semantic model hears: 24 -> 16 kHz by `codecfake_hf.resample`, against torchaudio 2.11's
    `functional.resample` on the fixture's noise (recorded in the side environment)."""
    fixture = codec_fixture(NQ8)
    expected = fixture.npy("input_16k_torchaudio.npy")
    segment = torch.from_numpy(fixture.npy("input.npy")[:2400])
    ours = sinc_resample(segment, 24000, 16000).numpy()
    assert ours.shape == expected.shape == (1600,)
    assert rel_l2(ours, expected) <= 1e-6


def test_bandwidth_picks_the_codebooks_and_pads_to_whole_frames(tiny_codec, codec_fixture):
    codec = tiny_codec(NQ8)
    wave = torch.from_numpy(np.random.default_rng(3).standard_normal(3 * 960 + 7).astype(np.float32) * 0.1)
    assert codec.encode(wave).shape == (8, 4)  # ceil(2887 / 960) frames: zero-padded as DacFeatureExtractor pads
    assert tiny_codec(NQ2).encode(wave).shape == (2, 4)
    fixture_config = codec_fixture(NQ8).tiny_checkpoint_config
    one_kbps = codecs.load(NQ8, config=fixture_config, random_weights=True, bandwidth=1)
    assert one_kbps.encode(wave).shape == (4, 4)
    with pytest.raises(CodecConfigError, match=r"bandwidth=4 kbps is not one .*valid: 0.5, 1, 1.5, 2"):
        codecs.load(NQ8, config=fixture_config, random_weights=True, bandwidth=4)


def test_real_speech_keeps_its_length(demo_dir, tiny_codec):
    """A VCTK clip (16 kHz, brought to 24 kHz) of a length that is no multiple of the 960-sample hop."""
    from codecfake_hf.audio import read_audio

    wave, rate = read_audio(demo_dir / "genuine+p295_144.wav")
    wave = sinc_resample(torch.from_numpy(wave[: rate]), rate, 24000).numpy()[:23_999]
    out = resynthesize_one(tiny_codec(NQ2), wave)
    assert out.shape == (23_999,) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_the_hub_files_mask_embedding_is_ignored_as_transformers_ignores_it(codec_fixture):
    """transformers' model skips `semantic_model.masked_spec_embed` in the file (its HuBERT is built without
    masking); any other unexpected key is named."""
    fixture = codec_fixture(NQ8)
    weights = fixture.weights()
    with_mask = {**weights, "semantic_model.masked_spec_embed": torch.zeros(4)}
    codec = codecs.load(NQ8, config=fixture.tiny_checkpoint_config, state_dict=with_mask)
    assert "semantic_model.masked_spec_embed" not in codec.model.state_dict()
    with pytest.raises(CheckpointError, match=r"unexpected keys: semantic_model\.spare"):
        codecs.load(NQ8, config=fixture.tiny_checkpoint_config, state_dict={**weights, "semantic_model.spare":
                                                                            torch.zeros(4)})


def test_official_config_has_eight_codebooks_where_the_class_default_has_sixteen():
    """transformers 5.23's `target_bandwidths` default ends at 4 kbps (16 codebooks at 0.25 kbps each); the released
    model has 8, which its conversion's docstring bandwidths (0.5-2 kbps) give."""
    from transformers import DacConfig, HiggsAudioV2TokenizerConfig

    acoustic = DacConfig(**higgs.OFFICIAL_ACOUSTIC).to_dict()  # 960-sample hop: 25 Hz
    assert HiggsAudioV2TokenizerConfig(acoustic_model_config=acoustic).num_quantizers == 16
    official = HiggsAudioV2TokenizerConfig(**higgs.default_config(codecs.spec(NQ8)))
    assert (official.num_quantizers, official.hop_length, official.frame_rate) == (8, 960, 25)


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

_FACTS = OfficialFacts(
    source="transformers 5.23.0's HiggsAudioV2TokenizerModel (the upstream of this mirror) built on the meta device "
           "in a side environment with torchaudio, with the config of transformers' "
           "convert_higgs_audio_v2_tokenizer_to_hf.py (DacConfig encoder 64 / decoder 1024 / hidden 256, ratios "
           "8-5-4-2-3; HuBERT base) and the 8 codebooks of bosonai/higgs-audio-v2-tokenizer (0.5-2 kbps); its "
           "201.4 M values match the Hub's '0.2B params' of bosonai/higgs-audio-v2-tokenizer",
    parameters=201_400_553, tensors=527,
    shapes={
        "acoustic_encoder.conv1.weight": (64, 1, 7),
        "acoustic_encoder.block.0.res_unit1.conv1.weight": (64, 64, 7),
        "fc.weight": (1024, 1024),
        "fc1.weight": (768, 1024),
        "fc2.weight": (256, 1024),
        "quantizer.quantizers.7.codebook.embed": (1024, 64),
        "semantic_model.encoder.layers.11.feed_forward.output_dense.weight": (768, 3072),
    },
    config={"sample_rate": 24000, "target_bandwidths": [0.5, 1, 1.5, 2], "codebook_size": 1024, "codebook_dim": 64,
            "hop_length": 960, "frame_rate": 25, "num_quantizers": 8, "semantic_sample_rate": 16000,
            "acoustic_model_config.downsampling_ratios": [8, 5, 4, 2, 3],
            "acoustic_model_config.decoder_hidden_size": 1024, "semantic_model_config.hidden_size": 768,
            "semantic_model_config.num_hidden_layers": 12},
)


class HiggsAudioV2Tester(FamilyTester):
    family = "higgs_audio_v2"
    parity_bound = 1e-5  # transformers' model vs this mirror: sdpa vs eager attention, torchaudio vs our resampler
    architecture_key = ("semantic_model_config", "hidden_size")
    transformers_config = True
    quantiser = Quantiser(
        where=lambda: (HiggsAudioV2TokenizerEuclideanCodebook, "encode"),
        stages=lambda codec: [q.codebook for q in codec.model.quantizer.quantizers],
        search=lambda codebook, hidden: (rows(hidden), codebook.embed),
    )
    facts = dict.fromkeys((NQ2, NQ8), _FACTS)

    def hub_layout(self, name, fixture):
        """The transformers conversion's files: config.json + model.safetensors (the fixture's, as saved)."""
        return ({"config.json": json.dumps(fixture.tiny_config),
                 "model.safetensors": (fixture.tiny_dir / "weights.safetensors").read_bytes()}, "model.safetensors")

    def has_official_key_set(self, name):
        from conftest import load_codec_fixture

        return "state_dict" in load_codec_fixture(name).manifest  # recorded once, in the nq8 folder


TESTER = HiggsAudioV2Tester()
