"""X-Codec (five hf-audio/xcodec-* checkpoints, 1 or 8 codebooks) on transformers' XcodecModel: its quirks.

Tiny random-weight configs (tests/tiny_configs.py, from this module's tester). Parity with transformers' own feature
extractor + model, batches and lengths, the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2
from helpers import save_pretrained_files, speechlike, tiny_transformers_codec
from near_ties import transformers_codebook
from tiny_configs import tiny_config

from codecfake_hf import codecs
from codecfake_hf.codecs import transformers_weights
from codecfake_hf.errors import WeightsUnavailableError


def test_xcodec_bandwidth_picks_the_codebooks():
    wave = torch.from_numpy(speechlike(4 * 320 + 5, 2))
    assert tiny_transformers_codec("xcodec-hubert-librispeech-nq8").encode(wave).shape[0] == 8
    assert tiny_transformers_codec("xcodec-hubert-librispeech-nq1").encode(wave).shape[0] == 1
    with pytest.raises(ValueError, match="bandwidth=3 kbps is not one"):
        tiny_transformers_codec("xcodec-hubert-librispeech-nq1", bandwidth=3)


def test_loads_the_checkpoint_layout_from_the_hub_cache_offline(fake_hub):
    name = "xcodec-wavlm-mls-nq1"
    reference = tiny_transformers_codec(name, seed=3)
    fake_hub.add(codecs.spec(name).hub_repo, save_pretrained_files(reference))
    codec = codecs.load(name)
    assert not codec.random_weights
    wave = speechlike(3000, 5)
    assert torch.equal(codec.resynthesize(wave[None], [3000])[0], reference.resynthesize(wave[None], [3000])[0])


def test_missing_weights_offline_name_the_repo_and_the_fix(fake_hub):
    with pytest.raises(WeightsUnavailableError, match=r"hf-audio/xcodec-hubert-general/config\.json.*hf download"):
        codecs.load("xcodec-hubert-general-nq1")


def test_weight_norm_in_either_naming_loads_and_folds():
    # HuBERT's positional convolution is weight-normed: files name it weight_g/weight_v (legacy) or
    # parametrizations.weight.original0/1; a file that weight-norms a convolution the model keeps plain is folded.
    name = "xcodec-hubert-librispeech-nq8"
    reference = tiny_transformers_codec(name, seed=5)
    state = transformers_weights.to_checkpoint(reference.model)
    assert "semantic_model.encoder.pos_conv_embed.conv.parametrizations.weight.original0" in state
    legacy = {k.replace("parametrizations.weight.original0", "weight_g")
              .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    weight = legacy.pop("acoustic_encoder.conv1.weight")
    legacy["acoustic_encoder.conv1.weight_g"] = weight.norm(dim=(1, 2), keepdim=True)
    legacy["acoustic_encoder.conv1.weight_v"] = weight
    codec = codecs.load(name, config=tiny_config(name), state_dict=legacy)
    wave = speechlike(2000, 6)
    assert rel_l2(codec.resynthesize(wave[None], [2000])[0], reference.resynthesize(wave[None], [2000])[0]) <= 1e-6


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _facts(semantic: str, parameters: int, tensors: int, shapes: dict) -> OfficialFacts:
    return OfficialFacts(
        source="zhenye234/xcodec @a2e52d3's SoundStream (config/codec_16k_6kbps_v3_vqdp.yaml, semantic teacher "
               f"{semantic}) converted with the key mapping of transformers' convert_xcodec_weights_to_hf.py "
               "(commit 296fd445): the Hub file's layout; the teacher's 94.4 M parameters are on its model page "
               "(tests/fixtures/facts/README.md)",
        parameters=parameters, tensors=tensors, shapes=shapes,
        config={"sample_rate": 16000, "target_bandwidths": [0.5, 1, 1.5, 2, 4], "codebook_size": 1024,
                "codebook_dim": 1024, "hop_length": 320, "acoustic_model_config.encoder_hidden_size": 64,
                "acoustic_model_config.decoder_hidden_size": 1024, "acoustic_model_config.hidden_size": 256,
                "acoustic_model_config.downsampling_ratios": [8, 5, 4, 2],
                "semantic_model_config.hidden_size": 768, "semantic_model_config.num_hidden_layers": 12,
                "semantic_model_config.intermediate_size": 3072, "semantic_model_config.model_type": semantic})


_HUBERT = _facts("hubert", 177_484_041, 454, {
    "acoustic_encoder.conv1.weight": (64, 1, 7),
    "acoustic_encoder.conv2.weight": (256, 1024, 3),
    "encoder_semantic.conv.weight": (768, 768, 3),
    "fc.weight": (1024, 1024),
    "quantizer.quantizers.0.codebook.embed": (1024, 1024),
    "quantizer.quantizers.7.codebook.embed": (1024, 1024),
    "fc2.weight": (256, 1024),
    "acoustic_decoder.block.0.conv_t1.weight": (1024, 512, 16),
    "acoustic_decoder.conv2.weight": (1, 64, 7),
    "semantic_model.feature_extractor.conv_layers.0.conv.weight": (512, 1, 10),
    "semantic_model.encoder.pos_conv_embed.conv.parametrizations.weight.original1": (768, 48, 128),
    "semantic_model.encoder.layers.0.attention.q_proj.weight": (768, 768),
    "semantic_model.encoder.layers.11.feed_forward.intermediate_dense.weight": (3072, 768),
})
_WAVLM = _facts("wavlm", 177_494_265, 491, {
    "acoustic_encoder.conv1.weight": (64, 1, 7),
    "acoustic_encoder.conv2.weight": (256, 1024, 3),
    "encoder_semantic.conv.weight": (768, 768, 3),
    "fc.weight": (1024, 1024),
    "quantizer.quantizers.0.codebook.embed": (1024, 1024),
    "quantizer.quantizers.7.codebook.embed": (1024, 1024),
    "fc2.weight": (256, 1024),
    "acoustic_decoder.block.0.conv_t1.weight": (1024, 512, 16),
    "acoustic_decoder.conv2.weight": (1, 64, 7),
    "semantic_model.feature_extractor.conv_layers.0.conv.weight": (512, 1, 10),
    "semantic_model.encoder.pos_conv_embed.conv.parametrizations.weight.original1": (768, 48, 128),
    "semantic_model.encoder.layers.0.attention.q_proj.weight": (768, 768),
    "semantic_model.encoder.layers.11.feed_forward.intermediate_dense.weight": (3072, 768),
    "semantic_model.encoder.layers.0.attention.rel_attn_embed.weight": (320, 12),
})


class XcodecTester(FamilyTester):
    family = "xcodec"
    parity_bound = 1e-6  # transformers against itself (tests/tiny_configs.py): bit-exact here
    architecture_key = ("semantic_model_config", "hidden_size")
    transformers_config = True
    quantiser = transformers_codebook("xcodec", "XcodecEuclideanCodebook",
                                      layers=lambda codec: list(codec.model.quantizer.quantizers))
    facts = {name: _WAVLM if "wavlm" in codecs.spec(name).hub_repo else _HUBERT
             for name in codecs.names() if codecs.spec(name).family == "xcodec"}
    tiny_overrides = {
        "semantic_model_config": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                  "intermediate_size": 16, "conv_dim": [8, 8], "conv_kernel": [10, 8],
                                  "conv_stride": [5, 64], "num_feat_extract_layers": 2, "num_conv_pos_embeddings": 4,
                                  "num_conv_pos_embedding_groups": 2, "num_buckets": 8, "max_bucket_distance": 16},
        "acoustic_model_config": {"encoder_hidden_size": 2, "decoder_hidden_size": 32, "hidden_size": 8},
        "codebook_dim": None,
    }

    def facts_state(self, codec):
        return self.checkpoint_state(codec)  # the Hub file's layout (weight-normed convolutions as stored)

    def reference(self, name, model, wave):
        """transformers' `DacFeatureExtractor` (padding to whole hops), then `XcodecModel.forward` at the entry's
        bandwidth; the output cut to the input length."""
        from transformers import DacFeatureExtractor

        config = model.config
        extractor = DacFeatureExtractor(feature_size=1, sampling_rate=config.sample_rate, hop_length=config.hop_length)
        inputs = extractor(raw_audio=wave, sampling_rate=config.sample_rate, return_tensors="pt")
        bandwidth = next(b for b in config.target_bandwidths if b == codecs.spec(name).bitrate_kbps)
        result = model(inputs["input_values"], bandwidth=bandwidth)
        return result.audio_values[0, 0, : wave.shape[0]].numpy(), result.audio_codes[0].numpy()


TESTER = XcodecTester()
