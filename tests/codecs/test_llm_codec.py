"""LLM-Codec (UniAudio 1.5; yangdongchao/LLM-Codec, Dongchao/2024 semantic_acoustic.pth): its quirks (frozen
codebooks of two sizes at three rates, seeded decoder noise, padding to whole attention windows, the checkpoint's
`codec_model` entry, the codebook shapes read off the file, the official config).

Parity with the upstream code (the fixture made by tests/fixtures/make_llm_codec_fixture.py), batches, the offline
Hub and the official architecture facts: tests/test_codec_contract.py.
"""

from __future__ import annotations

import math

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
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.codecs.llm_codec import codec as llm_codec
from codecfake_hf.codecs.llm_codec import model as llm_model
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "llm_codec_16khz"


@pytest.fixture
def fixture(codec_fixture):
    return codec_fixture(NAME)


def tiny(fixture, **options):
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), **options)


def test_cors_names_and_the_released_config():
    """CoRS's `llm_codec` is this config; config.yaml's generator.config, as published (commit b162928)."""
    assert codecs.resolve("llm_codec") == codecs.resolve("LLM-Codec") == NAME
    assert registry.family(NAME).default_config(codecs.spec(NAME)) == {
        "encoder_dim": 32, "sample_rate": 16000, "encoder_rates": [3, 4, 5, 8], "latent_dim": 512,
        "decoder_dim": 1536, "decoder_rates": [8, 5, 4, 3], "vq_strides": [4, 2, 1], "noise": True,
        "depthwise": True, "use_cblinear": True, "attn_window_size": 8, "local_embedding_path": "embed_llama2.pt",
        "global_embedding_path": "layer1.pth"}


def test_bitrate_counts_each_codebook_at_its_own_size_and_rate():
    """Hand computation: 3248 words at 16000 / 480 / 4 Hz, 32000 tokens at / 2 and / 1: 0.8455 kbps, 58.3 codes a
    second."""
    spec = codecs.spec(NAME)
    frame_rate = 16000 / 480
    expected = (math.log2(3248) / 4 + math.log2(32000) / 2 + math.log2(32000)) * frame_rate / 1000
    assert spec.bitrate_kbps == pytest.approx(expected) == pytest.approx(0.84550, abs=1e-5)
    assert spec.codes_per_frame * frame_rate == pytest.approx(58.33, abs=0.01)
    assert spec.license == "" and "Llama 2 Community License" in spec.notes


def test_fixture_noise_seed_is_the_codecs_default(fixture):
    """The fixture ran upstream after torch.manual_seed(weight_seed(name)): the seed a loaded codec uses."""
    assert fixture.manifest["upstream"]["noise_seed"] == registry.weight_seed(NAME)
    assert tiny(fixture).noise_seed == registry.weight_seed(NAME)
    assert codecs.load(NAME, config=fixture.tiny_config, random_weights=True, seed=3).noise_seed == 3


def test_noise_is_seeded_per_utterance_and_follows_the_seed(fixture):
    codec = tiny(fixture)
    first, second = fixture.npy("speech_input.npy"), fixture.npy("input.npy")
    alone = resynthesize_one(codec, first)
    resynthesize_one(codec, second)  # another utterance between: the noise restarts for each
    np.testing.assert_array_equal(resynthesize_one(codec, first), alone)
    other = tiny(fixture, noise_seed=registry.weight_seed(NAME) + 1)
    assert rel_l2(resynthesize_one(other, first), alone) > 1e-3  # another seed, other noise
    # With the noise blocks' weights at zero the seed changes nothing: it acts through the noise term only.
    quiet = []
    for seed in (1, 2):
        codec = tiny(fixture, noise_seed=seed)
        for block in codec.model.noise_blocks():
            block.linear.weight_g.data.zero_()
        quiet.append(resynthesize_one(codec, first))
    np.testing.assert_array_equal(*quiet)


def test_codes_run_at_three_rates_over_codebooks_of_two_sizes(fixture):
    # padded to hop 480 × lcm(4, window 8) = 3840 samples: 8 latent frames a window
    codec = tiny(fixture)
    for n, frames in ((1000, [2, 4, 8]), (3841, [4, 8, 16])):
        codes = codec.encode(torch.from_numpy(np.resize(fixture.npy("input.npy"), n)))
        assert [c.shape[0] for c in codes] == frames, n
    speech = codec.encode(torch.from_numpy(fixture.npy("speech_input.npy")))
    assert [int(c.max()) < size for c, size in zip(speech, (48, 80, 80), strict=True)] == [True] * 3
    assert int(speech[1].max()) >= 48  # the local codebook's words beyond the global one's size are used
    assert codec.model.pad_to == 3840
    with torch.device("meta"):  # the official config's model, shapes only
        official = registry.family(NAME).build(codecs.spec(NAME), llm_codec.default_config(codecs.spec(NAME)), None,
                                               runtime=Runtime(device="meta")).model
    assert official.pad_to == 3840
    assert [q.codebook.weight.shape[0] for q in official.quantizer.quantizers] == list(codecs.spec(NAME).codebook_sizes)


def test_decode_of_the_codes_is_the_reconstruction(fixture):
    """`decode(encode(x))` (the codes' sum of projected codewords, upstream's `from_codes`) is `forward`'s output,
    which decodes the quantiser's own sum: the codes carry everything the decoder sees."""
    codec = tiny(fixture)
    wave = fixture.npy("speech_input.npy")
    decoded = codec.decode(codec.encode(torch.from_numpy(wave)))[: wave.shape[0]].numpy()
    assert rel_l2(decoded, resynthesize_one(codec, wave)) <= 1e-5


def test_projected_codebook_is_cached_only_inside_the_block(fixture):
    codec = tiny(fixture)
    quantizer = codec.model.quantizer
    stage = quantizer.quantizers[1]
    with torch.no_grad(), quantizer.projected():
        cached = stage.projected_codebook()
        assert cached is stage.projected_codebook()  # one projection per block
        np.testing.assert_array_equal(cached.numpy(), stage.cb_proj(stage.codebook.weight).numpy())
    assert stage._projected is None


def test_length_rule_keeps_the_input_length_on_real_clips(fixture, demo_dir):
    codec = tiny(fixture)
    for utterance in ("p225_273", "p318_114"):
        wave, rate = sf.read(demo_dir / f"genuine+{utterance}.wav", dtype="float32")
        wave = resample(wave[: rate // 2], rate, 16000)
        out = resynthesize_one(codec, wave)
        assert out.shape == wave.shape and codec.output_length(wave.shape[0]) == wave.shape[0]


@pytest.mark.parametrize(("change", "message"), [
    ({"sample_rate": 24000}, r"^llm_codec_16khz: the config describes 24000 Hz, hop 480, 3 codebooks; this codec "
                             r"runs at 16000 Hz"),
    ({"use_cblinear": False}, r"`use_cblinear` false \(no codebook projection\) is not built here"),
    ({"latent_dim": 32}, r"`latent_dim` 32 is not the encoder's output width encoder_dim × 2\^4 = 64"),
    ({"vq_strides": [4, 2, 1, 1]}, r"more than three codebooks"),
    ({"decoder_dim": 48}, r"must be multiples of the 64-wide attention heads"),
])
def test_config_the_upstream_code_cannot_run_is_refused(fixture, change, message):
    with pytest.raises(CodecConfigError, match=message):
        codecs.load(NAME, config={**fixture.tiny_config, **change}, random_weights=True)


def test_noise_seed_must_be_an_integer(fixture):
    with pytest.raises(CodecConfigError, match=r"`noise_seed` must be an integer, got 'x'"):
        codecs.load(NAME, config=fixture.tiny_config, random_weights=True, noise_seed="x")


def test_download_takes_the_codebook_shapes_from_the_file(fake_hub, fixture, monkeypatch):
    """Upstream reads its codebooks' shapes from the embedding files it loads the checkpoint over; here from the
    checkpoint's own codebooks, so the file loads whatever those shapes are."""
    monkeypatch.setattr(llm_codec, "OFFICIAL_CONFIG", {k: v for k, v in fixture.tiny_config.items()
                                                       if not k.endswith("_codebook_shape")})
    files, _ = TESTER.hub_layout(NAME, fixture)
    fake_hub.add("Dongchao/2024", files)
    config, state = registry.family(NAME).download(codecs.spec(NAME))
    assert (config["global_codebook_shape"], config["local_codebook_shape"]) == ([48, 16], [80, 16])
    assert state.keys() == fixture.weights().keys()


def test_checkpoint_without_codec_model_or_of_another_model_is_named(fake_hub, fixture, monkeypatch):
    TESTER.official_config_is_tiny(monkeypatch, NAME, fixture)
    fake_hub.add("Dongchao/2024", {"semantic_acoustic.pth": torch_save_bytes({"generator": fixture.weights()})})
    with pytest.raises(CheckpointError, match=r"semantic_acoustic\.pth has no `codec_model` state dict \(found: "
                                              r"generator\)"):
        codecs.load(NAME)
    weights = fixture.weights()
    del weights["decoder.model.0.bias"]
    fake_hub.add("Dongchao/2024", {"semantic_acoustic.pth": torch_save_bytes({"codec_model": weights})})
    with pytest.raises(CheckpointError, match=r"semantic_acoustic\.pth does not match.*missing keys: "
                                              r"decoder\.model\.0\.bias"):
        codecs.load(NAME)


def test_attention_is_written_out_as_upstream_writes_it(fixture):
    """LLM-Codec's attention is `softmax(q kᵀ / √d) v` written out (SNAC's calls the fused kernel): same result to
    rounding, and the codec's modules run the written-out one."""
    codec = tiny(fixture)
    attention = codec.model.encoder.block[5]
    assert attention.fused_attention is False and codec.model.decoder.model[2].fused_attention is False
    x = torch.randn(1, 64, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        written = attention(x)
        attention.fused_attention = True
        fused = attention(x)
    assert rel_l2(written.numpy(), fused.numpy()) < 1e-6
    assert not torch.equal(written, x)


def test_a_random_weight_build_loads_back_with_the_taxonomy_columns(tmp_path, demo_dir, codec_fixture):
    """`builder build --random_weights` on a small VCTK tree (the tiny config), read back by `load_dataset`."""
    import datasets
    from test_builder import TinyCodecs, config_for
    from test_corpus import make_vctk_tree

    from builder import build

    source = make_vctk_tree(tmp_path / "VCTK-0.92", demo_dir, "0.92")
    report = build(config_for(source, tmp_path / "out", "llm_codec", random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and NAME in report.complete
    rows = datasets.load_dataset(str(tmp_path / "out"), NAME, split="train", cache_dir=str(tmp_path / "cache"))
    fakes = rows.filter(lambda row: row["codec"] == NAME)
    assert len(fakes) > 0 and fakes[0]["audio"]["sampling_rate"] == 16000
    for key, value in zip(("quantizer", "auxiliary", "decoder"), ("multi-codebook", "semantic-distillation", "time"),
                          strict=True):
        assert {rows.features[key].int2str(v) for v in fakes[key]} == {value}, key


# -- the family's tester (tests/codec_tester.py) --------------------------------------------------------------------


def _search(vq, latents):
    """Upstream's search space: the l2-normalised latent against the l2-normalised projected codebook."""
    return F.normalize(latents.transpose(1, 2), dim=-1), F.normalize(vq.projected_codebook(), dim=-1)


def _impose(vq, args, result, codes):
    return vq.decode_code(codes), codes


# Upstream MSCodecLM(**config.yaml) on the meta device (tests/fixtures/make_llm_codec_fixture.py prints these and
# records its keys and shapes in the fixture manifest): 46,089,666 parameters of encoder, decoder and projections,
# 275,447,808 codebook entries (2 × 32000 × 4096 LLaMA-2 token embeddings + 3248 × 4096 words) and two rotary
# inv_freq buffers of 32: 321,537,538 in 267 tensors.
_SOURCE = ("yangdongchao/LLM-Codec b162928: MSCodecLM(**config.yaml generator.config) built on the meta device, its "
           "embedding files read as LLaMA-2 7B's token embeddings [32000, 4096] (Llama-2-7b-hf config.json) and "
           "layer1.npy's 3248 words at width 4096 (assumed: layer1.pth is not readable here); the checkpoint "
           "semantic_acoustic.pth itself could not be read from here")


class LLMCodecTester(FamilyTester):
    family = "llm_codec"
    architecture_key = ("encoder_dim",)
    quantiser = Quantiser(
        where=lambda: (llm_model.VectorQuantizeLLM, "decode_latents"),
        stages=lambda codec: list(codec.model.quantizer.quantizers),
        search=_search,
        chosen=lambda result: result[1],
        impose=_impose,
        span=lambda vq: vq.stride,
    )
    facts = {
        NAME: OfficialFacts(
            source=_SOURCE, parameters=321_537_538, tensors=267,
            shapes={"encoder.block.0.weight_v": (32, 1, 7), "encoder.block.5.to_qkv.weight": (1536, 512),
                    "quantizer.quantizers.0.codebook.weight": (3248, 4096),
                    "quantizer.quantizers.2.codebook.weight": (32000, 4096),
                    "quantizer.quantizers.1.cb_proj.weight": (512, 4096),
                    "decoder.model.1.weight_v": (1536, 512, 1), "decoder.model.2.to_qkv.weight": (4608, 1536)},
            config={"sampling_rate": 16000, "hop_length": 480, "latent_dim": 512, "vq_strides": (4, 2, 1),
                    "attn_window_size": 8, "pad_to": 3840}),
    }

    def config_value(self, codec, key):
        return getattr(codec.model, key)

    def hub_layout(self, name, fixture):
        return {"semantic_acoustic.pth": torch_save_bytes({"codec_model": fixture.weights()})}, "semantic_acoustic.pth"

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        monkeypatch.setattr(llm_codec, "OFFICIAL_CONFIG", fixture.tiny_config)


TESTER = LLMCodecTester()
