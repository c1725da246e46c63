"""WavTokenizer: its quirks (Lightning checkpoints, the unused SEANet decoder, the CLI config file, the length rule,
exact batches through group norms, attention and the ISTFT).

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py. The fixtures come from
upstream's code (tests/fixtures/make_wavtokenizer_fixture.py).
"""

import copy
import math

import numpy as np
import pytest
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import FIXTURES, pad_batch, rel_l2, resynthesize_float64
from helpers import torch_save_bytes, with_value
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.nn import quantization
from codecfake_hf.codecs.wavtokenizer import codec as wavtokenizer
from codecfake_hf.codecs.wavtokenizer.model import DECODER_PREFIX
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = [name for name in codecs.names() if codecs.spec(name).family == "wavtokenizer"]
SMALL = "wavtokenizer_small_320_24k_4096"
MEDIUM = "wavtokenizer_medium_320_24k_4096"
CLIPS = ("p225_273", "p295_144", "p318_114")
# Keys of a Lightning checkpoint's `state_dict` that are not the network's (the GAN discriminators).
TRAINING_KEYS = {"multiperioddisc.discriminators.0.convs.0.weight": torch.ones(2, 1, 5, 1),
                 "multiresddisc.discriminators.0.convs.0.bias": torch.zeros(3)}


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(SMALL)


def lightning_checkpoint(state_dict) -> dict:
    """A `.ckpt` as pytorch_lightning writes it: the model's and the discriminators' tensors under `state_dict`."""
    return {"epoch": 3, "global_step": 1000, "pytorch-lightning_version": "1.8.6",
            "state_dict": {**state_dict, **TRAINING_KEYS}}


def test_the_cors_names_and_the_st_codecfake_name_resolve():
    assert codecs.resolve("wavtokenizer_small_320_24k_4096") == SMALL
    assert codecs.resolve("WavTokenizer_small_320_24k_4096") == SMALL  # the Hub file's spelling
    assert codecs.resolve("wavtokenizer_medium_320_24k_4096") == MEDIUM
    assert codecs.resolve("wavtokenizer_small40") == "wavtokenizer_small_600_24k_4096"
    spec = codecs.spec(SMALL)
    # CodecFake+'s labels (AS_CORS_dict 1, DS_CORS_dict 2, QS_CORS_dict 2 in SAST_Net/utils.py)
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("single-codebook", "none", "frequency")
    assert spec.bitrate_kbps == 0.9 and codecs.spec("wavtokenizer_small40").bitrate_kbps == 0.48


@pytest.mark.parametrize("hop", [320, 600])
def test_default_config_is_the_repository_file(hop):
    """The config in code is upstream's configs/*.yaml as published (read by the fixture script from the repo)."""
    name = {320: SMALL, 600: "wavtokenizer_small_600_24k_4096"}[hop]
    manifest = (FIXTURES / "codecs" / name / "manifest.json").read_text()
    assert wavtokenizer.default_config(codecs.spec(name)) == yaml.safe_load(manifest)["official_config"]


def test_lightning_checkpoint_loads_without_its_discriminators_and_seanet_decoder(fixture):
    """Upstream keeps `feature_extractor.*`, `backbone.*`, `head.*` of the `.ckpt`; we also drop the SEANet decoder,
    which upstream loads but never runs."""
    weights = fixture.weights()
    assert any(key.startswith(DECODER_PREFIX) for key in weights)  # the fixture keeps the checkpoint's layout
    # `codecs.load` takes tensors (nested mappings of them): the checkpoint's `state_dict`, discriminators included.
    codec = codecs.load(SMALL, config=fixture.tiny_config, state_dict={"state_dict": {**weights, **TRAINING_KEYS}})
    loaded = codec.model.state_dict()
    assert not any(key.startswith(DECODER_PREFIX) for key in loaded)
    assert set(loaded) == {key for key in weights if not key.startswith(DECODER_PREFIX)}
    assert all(torch.equal(loaded[key], weights[key]) for key in loaded)


def test_checkpoint_of_another_model_names_the_file_and_the_key(fake_hub, fixture):
    weights = fixture.weights()
    del weights["backbone.pos_net.2.q.weight"]
    fake_hub.add("novateur/WavTokenizer", {codecs.spec(SMALL).hub_files[0]: torch_save_bytes(lightning_checkpoint(
        weights))})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wavtokenizer, "default_config", lambda spec: fixture.tiny_config)
        with pytest.raises(CheckpointError, match=r"WavTokenizer_small_320_24k_4096\.ckpt does not match.*"
                                                  r"missing keys: backbone\.pos_net\.2\.q\.weight"):
            codecs.load(SMALL)


def test_checkpoint_without_wavtokenizer_weights_is_named(fixture):
    with pytest.raises(CheckpointError, match="holds no WavTokenizer weights"):
        codecs.load(SMALL, config=fixture.tiny_config, state_dict={"state_dict": dict(TRAINING_KEYS)})


def test_config_of_another_class_is_refused_naming_the_part(fixture):
    path = ("model", "init_args", "head", "class_path")
    config = with_value(fixture.tiny_config, path, "decoder.heads.IMDCTCosHead")
    with pytest.raises(CodecConfigError, match=r"`head\.class_path` is 'decoder\.heads\.IMDCTCosHead'.*ISTFTHead"):
        codecs.load(SMALL, config=config, random_weights=True)
    config = with_value(fixture.tiny_config, ("model", "init_args", "backbone", "init_args", "dim"), 48)
    with pytest.raises(CodecConfigError, match=r"backbone\.dim=48: upstream's pos_net group-normalises in 32 groups"):
        codecs.load(SMALL, config=config, random_weights=True)
    config = with_value(fixture.tiny_config, ("model", "init_args", "head", "init_args", "hop_length"), 17)
    with pytest.raises(CodecConfigError, match=r"head\.hop_length=17, but the encoder's strides \[4, 4\] make 16"):
        codecs.load(SMALL, config=config, random_weights=True)


def test_training_keys_of_the_experiment_are_accepted_and_unknown_ones_refused(fixture):
    config = copy.deepcopy(fixture.tiny_config)
    config["model"]["init_args"]["decay_mel_coeff"] = True  # an argument of upstream's experiment class
    codecs.load(SMALL, config=config, random_weights=True)
    config["model"]["init_args"]["learning_rate"] = 1e-4
    with pytest.raises(CodecConfigError, match=r"unknown option\(s\) 'learning_rate' in `model\.init_args`"):
        codecs.load(SMALL, config=config, random_weights=True)


@pytest.mark.parametrize("name, hop", [(SMALL, 320), ("wavtokenizer_small_600_24k_4096", 600)])
def test_length_rule_on_real_clips_at_official_size(name, hop, release_lengths):
    """Whole frames of the official hop, not trimmed (the 24 kHz lengths of the three shipped VCTK clips)."""
    spec, family = codecs.spec(name), codecs.registry.family(name)
    with torch.device("meta"):
        codec = family.build(spec, family.default_config(spec), None, runtime=Runtime(device="meta"))
    for clip in CLIPS:
        frames_16k = release_lengths[f"SpeechTokenizer+{clip}.wav"][0]  # any 16 kHz length will do
        length = frames_16k * 3 // 2
        assert codec.output_length(length) == math.ceil(length / hop) * hop


def test_upstream_output_length_keeps_whole_frames(fixture):
    """The fixture's speech input (12007 samples) comes back from upstream as 751 frames of 16 samples."""
    wave, expected = fixture.npy("speech_input.npy"), fixture.npy("speech_output.npy")
    assert wave.shape == (12007,) and expected.shape == (12016,)
    codec = codecs.load(SMALL, config=fixture.tiny_config, state_dict=fixture.weights())
    assert codec.output_length(wave.shape[0]) == 12016


def test_padded_batch_of_real_speech_equals_each_item_alone(fixture):
    """Group norms, attention and the ISTFT envelope see only an item's frames; without that the short item's
    output would differ everywhere (its group-norm statistics would include the padding).

    The values are compared in float64: the tiny random model has a nearly constant channel (std 5e-5) under a
    GroupNorm, which turns float32's batch-size-dependent rounding of the first conv (3e-7 on an AMD EPYC, none
    on the Intel CPUs before it) into 6e-4 at the output even for two copies of one item; in float64 only the
    masking can make a difference."""
    codec = codecs.load(SMALL, config=fixture.tiny_config, state_dict=fixture.weights())
    wave = fixture.npy("speech_input.npy")
    items = [wave, wave[:5001], wave[3000:3333]]
    batch, lengths = pad_batch(items)
    _, out_lengths = codec.resynthesize(batch, lengths)
    codec64 = codecs.load(SMALL, config=fixture.tiny_config, state_dict=fixture.weights())
    codec64.model.double()
    out = resynthesize_float64(codec64, items)
    for i, item in enumerate(items):
        alone = resynthesize_float64(codec64, [item])[0]
        assert int(out_lengths[i]) == alone.shape[0] == math.ceil(item.shape[0] / 16) * 16
        assert rel_l2(out[i, : alone.shape[0]], alone) <= 1e-9
    # The masking matters: the plain path on the padded batch gives the short item something else.
    with torch.inference_mode():
        batch64 = torch.from_numpy(batch).double()
        plain = codec64.model.decode(codec64.model.encode(batch64), codec64.bandwidth_id)
    alone = resynthesize_float64(codec64, [items[1]])[0]
    assert rel_l2(plain[1, : alone.shape[0]].numpy(), alone) > 1e-3


def test_codes_are_one_row_of_the_4096_or_tiny_codebook(fixture):
    codec = codecs.load(SMALL, config=fixture.tiny_config, state_dict=fixture.weights())
    codes, frames = codec.encode(torch.from_numpy(fixture.npy("input.npy")))
    assert codes.shape == (1, 1, 375) and frames.tolist() == [375]
    np.testing.assert_array_equal(codes[0].numpy(), fixture.npy("codes.npy"))


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _facts(hop: int) -> OfficialFacts:
    frame = {320: "frame75", 600: "frame40"}[hop]
    n_fft = 4 * hop
    return OfficialFacts(
        source=f"upstream's WavTokenizer.from_hparams0802(configs/wavtokenizer_smalldata_{frame}_3s_nq1_code4096_"
               "dim512_kmeans200_attn.yaml) on the meta device (jishengpeng/WavTokenizer 5cf440d; the fixture "
               "manifest's `state_dict`): 289 tensors, of which the 62 of feature_extractor.encodec.decoder (the "
               "SEANet decoder inference never runs, 8,802,274 scalars) are dropped on loading",
        parameters={320: 75_949_827, 600: 76_312_515}[hop], tensors=227,
        shapes={"feature_extractor.encodec.encoder.model.0.conv.conv.weight_v": (32, 1, 7),
                "feature_extractor.encodec.encoder.model.13.lstm.weight_ih_l0": (2048, 512),
                "feature_extractor.encodec.quantizer.vq.layers.0._codebook.embed": (4096, 512),
                "backbone.embed.weight": (768, 512, 7), "backbone.pos_net.2.q.weight": (768, 768, 1),
                "backbone.convnext.11.pwconv1.weight": (2304, 768), "head.out.weight": (n_fft + 2, 768),
                "head.istft.window": (n_fft,)},
        config={"sample_rate": 24000, "hop_length": hop, "backbone.dim": 768, "backbone.num_layers": 12,
                "feature_extractor.vq_bins": 4096, "feature_extractor.num_quantizers": 1},
    )


class WavTokenizerTester(FamilyTester):
    family = "wavtokenizer"
    # The tiny fixture model has a nearly constant channel under a GroupNorm (std 5e-5): float32's batch-size-
    # dependent rounding of the first conv (3e-7 on an AVX2 AMD EPYC) comes out as 7e-4, two copies of one item
    # included. The masking itself is checked in float64 to 1e-9 (test_padded_batch_of_real_speech_...).
    batch_parity_bound = 2e-3
    architecture_key = ("model", "init_args", "backbone", "init_args", "dim")
    quantiser = Quantiser(
        where=lambda: (quantization.EuclideanCodebook, "encode"),
        stages=lambda codec: [codec.model.quantizer.vq.layers[0]._codebook],
        search=lambda book, x: (rows(x), book.embed),
    )
    facts = {name: _facts(codecs.spec(name).hop_length) for name in NAMES}

    def with_unknown_key(self, name, config, key):
        config = copy.deepcopy(config)
        config["model"]["init_args"]["backbone"]["init_args"][key] = 11
        return config

    def official_key_shapes(self, name, fixture):
        return {key: shape for key, shape in fixture.official_shapes().items() if not key.startswith(DECODER_PREFIX)}

    def hub_layout(self, name, fixture):
        spec = codecs.spec(name)
        *config_files, checkpoint = spec.hub_files
        files = {checkpoint: torch_save_bytes(lightning_checkpoint(fixture.weights()))}
        files.update({path: yaml.safe_dump(fixture.tiny_config) for path in config_files})
        return files, checkpoint

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # The small and large repositories hold only the checkpoint; their config comes from the code.
        monkeypatch.setattr(wavtokenizer, "default_config", lambda spec: fixture.tiny_config)


TESTER = WavTokenizerTester()
