"""Pocket TTS's audio tokenizer (continuous VAE latents) on transformers' model: its quirks.

Tiny random-weight config (tests/tiny_configs.py, from this module's tester); parity with transformers' own feature
extractor + model (output only: continuous latents have no codes), batches and lengths, the official facts:
tests/test_codec_contract.py.
"""

from __future__ import annotations

import numpy as np
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import resynthesize_one
from helpers import speechlike, tiny_transformers_codec

NAME = "pocket-tts-audio-tokenizer"


def test_latents_are_twelve_and_a_half_per_second_and_deterministic():
    codec = tiny_transformers_codec(NAME)
    wave = speechlike(2 * 1920 + 5, 4)
    assert codec.encode(torch.from_numpy(wave)).shape == (3, 4)  # whole 1920-sample frames; tiny latent: 4 dims
    assert np.array_equal(resynthesize_one(codec, wave), resynthesize_one(codec, wave))


def test_padding_to_whole_frames_is_what_the_encoder_does_on_its_own():
    """pocket-tts pads with zeros to whole frames before encoding; transformers' causal encoder, fed the raw length,
    pads its convolutions with zeros too: the latents of the valid frames agree."""
    codec = tiny_transformers_codec(NAME)
    wave = torch.from_numpy(speechlike(2 * 1920 + 700, 5))
    with torch.no_grad():
        raw = codec.model.encode(wave[None, None]).latents[0]
    padded = codec.encode(wave)
    assert padded.shape[0] == 3 and raw.shape[0] >= 2
    assert torch.allclose(raw[:2], padded[:2], atol=1e-6)


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class PocketTTSTester(FamilyTester):
    family = "pocket_tts"
    parity_bound = 1e-6  # transformers against itself (tests/tiny_configs.py)
    architecture_key = ("hidden_size",)
    transformers_config = True
    facts = {NAME: OfficialFacts(
        source="pocket-tts 4.0.1 (PyPI; kyutai-labs/pocket-tts) build_mimi() with the `mimi` section of its "
               "config/english.yaml (SEANet 64 filters, ratios 6-5-4, 2-layer transformers of width 512, latent 32 "
               "at 12.5 Hz): 20,054,337 values in 87 tensors; transformers' layout splits each of the 4 attention "
               "layers' fused in_proj (1536 x 512) into q/k/v projections: 87 + 4 x 2 = 95 tensors, the same values",
        parameters=20_054_337, tensors=95,
        shapes={"latent_proj.weight": (512, 32, 1), "encoder.downsample.conv.weight": (32, 512, 32),
                "decoder.upsample.conv.weight": (512, 1, 32), "encoder.encoder_seanet.layers.0.conv.weight": (64, 1, 7),
                "encoder.encoder_transformer.layers.1.mlp.fc1.weight": (2048, 512),
                "decoder.decoder_transformer.layers.0.self_attn.q_proj.weight": (512, 512)},
        config={"sampling_rate": 24000, "hidden_size": 512, "num_filters": 64, "upsampling_ratios": [6, 5, 4],
                "latent_stride": 16, "latent_dim": 32, "frame_size": 1920, "frame_rate": 12.5, "num_hidden_layers": 2,
                "num_attention_heads": 8, "intermediate_size": 2048, "sliding_window": 250, "pad_mode": "constant"},
    )}
    tiny_overrides = {"hidden_size": 16, "num_filters": 2, "upsample_groups": 16, "num_hidden_layers": 1,
                      "intermediate_size": 16, "num_attention_heads": 2, "num_key_value_heads": 2, "head_dim": 8,
                      "latent_dim": 4}

    def reference(self, name, model, wave):
        """transformers' `EncodecFeatureExtractor` in 0.08 s chunks (zeros up to whole 1920-sample frames, as
        pocket-tts's encode_to_latent pads), then `PocketTTSAudioTokenizerModel.forward`; cut to the input length."""
        from transformers import EncodecFeatureExtractor

        config = model.config
        extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=config.sampling_rate,
                                            chunk_length_s=config.frame_size / config.sampling_rate, overlap=0.0)
        inputs = extractor(raw_audio=wave, sampling_rate=config.sampling_rate, return_tensors="pt")
        assert inputs["input_values"].shape[-1] % config.frame_size == 0
        result = model(inputs["input_values"], padding_mask=inputs["padding_mask"])
        return result.audio_values[0, 0, : wave.shape[0]].numpy(), None


TESTER = PocketTTSTester()
