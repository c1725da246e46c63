"""VibeVoice's acoustic tokenizer (continuous σ-VAE latents) on transformers' model: its quirks.

Tiny random-weight config (tests/tiny_configs.py, from this module's tester); parity with transformers' own feature
extractor + model (output only: continuous latents have no codes), batches and lengths, the official facts:
tests/test_codec_contract.py.
"""

from __future__ import annotations

import numpy as np
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import speechlike, tiny_transformers_codec

from codecfake_hf.codecs.vibevoice import codec as vibevoice

NAME = "vibevoice-acoustic"


def test_normalisation_is_the_feature_extractors():
    """Each utterance scaled to -25 dB FS RMS, then below full scale: transformers'
    VibeVoiceAcousticTokenizerFeatureExtractor on a quiet and a loud (clipping after scaling) input."""
    from transformers import VibeVoiceAcousticTokenizerFeatureExtractor

    extractor = VibeVoiceAcousticTokenizerFeatureExtractor()
    for wave in (0.01 * speechlike(5000, 1), np.concatenate([np.full(10, 0.9), np.zeros(4990)]).astype(np.float32)):
        expected = extractor(wave, sampling_rate=24000, padding=False, pad_to_multiple_of=None)["input_values"][0, 0]
        ours = vibevoice.normalise(torch.from_numpy(wave))
        assert rel_l2(ours.numpy(), expected.numpy()) <= 1e-7
    assert float(ours.abs().max()) < 1.0 < float((wave * 10 ** (-25 / 20) / np.sqrt(np.mean(wave**2))).max())


def test_resynthesis_is_the_latent_mean_and_deterministic():
    """The decoder gets the encoder's mean (transformers' `encode(sample=False)`), so two runs give the same output;
    transformers' default `sample=True` would not."""
    codec = tiny_transformers_codec(NAME)
    wave = speechlike(7000, 2)
    first, second = resynthesize_one(codec, wave), resynthesize_one(codec, wave)
    assert np.array_equal(first, second)
    inputs = codec.prepare(torch.from_numpy(wave)[None], torch.tensor([7000]))
    with torch.no_grad():
        mean = codec.model.encode(inputs, sample=False).latents
        sampled = codec.model.encode(inputs).latents  # σ-VAE noise: N(0, 0.625)-scaled per utterance
    assert torch.equal(codec.encode(torch.from_numpy(wave)), mean[0])
    assert not torch.equal(sampled, mean)


def test_latents_are_seven_and_a_half_per_second():
    codec = tiny_transformers_codec(NAME)
    assert codec.encode(torch.from_numpy(speechlike(3 * 3200 + 1, 3))).shape == (4, 4)  # tiny latent: 4 dims


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class VibeVoiceTester(FamilyTester):
    family = "vibevoice"
    parity_bound = 1e-6  # transformers against itself (tests/tiny_configs.py)
    architecture_key = ("hidden_size",)
    transformers_config = True
    facts = {NAME: OfficialFacts(
        source="vibevoice 0.0.1 (PyPI; Microsoft's VibeVoice code) VibeVoiceAcousticTokenizerModel built with its "
               "config defaults, VibeVoice-1.5B's acoustic tokenizer (encoder ratios 8-5-5-4-2-2, depths "
               "3-3-3-3-3-3-8, vae_dim 64, 32 filters, fix_std 0.5): 687,392,001 values in 552 tensors, as "
               "transformers' conversion keeps them (renamed); transformers' documentation: '~340M parameters each "
               "encoder/decoder, ~680M in total'",
        parameters=687_392_001, tensors=552,
        shapes={"encoder.stem.conv.conv.weight": (32, 1, 7), "encoder.conv_layers.0.conv.conv.weight": (64, 32, 4),
                "encoder.head.conv.weight": (64, 2048, 7), "decoder.head.conv.weight": (1, 32, 7)},
        config={"hidden_size": 64, "num_filters": 32, "downsampling_ratios": [2, 2, 4, 5, 5, 8],
                "depths": [3, 3, 3, 3, 3, 3, 8], "hop_length": 3200, "kernel_size": 7, "ffn_expansion": 4,
                "vae_std": 0.625},  # 0.625: upstream's fix_std 0.5 / 0.8, the scale its 'gaussian' sample draws from
    )}
    tiny_overrides = {"hidden_size": 4, "num_filters": 1, "depths": [1, 1, 1, 1, 1, 1, 1], "ffn_expansion": 1}

    def reference(self, name, model, wave):
        """transformers' documented path: `VibeVoiceAcousticTokenizerFeatureExtractor` (-25 dB FS, padded to whole
        3200-sample frames), `encode(sample=False)`, `decode`; the output cut to the input length."""
        from transformers import VibeVoiceAcousticTokenizerFeatureExtractor

        extractor = VibeVoiceAcousticTokenizerFeatureExtractor()
        hop = model.config.hop_length
        inputs = extractor(wave, sampling_rate=extractor.sampling_rate, pad_to_multiple_of=hop)
        encoded = model.encode(inputs.input_values, sample=False)
        return model.decode(encoded.latents).audio[0, 0, : wave.shape[0]].numpy(), None


TESTER = VibeVoiceTester()
