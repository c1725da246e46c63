"""The codec configs beyond the CodecFake paper that run on transformers models (EnCodec's other bitrates and
48 kHz model, Mimi, X-Codec): their quirks. Tiny random-weight configs (tests/tiny_configs.py); official key/shape
sets from the official configs built on the meta device.

Parity with transformers' own feature extractor + model (the generated fixtures' reference outputs and codes),
batches and lengths: tests/test_codec_contract.py, as for every registered config.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import rel_l2
from safetensors.torch import load as load_bytes
from safetensors.torch import save, save_file
from tiny_configs import tiny_config

from codecfake_hf import codecs
from codecfake_hf.codecs import mimi, transformers_weights, xcodec
from codecfake_hf.errors import CheckpointError, WeightsUnavailableError

NEW = [n for n in codecs.names() if codecs.spec(n).family in ("mimi", "xcodec")
       or n.startswith(("encodec_24khz_", "encodec_48khz_"))]


def tiny(name: str, seed: int = 0, **options):
    torch.manual_seed(seed)
    return codecs.load(name, config=tiny_config(name), random_weights=True, **options)


def speechlike(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * (150 + 40 * seed) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def test_at_least_32_configs_and_every_new_one_is_here():
    assert len(codecs.names()) >= 32
    assert len(NEW) == 20


@pytest.mark.parametrize("name", NEW)
def test_bitrate_is_codebooks_times_bits_times_frame_rate(name):
    s = codecs.spec(name)
    assert s.n_codebooks * np.log2(s.codebook_size) * s.frame_rate / 1000 == pytest.approx(s.bitrate_kbps)
    with torch.device("meta"):  # the config as built, shapes only
        codec = codecs.registry.family(name).build(s, tiny_config(name), None, device="meta")
    assert codec.model.config.codebook_size == s.codebook_size


# -- codebooks per option, and EnCodec 48 kHz's channels ---------------------------------------------------------

@pytest.mark.parametrize("name", ["encodec_24khz", "encodec_48khz_6kbps", "mimi-nq8", "xcodec-hubert-librispeech-nq8"])
def test_random_weights_draw_codebooks_so_that_codes_follow_the_input(name):
    """transformers initialises these codebooks to zeros: random weights would code every frame as 0."""
    codec = codecs.load(name, config=tiny_config(name), random_weights=True, seed=3)
    books = [m for m in codec.model.modules() if type(m).__name__.endswith("EuclideanCodebook")]
    used = [book for book in books if bool(book.embed.abs().sum())]
    assert len(used) >= codec.spec.n_codebooks  # every stage the bitrate uses (unused ones may keep zeros)
    assert all(torch.unique(book.embed, dim=0).shape[0] == book.embed.shape[0] for book in used)
    first = used[0]
    codes = []
    for seed in (1, 2):  # the first stage's choices, through transformers' own quantiser, on two inputs
        wave = torch.from_numpy(speechlike(codec.sample_rate // 2, seed))
        chosen: list[torch.Tensor] = []
        first.encode = lambda hidden, chosen=chosen: chosen.append(type(first).encode(first, hidden)) or chosen[-1]
        try:
            codec.resynthesize(wave[None], torch.tensor([wave.shape[0]]))
        finally:
            del first.encode
        codes.append(torch.cat([c.flatten() for c in chosen]))
    assert all(len(torch.unique(c)) > 1 for c in codes)  # not one codeword for every frame
    assert not torch.equal(codes[0], codes[1])
    again = codecs.load(name, config=tiny_config(name), random_weights=True, seed=3).model.state_dict()
    assert all(torch.equal(value, again[key]) for key, value in codec.model.state_dict().items())


def test_mimi_encodes_num_quantizers_codebooks():
    wave = speechlike(3 * 1920 + 77, 1)
    assert tiny("mimi-nq8").encode(torch.from_numpy(wave)).shape == (8, 4)
    assert tiny("mimi-nq32").encode(torch.from_numpy(wave)).shape == (32, 4)
    with pytest.raises(ValueError, match="num_quantizers=33"):
        tiny("mimi-nq8", num_quantizers=33)


def test_xcodec_bandwidth_picks_the_codebooks():
    wave = torch.from_numpy(speechlike(4 * 320 + 5, 2))
    assert tiny("xcodec-hubert-librispeech-nq8").encode(wave).shape[0] == 8
    assert tiny("xcodec-hubert-librispeech-nq1").encode(wave).shape[0] == 1
    with pytest.raises(ValueError, match="bandwidth=3 kbps is not one"):
        tiny("xcodec-hubert-librispeech-nq1", bandwidth=3)


def test_encodec_48khz_feeds_mono_as_both_channels_and_averages_them():
    """The stereo model gets the mono utterance as both channels; the two decoded channels differ, and the
    output is their mean (the contract test compares the same with the reference of tests/tiny_configs.py)."""
    codec = tiny("encodec_48khz_6kbps")
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
    codec = tiny(name)
    assert (codec.bandwidth, codec.n_codebooks) == (kbps, nq)
    wave = speechlike(9 * 320, 4)
    assert codec.encode(torch.from_numpy(wave)[None], torch.tensor([len(wave)])).shape[1] == nq


# -- official key/shape sets (official configs, meta device) ---------------------------------------------------

def test_mimi_official_checkpoint_layout():
    shapes = transformers_weights.meta_shapes(lambda: mimi.codec.make_model(mimi.default_config(codecs.spec("mimi"))))
    # The Hub file keeps the original flat layout; transformers 5 renames it into encoder/decoder halves on load.
    # 350 tensors, 96.15 M values (weights and codebook buffers) as built from the config here.
    assert len(shapes) == 350 and sum(int(np.prod(s)) for s in shapes.values()) == 96_151_393
    assert shapes["encoder.layers.0.conv.weight"] == (64, 1, 7)
    assert shapes["downsample.conv.weight"] == (512, 512, 4)
    assert shapes["upsample.conv.weight"] == (512, 1, 4)
    assert shapes["quantizer.semantic_residual_vector_quantizer.layers.0.codebook.embed_sum"] == (2048, 256)
    assert len([k for k in shapes if k.startswith("quantizer.acoustic_residual_vector_quantizer.layers.")
                and k.endswith("embed_sum")]) == 31
    assert not any(k.startswith(("encoder.encoder_seanet", "decoder.decoder_seanet")) for k in shapes)


@pytest.mark.parametrize(("name", "semantic_keys"), [
    ("xcodec-hubert-librispeech-nq8", "semantic_model.encoder.pos_conv"), ("xcodec-wavlm-mls-nq8", "rel_attn_embed")])
def test_xcodec_official_checkpoint_layout(name, semantic_keys):
    spec = codecs.spec(name)
    shapes = transformers_weights.meta_shapes(lambda: xcodec.codec.make_model(xcodec.default_config(spec)))
    assert any(semantic_keys in k for k in shapes)
    assert shapes["fc.weight"] == (1024, 1024)  # DAC latent 256 + semantic 768
    assert shapes["quantizer.quantizers.0.codebook.embed"] == (1024, 1024)
    assert len([k for k in shapes if k.endswith("codebook.embed")]) == 8
    assert shapes["semantic_model.encoder.layers.11.final_layer_norm.weight"] == (768,)


def test_encodec_48khz_official_config_builds_the_stereo_group_normed_model():
    codec = codecs.load("encodec_48khz_24kbps", random_weights=True)
    config = codec.model.config
    facts = (config.audio_channels, config.chunk_length, config.chunk_stride, config.normalize)
    assert facts == (2, 48000, 47520, True)
    keys = codec.model.state_dict()
    # time_group_norm: plain convolutions, each followed by a GroupNorm (no weight norm, unlike 24 kHz)
    assert keys["encoder.layers.0.conv.weight"].shape == (32, 2, 7) and "encoder.layers.0.norm.weight" in keys
    assert codec.n_codebooks == 16 and codec.model.quantizer.num_quantizers == 16


# -- official weights: the Hub cache layout, offline -----------------------------------------------------------

def _hub_files(codec) -> dict[str, bytes]:
    """config.json and model.safetensors as `save_pretrained` writes them (the checkpoint layout)."""
    state = {k: v.contiguous() for k, v in transformers_weights.to_checkpoint(codec.model).items()}
    return {"config.json": json.dumps(codec.model.config.to_dict()).encode(), "model.safetensors": save(state)}


@pytest.mark.parametrize("name", ["mimi-nq32", "xcodec-wavlm-mls-nq1"])
def test_loads_the_checkpoint_layout_from_the_hub_cache_offline(name, fake_hub):
    reference = tiny(name, seed=3)
    files = _hub_files(reference)
    if name.startswith("mimi"):  # the flat layout of kyutai/mimi, not transformers 5's module names
        keys = json.loads(files["model.safetensors"][8: 8 + int.from_bytes(files["model.safetensors"][:8], "little")])
        assert "encoder.layers.0.conv.weight" in keys and "encoder_transformer.layers.0.mlp.fc1.weight" in keys
    fake_hub.add(codecs.spec(name).hub_repo, files)
    codec = codecs.load(name)
    assert not codec.random_weights
    wave = speechlike(3000, 5)
    assert torch.equal(codec.resynthesize(wave[None], [3000])[0], reference.resynthesize(wave[None], [3000])[0])


def test_a_checkpoint_with_a_missing_tensor_is_named(fake_hub, tmp_path):
    files = _hub_files(tiny("mimi-nq8"))
    state = load_bytes(files["model.safetensors"])
    state.pop("downsample.conv.weight")
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    fake_hub.add("kyutai/mimi", {"config.json": files["config.json"], "model.safetensors": path})
    with pytest.raises(CheckpointError, match=r"missing keys: encoder\.downsample\.conv\.weight"):
        codecs.load("mimi-nq8")


def test_missing_weights_offline_name_the_repo_and_the_fix(fake_hub):
    with pytest.raises(WeightsUnavailableError, match=r"hf-audio/xcodec-hubert-general/config\.json.*hf download"):
        codecs.load("xcodec-hubert-general-nq1")


def test_weight_norm_in_either_naming_loads_and_folds():
    # HuBERT's positional convolution is weight-normed: files name it weight_g/weight_v (legacy) or
    # parametrizations.weight.original0/1; a file that weight-norms a convolution the model keeps plain is folded.
    name = "xcodec-hubert-librispeech-nq8"
    reference = tiny(name, seed=5)
    state = transformers_weights.to_checkpoint(reference.model)
    assert "semantic_model.encoder.pos_conv_embed.conv.parametrizations.weight.original0" in state
    legacy = {k.replace("parametrizations.weight.original0", "weight_g")
              .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    weight = legacy.pop("acoustic_encoder.conv1.weight")
    legacy["acoustic_encoder.conv1.weight_g"] = weight.norm(dim=(1, 2), keepdim=True)
    legacy["acoustic_encoder.conv1.weight_v"] = weight
    codec = codecs.load(name, config=tiny_config(name), state_dict=legacy)
    wave = speechlike(2000, 6)
    assert rel_l2(codec.resynthesize(wave[None], [2000])[0], reference.resynthesize(wave[None], [2000])[0]) <= 1e-6
