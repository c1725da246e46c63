"""X-Codec 2 (HKUSTAudio/xcodec2, transformers' conversion HKUSTAudio/xcodec2-hf) on transformers' Xcodec2Model: its
quirks.

The fixture (tests/fixtures/codecs/xcodec2/) is the upstream code's (PyPI xcodec2 0.1.5, the Hub repository's modeling
code: `XCodec2Model.encode_code`/`decode_code` on tiny modules), made by tests/fixtures/make_xcodec2_fixture.py. Parity,
batches, offline Hub layout and the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import resynthesize_one
from near_ties import transformers_fsq

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio
from codecfake_hf.codecs.nn import w2v_bert
from codecfake_hf.errors import CheckpointError

NAME = "xcodec2"


def recorded_features(monkeypatch, codec_module) -> list[torch.Tensor]:
    """The w2v-BERT features a family's codec computes, appended at each call (its module's `w2v_bert` patched)."""
    seen: list[torch.Tensor] = []
    compute = w2v_bert.fbank_features

    def recording(wave):
        seen.append(compute(wave))
        return seen[-1]

    monkeypatch.setattr(codec_module.w2v_bert, "fbank_features", recording)
    return seen


def test_the_upstream_fixture_pads_a_whole_frame_onto_every_input(codec_fixture):
    """`encode_code` pads 320 - T mod 320 zeros, a whole frame when T is a multiple of 320, and `decode_code` keeps
    every frame: the upstream outputs are (T // 320 + 1) * 320 samples (0.25 s -> 4160, 0.5 s = 25 frames -> 8320)."""
    fixture = codec_fixture(NAME)
    for case in ("", "speech_"):
        n = fixture.npy(f"{case}input.npy").shape[0]
        assert fixture.npy(f"{case}output.npy").shape[0] == (n // 320 + 1) * 320
        assert fixture.npy(f"{case}codes.npy").shape == (1, n // 320 + 1)
    assert fixture.npy("speech_input.npy").shape[0] % 320 == 0


def test_length_rule_on_the_real_clips(tiny_codec, demo_dir):
    codec = tiny_codec(NAME)
    clips = sorted(demo_dir.glob("genuine+*.wav"))
    assert clips
    for i, clip in enumerate(clips):
        wave, rate = read_audio(clip)
        assert rate == codec.sample_rate == 16000
        # whole clips, a multiple of the hop, and two frames (one only: the tiny GroupNorms cannot take it)
        for n in (wave.shape[0], 320 * 7, 321) if i == 0 else (wave.shape[0],):
            out = resynthesize_one(codec, wave[:n])
            assert out.shape[0] == codec.output_length(n) == (n // 320 + 1) * 320, (clip.name, n)
            assert np.abs(out[n:]).max() > 0  # the padded frame is decoded, not filled with zeros
            assert codec.encode(torch.from_numpy(wave[:n])).shape == (1, n // 320 + 1)


def test_semantic_features_are_upstreams_on_the_padded_input(tiny_codec, codec_fixture, monkeypatch):
    """Our feature path (facebook/w2v-bert-2.0's SeamlessM4TFeatureExtractor on the input padded to whole frames and by
    160 zeros each side) gives the features upstream's `encode_code` computed (recorded in float16)."""
    from codecfake_hf.codecs.xcodec2 import codec as codec_module

    seen = recorded_features(monkeypatch, codec_module)
    fixture = codec_fixture(NAME)
    tiny_codec(NAME).encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    expected = fixture.npy("speech_features.npy").astype(np.float32)
    assert len(seen) == 1 and tuple(seen[0].shape) == expected.shape == (1, 26, 160)
    np.testing.assert_allclose(seen[0].numpy(), expected, rtol=1e-3, atol=1e-3)


def test_a_checkpoint_with_more_w2v_bert_layers_than_its_config_is_named(codec_fixture):
    """The semantic encoder is w2v-BERT 2.0 cut to 16 layers (upstream reads hidden_states[16]); a conversion that kept
    all 24 (hf-audio/xcodec2's 3.29 GB file holds about 822 M float32 values, the 24-layer count) does not load into
    the 16-layer config: the extra layer is named, not silently dropped."""
    fixture = codec_fixture(NAME)
    state = fixture.weights()
    layer = {k.replace(".layers.15.", ".layers.16."): v for k, v in state.items() if ".encoder.layers.15." in k}
    with pytest.raises(CheckpointError, match=r"unexpected keys: semantic_encoder\.encoder\.layers\.16\."):
        codecs.load(NAME, config=fixture.tiny_checkpoint_config, state_dict={**state, **layer})


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _facts(parameters: int, head: tuple[int, int], config: dict) -> OfficialFacts:
    return OfficialFacts(
        source="the upstream model (PyPI xcodec2 0.1.5 = HKUSTAudio/xcodec2's modeling code, XCodec2Model's modules "
               "at their sizes, w2v-BERT 2.0 at its published architecture) on the meta device, weight norm folded "
               "and converted with transformers' conversion key mapping, semantic layers >= 16 dropped "
               "(tests/fixtures/make_xcodec2_fixture.py; the key/shape map is the fixture manifest's state_dict)",
        parameters=parameters, tensors=811,
        shapes={
            "acoustic_encoder.conv1.weight": (48, 1, 7),
            "acoustic_encoder.block.4.conv1.weight": (1536, 768, 10),
            "acoustic_encoder.block.4.res_unit3.snake2.act.beta": (768,),
            "acoustic_encoder.conv2.weight": (1024, 1536, 3),
            "semantic_encoder.feature_projection.projection.weight": (1024, 160),
            "semantic_encoder.encoder.layers.15.ffn1.intermediate_dense.weight": (4096, 1024),
            "semantic_adapter.conv1.weight": (1024, 1024, 3),
            "fc_encoder.weight": (2048, 2048),
            "quantizer.project_in.weight": (8, 2048),
            "acoustic_decoder.fc.weight": (1024, 2048),
            "acoustic_decoder.prior_net.0.norm1.weight": (1024,),
            "acoustic_decoder.layers.11.self_attn.q_proj.weight": (1024, 1024),
            "acoustic_decoder.layers.11.mlp.fc1.weight": (4096, 1024),
            "acoustic_decoder.head.linear.weight": head,
        },
        # HKUSTAudio/xcodec2's config.json (codec_decoder_hidden_size 1024) and the sizes XCodec2Model builds:
        # CodecEncoder_Transformer(ngf=48, up_ratios=[2, 2, 4, 4, 5]), CodecDecoderVocos(depth=12, heads=16,
        # pos_meb_dim=64, vq_dim=2048, FSQ levels [4] * 8), w2v-BERT 2.0's hidden_states[16].
        config={"hidden_size": 1024, "intermediate_size": 4096, "encoder_hidden_size": 48,
                "downsampling_ratios": [2, 2, 4, 4, 5], "num_hidden_layers": 12, "num_attention_heads": 16,
                "head_dim": 64, "quantization_dim": 2048, "quantization_levels": [4] * 8,
                "semantic_model_config.hidden_size": 1024, "semantic_model_config.num_hidden_layers": 16,
                "semantic_model_config.num_attention_heads": 16, "semantic_model_config.intermediate_size": 4096,
                "semantic_model_config.conv_depthwise_kernel_size": 31,
                "semantic_model_config.feature_projection_input_dim": 160, **config})


class Xcodec2Tester(FamilyTester):
    family = NAME
    parity_bound = 1e-4  # against upstream's own run (rel. L2 about 1e-6 here)
    architecture_key = ("semantic_model_config", "hidden_size")
    transformers_config = True  # the checkpoint is transformers' conversion: config.json in Xcodec2Config's format
    quantiser = transformers_fsq("xcodec2", "Xcodec2FiniteScalarQuantization",
                                 stage=lambda codec: codec.model.quantizer.quantizer)
    facts = {NAME: _facts(629_281_706, (1282, 1024), {"sampling_rate": 16000})}
    # 450 kB: the smallest faithful tiny model is about 115 k weights (a 32-wide decoder: its GroupNorms have 32
    # groups; the ISTFT head's 32 x 1282 for the fixed 320-sample hop; w2v-BERT's 16 layers, since upstream reads
    # hidden_states[16]), stored in float16, with a 723-tensor header of 86 kB, and 0.75 s of inputs and outputs.
    fixture_bytes = 470_000


    def tiny_config(self, name):
        """The committed fixture's tiny config (tests/fixtures/codecs/<name>/manifest.json), the upstream model's."""
        from conftest import load_codec_fixture

        return load_codec_fixture(name).tiny_config


TESTER = Xcodec2Tester()
