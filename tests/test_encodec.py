"""EnCodec 24 kHz on transformers' EncodecModel at 1.5 kbps, as the CodecFake pipeline ran it: its quirks.

Tiny random-weight model from `../shared/codec-fixtures/encodec_24khz/` (made with the encodec
package; transformers reproduces it bit for bit), loaded through `codecs.load` as the official files are.
Parity with its output and codes on both inputs: tests/test_codec_contract.py.
"""


import numpy as np
import pytest
import torch
from conftest import pad_batch, rel_l2

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs.encodec import codec as encodec
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "encodec_24khz"
# The manifest expects rel. L2 <= 1e-5 of a faithful float32 implementation (the contract test's bound).
TOL = 1e-5


def tiny(codec_fixture, weights="weights_transformers.safetensors", **options):
    fx = codec_fixture(NAME)
    return codecs.load(NAME, config=fx.tiny_checkpoint_config, state_dict=fx.weights(weights), **options)


def one(wave: np.ndarray):
    return torch.from_numpy(wave)[None], torch.tensor([wave.shape[0]])


def test_encodec_package_naming_loads_the_same_weights(codec_fixture):
    # weights.safetensors holds the tensors of weights_transformers.safetensors in the encodec package's naming
    # (encodec_24khz-*.th); `build` renames them.
    state = tiny(codec_fixture, "weights.safetensors").model.state_dict()
    reference = tiny(codec_fixture).model.state_dict()
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[key], reference[key]) for key in reference)


def test_official_config_has_the_hub_checkpoint_keys(codec_fixture):
    fx = codec_fixture(NAME)
    codec = codecs.load(NAME, random_weights=True)
    assert codec.model.config.num_quantizers == 32 and codec.n_codebooks == codecs.spec(NAME).n_codebooks == 2
    # The manifest lists the encodec package's keys; transformers' conversion renames them one to one
    # (same tensors, same shapes) into the Hub file's naming, weight norm kept as weight_g/weight_v.
    expected = {encodec.original_key(k): shape for k, shape in fx.official_shapes().items()}
    actual = {k: tuple(v.shape) for k, v in codec.model.state_dict().items()}
    assert actual == expected
    assert len(actual) == fx.manifest["checkpoint"]["transformers_format"]["state_dict_key_count_transformers_format"]
    assert any(k.endswith(".weight_g") for k in actual) and not any("parametrizations" in k for k in actual)
    # the names of the tiny transformers-format file, which was written from a 4.31-style model
    assert set(fx.weights("weights_transformers.safetensors")) == set(tiny(codec_fixture).model.state_dict())


def test_bandwidth_option(codec_fixture):
    fx = codec_fixture(NAME)
    wave = fx.npy("input.npy")
    assert tiny(codec_fixture).encode(*one(wave)).shape == (1, 2, 75)  # 1.5 kbps: 2 codebooks x 75 Hz
    assert tiny(codec_fixture, bandwidth=6.0).encode(*one(wave)).shape == (1, 8, 75)
    with pytest.raises(CodecConfigError, match=r"bandwidth=5\.0 kbps .* valid: 1\.5, 3, 6, 12, 24"):
        tiny(codec_fixture, bandwidth=5.0)


def test_padded_batch_gives_each_item_what_it_gets_alone(codec_fixture):
    fx = codec_fixture(NAME)
    codec = tiny(codec_fixture)
    speech, other = fx.npy("speech_input.npy"), fx.npy("input.npy")
    # Lengths off the 320-sample hop exercise the per-item reflect padding of the strided convs; the
    # 2000-sample item (7 frames) is run alone; the longest one fixes the batch width.
    items = [speech[:71999], speech[1000:50001], other[:23777], speech[:2000], speech[5:9000]]
    waves, item_lengths = pad_batch(items)
    batch, lengths = codec.resynthesize(waves, item_lengths)
    assert lengths.tolist() == [len(x) for x in items]
    assert codec.batch_exact
    for i, item in enumerate(items):
        # the CodecFake pipeline's own calls: one utterance, encode/decode with a padding mask of ones
        audio = torch.from_numpy(item)[None, None]
        mask = torch.ones_like(audio, dtype=torch.bool)
        with torch.inference_mode():
            encoded = codec.model.encode(audio, mask)
            alone = codec.model.decode(encoded.audio_codes, encoded.audio_scales, mask)[0][0, 0]
        assert rel_l2(batch[i, : len(item)], alone) <= 1e-4, i
        assert not batch[i, len(item):].any()


def test_release_lengths_on_real_clips(codec_fixture, demo_dir):
    codec = tiny(codec_fixture)
    waves, release = [], []
    for utterance in ("p225_273", "p295_144", "p318_114"):
        genuine, rate = read_audio(demo_dir / f"genuine+{utterance}.wav")
        waves.append(resample(genuine, rate, codec.sample_rate))
        release.append(len(read_audio(demo_dir / f"{NAME}+{utterance}.wav")[0]))
    batch = np.zeros((3, max(map(len, waves))), np.float32)
    for i, wave in enumerate(waves):
        batch[i, : len(wave)] = wave
    result, lengths = codec.resynthesize(batch, [len(w) for w in waves])
    assert lengths.tolist() == release == [len(w) for w in waves]
    assert result.shape[1] == max(release)


def test_falls_back_to_pytorch_model_bin(codec_fixture, fake_hub, tmp_path):
    # The Hub repository also holds pytorch_model.bin from the same upload.
    fx = codec_fixture(NAME)
    torch.save(fx.weights("weights_transformers.safetensors"), tmp_path / "pytorch_model.bin")
    fake_hub.add("facebook/encodec_24khz", {"config.json": fx.tiny_dir / "config_transformers.json",
                                            "pytorch_model.bin": tmp_path / "pytorch_model.bin"})
    result, _ = codecs.load(NAME).resynthesize(*one(fx.npy("input.npy")))
    assert rel_l2(result[0], fx.npy("output.npy")) <= TOL


def test_corrupt_checkpoint_names_the_file(codec_fixture, fake_hub):
    fx = codec_fixture(NAME)
    good = (fx.tiny_dir / "weights_transformers.safetensors").read_bytes()
    fake_hub.add("facebook/encodec_24khz", {"config.json": fx.tiny_dir / "config_transformers.json",
                                            "model.safetensors": good[:1000]})
    with pytest.raises(CheckpointError, match=r"encodec_24khz: checkpoint file .*model\.safetensors could not"):
        codecs.load(NAME)
