"""SNAC (hubertsiuzdak/snac_24khz, _32khz, _44khz): its quirks (seeded decoder noise, multi-rate codes, padding to
whole attention windows, the official configs and files).

Parity with the upstream `snac` package (fixtures made by tests/fixtures/make_snac_fixture.py), batches, the
offline Hub and the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import torch_save_bytes
from near_ties import Quantiser

from codecfake_hf import codecs
from codecfake_hf.audio import resample
from codecfake_hf.codecs import registry
from codecfake_hf.codecs.nn import snac_blocks
from codecfake_hf.codecs.snac import model as snac_model
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ("snac_24khz", "snac_32khz", "snac_44khz")


def tiny(codec_fixture, name, **options):
    fixture = codec_fixture(name)
    return codecs.load(name, config=fixture.tiny_config, state_dict=fixture.weights(), **options)


def test_official_24khz_config_is_the_published_one():
    # hubertsiuzdak/snac_24khz config.json, as the project's DESIGN.md records it.
    assert registry.family("snac_24khz").default_config(codecs.spec("snac_24khz")) == {
        "sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8], "decoder_dim": 1024,
        "decoder_rates": [8, 8, 4, 2], "attn_window_size": None, "codebook_size": 4096, "codebook_dim": 8,
        "vq_strides": [4, 2, 1], "noise": True, "depthwise": True}


def test_bitrates_and_codebook_rates_are_the_model_cards():
    # Model cards: 0.98 kbps (12, 23, 47 Hz), 1.9 kbps (10, 21, 42, 83 Hz), 2.6 kbps (14, 29, 57, 115 Hz).
    for name, kbps, rates in (("snac_24khz", 0.98, (12, 23, 47)), ("snac_32khz", 1.9, (10, 21, 42, 83)),
                              ("snac_44khz", 2.6, (14, 29, 57, 115))):
        spec = codecs.spec(name)
        assert round(spec.bitrate_kbps, 2 if kbps < 1 else 1) == kbps, name
        assert tuple(round(spec.frame_rate / s) for s in spec.codebook_strides) == rates, name


def test_fixture_noise_seed_is_the_codecs_default(codec_fixture):
    """The fixtures ran upstream after torch.manual_seed(weight_seed(name)): the seed a loaded codec uses."""
    for name in NAMES:
        assert codec_fixture(name).manifest["upstream"]["noise_seed"] == registry.weight_seed(name)
        assert tiny(codec_fixture, name).noise_seed == registry.weight_seed(name)
    config = codec_fixture("snac_24khz").tiny_config
    assert codecs.load("snac_24khz", config=config, random_weights=True, seed=3).noise_seed == 3


def test_noise_is_seeded_per_utterance_and_follows_the_seed(codec_fixture):
    codec = tiny(codec_fixture, "snac_24khz")
    first, second = (codec_fixture("snac_24khz").npy(f) for f in ("speech_input.npy", "input.npy"))
    alone = resynthesize_one(codec, first)
    resynthesize_one(codec, second)  # another utterance between: the noise restarts for each
    np.testing.assert_array_equal(resynthesize_one(codec, first), alone)
    other = tiny(codec_fixture, "snac_24khz", noise_seed=registry.weight_seed("snac_24khz") + 1)
    assert rel_l2(resynthesize_one(other, first), alone) > 1e-2  # another seed, other noise
    # With the noise blocks' weights at zero the seed changes nothing: it acts through the noise term only.
    quiet = []
    for seed in (1, 2):
        codec = tiny(codec_fixture, "snac_24khz", noise_seed=seed)
        for block in codec.model.noise_blocks():
            block.linear.parametrizations.weight.original0.data.zero_()
        quiet.append(resynthesize_one(codec, first))
    np.testing.assert_array_equal(*quiet)


def test_noise_draws_are_upstreams_global_generator_draws_on_the_cpu():
    block = snac_model.NoiseBlock(3)
    x = torch.randn(1, 3, 10)
    block.generator = torch.Generator().manual_seed(5)
    seeded = block(x)
    block.generator = None
    torch.manual_seed(5)
    np.testing.assert_array_equal(block(x).detach().numpy(), seeded.detach().numpy())


def test_codes_run_at_their_own_rates_and_inputs_pad_to_whole_windows(codec_fixture):
    # 24 kHz: padded to hop 512 × lcm(4, no window) = 2048 samples; 44.1 kHz: to 384 × lcm(8, 32) = 12288 samples.
    for name, n, frames in (("snac_24khz", 1000, [1, 2, 4]), ("snac_24khz", 2049, [2, 4, 8]),
                            ("snac_44khz", 1000, [4, 8, 16, 32]), ("snac_44khz", 12289, [8, 16, 32, 64])):
        codec = tiny(codec_fixture, name)
        wave = np.resize(codec_fixture(name).npy("input.npy"), n)
        codes = codec.encode(torch.from_numpy(wave))
        assert [c.shape[0] for c in codes] == frames, (name, n)
        assert all(int(c.max()) < 64 for c in codes)
    assert codecs.load("snac_44khz", random_weights=True, device="meta").model.pad_to == 12288


def test_length_rule_keeps_the_input_length_on_real_clips(codec_fixture, demo_dir):
    codec = tiny(codec_fixture, "snac_24khz")
    for utterance in ("p225_273", "p318_114"):
        wave, rate = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
        wave = resample(wave[: rate // 2], rate, 24000)
        out = resynthesize_one(codec, wave)
        assert out.shape == wave.shape and codec.output_length(wave.shape[0]) == wave.shape[0]


def test_config_of_another_rate_or_hop_is_refused(codec_fixture):
    config = dict(codec_fixture("snac_24khz").tiny_config, sampling_rate=32000)
    with pytest.raises(CodecConfigError, match=r"^snac_24khz: the config describes 32000 Hz, hop 512, 3 codebooks; "
                                               r"this codec runs at 24000 Hz"):
        codecs.load("snac_24khz", config=config, random_weights=True)
    with pytest.raises(CodecConfigError, match=r"`noise_seed` must be an integer, got 'x'"):
        codecs.load("snac_24khz", config=codec_fixture("snac_24khz").tiny_config, random_weights=True,
                    noise_seed="x")


def test_checkpoint_of_another_model_names_the_file_and_the_key(fake_hub, codec_fixture):
    fixture = codec_fixture("snac_24khz")
    weights = fixture.weights()
    del weights["decoder.model.0.bias"]
    fake_hub.add("hubertsiuzdak/snac_24khz", {"config.json": json.dumps(fixture.tiny_config),
                                              "pytorch_model.bin": torch_save_bytes(weights)})
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin does not match.*missing keys: decoder\.model\.0"):
        codecs.load("snac_24khz")


def test_local_attention_matches_a_plain_per_window_attention():
    """The einops-free rearranges: attention inside each window equals attention run on that window alone."""
    torch.manual_seed(0)
    attention = snac_blocks.LocalMHA(dim=128, window_size=4).eval()
    x = torch.randn(2, 128, 12)
    with torch.no_grad():
        whole = attention(x)
        for w in range(3):
            np.testing.assert_allclose(whole[..., 4 * w: 4 * w + 4].numpy(),
                                       attention(x[..., 4 * w: 4 * w + 4]).numpy(), rtol=1e-5, atol=1e-5)


def test_a_random_weight_build_loads_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build --random_weights` on a small VCTK tree (the tiny config), read back by `load_dataset`."""
    import datasets
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", "snac_24khz", random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and "snac_24khz" in report.complete
    name = "snac_24khz"
    rows = datasets.load_dataset(str(tmp_path / "out"), name, split="train", cache_dir=str(tmp_path / "cache"))
    fakes = rows.filter(lambda row: row["codec"] == name)
    assert len(fakes) > 0 and fakes[0]["audio"]["sampling_rate"] == codecs.spec(name).sample_rate
    for key, value in zip(("quantizer", "auxiliary", "decoder"), ("multi-codebook", "none", "time"), strict=True):
        assert {rows.features[key].int2str(v) for v in fakes[key]} == {value}, key


# -- the family's tester (tests/codec_tester.py) --------------------------------------------------------------------


def _search(vq, latents):
    """Upstream's search space: the l2-normalised projected latent against the l2-normalised codebook."""
    return F.normalize(latents.transpose(1, 2), dim=-1), F.normalize(vq.codebook.weight, dim=-1)


def _impose(vq, args, result, codes):
    return vq.decode_code(codes), codes


_SOURCE = ("snac 1.2.1 (hubertsiuzdak/snac): `SNAC(**config.json)` built on the meta device; the model cards give "
           "{m} M parameters and pytorch_model.bin is {mb} MB (float32)")


class SnacTester(FamilyTester):
    family = "snac"
    architecture_key = ("encoder_dim",)
    quantiser = Quantiser(
        where=lambda: (snac_model.VectorQuantize, "decode_latents"),
        stages=lambda codec: list(codec.model.quantizer.quantizers),
        search=_search,
        chosen=lambda result: result[1],
        impose=_impose,
        span=lambda vq: vq.stride,
    )
    facts = {
        "snac_24khz": OfficialFacts(
            source=_SOURCE.format(m=19.8, mb=79.5) + "; DESIGN.md records 19,842,914 parameters",
            parameters=19_842_914, tensors=269,
            shapes={"encoder.block.0.parametrizations.weight.original1": (48, 1, 7),
                    "quantizer.quantizers.0.codebook.weight": (4096, 8),
                    "decoder.model.1.parametrizations.weight.original1": (1024, 768, 1)},
            config={"sampling_rate": 24000, "hop_length": 512, "latent_dim": 768, "vq_strides": (4, 2, 1),
                    "attn_window_size": None}),
        **{name: OfficialFacts(
            source=_SOURCE.format(m=54.5, mb=218) + " (54,546,338 parameters + two rotary inv_freq buffers)",
            parameters=54_546_402, tensors=286,
            shapes={"encoder.block.5.to_qkv.weight": (3072, 1024), "encoder.block.5.rel_pos.inv_freq": (32,),
                    "quantizer.quantizers.3.codebook.weight": (4096, 8),
                    "decoder.model.1.parametrizations.weight.original1": (1536, 1024, 1)},
            config={"sampling_rate": rate, "hop_length": 384, "latent_dim": 1024, "vq_strides": (8, 4, 2, 1),
                    "attn_window_size": 32})
            for name, rate in (("snac_32khz", 32000), ("snac_44khz", 44100))},
    }

    def config_value(self, codec, key):
        return getattr(codec.model, key)

    def hub_layout(self, name, fixture):
        return {"config.json": json.dumps(fixture.tiny_config),
                "pytorch_model.bin": torch_save_bytes(fixture.weights())}, "pytorch_model.bin"


TESTER = SnacTester()
