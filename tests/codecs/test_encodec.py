"""EnCodec 24 kHz on transformers' EncodecModel at 1.5 kbps, as the CodecFake pipeline ran it: its quirks.

Tiny random-weight model from `../shared/codec-fixtures/encodec_24khz/` (made with the encodec
package; transformers reproduces it bit for bit), loaded through `codecs.load` as the official files are.
Parity with its output and codes on both inputs: tests/test_codec_contract.py.
"""


import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2
from helpers import speechlike, tiny_transformers_codec
from near_ties import transformers_codebook

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


def test_encodec_48khz_feeds_mono_as_both_channels_and_averages_them():
    """The stereo model gets the mono utterance as both channels; the two decoded channels differ, and the
    output is their mean (the contract test compares the same with transformers' own pipeline)."""
    codec = tiny_transformers_codec("encodec_48khz_6kbps")
    config = codec.model.config
    assert config.audio_channels == 2 and codec.n_codebooks == 4 and codec.bandwidth == 6.0
    wave = speechlike(2500, 3)
    audio = torch.from_numpy(wave)[None, None].expand(1, 2, -1)
    steps = -(-len(wave) // config.chunk_stride)
    width = (steps - 1) * config.chunk_stride + config.chunk_length
    mask = torch.arange(width)[None] < len(wave)
    with torch.no_grad():
        encoded = codec.model.encode(torch.nn.functional.pad(audio, (0, width - len(wave))), mask, bandwidth=6.0)
        stereo = codec.model.decode(encoded.audio_codes, encoded.audio_scales, mask)[0][0, :, : len(wave)]
    out, _ = codec.resynthesize(wave[None], [len(wave)])
    assert rel_l2(stereo[0], stereo[1]) > 1e-2
    assert rel_l2(out[0], stereo.mean(0)) <= 1e-6


@pytest.mark.parametrize(("name", "kbps", "nq"), [("encodec_24khz", 1.5, 2), ("encodec_24khz_3kbps", 3.0, 4),
                                                  ("encodec_24khz_24kbps", 24.0, 32)])
def test_encodec_24khz_bitrates_pick_their_codebooks(name, kbps, nq):
    codec = tiny_transformers_codec(name)
    assert (codec.bandwidth, codec.n_codebooks) == (kbps, nq)
    wave = speechlike(9 * 320, 4)
    assert codec.encode(torch.from_numpy(wave)[None], torch.tensor([len(wave)])).shape[1] == nq


def test_encodec_48khz_official_config_builds_the_stereo_group_normed_model():
    codec = codecs.load("encodec_48khz_24kbps", random_weights=True)
    config = codec.model.config
    facts = (config.audio_channels, config.chunk_length, config.chunk_stride, config.normalize)
    assert facts == (2, 48000, 47520, True)
    keys = codec.model.state_dict()
    # time_group_norm: plain convolutions, each followed by a GroupNorm (no weight norm, unlike 24 kHz)
    assert keys["encoder.layers.0.conv.weight"].shape == (32, 2, 7) and "encoder.layers.0.norm.weight" in keys
    assert codec.n_codebooks == 16 and codec.model.quantizer.num_quantizers == 16


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

_24KHZ = OfficialFacts(
    source="../shared/codec-fixtures/encodec_24khz/manifest.json: the encodec package's encodec_24khz-d7cc33bc.th "
           "(key set and shapes; transformers renames them one to one) and facebook/encodec_24khz's config.json",
    parameters=23_273_218, tensors=252,  # 14,851,810 parameters + the codebooks' k-means buffers
    shapes={"encoder.layers.0.conv.weight_v": (32, 1, 7), "encoder.layers.13.lstm.weight_ih_l0": (2048, 512),
            "quantizer.layers.0.codebook.embed": (1024, 128), "decoder.layers.15.conv.weight_v": (1, 32, 7)},
    config={"hidden_size": 128, "num_filters": 32, "num_lstm_layers": 2, "codebook_size": 1024,
            "upsampling_ratios": [8, 5, 4, 2], "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0],
            "audio_channels": 1, "use_causal_conv": True, "norm_type": "weight_norm"})


_48KHZ = OfficialFacts(
    source="the encodec package 0.1.1's encodec_model_48khz() converted by transformers 4.31.0's "
           "convert_encodec_checkpoint_to_pytorch.py (the version facebook/encodec_48khz's config.json names); the "
           "file's published size, 76.3 MB, is these 19.07 M float32 values (" + "tests/fixtures/facts/README.md" + ")",
    parameters=19_066_998, tensors=224,
    shapes={
        "encoder.layers.0.conv.weight": (32, 2, 7),
        "encoder.layers.0.norm.weight": (32,),
        "encoder.layers.1.block.1.conv.weight": (16, 32, 3),
        "encoder.layers.13.lstm.weight_ih_l0": (2048, 512),
        "encoder.layers.15.conv.weight": (128, 512, 7),
        "quantizer.layers.0.codebook.embed": (1024, 128),
        "quantizer.layers.15.codebook.embed_avg": (1024, 128),
        "decoder.layers.3.conv.weight": (512, 256, 16),
        "decoder.layers.15.conv.weight": (2, 32, 7),
        "decoder.layers.15.norm.weight": (2,),
    },
    config={"audio_channels": 2, "norm_type": "time_group_norm", "use_causal_conv": False, "normalize": True,
            "chunk_length_s": 1.0, "overlap": 0.01, "target_bandwidths": [3.0, 6.0, 12.0, 24.0], "hidden_size": 128,
            "num_lstm_layers": 2, "codebook_size": 1024})


class EncodecTester(FamilyTester):
    family = "encodec"
    parity_bound = 1e-5  # the manifest expects <= 1e-5 of a faithful float32 implementation; reached: 3e-7
    architecture_key = ("hidden_size",)
    transformers_config = True
    quantiser = transformers_codebook("encodec", "EncodecEuclideanCodebook")
    facts = {name: {"facebook/encodec_24khz": _24KHZ, "facebook/encodec_48khz": _48KHZ}[codecs.spec(name).hub_repo]
             for name in codecs.names() if codecs.spec(name).family == "encodec"}
    # Beyond the paper (tests/tiny_configs.py): 48 kHz: 20 ms chunks instead of 1 s, so that a few hundred samples
    # cross chunk boundaries.
    tiny_overrides = {"num_filters": 2, "hidden_size": 4, "codebook_dim": 4, "num_lstm_layers": 1}

    def tiny_config(self, name):
        config = super().tiny_config(name)
        if config.get("chunk_length_s"):
            config["chunk_length_s"] = 0.02
        return config

    def checkpoint_state(self, codec):
        return codec.model.state_dict()  # the Hub file's layout is the model's own (legacy weight-norm names)

    def has_official_key_set(self, name):
        # Every 24 kHz config reads the one checkpoint of encodec_24khz's manifest; the 48 kHz model has no
        # independent key set here (its facts are pinned instead).
        return codecs.spec(name).hub_repo == "facebook/encodec_24khz"

    def official_key_shapes(self, name, fixture):
        # The encodec package's keys, renamed one to one by transformers' conversion.
        from conftest import load_codec_fixture

        shapes = load_codec_fixture("encodec_24khz").official_shapes()
        return {encodec.original_key(key): shape for key, shape in shapes.items()}

    def reference(self, name, model, wave):
        """transformers' `EncodecFeatureExtractor` (chunked and padded at 48 kHz), the mono utterance as every
        channel, `encode` then `decode` at the entry's bandwidth (the CodecFake pipeline's calls), the decoded
        channels averaged, the chunks' codes one after another without the padding `encode` adds to the last."""
        from transformers import EncodecFeatureExtractor

        config, n = model.config, wave.shape[0]
        channels = config.audio_channels
        extractor = EncodecFeatureExtractor(feature_size=channels, sampling_rate=config.sampling_rate,
                                            chunk_length_s=config.chunk_length_s, overlap=config.overlap)
        raw = wave if channels == 1 else np.stack([wave] * channels)
        inputs = extractor(raw_audio=raw, sampling_rate=config.sampling_rate, return_tensors="pt")
        bandwidth = next(b for b in config.target_bandwidths if b == codecs.spec(name).bitrate_kbps)
        with torch.inference_mode():
            codes, scales, pad = model.encode(**inputs, bandwidth=bandwidth, return_dict=False)
            audio = model.decode(codes, scales, inputs["padding_mask"], last_frame_pad_length=pad,
                                 return_dict=False)[0]
        codes = codes[:, 0].permute(1, 0, 2).reshape(codes.shape[2], -1)  # [chunks, 1, K, frames] -> [K, frames]
        return audio[0].mean(0)[:n].numpy(), codes[:, : codes.shape[1] - pad].numpy()


TESTER = EncodecTester()
