"""BiCodec (Spark-TTS's codec, SparkAudio/Spark-TTS-0.5B's BiCodec/ + wav2vec2-large-xlsr-53/): its quirks (the length
rule through wav2vec 2.0's frames, the volume normalisation, the global tokens from the utterance's first 6 s, the mel
front end written without torchaudio, wav2vec 2.0 cut after the deepest hidden state read, the repository's three
config files and two checkpoints) and its tester.

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py, against
tests/fixtures/codecs/bicodec/ (made by tests/fixtures/make_bicodec_fixture.py from Spark-TTS's code).
"""

from __future__ import annotations

import json
from collections import Counter

import datasets
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.audio import resample
from codecfake_hf.codecs.bicodec import codec as bicodec
from codecfake_hf.codecs.bicodec import mel as bicodec_mel
from codecfake_hf.codecs.bicodec import model as bicodec_model
from codecfake_hf.codecs.bicodec.config import BiCodecConfig
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "bicodec"


@pytest.fixture(scope="module")
def tiny(codec_fixture):
    fixture = codec_fixture(NAME)
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def clip_16k(demo_dir, utterance: str = "p225_273") -> np.ndarray:
    wave, rate = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
    return resample(wave, rate, 16000).astype(np.float32)


def test_name_rate_codebook_taxonomy_and_licence():
    spec = codecs.spec(NAME)
    assert (spec.sample_rate, spec.hop_length, spec.n_codebooks, spec.codebook_size) == (16000, 320, 1, 8192)
    assert spec.bitrate_kbps == pytest.approx(0.65)  # 50 tokens/s × 13 bits
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("single-codebook", "disentanglement", "time")
    assert spec.license == "cc-by-nc-sa-4.0" and spec.public_sets == ()
    assert "non-commercial" in spec.notes and "384 bits per utterance" in spec.notes
    assert codecs.resolve("spark-tts") == NAME and codecs.resolve("SparkAudio/Spark-TTS-0.5B") == NAME


def test_default_config_is_the_repositorys_three_files(codec_fixture):
    """The merged config (root config.yaml, BiCodec/config.yaml's section, wav2vec 2.0's config.json) is the one the
    fixture script wrote from the Hub's files; the root file's training keys are read and ignored."""
    official = codec_fixture(NAME).manifest["official"]["config"]
    assert bicodec.default_config(codecs.spec(NAME)) == official
    made = BiCodecConfig.from_config(official)
    assert made.ref_segment_length == 96000 and made.semantic_layers == (11, 14, 16) and made.semantic_depth == 16


def test_global_tokens_are_upstreams(tiny, codec_fixture):
    """The 4 global tokens (FSQ of the reference segment's ECAPA-TDNN features) equal upstream's, on both inputs;
    the contract compares the semantic tokens and the output."""
    fixture = codec_fixture(NAME)
    for prefix in ("", "speech_"):
        semantic, global_tokens = tiny.encode(torch.from_numpy(fixture.npy(f"{prefix}input.npy")))
        assert global_tokens.shape == (1, 1, 4)
        np.testing.assert_array_equal(global_tokens[0].numpy(), fixture.npy(f"{prefix}global_codes.npy"))
        np.testing.assert_array_equal(semantic.numpy(), fixture.npy(f"{prefix}codes.npy"))


def test_what_the_quantisers_read_is_upstreams(tiny, codec_fixture):
    """The factorised VQ's projected latents and the perceiver's output (the global tokens' FSQ input) against
    upstream's, recorded by the fixture script: a small error in wav2vec 2.0, the encoder, the mel front end or the
    ECAPA-TDNN seldom moves a token, so the parity of tokens and output alone would not see it."""
    fixture = codec_fixture(NAME)
    seen = {}
    hooks = [tiny.model.quantizer.in_project.register_forward_hook(
                 lambda module, args, out: seen.__setitem__("semantic", out.detach().clone())),
             tiny.model.speaker_encoder.perceiver_sampler.register_forward_hook(
                 lambda module, args, out: seen.__setitem__("global", out.detach().clone()))]
    try:
        for prefix in ("", "speech_"):
            tiny.encode(torch.from_numpy(fixture.npy(f"{prefix}input.npy")))
            for part in ("semantic", "global"):
                expected = fixture.npy(f"{prefix}{part}_latents.npy")
                assert seen[part].shape == expected.shape
                # measured: 4e-6 (semantic: wav2vec 2.0's attention, eager here and SDPA upstream) and 1e-7; a 1%
                # change of one wav2vec 2.0 or ECAPA-TDNN weight gives 1e-4 to 6e-3
                assert rel_l2(seen[part].numpy(), expected) <= 3e-5, (prefix, part)
    finally:
        for hook in hooks:
            hook.remove()


def test_mel_filter_bank_is_torchaudios(codec_fixture):
    """transformers' Slaney bank against torchaudio's `melscale_fbanks` as upstream's MelSpectrogram built it (the
    fixture's tiny 8-bin bank, recorded by the fixture script)."""
    config = BiCodecConfig.from_config(codec_fixture(NAME).tiny_config)
    ours = bicodec_mel.mel_filter_bank(config.audio_tokenizer.mel_params).numpy()
    expected = codec_fixture(NAME).npy("mel_fb.npy")
    assert ours.shape == expected.shape == (513, 8)
    assert np.abs(ours - expected).max() <= 1e-6 * np.abs(expected).max()


def test_length_rule_by_hand(tiny, demo_dir):
    """F = 1 + (T - 400) // 320 wav2vec 2.0 frames (kernels 10, 3×5, 2×2; strides 5, 2×6), 320 samples each."""
    assert tiny.output_length(16000) == 49 * 320 and tiny.output_length(400) == 320 and tiny.output_length(719) == 320
    assert tiny.output_length(720) == 640
    wave = clip_16k(demo_dir)
    for n in (16000, 12_345, wave.shape[0]):
        out = resynthesize_one(tiny, wave[:n])
        assert out.shape == ((1 + (n - 400) // 320) * 320,) and np.isfinite(out).all(), n


def test_too_short_input_is_named(tiny):
    assert tiny.min_input_length() == 400
    with pytest.raises(ValueError, match="399 samples is shorter than 400"):
        tiny.resynthesize(np.zeros((1, 399), np.float32), [399])
    assert resynthesize_one(tiny, np.full(400, 0.1, np.float32)).shape == (320,)


def test_volume_normalisation_by_hand():
    """Spark-TTS's audio_volume_normalize: the mean of the 90th-99th percentile of |x| over the samples above 0.01
    is scaled to 0.2 (factor clipped to 0.1-10); a peak above 1 is brought back to 1; a quiet clip is first raised."""
    level = np.concatenate([np.full(20, 0.5), np.full(10, 0.005)])  # 20 counted; sorted[18:19] = 0.5: x 0.4
    np.testing.assert_allclose(bicodec.audio_volume_normalize(level), level * 0.4, rtol=1e-12)
    spike = np.concatenate([np.full(99, 0.02), [0.9]])  # sorted[90:99] = 0.02: x 10 (clipped), peak 9 -> 1
    np.testing.assert_allclose(bicodec.audio_volume_normalize(spike), spike * 10 / 9, rtol=1e-12)
    loud = np.concatenate([np.full(100, 0.01), [5.0] * 20])  # factor 0.2 / 5 = 0.04 -> clipped to 0.1
    np.testing.assert_allclose(bicodec.audio_volume_normalize(loud), loud * 0.1, rtol=1e-12)
    quiet = np.full(5, 0.05)  # peak below 0.1: raised to 0.1, then too few samples to measure a volume
    np.testing.assert_allclose(bicodec.audio_volume_normalize(quiet), quiet * 2, rtol=1e-12)


def test_volume_normalisation_comes_first(codec_fixture):
    """With volume_normalize (the release's) the utterance is normalised before wav2vec 2.0 and the reference segment
    see it: the same as normalising by hand and running with volume_normalize false; without, the level differs."""
    fixture = codec_fixture(NAME)
    wave = fixture.npy("speech_input.npy")
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    plain = codecs.load(NAME, config={**fixture.tiny_config, "volume_normalize": False}, state_dict=fixture.weights())
    normalised = bicodec.audio_volume_normalize(wave.astype(np.float64)).astype(np.float32)
    assert np.abs(normalised).max() > 2 * np.abs(wave).max()  # the clip is quiet: normalising changes it
    assert rel_l2(resynthesize_one(plain, normalised), resynthesize_one(codec, wave)) < 1e-6
    assert rel_l2(resynthesize_one(plain, wave), resynthesize_one(codec, wave)) > 1e-2


def test_reference_segment_is_the_first_six_seconds_tiled(tiny, demo_dir, monkeypatch):
    """get_ref_clip: the speaker encoder hears the normalised utterance's first 96,000 samples (6 s, whole hops),
    tiled where it is shorter: 301 mel frames whatever the length; what follows 6 s does not reach it."""
    np.testing.assert_array_equal(bicodec.reference_clip(np.arange(3.0), 7), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(bicodec.reference_clip(np.arange(9.0), 4), [0, 1, 2, 3])
    heard = []
    original = bicodec_model.MelSpectrogram.forward
    monkeypatch.setattr(bicodec_model.MelSpectrogram, "forward",
                        lambda self, wave: heard.append(wave.clone()) or original(self, wave))
    short = clip_16k(demo_dir)[16_000:24_000]
    tiny.encode(torch.from_numpy(short))
    tiled = np.tile(bicodec.audio_volume_normalize(short.astype(np.float64)), 13)[:96_000]
    assert heard[-1].shape == (1, 96_000)
    np.testing.assert_array_equal(heard[-1][0].numpy(), tiled.astype(np.float32))
    wave = np.concatenate([clip_16k(demo_dir), clip_16k(demo_dir, "p295_144")])[:100_000]
    changed = wave.copy()
    changed[97_000:] = np.flip(changed[97_000:])  # after the reference segment; the loud percentile stays
    semantic, global_tokens = tiny.encode(torch.from_numpy(wave))
    semantic_changed, global_changed = tiny.encode(torch.from_numpy(changed))
    np.testing.assert_array_equal(heard[-1].numpy(), heard[-2].numpy())
    np.testing.assert_array_equal(global_changed.numpy(), global_tokens.numpy())
    assert not torch.equal(semantic_changed[0, -5:], semantic[0, -5:])


def test_wav2vec2_layers_past_the_deepest_read_are_dropped_and_a_missing_one_is_named(codec_fixture):
    """The tiny wav2vec 2.0 has 17 layers and the codec reads hidden_states[16] (layer 15's output): layer 16 is in
    the file and ignored; a file without layer 15 is refused naming its keys."""
    fixture = codec_fixture(NAME)
    weights = fixture.weights()
    assert any(k.startswith("wav2vec2.encoder.layers.16.") for k in weights)
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=weights)
    assert not any(k.startswith("wav2vec2.encoder.layers.16.") for k in codec.model.state_dict())
    broken = {k: v for k, v in weights.items() if not k.startswith("wav2vec2.encoder.layers.15.")}
    with pytest.raises(CheckpointError, match=r"missing keys: wav2vec2\.encoder\.layers\.15\."):
        codecs.load(NAME, config=fixture.tiny_config, state_dict=broken)


def test_config_that_breaks_the_token_rate_is_named(codec_fixture):
    config = json.loads(json.dumps(codec_fixture(NAME).tiny_config))
    config["audio_tokenizer"]["decoder"]["rates"] = [8, 5, 4, 4]
    with pytest.raises(CodecConfigError, match=r"wave generator's rates to 640; both must be `latent_hop_length`"):
        codecs.load(NAME, config=config, random_weights=True)
    config = json.loads(json.dumps(codec_fixture(NAME).tiny_config))
    config["wav2vec2"]["hidden_size"] = 8
    with pytest.raises(CodecConfigError, match=r"wav2vec 2\.0 is 8 wide but the encoder takes 4 channels"):
        codecs.load(NAME, config=config, random_weights=True)


def test_wav2vec2_checkpoint_without_its_model_keys_is_named(codec_fixture, fake_hub):
    fixture = codec_fixture(NAME)
    files, _ = TESTER.hub_layout(NAME, fixture)
    files[bicodec.W2V_WEIGHTS] = torch_save_bytes({"project_q.weight": torch.zeros(2, 2)})
    fake_hub.add(codecs.spec(NAME).hub_repo, files)
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin holds no `wav2vec2\.\*` keys"):
        codecs.load(NAME)


def test_built_rows_load_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build` with BiCodec (the fixture's tiny config) loads back through `load_dataset` with the taxonomy
    the spec gives, and the card names the weights' non-commercial licence."""
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", NAME), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.failed == {} and report.complete == ["genuine", NAME]
    ds = datasets.load_dataset(str(tmp_path / "out"), NAME, split="test", cache_dir=str(tmp_path / "cache"))
    names = {key: ds.features[key].int2str for key in ("quantizer", "auxiliary", "decoder")}
    seen = Counter((row["codec"], names["quantizer"](row["quantizer"]), names["auxiliary"](row["auxiliary"]),
                    names["decoder"](row["decoder"])) for row in ds)
    assert seen[(NAME, "single-codebook", "disentanglement", "time")] == seen[
        ("genuine", "bonafide", "bonafide", "bonafide")] > 0
    assert "cc-by-nc-sa-4.0" in (tmp_path / "out" / "README.md").read_text()


@pytest.mark.slow
def test_official_size_builds_and_resynthesizes_with_random_weights(demo_dir):
    wave = clip_16k(demo_dir)[:24_000]
    codec = codecs.load(NAME, random_weights=True)
    out = resynthesize_one(codec, wave)
    assert out.shape == (codec.output_length(24_000),) == (74 * 320,) and np.isfinite(out).all()


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------


def _search(quantizer, latents):
    # decode_latents' distance: squared euclidean between the L2-normalised projected latent and codebook
    return rows(F.normalize(latents.transpose(1, 2), dim=-1)), F.normalize(quantizer.codebook.weight)


def _w2v_shapes(layers: int) -> dict[str, tuple[int, ...]]:
    """transformers' Wav2Vec2Model at facebook/wav2vec2-large-xlsr-53's config, first `layers` layers, on the meta
    device: the wav2vec 2.0 keys the codec loads."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from codecfake_hf.codecs.bicodec.config import OFFICIAL_CONFIG, WAV2VEC2_LEGACY_KEYS

    values = {k: v for k, v in OFFICIAL_CONFIG["wav2vec2"].items() if k not in WAV2VEC2_LEGACY_KEYS}
    with torch.device("meta"):
        model = Wav2Vec2Model(Wav2Vec2Config(**{**values, "num_hidden_layers": layers}))
    return {f"wav2vec2.{k}": tuple(v.shape) for k, v in model.state_dict().items()}


_SOURCE = ("Spark-TTS (github.com/SparkAudio/Spark-TTS 2f1ea908) BiCodec built with BiCodec/config.yaml's "
           "audio_tokenizer section (tests/fixtures/make_bicodec_fixture.py; manifest 'official.counts'): the file's "
           "840 tensors, 156,354,601 entries; less the postnet, the ECAPA-TDNN's x-vector head and the quantiser's "
           "usage statistic, which inference never reads: 716 tensors, 132,713,896 entries; plus transformers "
           "4.46.2's Wav2Vec2Model at wav2vec2-large-xlsr-53's config.json cut to the 16 layers read (294 tensors, "
           "214,668,928 entries)")


class BiCodecTester(FamilyTester):
    family = "bicodec"
    parity_bound = 1e-5
    architecture_key = ("audio_tokenizer", "encoder", "vocos_dim")
    quantiser = Quantiser(
        where=lambda: (bicodec_model.FactorizedVectorQuantize, "decode_latents"),
        stages=lambda codec: [codec.model.quantizer],
        search=_search,
        chosen=lambda result: result[1],
        impose=lambda quantizer, args, result, codes: (quantizer.decode_code(codes), codes),
    )
    facts = {
        NAME: OfficialFacts(
            source=_SOURCE, parameters=132_713_896 + 214_668_928, tensors=716 + 294,
            shapes={"encoder.encoder.embed.weight": (384, 1024, 7), "quantizer.codebook.weight": (8192, 8),
                    "quantizer.in_project.weight_v": (8, 1024, 1),
                    "speaker_encoder.speaker_encoder.conv.weight": (1536, 1536, 1),
                    "speaker_encoder.perceiver_sampler.latents": (32, 128),
                    "speaker_encoder.quantizer.project_in.weight": (6, 128),
                    "speaker_encoder.project.weight": (1024, 4096),
                    "prenet.vocos_backbone.convnext.11.norm.scale.weight": (384, 1024),
                    "decoder.model.0.weight_v": (1536, 1024, 7), "decoder.model.1.block.1.weight_v": (1536, 768, 16),
                    "decoder.model.6.weight_v": (1, 96, 7),
                    "wav2vec2.encoder.layers.15.feed_forward.output_dense.weight": (1024, 4096),
                    "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1": (1024, 64, 128)},
            config={"sample_rate": 16000, "latent_hop_length": 320, "ref_segment_duration": 6,
                    "semantic_layers": (11, 14, 16), "audio_tokenizer.quantizer.codebook_size": 8192,
                    "audio_tokenizer.speaker_encoder.token_num": 32,
                    "audio_tokenizer.speaker_encoder.fsq_levels": (4, 4, 4, 4, 4, 4),
                    "audio_tokenizer.decoder.rates": (8, 5, 4, 2)}),
    }

    def hub_layout(self, name, fixture):
        """SparkAudio/Spark-TTS-0.5B's five files: the root and BiCodec config.yaml, BiCodec/model.safetensors, and
        wav2vec2-large-xlsr-53's config.json and pytorch_model.bin (Wav2Vec2ForPreTraining's: the model under
        `wav2vec2.` with the 2021 weight-norm names, a pre-training head beside it)."""
        from safetensors.torch import save

        weights, config = fixture.weights(), fixture.tiny_config
        root = {k: v for k, v in config.items() if k not in ("audio_tokenizer", "wav2vec2")}
        codec = {k: v for k, v in weights.items() if not k.startswith(bicodec.W2V_PREFIX)}
        legacy = {k.replace("parametrizations.weight.original0", "weight_g")
                  .replace("parametrizations.weight.original1", "weight_v"): v
                  for k, v in weights.items() if k.startswith(bicodec.W2V_PREFIX)}
        files = {bicodec.ROOT_CONFIG: yaml.safe_dump(root),
                 bicodec.CODEC_CONFIG: yaml.safe_dump({"audio_tokenizer": config["audio_tokenizer"]}),
                 bicodec.CODEC_WEIGHTS: save(codec),
                 bicodec.W2V_CONFIG: json.dumps(config["wav2vec2"]),
                 bicodec.W2V_WEIGHTS: torch_save_bytes({**legacy, "project_q.weight": torch.zeros(3, 2)})}
        return files, bicodec.CODEC_WEIGHTS

    def official_key_shapes(self, name, fixture):
        """The published BiCodec file's keys but those inference never reads (`codec.UNUSED`), and wav2vec 2.0's
        first 16 layers."""
        kept = {k: v for k, v in fixture.official_shapes().items() if not k.startswith(bicodec.UNUSED)}
        return {**kept, **_w2v_shapes(16)}


TESTER = BiCodecTester()
