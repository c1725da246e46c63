"""Mimi (kyutai/mimi, 8 or 32 codebooks) on transformers' MimiModel: its quirks.

Tiny random-weight configs (tests/tiny_configs.py, from this module's tester). Parity with transformers' own feature
extractor + model, batches and lengths, the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import json

import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from helpers import save_pretrained_files, speechlike, tiny_transformers_codec
from near_ties import transformers_codebook
from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from codecfake_hf import codecs
from codecfake_hf.errors import CheckpointError


def test_mimi_encodes_num_quantizers_codebooks():
    wave = speechlike(3 * 1920 + 77, 1)
    assert tiny_transformers_codec("mimi-nq8").encode(torch.from_numpy(wave)).shape == (8, 4)
    assert tiny_transformers_codec("mimi-nq32").encode(torch.from_numpy(wave)).shape == (32, 4)
    with pytest.raises(ValueError, match="num_quantizers=33"):
        tiny_transformers_codec("mimi-nq8", num_quantizers=33)


def test_the_hub_file_keeps_the_flat_layout_that_transformers_renames_on_load(fake_hub):
    """kyutai/mimi's file keeps the original flat layout (`encoder.layers.*`); transformers 5 renames it into
    encoder/decoder halves on load, and so does `codecs.load`."""
    reference = tiny_transformers_codec("mimi-nq32", seed=3)
    files = save_pretrained_files(reference)
    keys = json.loads(files["model.safetensors"][8: 8 + int.from_bytes(files["model.safetensors"][:8], "little")])
    assert "encoder.layers.0.conv.weight" in keys and "encoder_transformer.layers.0.mlp.fc1.weight" in keys
    assert not any(k.startswith(("encoder.encoder_seanet", "decoder.decoder_seanet")) for k in keys)
    fake_hub.add("kyutai/mimi", files)
    codec = codecs.load("mimi-nq32")
    assert not codec.random_weights
    wave = speechlike(3000, 5)
    assert torch.equal(codec.resynthesize(wave[None], [3000])[0], reference.resynthesize(wave[None], [3000])[0])


def test_a_checkpoint_with_a_missing_tensor_is_named(fake_hub, tmp_path):
    files = save_pretrained_files(tiny_transformers_codec("mimi-nq8"))
    state = load_bytes(files["model.safetensors"])
    state.pop("downsample.conv.weight")
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    fake_hub.add("kyutai/mimi", {"config.json": files["config.json"], "model.safetensors": path})
    with pytest.raises(CheckpointError, match=r"missing keys: encoder\.downsample\.conv\.weight"):
        codecs.load("mimi-nq8")


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _layers(codec) -> list:
    quantizer = codec.model.quantizer  # semantic rows first, then acoustic
    return [*quantizer.semantic_residual_vector_quantizer.layers, *quantizer.acoustic_residual_vector_quantizer.layers]


def _chains(codec, rows: int) -> list[list[int]]:
    # The acoustic RVQ quantises the latent itself, not what the semantic codebook left.
    semantic = codec.model.config.num_semantic_quantizers
    return [list(range(semantic)), list(range(semantic, rows))]


class MimiTester(FamilyTester):
    family = "mimi"
    parity_bound = 1e-6  # transformers against itself (tests/tiny_configs.py): bit-exact here
    architecture_key = ("hidden_size",)
    transformers_config = True
    quantiser = transformers_codebook("mimi", "MimiEuclideanCodebook", layers=_layers, chains=_chains)
    facts = dict.fromkeys(("mimi-nq8", "mimi-nq32"), OfficialFacts(
        source="moshi 0.2.13's get_mimi() (loaders._mimi_config, the released Mimi's kwargs) converted by "
               "transformers 4.46.3's convert_mimi_checkpoint_to_pytorch.py: the Hub file's layout; its 385 MB are "
               "these 96.15 M float32 values, and the Hub shows 96.2M params (tests/fixtures/facts/README.md)",
        parameters=96_151_393, tensors=350,
        shapes={
            "encoder.layers.0.conv.weight": (64, 1, 7),
            "encoder.layers.14.conv.weight": (512, 1024, 3),
            "downsample.conv.weight": (512, 512, 4),
            "encoder_transformer.layers.0.self_attn.q_proj.weight": (512, 512),
            "encoder_transformer.layers.7.mlp.fc1.weight": (2048, 512),
            "encoder_transformer.layers.7.mlp_layer_scale.scale": (512,),
            "quantizer.semantic_residual_vector_quantizer.input_proj.weight": (256, 512, 1),
            "quantizer.semantic_residual_vector_quantizer.layers.0.codebook.embed_sum": (2048, 256),
            "quantizer.acoustic_residual_vector_quantizer.layers.30.codebook.embed_sum": (2048, 256),
            "upsample.conv.weight": (512, 1, 4),
            "decoder.layers.14.conv.weight": (1, 64, 3),
        },
        config={"hidden_size": 512, "num_filters": 64, "upsampling_ratios": [8, 6, 5, 4], "num_hidden_layers": 8,
                "num_attention_heads": 8, "head_dim": 64, "intermediate_size": 2048, "sliding_window": 250,
                "num_quantizers": 32, "num_semantic_quantizers": 1, "codebook_size": 2048, "codebook_dim": 256,
                "frame_rate": 12.5}))
    tiny_overrides = {"hidden_size": 16, "num_filters": 2, "codebook_dim": 8, "vector_quantization_hidden_dimension": 8,
                      "upsample_groups": 16, "num_hidden_layers": 1, "intermediate_size": 16,
                      "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 8}

    def chains(self):
        return 2

    def facts_state(self, codec):
        return self.checkpoint_state(codec)  # the Hub file's flat layout, which transformers 5 renames on load

    def reference(self, name, model, wave):
        """transformers' `EncodecFeatureExtractor` (Mimi's), then `MimiModel.forward` with `num_quantizers`."""
        from transformers import EncodecFeatureExtractor

        extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=model.config.sampling_rate)
        inputs = extractor(raw_audio=wave, sampling_rate=model.config.sampling_rate, return_tensors="pt")
        result = model(**inputs, num_quantizers=codecs.spec(name).n_codebooks)
        return result.audio_values[0, 0, : wave.shape[0]].numpy(), result.audio_codes[0].numpy()


TESTER = MimiTester()
