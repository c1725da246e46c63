"""The codec registry: the 15 configs of the paper, names, aliases, register() and load()'s arguments."""

import dataclasses
import logging
import math

import pytest

from codecfake_hf import UnknownCodecError, codecs
from codecfake_hf.codecs import registry
from codecfake_hf.errors import BackendNotBuiltError, CodecConfigError


def test_all_fifteen_paper_configs_are_registered_with_their_fixture_facts(codec_fixture):
    assert len(registry.RELEASE_NAMES) == 15 and list(registry.RELEASE_NAMES) == codecs.names()[:15]
    for name in registry.RELEASE_NAMES:
        usage = codec_fixture(name).manifest["codecfake_usage"]
        s = codecs.spec(name)
        assert (s.sample_rate, s.hop_length, s.n_codebooks) == (
            usage["sample_rate"], usage["hop_length"], usage["n_codebooks_used"]), name
        assert s.bitrate_kbps == pytest.approx(usage["bitrate_kbps"], rel=1e-3), name


def test_aliases_and_case_resolve_to_release_names():
    assert codecs.resolve("ENCODEC") == "encodec_24khz"
    assert codecs.spec("dac_44khz").name == "descript-audio-codec-44khz"
    assert codecs.parse_codec_list("encodec, dac16,encodec_24khz") == ["encodec_24khz", "descript-audio-codec-16khz"]
    assert codecs.parse_codec_list("all") == codecs.names()


def test_unknown_codec_names_valid_ones_and_suggests():
    with pytest.raises(UnknownCodecError) as info:
        codecs.spec("encodec_24kh")
    message = str(info.value)
    # the closest first, each once (not per alias), then the other bitrates of EnCodec
    assert "Unknown codec 'encodec_24kh'. Did you mean 'encodec_24khz', 'encodec_24khz_24kbps'," in message
    assert "descript-audio-codec-16khz" in message and "'all'" in message
    with pytest.raises(UnknownCodecError, match="No codec named"):
        codecs.parse_codec_list(" , ")
    with pytest.raises(UnknownCodecError, match=r"Did you mean 'encodec_24khz', ") as info:
        codecs.spec("encodecc")
    assert str(info.value).count("'encodec_24khz'") == 1  # suggested once, though two aliases match


@pytest.fixture
def registered():
    """`registered(spec)` adds `spec` to the registry for one test, then removes it."""
    added = []

    def add(spec):
        added.append(codecs.register(spec).name)
        return spec

    yield add
    for name in added:
        registry._unregister(name)


def test_family_not_built_says_so(registered):
    registered(dataclasses.replace(codecs.spec("encodec_24khz"), name="future_codec", family="not_written_yet",
                                   aliases=()))
    with pytest.raises(BackendNotBuiltError, match="'future_codec' is registered, but its 'not_written_yet'"):
        codecs.load("future_codec", random_weights=True)


def test_registry_is_read_only_and_register_keeps_aliases_right(registered):
    with pytest.raises(TypeError):
        codecs.REGISTRY["x"] = codecs.spec("encodec_24khz")  # type: ignore[index]
    base = codecs.spec("encodec_24khz")
    new = registered(dataclasses.replace(base, name="encodec_48khz_test", aliases=("E48",)))
    assert codecs.names()[-1] == "encodec_48khz_test" and codecs.spec("e48") is new
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        codecs.register(new)
    with pytest.raises(ValueError, match=r"'encodec' \(by 'encodec_24khz'\)"):  # an alias of another entry
        codecs.register(dataclasses.replace(base, name="other", aliases=("ENCODEC",)))
    assert "other" not in codecs.REGISTRY
    codecs.register(dataclasses.replace(new, aliases=("e48b",)), replace=True)  # the old alias goes
    assert codecs.resolve("E48B") == "encodec_48khz_test"
    with pytest.raises(UnknownCodecError):
        codecs.resolve("e48")


def test_taxonomy_and_bitrate_of_every_config():
    """CodecFake+ taxonomy (arXiv 2501.08238) and bitrate = codebooks x log2(codebook size) x frame rate."""
    for name in codecs.names():
        s = codecs.spec(name)
        assert s.bitrate_kbps == pytest.approx(
            s.n_codebooks * math.log2(s.codebook_size) * s.frame_rate / 1000, abs=5e-4), name
        assert s.quantizer in ("multi-codebook", "scalar"), name
    # CodecFake+'s scalar cell (QS 3): the finite-scalar-quantiser codecs
    assert {codecs.spec(n).family for n in codecs.names() if codecs.spec(n).quantizer == "scalar"} == {"nemo_codec"}
    assert codecs.spec("descript-audio-codec-44khz").frame_rate == 44100 / 512
    assert [n for n in registry.RELEASE_NAMES if codecs.spec(n).auxiliary != "none"] == ["SpeechTokenizer"]
    # beyond the paper: Mimi and the Qwen3-TTS tokenizer on Mimi's encoder (its first codebook distilled from WavLM)
    # and X-Codec (semantic features in the RVQ)
    assert {codecs.spec(n).family for n in codecs.names()[15:]
            if codecs.spec(n).auxiliary == "semantic-distillation"} == {"mimi", "qwen3_tts_tokenizer", "xcodec"}
    assert codecs.spec("SpeechTokenizer").auxiliary == "semantic-distillation"
    assert [n for n in codecs.names() if codecs.spec(n).decoder == "frequency"] == [
        "funcodec-funcodec_en_libritts-16k-gr1nq32ds320", "funcodec-funcodec_en_libritts-16k-gr8nq32ds320"]
    with pytest.raises(ValueError, match="quantizer='vq'; valid: multi-codebook, single-codebook, scalar"):
        dataclasses.replace(codecs.spec("encodec_24khz"), quantizer="vq")


def test_load_argument_combinations_are_checked():
    with pytest.raises(CodecConfigError, match="either `state_dict` or `random_weights=True`"):
        codecs.load("encodec_24khz", state_dict={}, random_weights=True)
    with pytest.raises(CodecConfigError, match="a `config` without a `state_dict`"):
        codecs.load("encodec_24khz", config={})


@pytest.mark.parametrize("state_dict, message", [
    ("weights/model.safetensors", r"`state_dict` is a path \('weights/model.safetensors'\), not the weights"),
    ([1, 2], "`state_dict` is a list; expected a mapping"),
    ({"encoder.weight": [0.1, 0.2]}, r"`state_dict\['encoder.weight'\]` is a list, not a tensor"),
    ({"generator": {"step": 5}}, "`state_dict` holds no tensors"),
])
def test_state_dict_that_is_not_tensors_is_one_error(state_dict, message):
    with pytest.raises(CodecConfigError, match=message) as info:
        codecs.load("SpeechTokenizer", state_dict=state_dict)
    assert str(info.value).startswith("SpeechTokenizer: ")


def test_random_weights_are_never_silent(codec_fixture, caplog):
    import json

    config = json.loads((codec_fixture("encodec_24khz").tiny_dir / "config_transformers.json").read_text())
    with caplog.at_level(logging.WARNING):
        codec = codecs.load("encodec_24khz", config=config, random_weights=True)
    assert codec.random_weights is True
    assert "RANDOM weights" in caplog.text
    assert "random weights" in repr(codec)


def _state_digest(codec) -> str:
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(codec.model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_random_weights_are_seeded_by_name_and_seed_without_touching_the_callers_rng(codec_fixture):
    import torch

    config = codec_fixture("encodec_24khz").tiny_checkpoint_config
    torch.manual_seed(1234)
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    first = codecs.load("encodec_24khz", config=config, random_weights=True)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's generator did not move
    second = codecs.load("encodec", config=config, random_weights=True)  # an alias: the same model
    assert (first.seed, second.seed) == (0, 0)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other_seed = codecs.load("encodec_24khz", config=config, random_weights=True, seed=1)
    assert other_seed.seed == 1 and _state_digest(other_seed) != _state_digest(first)
    assert registry.weight_seed("encodec_24khz") != registry.weight_seed("descript-audio-codec-16khz")
    assert registry.weight_seed("encodec_24khz", 0) == 9150628997676625670  # a fixed number, not hash()


@pytest.mark.slow  # a fresh interpreter imports transformers (~25 s on 2 busy cores); the pinned number above
def test_random_weights_are_the_same_in_another_process(codec_fixture):  # already rules out a salted hash()
    import json
    import os
    import subprocess
    import sys

    config = codec_fixture("descript-audio-codec-16khz").tiny_checkpoint_config
    here = _state_digest(codecs.load("descript-audio-codec-16khz", config=config, random_weights=True, seed=7))
    script = (
        "import json, sys; sys.path.insert(0, 'tests'); from test_registry import _state_digest; "
        "from codecfake_hf import codecs; "
        f"print(_state_digest(codecs.load('dac_16khz', config=json.loads({json.dumps(config)!r}), "
        "random_weights=True, seed=7)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # another string-hash salt than this process's
    there = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env,
                           cwd=registry.__file__.rsplit("/codecfake_hf/", 1)[0])
    assert there.stdout.strip().splitlines()[-1] == here
