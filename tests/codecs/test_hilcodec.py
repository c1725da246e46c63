"""HILCodec: its quirks (inference.ipynb's clamp and whole-frame cut, the checkpoint's `model` entry and training state,
the release's config.yaml, the number of codebooks, causality).

Fixture parity, the official key set and the release's files read from a folder or mirror: tests/test_codec_contract.py.
The fixture comes from upstream's code (tests/fixtures/make_hilcodec_fixture.py).
"""

import json

import numpy as np
import pytest
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import FIXTURES
from helpers import torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.hilcodec import codec as hilcodec
from codecfake_hf.codecs.hilcodec import model as hilcodec_model
from codecfake_hf.errors import CheckpointError, CodecConfigError, WeightsUnavailableError

NAME = "hilcodec_speech"
MANIFEST = json.loads((FIXTURES / "codecs" / NAME / "manifest.json").read_text())


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


def checkpoint(weights: dict) -> dict:
    """The tiny weights as upstream's wrapper saves a checkpoint: the generator under `model` (with the codebooks'
    `_extra_state` flags), beside the training state."""
    model = dict(weights)
    model.update({f"quantizer.layers.{i}._extra_state": {"initted": True} for i in range(4)})
    return {"model": model, "disc": {"mfbd.0.weight": torch.ones(2)}, "optim_g": {"state": {}, "param_groups": []},
            "scaler_g": {}, "epoch": 150, "balancer": {"fix": 1.0}, "metrics": {"best_pesq": 3.1}}


def release(fixture) -> dict[str, bytes | str]:
    """The release's two files (`config.yaml`, `00150.pth`) holding the fixture's tiny model."""
    return {"config.yaml": yaml.safe_dump(fixture.tiny_config),
            "00150.pth": torch_save_bytes(checkpoint(fixture.weights()))}


def test_names_taxonomy_and_release_page():
    spec = codecs.spec(NAME)
    assert codecs.resolve("HILCodec") == codecs.resolve("hil_speech") == NAME
    # CodecFake+'s labels (AS_CORS_dict 1, DS_CORS_dict 1, QS_CORS_dict 1 in SAST_Net/utils.py)
    assert (spec.quantizer, spec.auxiliary, spec.decoder) == ("multi-codebook", "none", "time")
    # 8 codebooks of 1024 at 24000 / 320 = 75 frames/s: 6 kbps (configs/hilcodec_speech.yaml's "1.5, 3, 6 kbps")
    assert spec.bitrate_kbps == 6.0 and spec.frame_rate == 75 and spec.n_codebooks == 8
    # Not on the Hub: the Google Drive folder aask1357/hilcodec's README links, and the files of its speech model
    assert spec.hub_repo is None and "1og7uw_t1oJd7qcg-sjjuJ4Pn7t1TArsW" in spec.weights_page
    assert spec.hub_files == ("config.yaml", "00150.pth")


def test_default_config_is_the_repository_file():
    """default_config is configs/hilcodec_speech.yaml as published, its inference parts."""
    official = MANIFEST["official_config"]
    config = hilcodec.default_config(codecs.spec(NAME))
    assert config["model"] == official["model"] and config["model_kwargs"] == official["model_kwargs"]
    assert config["data"] == {key: official["data"][key] for key in ("sampling_rate", "channels")}


def test_the_published_config_file_builds_the_released_model():
    """The whole published file (training sections and all) reads as the release's config.yaml is read."""
    official = MANIFEST["official_config"]
    architecture = hilcodec.HILCodecConfig.from_config(official)
    assert architecture.model_kwargs.hop_length == 320 and architecture.data.sampling_rate == 24000
    assert architecture.model_kwargs.vq_kwargs.num_quantizers == 8


def test_inference_clamps_and_cuts_to_whole_frames(fixture):
    """inference.ipynb clamps to [-1, 1] and keeps T // hop * hop samples: the fixture's noise (6005 samples, three
    beyond [-1, 1]; hop 8) came back from upstream as 6000, and speech (12007) as 12000."""
    assert fixture.npy("input.npy").shape == (6005,) and fixture.npy("output.npy").shape == (6000,)
    assert np.abs(fixture.npy("input.npy")).max() > 1.0
    assert fixture.npy("speech_input.npy").shape == (12007,) and fixture.npy("speech_output.npy").shape == (12000,)
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        codec = hilcodec.build(spec, hilcodec.default_config(spec), None, runtime=Runtime(device="meta"))
    assert [codec.output_length(n) for n in (320, 639, 640, 24000, 24319)] == [320, 320, 640, 24000, 24000]
    assert codec.min_input_length() == 320


def test_clamp_matters(fixture):
    """Without the clamp the output differs from upstream's: the fixture exercises it."""
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    wave = torch.from_numpy(fixture.npy("input.npy"))
    with torch.no_grad():
        unclamped, _ = codec.model(wave[None, None, :6000], codec.n_quantizers)
    reference = fixture.npy("output.npy")
    assert np.linalg.norm(unclamped[0, 0].numpy() - reference) / np.linalg.norm(reference) > 1e-3


def test_codes_are_the_fixtures_and_spread_over_the_codebooks(fixture):
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    codes = codec.encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    assert codes.shape == (4, 1500)
    np.testing.assert_array_equal(codes.numpy(), fixture.npy("speech_codes.npy"))
    assert all(len(np.unique(row)) >= 8 for row in codes.numpy())


def test_fewer_quantizers_use_the_first_codebooks(fixture):
    """`n_quantizers` keeps the first stages (upstream's `model(x, n)`): their codes are the full run's first rows."""
    full = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    two = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), n_quantizers=2)
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    np.testing.assert_array_equal(two.encode(wave).numpy(), full.encode(wave)[:2].numpy())
    out_two, _ = two.resynthesize(wave[None], [wave.shape[0]])
    out_full, _ = full.resynthesize(wave[None], [wave.shape[0]])
    assert not torch.allclose(out_two, out_full)
    for bad in (0, 5, 2.0, True):
        with pytest.raises(CodecConfigError, match=rf"^{NAME}: n_quantizers={bad!r}; this model has 1 to 4"):
            codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), n_quantizers=bad)


def test_default_is_eight_codebooks_of_a_larger_model(fixture):
    """inference.ipynb runs `model(x, n=8)`: a config of more codebooks (the music model's 12, the speech yaml's
    first version) still decodes with 8 by default."""
    config = json.loads(json.dumps(fixture.tiny_config))
    config["model_kwargs"]["vq_kwargs"]["num_quantizers"] = 12
    codec = codecs.load(NAME, config=config, random_weights=True)
    assert codec.n_quantizers == 8 and codec.encode(torch.zeros(800)).shape == (8, 100)
    assert codecs.load(NAME, config=fixture.tiny_config, random_weights=True).n_quantizers == 4


def test_causal_prefix(fixture):
    """The released model is causal: the first whole frames of a signal come out the same without its end."""
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    whole, _ = codec.resynthesize(wave[None], [wave.shape[0]])
    prefix, _ = codec.resynthesize(wave[None, :4003], [4003])
    torch.testing.assert_close(prefix[0], whole[0, :4000], rtol=0, atol=1e-6)


def test_checkpoint_model_entry_loads_with_its_training_state_ignored(fixture):
    """A checkpoint's `model` entry (its `_extra_state` flags dropped) beside another state dict (the discriminator's);
    the file's scalars (epoch, ...) go through `weights=` (test_release_folder_loads), not `state_dict=`."""
    flat = fixture.weights()
    parts = {key: value for key, value in checkpoint(flat).items() if key in ("model", "disc")}
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=parts)
    loaded = codec.model.state_dict()
    assert loaded.keys() == flat.keys() and all(torch.equal(loaded[key], value) for key, value in flat.items())


def test_release_folder_loads(fixture, tmp_path):
    """`weights=FOLDER` with the release's files as published (the two files of its zip)."""
    for file, data in release(fixture).items():
        (tmp_path / file).write_bytes(data.encode() if isinstance(data, str) else data)
    codec = codecs.load(NAME, weights=tmp_path)
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    out, lengths = codec.resynthesize(wave[None], [wave.shape[0]])
    reference = fixture.npy("speech_output.npy")
    assert int(lengths[0]) == reference.shape[0]
    assert np.linalg.norm(out[0].numpy() - reference) / np.linalg.norm(reference) < 1e-4


def test_without_weights_the_error_names_the_page_and_the_files():
    with pytest.raises(WeightsUnavailableError, match=r"drive\.google\.com.*config\.yaml, 00150\.pth"):
        codecs.load(NAME)


def test_checkpoint_without_the_model_entry_names_the_file(fixture, tmp_path):
    files = release(fixture)
    files["00150.pth"] = torch_save_bytes({"disc": {"w": torch.ones(1)}, "epoch": 150})
    for file, data in files.items():
        (tmp_path / file).write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(CheckpointError, match=r"00150\.pth has no `model` state dict"):
        codecs.load(NAME, weights=tmp_path)


def test_config_of_another_model_or_rate_is_refused(fixture):
    config = json.loads(json.dumps(fixture.tiny_config))
    config["model"] = "avocodo"
    with pytest.raises(CodecConfigError, match=r"model='avocodo'; this family builds 'hilcodec'"):
        codecs.load(NAME, config=config, random_weights=True)
    config = json.loads(json.dumps(fixture.tiny_config))
    config["data"]["sampling_rate"] = 16000
    with pytest.raises(CodecConfigError, match=r"data\.sampling_rate=16000, but this config runs at 24000 Hz"):
        codecs.load(NAME, config=config, random_weights=True)


@pytest.mark.parametrize(("key", "value"), [("causal", False), ("norm", "spectral_norm"), ("skip", "1x1"),
                                            ("act_all", True), ("spec", "")])
def test_unreleased_variants_are_refused_by_name(fixture, key, value):
    config = json.loads(json.dumps(fixture.tiny_config))
    config["model_kwargs"][key] = value
    with pytest.raises(CodecConfigError, match=rf"model_kwargs\.{key}={value!r}: only the released models'"):
        codecs.load(NAME, config=config, random_weights=True)


def test_the_first_public_codes_spec_layer_key_is_read(fixture):
    """aask1357/hilcodec's configs before 6e629b7 (and a training run's copy of them) hold `spec_layer: 1x1_zero`,
    the one SpecBlock layout the code kept (4f2482a); its other values are refused by name."""
    config = json.loads(json.dumps(fixture.tiny_config))
    config["model_kwargs"]["spec_layer"] = "1x1_zero"
    codec = codecs.load(NAME, config=config, state_dict=fixture.weights())
    assert codec.model.state_dict().keys() == fixture.weights().keys()
    config["model_kwargs"]["spec_layer"] = "1x1"
    with pytest.raises(CodecConfigError, match=r"model_kwargs\.spec_layer='1x1': only '1x1_zero'"):
        codecs.load(NAME, config=config, random_weights=True)


def test_stft_filters_are_upstreams_buffers(fixture):
    """The STFT filters are computed as upstream computes them: equal to the checkpoint's buffers."""
    weights = fixture.weights()
    stft = hilcodec_model.CausalSTFT(32, 8, "constant", learnable=False)
    torch.testing.assert_close(stft.weight, weights["encoder.spec_post.spec.weight"], rtol=0, atol=0)


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

class HILCodecTester(FamilyTester):
    family = "hilcodec"
    architecture_key = ("model_kwargs", "channels_enc")
    required_key = ("model_kwargs", "vq_kwargs", "dim")
    quantiser = Quantiser(
        where=lambda: (hilcodec_model.EuclideanCodebook, "nearest"),
        stages=lambda codec: list(codec.model.quantizer.layers),
        search=lambda book, residual: (rows(residual), book.embed),
        layout=lambda codec, codes: codes,  # [n, frames], as the fixture script saves them
    )
    facts = {NAME: OfficialFacts(
        source="upstream's HILCodec(**model_kwargs) of configs/hilcodec_speech.yaml on the meta device, as "
               "models/hilcodec/wrapper.py builds it for the checkpoint's `model` entry (aask1357/hilcodec 616e8c36; "
               "the fixture manifest's `state_dict`, `parameters`: 9,577,019 parameters, 320 tensors with the STFT "
               "filters and the EMA codebooks, plus 8 non-tensor `_extra_state` entries); the repository's ONNX "
               "release of the speech model: 8 quantiser graphs, each codebook `embed` [1024, 128]",
        parameters=13_083_067, tensors=320,
        shapes={"encoder.conv_pre.1.conv.conv.weight_v": (64, 1, 5),
                "encoder.spec_blocks.0.spec.weight": (66, 1, 64), "encoder.spec_post.spec.weight": (1026, 1, 1024),
                "encoder.spec_post.layer.conv.conv.weight_v": (1024, 513, 1),
                "encoder.downsample.3.3.conv.conv.weight_v": (1024, 1, 16),
                "encoder.conv_post.2.conv.conv.weight_v": (128, 1024, 1),
                "quantizer.layers.7.embed": (1024, 128), "quantizer.layers.7.ema_num": (1024,),
                "decoder.model.0.conv.conv.weight_v": (1536, 128, 1),
                "decoder.model.4.convtr.convtr.weight_v": (1536, 1, 16)},
        config={"model_kwargs.strides": (8, 5, 4, 2), "model_kwargs.vq_kwargs.num_quantizers": 8,
                "model_kwargs.vq_kwargs.codebook_size": 1024, "model_kwargs.vq_kwargs.dim": 128,
                "model_kwargs.hop_length": 320, "data.sampling_rate": 24000},
    )}

    def official_key_shapes(self, name, fixture):
        return {key: tuple(shape) for key, shape in fixture.manifest["state_dict"].items()}

    def hub_layout(self, name, fixture):
        return release(fixture), "00150.pth"

    def with_unknown_key(self, name, config, key):
        config = json.loads(json.dumps(config))
        config["model_kwargs"][key] = 11  # the file's top level holds training sections, ignored as upstream does
        return config


TESTER = HILCodecTester()


def test_parameter_count_is_upstreams():
    """The official model's parameters (not buffers), as upstream counts them: the manifest's record."""
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        codec = hilcodec.build(spec, hilcodec.default_config(spec), None, runtime=Runtime(device="meta"))
    assert sum(p.numel() for p in codec.model.parameters()) == MANIFEST["parameters"] == 9_577_019


def test_onnx_release_agrees():
    """The repository's ONNX export of the speech model (read by the fixture script): 8 quantiser graphs whose
    codebooks are [1024, 128], and test_onnx.py's codes `[8, 1, 2296]` for its 734,760-sample input, decoded to
    734,720 samples: 8 codebooks, and the input cut to whole 320-sample frames."""
    onnx = MANIFEST["onnx_release"]
    assert onnx["vq_graphs"] == onnx["deq_graphs"] == codecs.spec(NAME).n_codebooks
    assert onnx["deq_initializers"] == [["embed", [1024, 128]]]
    assert onnx["quantized_npy_shape"] == [8, 1, 734_760 // 320] and onnx["input_speech_wav_samples"] == 734_760
    spec = codecs.spec(NAME)
    with torch.device("meta"):
        codec = hilcodec.build(spec, hilcodec.default_config(spec), None, runtime=Runtime(device="meta"))
    assert codec.output_length(onnx["input_speech_wav_samples"]) == onnx["hil_speech_output_wav_samples"]


def test_cors_rows_land_in_this_config(tmp_path):
    """`builder import --layout cors`: the authors' protocol line of a HILCodec clip (CoRS_ALL.txt's
    `p227 p227_260_hilcodec_speech - - spoof`) is a row of this config."""
    import soundfile as sf

    from builder.release_layouts import scan_cors

    for stem in ("p227_260", "p227_260_hilcodec_speech"):
        sf.write(tmp_path / f"{stem}.wav", np.zeros(1600, dtype=np.float32), 16_000, subtype="PCM_16")
    (tmp_path / "CoRS_labels.txt").write_text("p227 p227_260 - - bonafide\np227 p227_260_hilcodec_speech - - spoof\n")
    parts, skipped, _ = scan_cors(tmp_path)
    assert skipped == [] and sorted(parts) == ["genuine", NAME]
    assert [record.utterance_id for record in parts[NAME]] == ["p227_260"]
