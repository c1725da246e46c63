"""NeuCodec (neuphonic/neucodec, 16 kHz in, 24 kHz out) on transformers' NeuCodecModel: its quirks, and a build of the
two w2v-BERT 2.0 codecs (X-Codec 2, NeuCodec) loading back through `datasets`.

The fixture (tests/fixtures/codecs/neucodec/) is the upstream code's (PyPI neucodec 0.0.6: `NeuCodec.encode_code`/
`decode_code` on tiny modules), made by tests/fixtures/make_neucodec_fixture.py. Parity, batches, offline Hub layout
and the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import resynthesize_one
from near_ties import transformers_fsq

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio
from codecfake_hf.codecs.nn import w2v_bert
from codecfake_hf.errors import CodecConfigError
from codecfake_hf.resynth import Failure, Result, Utterance, resynthesize_stream
from codecfake_hf.schema import GENUINE

NAME = "neucodec"


def test_the_upstream_fixture_makes_480_samples_at_24_khz_per_whole_input_frame(codec_fixture):
    """`_prepare_audio` pads 320 - T mod 320 zeros; the w2v-BERT branch then gives one frame fewer than the acoustic
    one and `encode_code` cuts to the shorter, so T // 320 codes, each decoded to 480 samples at 24 kHz."""
    fixture = codec_fixture(NAME)
    for case in ("", "speech_"):
        n = fixture.npy(f"{case}input.npy").shape[0]
        assert fixture.npy(f"{case}codes.npy").shape == (1, n // 320)
        assert fixture.npy(f"{case}output.npy").shape[0] == n // 320 * 480


def test_length_rule_and_rate_on_the_real_clips(tiny_codec, demo_dir):
    codec = tiny_codec(NAME)
    assert (codec.sample_rate, codec.output_rate) == (16000, 24000)
    clips = sorted(demo_dir.glob("genuine+*.wav"))
    assert clips
    for i, clip in enumerate(clips):
        wave, rate = read_audio(clip)
        assert rate == codec.sample_rate
        # whole clips, a multiple of the hop, and two codes (one only: the tiny GroupNorms cannot take it)
        for n in (wave.shape[0], 320 * 7, 641) if i == 0 else (wave.shape[0],):
            out = resynthesize_one(codec, wave[:n])
            assert out.shape[0] == codec.output_length(n) == n // 320 * 480, (clip.name, n)


def test_the_engine_gives_24_khz_results_and_names_inputs_too_short_for_one_code(tiny_codec, demo_dir):
    codec = tiny_codec(NAME)
    wave, rate = read_audio(sorted(demo_dir.glob("genuine+*.wav"))[0])
    utts = [Utterance("long", wave[: rate], rate), Utterance("short", wave[:319], rate)]
    long, short = resynthesize_stream(codec, utts, progress=False, flac=True, workers=0)
    assert isinstance(long, Result) and long.sample_rate == 24000 and long.pcm.shape[0] == 16000 // 320 * 480
    assert isinstance(short, Failure) and "too short for neucodec: 319 samples at 16000 Hz" in short.reason
    assert "at least 320" in short.reason


def test_semantic_features_are_upstreams_on_the_padded_input(tiny_codec, codec_fixture, monkeypatch):
    """Our feature path (facebook/w2v-bert-2.0's SeamlessM4TFeatureExtractor on the input padded to whole frames, with
    no extra padding, unlike X-Codec 2) gives the features upstream's `encode_code` computed (recorded in float16)."""
    from codecfake_hf.codecs.neucodec import codec as codec_module

    seen, compute = [], w2v_bert.fbank_features
    monkeypatch.setattr(codec_module.w2v_bert, "fbank_features", lambda wave: seen.append(compute(wave)) or seen[-1])
    fixture = codec_fixture(NAME)
    tiny_codec(NAME).encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    expected = fixture.npy("speech_features.npy").astype(np.float32)
    assert len(seen) == 1 and tuple(seen[0].shape) == expected.shape == (1, 25, 160)
    np.testing.assert_allclose(seen[0].numpy(), expected, rtol=1e-3, atol=1e-3)


def test_a_config_at_other_rates_than_the_spec_is_refused(codec_fixture):
    config = {**codec_fixture(NAME).tiny_checkpoint_config, "output_sampling_rate": 16000}
    with pytest.raises(CodecConfigError, match=r"^neucodec: the config's input/output_sampling_rate are 16000/16000 "
                                               r"Hz; this config runs at 16000 Hz in, 24000 Hz out\."):
        codecs.load(NAME, config=config, random_weights=True)


def test_a_build_of_both_w2v_bert_codecs_loads_back_with_taxonomy_columns_and_24_khz_rows(demo_dir, codec_fixture,
                                                                                          tmp_path):
    """`builder build --random_weights` (tiny configs) with X-Codec 2 and NeuCodec: rows load back through
    `load_dataset` with the taxonomy columns, NeuCodec's at its 24 kHz output rate by its length rule, and the card
    says both rates."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    out = tmp_path / "out"
    report = build(config_for(source, out, f"xcodec2,{NAME}", random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.complete == [GENUINE, "xcodec2", NAME]
    for name, rule in (("xcodec2", lambda n: (n // 320 + 1) * 320), (NAME, lambda n: n // 320 * 480)):
        ds = datasets.load_dataset(str(out), name, split="test", cache_dir=str(tmp_path / "cache"))
        names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
        genuine = {row["utterance_id"]: row["audio"] for row in ds if row["codec"] == GENUINE}
        fakes = [row for row in ds if row["codec"] == name]
        assert fakes and len(fakes) == len(genuine)
        for row in fakes:
            assert tuple(names[key](row[key]) for key in names) == ("scalar", "semantic-distillation", "frequency")
            audio, source_audio = row["audio"], genuine[row["utterance_id"]]
            assert source_audio.get_all_samples().sample_rate == 16000
            samples = audio.get_all_samples()
            assert samples.sample_rate == (codecs.spec(name).output_rate or 16000)
            assert samples.data.shape[-1] == rule(source_audio.get_all_samples().data.shape[-1])
    card = (out / "README.md").read_text()
    assert f"| `{NAME}` | neucodec | 16000 Hz in, 24000 Hz out | 0.8 kbps | 1 | 320 | scalar |" in card
    assert "| `xcodec2` | xcodec2 | 16000 Hz | 0.8 kbps | 1 | 320 | scalar |" in card
    assert f"`{NAME}` (16000 Hz in, 24000 Hz out). Their rows are stored at the decoder's rate" in card


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class NeuCodecTester(FamilyTester):
    family = NAME
    parity_bound = 1e-4  # against upstream's own run (rel. L2 about 1e-6 here)
    architecture_key = ("semantic_model_config", "hidden_size")
    transformers_config = True  # the checkpoint is transformers' conversion: config.json in NeuCodecConfig's format
    quantiser = transformers_fsq("neucodec", "NeuCodecFiniteScalarQuantization",
                                 stage=lambda codec: codec.model.quantizer.quantizer)
    facts = {NAME: OfficialFacts(
        source="the upstream model (PyPI neucodec 0.0.6, NeuCodec(24_000, 480)'s modules at their sizes, w2v-BERT 2.0 "
               "at its published architecture, whose weights the conversion merges in) on the meta device, weight "
               "norm folded and converted with transformers' convert_neucodec_checkpoint.py key mapping, semantic "
               "layers >= 16 dropped (tests/fixtures/make_neucodec_fixture.py; the key/shape map is the fixture "
               "manifest's state_dict)",
        parameters=629_937_706, tensors=811,
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
            "acoustic_decoder.head.linear.weight": (1922, 1024),  # n_fft = 4 x 480 at 24 kHz, + 2
        },
        # NeuCodec(24_000, 480): CodecEncoder(ngf=48, up_ratios=[2, 2, 4, 4, 5], hidden_dim=1024),
        # CodecDecoderVocos(hop_length=480; depth 12, heads 16, pos_meb_dim 64, vq_dim 2048, FSQ levels [4] * 8),
        # w2v-BERT 2.0's hidden_states[16]; 16 kHz in (the feature extractor's rate), 24 kHz out (the model card).
        config={"hidden_size": 1024, "intermediate_size": 4096, "encoder_hidden_size": 48,
                "downsampling_ratios": [2, 2, 4, 4, 5], "num_hidden_layers": 12, "num_attention_heads": 16,
                "head_dim": 64, "quantization_dim": 2048, "quantization_levels": [4] * 8,
                "input_sampling_rate": 16000, "output_sampling_rate": 24000, "hop_length": 480,
                "semantic_model_config.hidden_size": 1024, "semantic_model_config.num_hidden_layers": 16,
                "semantic_model_config.num_attention_heads": 16, "semantic_model_config.intermediate_size": 4096,
                "semantic_model_config.conv_depthwise_kernel_size": 31,
                "semantic_model_config.feature_projection_input_dim": 160})}
    # 515 kB: as X-Codec 2's fixture (tests/codecs/test_xcodec2.py), with the 24 kHz ISTFT head's 32 x 1922 weights
    # (the 480-sample output hop is fixed) and its outputs at 24 kHz.
    fixture_bytes = 530_000


    def tiny_config(self, name):
        """The committed fixture's tiny config (tests/fixtures/codecs/<name>/manifest.json), the upstream model's."""
        from conftest import load_codec_fixture

        return load_codec_fixture(name).tiny_config


TESTER = NeuCodecTester()
