"""LanguageCodec: its quirks (the masked-channel RVQ, `infer`'s fixed 8 quantisers, the Lightning checkpoint and its
unused SEANet decoder, the CLI config file, the length rule, the weights published off the Hub).

Fixture parity, the official key set and the weights folder: tests/test_codec_contract.py. The fixture comes from
upstream's code (tests/fixtures/make_languagecodec_fixture.py).
"""

import copy
import math

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2
from helpers import torch_save_bytes, with_value
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.languagecodec import codec as languagecodec
from codecfake_hf.codecs.languagecodec.model import DECODER_PREFIX, mcrvq_encode
from codecfake_hf.codecs.nn import quantization
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "languagecodec"
# Keys of a Lightning checkpoint's `state_dict` that are not the network's (the GAN discriminators, as named in
# upstream's `languagecodec_decoder/experiment.py`).
TRAINING_KEYS = {"multiperioddisc.discriminators.0.convs.0.weight": torch.ones(2, 1, 5, 1),
                 "dac.discriminators.0.convs.0.bias": torch.zeros(3)}
INIT_ARGS = ("model", "init_args")


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def codec(fixture):
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def lightning_checkpoint(state_dict) -> dict:
    """A `.ckpt` as pytorch_lightning writes it: the model's and the discriminators' tensors under `state_dict`."""
    return {"epoch": 7, "global_step": 1268768, "pytorch-lightning_version": "1.8.6",
            "state_dict": {**state_dict, **TRAINING_KEYS}}


def test_the_cors_name_resolves_and_the_labels_are_codecfake_plus():
    assert codecs.resolve("languagecodec") == NAME
    assert codecs.resolve("languagecodec_paper_8nq") == NAME  # the README's name of the checkpoint
    spec = codecs.spec(NAME)
    # CodecFake+'s labels (AS_CORS_dict 1, DS_CORS_dict 2, QS_CORS_dict 1 in SAST_Net/utils.py)
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("multi-codebook", "none", "frequency")
    # 8 codebooks of 1024 entries at 75 frames/s: 6.0 kbps (upstream calls it 6.6, sizing its stack with log2(2048))
    assert (spec.n_codebooks, spec.codebook_size, spec.frame_rate, spec.bitrate_kbps) == (8, 1024, 75, 6.0)


def test_cors_rows_of_the_name_land_in_this_config(tmp_path):
    """`builder import --layout cors`: CodecFake+'s `..._languagecodec` clips (the label line as in the authors'
    CoRS_labels.txt: Trad FREQ MVQ) are this config's part, with the release's labels."""
    from builder.release_layouts import scan_cors

    folder = tmp_path / "CodecFake+" / "all_data_16k"
    folder.mkdir(parents=True)
    for stem in ("p225_001", "p225_001_languagecodec"):
        sf.write(folder / f"{stem}.wav", np.zeros(1600, dtype=np.float32), 16000, subtype="PCM_16")
    (folder.parent / "CoRS_labels.txt").write_text("p225 p225_001 - REAL REAL REAL bonafide\n"
                                                   "p225 p225_001_languagecodec - Trad FREQ MVQ spoof\n")
    parts, skipped, taxonomy = scan_cors(folder.parent)
    assert skipped == [] and sorted(parts) == ["genuine", NAME]
    assert [record.utterance_id for record in parts[NAME]] == ["p225_001"]
    assert taxonomy[NAME] == {"model": "languagecodec", "quantizer": "MVQ", "auxiliary": "Trad", "decoder": "FREQ"}


def test_weights_are_published_on_google_drive_not_the_hub():
    spec = codecs.spec(NAME)
    assert spec.hub_repo is None
    # jishengpeng/Languagecodec's README (f10ffa6): the "Models(New)" badge and the `languagecodec_paper_8nq` row
    assert spec.weights_page == "https://drive.google.com/file/d/1ENLyQzbJm2BTignliHHZl11DmQdWZAoX/view?usp=drive_link"
    assert spec.hub_files == ("languagecodec_mm.yaml", "languagecodec_paper_8nq.ckpt")


def test_default_config_is_the_repository_file(fixture):
    """The config in code is upstream's configs/languagecodec_mm.yaml as published (read by the fixture script)."""
    assert languagecodec.default_config(codecs.spec(NAME)) == fixture.manifest["official_config"]


def test_the_published_config_gives_upstreams_architecture():
    """configs/languagecodec_mm.yaml (jishengpeng/Languagecodec f10ffa6): bandwidths [6.6] * 4, from which upstream's
    `EncodecFeatures` sizes an 8-quantiser stack (`int(6.6 * 1000 / (log2(2048) * 75))`); 1024 bins, a 128-channel
    latent and strides [8, 5, 4, 2] are constants of its code; 12 ConvNeXt layers of width 384 (1152 inside), four
    AdaLayerNorm rows; an ISTFT of 1280 points every 320 samples."""
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        built = languagecodec.build(spec, languagecodec.default_config(spec), None, runtime=Runtime(device="meta"))
    config = built.model.config
    assert config.feature_extractor.bandwidths == (6.6, 6.6, 6.6, 6.6)
    assert config.feature_extractor.num_quantizers == 8 and config.feature_extractor.vq_bins == 1024
    assert (config.backbone.input_channels, config.backbone.dim, config.backbone.intermediate_dim,
            config.backbone.num_layers, config.backbone.adanorm_num_embeddings) == (128, 384, 1152, 12, 4)
    assert (config.head.n_fft, config.head.hop_length, config.hop_length) == (1280, 320, 320)


def test_upstreams_model_counts_and_what_loading_drops(fixture):
    """Upstream's `Vocos.from_hparams0802(configs/languagecodec_mm.yaml)` on the meta device (the fixture script ran
    it): 273 tensors, 28,513,900 scalars; its unused SEANet decoder is 62 of them, 7,426,018 scalars; the rest is
    what the tester's facts pin for our loaded model (211 tensors, 21,087,882 scalars)."""
    assert fixture.manifest["upstream"]["official_counts"] == {"tensors": 273, "scalars": 28_513_900}
    decoder = {key: shape for key, shape in fixture.manifest["state_dict"].items() if key.startswith(DECODER_PREFIX)}
    assert (len(decoder), sum(math.prod(shape) for shape in decoder.values())) == (62, 7_426_018)
    facts = TESTER.facts[NAME]
    assert (facts.tensors, facts.parameters) == (273 - 62, 28_513_900 - 7_426_018)


def test_lightning_checkpoint_loads_without_its_discriminators_and_seanet_decoder(fixture):
    """Upstream keeps `feature_extractor.*`, `backbone.*`, `head.*` of the `.ckpt`; we also drop the SEANet decoder,
    which upstream loads but never runs."""
    weights = fixture.weights()
    assert any(key.startswith(DECODER_PREFIX) for key in weights)  # the fixture keeps the checkpoint's layout
    # `codecs.load` takes tensors (nested mappings of them): the checkpoint's `state_dict`, discriminators included.
    checkpoint = {"state_dict": {**weights, **TRAINING_KEYS}}
    loaded_codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=checkpoint)
    loaded = loaded_codec.model.state_dict()
    assert set(loaded) == {key for key in weights if not key.startswith(DECODER_PREFIX)}
    assert all(torch.equal(loaded[key], weights[key]) for key in loaded)


def test_a_folder_holding_the_release_as_published_loads(fixture, tmp_path):
    """The repository's YAML and the Drive checkpoint (a Lightning `.ckpt`) side by side in a folder: `weights=` reads
    them there, and the model reproduces upstream's output on the fixture."""
    config_name, checkpoint_name = codecs.spec(NAME).hub_files
    (tmp_path / config_name).write_text(yaml.safe_dump(fixture.tiny_config))
    (tmp_path / checkpoint_name).write_bytes(torch_save_bytes(lightning_checkpoint(fixture.weights())))
    loaded = codecs.load(NAME, weights=tmp_path)
    assert not loaded.random_weights
    wave = fixture.npy("speech_input.npy")
    out, lengths = loaded.resynthesize(wave[None], np.array([wave.shape[0]]))
    expected = fixture.npy("speech_output.npy")
    assert int(lengths[0]) == expected.shape[0]
    assert rel_l2(out[0, : expected.shape[0]].numpy(), expected) <= 1e-4


def test_checkpoint_of_another_model_names_the_file_and_the_key(fixture, tmp_path):
    weights = fixture.weights()
    del weights["backbone.convnext.1.gamma"]
    config_name, checkpoint_name = codecs.spec(NAME).hub_files
    (tmp_path / config_name).write_text(yaml.safe_dump(fixture.tiny_config))
    (tmp_path / checkpoint_name).write_bytes(torch_save_bytes(lightning_checkpoint(weights)))
    with pytest.raises(CheckpointError, match=r"languagecodec_paper_8nq\.ckpt does not match.*"
                                              r"missing keys: backbone\.convnext\.1\.gamma"):
        codecs.load(NAME, weights=str(tmp_path))


def test_checkpoint_without_languagecodec_weights_is_named(fixture):
    with pytest.raises(CheckpointError, match="holds no LanguageCodec weights"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict={"state_dict": dict(TRAINING_KEYS)})


def test_config_of_another_class_or_shape_is_refused_naming_the_part(fixture):
    config = with_value(fixture.tiny_config, (*INIT_ARGS, "head", "class_path"),
                        "languagecodec_decoder.heads.IMDCTCosHead")
    with pytest.raises(CodecConfigError, match=r"`head\.class_path` is 'languagecodec_decoder\.heads\.IMDCTCosHead'"):
        codecs.load(NAME, config=config, random_weights=True)
    config = with_value(fixture.tiny_config, (*INIT_ARGS, "head", "init_args", "hop_length"), 16)
    with pytest.raises(CodecConfigError, match=r"head\.hop_length=16, but the encoder's strides \[5, 2\] make 10"):
        codecs.load(NAME, config=config, random_weights=True)
    config = with_value(fixture.tiny_config, (*INIT_ARGS, "feature_extractor", "init_args", "bandwidths"), [1.5, 3.0])
    with pytest.raises(CodecConfigError, match=r"gives 3 quantisers, but upstream's inference codes with 8"):
        codecs.load(NAME, config=config, random_weights=True)


def test_training_keys_of_the_experiment_are_accepted_and_unknown_ones_refused(fixture):
    config = copy.deepcopy(fixture.tiny_config)
    config["model"]["init_args"]["decay_mel_coeff"] = True  # an argument of upstream's experiment class
    codecs.load(NAME, config=config, random_weights=True)
    config["model"]["init_args"]["learning_rate"] = 1e-4
    with pytest.raises(CodecConfigError, match=r"unknown option\(s\) 'learning_rate' in `model\.init_args`"):
        codecs.load(NAME, config=config, random_weights=True)


def test_codes_are_upstreams_eight_rows(codec, fixture):
    codes = codec.encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    assert codes.shape == (8, 1201)
    np.testing.assert_array_equal(codes.numpy(), fixture.npy("speech_codes.npy"))


def test_the_first_three_quantisers_code_one_third_of_the_channels_each(codec, fixture):
    """MCRVQ: quantiser 0 sees only channels [0, D/3), 1 only [D/3, 2D/3), 2 only [2D/3, D) (the tiny latent's 12:
    4 each); a plain residual VQ over the same codebooks codes the fixture otherwise."""
    model = codec.model
    with torch.inference_mode():
        latent = model.encoder(torch.from_numpy(fixture.npy("speech_input.npy"))[None, None])
        codes = mcrvq_encode(model.quantizer, latent)
        np.testing.assert_array_equal(codes[0].numpy(), fixture.npy("speech_codes.npy"))
        for row, (lo, hi) in enumerate([(0, 4), (4, 8), (8, 12)]):
            moved = latent.clone()
            outside = torch.ones(12, dtype=torch.bool)
            outside[lo:hi] = False
            moved[:, outside] += torch.randn(moved[:, outside].shape)
            assert torch.equal(mcrvq_encode(model.quantizer, moved)[:, row], codes[:, row])
        plain = model.quantizer.encode(latent, n_q=8)
    assert float((plain == codes).float().mean()) < 0.5  # the masking matters (the fixture's codewords are not 0
    # outside their third, which weighs in their distance)


def test_inference_codes_with_eight_quantisers_whatever_the_bandwidth(fixture):
    """Upstream's `infer` sets `n_q = 8`: a config whose bandwidth builds a larger stack still codes with 8."""
    config = with_value(fixture.tiny_config, (*INIT_ARGS, "feature_extractor", "init_args", "bandwidths"), [12.0])
    codec = codecs.load(NAME, config=config, random_weights=True)
    assert len(codec.model.quantizer.vq.layers) == 14  # int(12000 / (11 * 75))
    assert codec.encode(torch.from_numpy(fixture.npy("input.npy"))).shape == (8, 600)


def test_upstream_output_length_keeps_whole_frames(codec, fixture):
    """The fixture's speech input (12007 samples) comes back from upstream as 1201 frames of 10 samples."""
    wave, expected = fixture.npy("speech_input.npy"), fixture.npy("speech_output.npy")
    assert wave.shape == (12007,) and expected.shape == (12010,)
    assert codec.output_length(wave.shape[0]) == 12010


def test_length_rule_at_official_size():
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        built = languagecodec.build(spec, languagecodec.default_config(spec), None, runtime=Runtime(device="meta"))
    assert [built.output_length(n) for n in (1, 320, 321, 24000, 36001)] == [320, 320, 640, 24000,
                                                                             math.ceil(36001 / 320) * 320]


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class LanguageCodecTester(FamilyTester):
    family = "languagecodec"
    architecture_key = ("model", "init_args", "backbone", "init_args", "dim")
    quantiser = Quantiser(
        where=lambda: (quantization.EuclideanCodebook, "encode"),
        stages=lambda codec: [layer._codebook for layer in codec.model.quantizer.vq.layers[:8]],
        search=lambda book, x: (rows(x), book.embed),
        # Quantisers 0, 1 and 2 each code a third of the latent itself; 3 codes what they left, 4-7 a residual each.
        chains=lambda codec, count: [[0, *range(3, count)], [1], [2]],
    )
    facts = {NAME: OfficialFacts(
        source="upstream's Vocos.from_hparams0802(configs/languagecodec_mm.yaml) on the meta device "
               "(jishengpeng/Languagecodec f10ffa6; the fixture manifest's `state_dict` and `official_counts`): 273 "
               "tensors, 28,513,900 scalars, of which the 62 of feature_extractor.encodec.decoder (the SEANet decoder "
               "inference never runs, 7,426,018 scalars) are dropped on loading",
        parameters=21_087_882, tensors=211,
        shapes={"feature_extractor.encodec.encoder.model.0.conv.conv.weight_v": (32, 1, 7),
                "feature_extractor.encodec.encoder.model.13.lstm.weight_ih_l0": (2048, 512),
                "feature_extractor.encodec.encoder.model.15.conv.conv.weight_v": (128, 512, 7),
                "feature_extractor.encodec.quantizer.vq.layers.7._codebook.embed": (1024, 128),
                "backbone.embed.weight": (384, 128, 7), "backbone.norm.scale.weight": (4, 384),
                "backbone.convnext.11.pwconv1.weight": (1152, 384), "head.out.weight": (1282, 384),
                "head.istft.window": (1280,)},
        config={"sample_rate": 24000, "hop_length": 320, "backbone.dim": 384, "backbone.num_layers": 12,
                "feature_extractor.vq_bins": 1024, "feature_extractor.num_quantizers": 8},
    )}

    def chains(self) -> int:
        return 3

    def with_unknown_key(self, name, config, key):
        config = copy.deepcopy(config)
        config["model"]["init_args"]["backbone"]["init_args"][key] = 11
        return config

    def official_key_shapes(self, name, fixture):
        return {key: shape for key, shape in fixture.official_shapes().items() if not key.startswith(DECODER_PREFIX)}

    def hub_layout(self, name, fixture):
        config_name, checkpoint_name = codecs.spec(name).hub_files
        return {config_name: yaml.safe_dump(fixture.tiny_config),
                checkpoint_name: torch_save_bytes(lightning_checkpoint(fixture.weights()))}, checkpoint_name


TESTER = LanguageCodecTester()
