"""DAC 16/24/44.1 kHz on transformers' DacModel: the quirks of the dac package's compress()/decompress() path.

Tiny random-weight models from `../shared/codec-fixtures/descript-audio-codec-*/` (made with the dac
package, one thread), loaded through `codecs.load` exactly as the official files would be. Parity of the
compress path on both inputs (3 s noise, speech), near-ties included: tests/test_codec_contract.py.
"""


import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2
from near_ties import Quantiser
from safetensors.torch import save_file
from torch.nn import functional as F

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs import weights
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.dac import codec as dac
from codecfake_hf.codecs.nn.loudness import integrated_loudness
from codecfake_hf.errors import CheckpointError, CodecConfigError

DAC = ["descript-audio-codec-16khz", "descript-audio-codec-24khz", "descript-audio-codec-44khz"]
TOL = 1e-4  # rel. L2, float32 CPU (the fixtures' rule)


def tiny(codec_fixture, name, **options):
    fx = codec_fixture(name)
    weights = fx.weights("weights_transformers.safetensors")
    return codecs.load(name, config=fx.tiny_checkpoint_config, state_dict=weights, **options)


def one(wave: np.ndarray):
    return torch.from_numpy(wave)[None], torch.tensor([wave.shape[0]])


@pytest.mark.parametrize("name", DAC)
def test_compress_cuts_the_dac_packages_windows(codec_fixture, tiny_codec, name):
    """Over 1 s, compress() codes whole windows of `chunk_length` frames, one after another, as DACFile.codes."""
    fx = codec_fixture(name)
    (item,) = tiny_codec(name).compress(*one(fx.npy("input_3s.npy")))
    assert item.chunked and item.chunk_length == fx.manifest["tiny"]["compress_path"]["chunk_length"]
    assert item.codes.shape == fx.npy("codes_compress.npy").shape and item.length == fx.npy("input_3s.npy").shape[0]


@pytest.mark.parametrize("name", DAC)
def test_loudness_meter_matches_audiotools(codec_fixture, name):
    # compress_path.input_db is audiotools' own float32 result on input_3s.npy. Measured here: the same
    # float32 value at 16 and 24 kHz, 1.1e-5 dB off at 44.1 kHz (float32 vs float64 IIR filtering).
    fx = codec_fixture(name)
    measured = integrated_loudness(fx.npy("input_3s.npy"), codecs.spec(name).sample_rate)
    assert measured == pytest.approx(fx.manifest["tiny"]["compress_path"]["input_db"], abs=2e-5)
    assert integrated_loudness(np.zeros(1000, np.float32), 16000) == -70.0  # audiotools' floor


@pytest.mark.parametrize("name", DAC)
def test_plain_path_is_one_padded_encode_decode(codec_fixture, name):
    fx = codec_fixture(name)
    codec = tiny(codec_fixture, name, path="plain")
    wave, expected = fx.npy("input.npy"), fx.npy("output.npy")
    audio = torch.nn.functional.pad(torch.from_numpy(wave), (0, -len(wave) % codec.hop_length))[None, None]
    assert np.array_equal(codec.encode(audio)[0].numpy(), fx.npy("codes.npy"))
    result, lengths = codec.resynthesize(*one(wave))
    # At 16/24 kHz an input of whole hops decodes 8 samples short (output.npy); the tail stays zero.
    assert int(lengths[0]) == len(wave)
    assert rel_l2(result[0, : len(expected)], expected) <= TOL
    assert not result[0, len(expected):].any()


@pytest.mark.parametrize("name", DAC)
def test_official_config_has_the_hub_checkpoint_keys_and_window_facts(codec_fixture, name):
    fx = codec_fixture(name)
    manifest = fx.manifest
    spec = codecs.spec(name)
    with torch.device("meta"):  # the official size, shapes only
        codec = dac.build(spec, dac.default_config(spec), None, runtime=Runtime(device="meta"))
    # The manifest lists the dac package's keys (weight_g/weight_v); transformers' conversion folds each
    # pair into one `weight` of weight_v's shape and renames the layers.
    expected = {}
    for key, shape in fx.official_shapes().items():
        target = dac.original_key(key.removeprefix("state_dict."))
        if target is not None:
            expected[target] = shape
    actual = {k: tuple(v.shape) for k, v in codec.model.state_dict().items()}
    assert actual == expected
    assert len(actual) == manifest["checkpoint"]["transformers_format"]["state_dict_key_count_transformers_format"]
    derived, usage = manifest["config"]["derived"], manifest["codecfake_usage"]
    assert codec.delay == derived["delay_samples"]
    assert codec.hop_length == derived["hop_length"] == codecs.spec(name).hop_length
    # "windows of n_samples=W taken every hop_out=H samples ... chunk_length=C frames per window"
    text = usage["preprocessing"]
    assert f"n_samples={codec.window}" in text and f"hop_out={codec.window_hop}" in text
    assert f"chunk_length={codec.chunk_length}" in text


@pytest.mark.parametrize("name", DAC)
def test_dac_package_files_convert_to_the_hub_layout(codec_fixture, name):
    fx = codec_fixture(name)
    original = fx.weights("weights.safetensors")  # `state_dict.`-prefixed, weight_g/weight_v
    converted = dac.convert_original_state_dict(original)
    reference = fx.weights("weights_transformers.safetensors")
    assert set(converted) == set(reference)
    for key, value in reference.items():
        torch.testing.assert_close(converted[key], value, rtol=1e-6, atol=1e-7)
    # build() takes the dac package's kwargs and state dict as they are
    codec = codecs.load(name, config=fx.tiny_config, state_dict=original)
    result, _ = codec.resynthesize(*one(fx.npy("input_3s.npy")))
    assert rel_l2(result[0], fx.npy("output_compress.npy")) <= TOL


def test_github_release_pth_layout_loads(codec_fixture, tmp_path):
    # The release .pth nests the weights under `state_dict` beside `metadata.kwargs` (DAC's arguments).
    name = "descript-audio-codec-24khz"
    fx = codec_fixture(name)
    flat = fx.weights("weights.safetensors")
    path = tmp_path / "weights_24khz.pth"
    torch.save({"state_dict": {k.removeprefix("state_dict."): v for k, v in flat.items()},
                "metadata": {"kwargs": fx.tiny_config}}, path)
    checkpoint = weights.load_checkpoint(path, codec=name)
    codec = codecs.load(name, config=checkpoint["metadata"]["kwargs"], state_dict=checkpoint)
    result, _ = codec.resynthesize(*one(fx.npy("input_3s.npy")))
    assert rel_l2(result[0], fx.npy("output_compress.npy")) <= TOL


def test_padded_batch_gives_each_item_what_it_gets_alone(codec_fixture):
    name = "descript-audio-codec-16khz"
    fx = codec_fixture(name)
    codec = tiny(codec_fixture, name)
    speech, other = fx.npy("speech_input.npy"), fx.npy("input_3s.npy")
    # over 1 s (windowed, different window counts) and under 1 s (the unchunked path, run alone)
    items = [speech[:40001], other, speech[5000:26333], other[:12345]]
    waves, item_lengths = pad_batch(items)
    batch, lengths = codec.resynthesize(waves, item_lengths)
    assert lengths.tolist() == [len(x) for x in items]
    for i, item in enumerate(items):
        alone, _ = codec.resynthesize(*one(item))
        assert rel_l2(batch[i, : len(item)], alone[0]) <= TOL, i
        assert not batch[i, len(item):].any()
    assert codec.batch_exact


def test_convolution_paddings_come_back_even_after_an_error(codec_fixture):
    codec = tiny(codec_fixture, "descript-audio-codec-16khz")
    before = [conv.padding for conv in codec._convs()]
    with pytest.raises(RuntimeError, match="boom"), codec.unpadded():
        assert all(set(conv.padding) == {0} for conv in codec._convs())
        raise RuntimeError("boom")
    assert [conv.padding for conv in codec._convs()] == before
    codec.resynthesize(*one(codec_fixture("descript-audio-codec-16khz").npy("input_3s.npy")))
    assert [conv.padding for conv in codec._convs()] == before


def test_short_inputs_keep_their_length(codec_fixture):
    # <= 1 s of whole hops: the dac package fails here (it decodes 8 samples short and cannot reshape);
    # codecfake-hf returns the input length with the missing tail at zero.
    codec = tiny(codec_fixture, "descript-audio-codec-16khz")
    wave = codec_fixture("descript-audio-codec-16khz").npy("input.npy")  # 16000 samples
    result, lengths = codec.resynthesize(*one(wave))
    assert int(lengths[0]) == result.shape[1] == 16000 and result[0, :15992].abs().max() > 0


@pytest.mark.parametrize("name", DAC)
def test_release_lengths_on_real_clips(codec_fixture, demo_dir, name):
    codec = tiny(codec_fixture, name)
    rate = codec.sample_rate
    waves, release = [], []
    for utterance in ("p225_273", "p295_144", "p318_114"):
        genuine, genuine_rate = read_audio(demo_dir / f"genuine+{utterance}.wav")
        wave = resample(genuine, genuine_rate, rate)
        target = len(read_audio(demo_dir / f"{name}+{utterance}.wav")[0])
        # The pipeline resampled VCTK's 48 kHz originals, not these 16 kHz copies: at 44.1 kHz that
        # gives inputs one sample longer or shorter. The rule (output length == input length) is
        # checked at the release's own lengths.
        assert abs(len(wave) - target) <= (1 if rate == 44100 else 0)
        waves.append(np.pad(wave, (0, max(0, target - len(wave))))[:target])
        release.append(target)
    batch = np.zeros((3, max(release)), np.float32)
    for i, wave in enumerate(waves):
        batch[i, : len(wave)] = wave
    result, lengths = codec.resynthesize(batch, release)
    assert lengths.tolist() == release
    assert result.shape[1] == max(release)


def test_corrupt_or_mismatched_checkpoint_names_the_file(codec_fixture, fake_hub, tmp_path):
    fx = codec_fixture("descript-audio-codec-16khz")
    good = (fx.tiny_dir / "weights_transformers.safetensors").read_bytes()
    snapshot = fake_hub.add("descript/dac_16khz", {"config.json": fx.tiny_dir / "config_transformers.json",
                                                   "model.safetensors": good[: len(good) // 2]})
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*corrupt or truncated"):
        codecs.load("descript-audio-codec-16khz")
    # A readable file of another model: the strict load names it and what is wrong.
    save_file({"encoder.conv1.weight": torch.zeros(1)}, str(snapshot / "model.safetensors"))
    with pytest.raises(CheckpointError, match="descript-audio-codec-16khz checkpoint does not match.*missing keys"):
        codecs.load("descript-audio-codec-16khz")


def test_bad_options_are_refused(codec_fixture):
    with pytest.raises(CodecConfigError, match="path='loud'; valid: 'compress'"):
        tiny(codec_fixture, "descript-audio-codec-16khz", path="loud")
    with pytest.raises(CodecConfigError, match="unknown option"):
        tiny(codec_fixture, "descript-audio-codec-16khz", bandwidth=6.0)


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def _dac_search(quantizer, z_e):
    # The dac package's search: both the projected residual and the codebook l2-normalised.
    return F.normalize(z_e.transpose(1, 2), dim=-1), F.normalize(quantizer.codebook.weight, dim=-1)


def _facts(name: str, parameters: int, tensors: int, encoder: int, decoder: int, n_codebooks: int, hop: int):
    return OfficialFacts(
        source=f"../shared/codec-fixtures/{name}/manifest.json: the state dict of the dac package's GitHub release "
               "weights_*.pth (key set and shapes, weight-norm pairs folded as transformers' convert_dac_checkpoint.py "
               "does) and the conf/final/*.yml config",
        parameters=parameters, tensors=tensors,
        shapes={"encoder.conv1.weight": (encoder, 1, 7), "decoder.conv1.weight": (decoder, 1024, 7),
                "quantizer.quantizers.0.codebook.weight": (1024, 8), "decoder.conv2.weight": (1, decoder // 16, 7)},
        config={"encoder_hidden_size": encoder, "decoder_hidden_size": decoder, "n_codebooks": n_codebooks,
                "codebook_size": 1024, "codebook_dim": 8, "hop_length": hop})


class DacTester(FamilyTester):
    family = "dac"
    parity_bound = 1e-4
    architecture_key = ("encoder_hidden_size",)
    transformers_config = True
    # Our own loop over transformers' modules (the dac package's expression): `nearest_codewords(quantizer, z_e)`.
    quantiser = Quantiser(
        where=lambda: (dac, "nearest_codewords"),
        stages=lambda codec: list(codec.model.quantizer.quantizers),
        search=_dac_search,
    )
    facts = {
        "descript-audio-codec-16khz": _facts("descript-audio-codec-16khz", 74_141_697, 238, 64, 1536, 12, 320),
        "descript-audio-codec-24khz": _facts("descript-audio-codec-24khz", 74_653_857, 338, 64, 1536, 32, 320),
        "descript-audio-codec-44khz": _facts("descript-audio-codec-44khz", 76_620_777, 223, 64, 1536, 9, 512),
    }

    def official_key_shapes(self, name, fixture):
        # The manifests list the dac package's keys, which transformers' conversion renames one to one (folding
        # weight_g/weight_v into one `weight`).
        renamed = {dac.original_key(key.removeprefix("state_dict.")): shape
                   for key, shape in fixture.official_shapes().items()}
        return {key: shape for key, shape in renamed.items() if key is not None}

    def parity_files(self, name, case):
        # DAC's pipeline path is the dac package's compress()/decompress(): the fixture's `output.npy` is the plain
        # encode/decode of the 1 s noise input (see the plain-path test above), so the noise case of the compress
        # path is the 3 s one.
        if case == "noise":
            return "input_3s.npy", "output_compress.npy", "codes_compress.npy"
        return super().parity_files(name, case)


TESTER = DacTester()
