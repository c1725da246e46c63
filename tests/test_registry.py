"""The codec registry: the 15 configs of the paper, names, aliases, register() and load()'s arguments."""

import dataclasses
import logging
import math
import re
from pathlib import Path

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
    # the closest first, each once (not per alias), then other bitrates of EnCodec (CoRS's `Encodec_6b24k` is close)
    assert "Unknown codec 'encodec_24kh'. Did you mean 'encodec_24khz', 'encodec_24khz_6kbps'," in message
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
    """CodecFake+ taxonomy (arXiv 2501.08238) and bitrate = codebooks x log2(codebook size) x frame rate (codebooks at
    several rates, SNAC's: each at frame rate / its stride)."""
    for name in codecs.names():
        s = codecs.spec(name)
        if s.quantizer == "continuous":  # latents without a quantiser: no codebook, bitrate not applicable
            assert (s.n_codebooks, s.codebook_size, s.bitrate_kbps) == (0, 0, 0.0), name
            continue
        assert s.bitrate_kbps == pytest.approx(s.bits_per_frame * s.frame_rate / 1000, abs=5e-4), name
        if not s.codebook_sizes:  # one size for all: codes per frame × bits per code
            assert s.bits_per_frame == pytest.approx(s.codes_per_frame * math.log2(s.codebook_size)), name
        # CodecFake+'s single-codebook cell: one frame-level codebook (TiCodec 1g1r); a multi-codebook RVQ may be
        # run on its first codebook alone (X-Codec nq1) and stays multi-codebook.
        assert s.quantizer != "single-codebook" or s.n_codebooks == 1, name
    assert codecs.spec("snac_24khz").codes_per_frame == 1 / 4 + 1 / 2 + 1
    assert [n for n in codecs.names() if codecs.spec(n).quantizer == "continuous"] == [
        "pocket-tts-audio-tokenizer", "vibevoice-acoustic"]
    assert codecs.spec("descript-audio-codec-44khz").frame_rate == 44100 / 512
    assert [n for n in registry.RELEASE_NAMES if codecs.spec(n).auxiliary != "none"] == ["SpeechTokenizer"]
    # beyond the paper, each family has one auxiliary objective (its tester pins which, from its paper or the
    # CodecFake+ authors' labels)
    auxiliary: dict[str, set[str]] = {}
    for n in codecs.names()[15:]:
        auxiliary.setdefault(codecs.spec(n).family, set()).add(codecs.spec(n).auxiliary)
    assert all(len(values) == 1 for values in auxiliary.values()), auxiliary
    assert auxiliary["mimi"] == auxiliary["xcodec"] == {"semantic-distillation"}
    assert codecs.spec("SpeechTokenizer").auxiliary == "semantic-distillation"
    frequency = [n for n in codecs.names() if codecs.spec(n).decoder == "frequency"]
    assert frequency[:2] == ["funcodec-funcodec_en_libritts-16k-gr1nq32ds320",
                             "funcodec-funcodec_en_libritts-16k-gr8nq32ds320"]
    assert {n for n in frequency if codecs.spec(n).family == "vocos"} == {
        f"vocos_encodec_24khz_{kbps}kbps" for kbps in ("1.5", "3", "6", "12")}  # Vocos's ISTFT head
    with pytest.raises(ValueError, match="quantizer='vq'; valid: multi-codebook, single-codebook, scalar"):
        dataclasses.replace(codecs.spec("encodec_24khz"), quantizer="vq")


def test_codebooks_of_several_sizes_count_each_its_own_bits():
    """`codebook_sizes`: each codebook counts log2 of its own size at its own rate (hand computation), and the
    spec refuses sizes that do not fit its codebooks."""
    facts = {"name": "x", "family": "f", "sample_rate": 16000, "hop_length": 320, "n_codebooks": 2,
             "codebook_size": 4096, "bitrate_kbps": 0.0, "hub_repo": "r", "hub_files": (), "length_rule": "same",
             "quantizer": "multi-codebook", "auxiliary": "none", "decoder": "time"}
    s = codecs.CodecSpec(**facts, codebook_sizes=(1024, 4096), codebook_strides=(2, 1))
    assert s.bits_per_frame == 10 / 2 + 12  # 1024 words every other frame, 4096 every frame: 17 bits a frame
    assert codecs.CodecSpec(**facts).bits_per_frame == 2 * 12
    for sizes in ((1024,), (1024, 2048), (1, 4096)):  # one per codebook, the largest is codebook_size, each >= 2
        with pytest.raises(ValueError, match=re.escape(f"codebook_sizes={sizes}; one size >= 2 per codebook (2)")):
            codecs.CodecSpec(**facts, codebook_sizes=sizes)


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


# CodecFake+ CoRS: the authors' labels (ResponsibleGenAI/CodecFake-Source-Tracing, SAST_Net/utils.py: AS_CORS_dict
# 1 Trad / 2 SEM / 3 Disent, DS_CORS_dict 1 Time / 2 Frequency, QS_CORS_dict 1 MVQ / 2 SVQ / 3 SQ) of the CoRS names the
# registry has, and the config each name is.
# The CodecFake+ authors' labels of every CoRS codec (ResponsibleGenAI/CodecFake-Source-Tracing, SAST_Net/utils.py:
# AS_CORS_dict, DS_CORS_dict, QS_CORS_dict), transcribed: name -> (auxiliary, decoder, quantizer), with
# AS 1 Trad / 2 SEM / 3 DISENT, DS 1 TIME / 2 FREQ, QS 1 MVQ / 2 SVQ / 3 SQ. Families add configs; this table does not
# change with them.
CORS_LABELS = {
    "SpeechTokenizer_hubert_avg": (2, 1, 1), "DAC24": (1, 1, 1), "HiFi_Codec_16k_320d_large_universal": (1, 1, 1),
    "Encodec_6b24k": (1, 1, 1), "Encodec_24b24k": (1, 1, 1), "FunCodec_zh_en-general-16k-nq32ds320": (1, 1, 1),
    "FACodec_encodec-decoder-v2_16k": (3, 1, 1), "llm_codec": (2, 1, 1), "snac_24khz": (1, 1, 1),
    "snac_44khz": (1, 1, 1), "xcodec_hubert_librispeech": (2, 1, 1), "xcodec_hubert_libirispeech": (2, 1, 1),
    "xcodec_hubert_general_audio": (2, 1, 1), "xocdec_hubert_general_audio": (2, 1, 1), "bigcodec": (1, 1, 2),
    "ticodec_1g1r": (3, 1, 2), "ticodec_1g2r": (3, 1, 1), "ticodec_1g4r": (3, 1, 1), "mimicodec": (2, 1, 1),
    "mini": (2, 1, 1), "sqcodec50dim9": (1, 1, 3), "SemantiCodec_1.40kbps_16k": (2, 2, 1),
    "SemantiCodec_0.70kbps_16k": (2, 2, 1), "SemantiCodec_0.35kbps_16k": (2, 2, 1),
    "FunCodec_en-libritts-16k-gr1nq32ds320": (1, 2, 1), "wavtokenizer_small_320_24k_4096": (1, 2, 2),
    "wavtokenizer_medium_320_24k_4096": (1, 2, 2), "languagecodec": (1, 2, 1), "vocos_encodec_6": (1, 2, 1),
    "vocos_encodec_12": (1, 2, 1), "socodec_16384x4_120ms_16khz_chinese": (3, 2, 1), "audiodec_24k_320d": (1, 2, 1),
    "spectralcodecs": (1, 2, 3), "hilcodec_speech": (1, 1, 1),
}
CORS_AUXILIARY = {1: "none", 2: "semantic-distillation", 3: "disentanglement"}
CORS_DECODER = {1: "time", 2: "frequency"}
CORS_QUANTIZER = {1: "multi-codebook", 2: "single-codebook", 3: "scalar"}


def test_cors_names_are_aliases_of_our_configs_with_the_authors_taxonomy():
    """Every CoRS codec name we have resolves to its config, which carries the authors' labels (or its note says
    why not) and names CodecFake+ among its public sets; every config naming CodecFake+ is one of them; every CoRS
    name we lack is named in the README."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    covered = set()
    for name, (aux, dec, qua) in CORS_LABELS.items():
        try:
            s = codecs.spec(name)
        except UnknownCodecError:
            assert f"`{name}`" in readme, f"{name}: not registered and not named in the README with the reason"
            continue
        covered.add(s.name)
        assert "CodecFake+" in s.public_sets, name
        theirs = (CORS_AUXILIARY[aux], CORS_DECODER[dec], CORS_QUANTIZER[qua])
        for field, value in zip(("auxiliary", "decoder", "quantizer"), theirs, strict=True):
            if getattr(s, field) != value:  # a disagreement is stated in the spec's note, with the reason
                assert "CodecFake+ labels" in s.notes and value in s.notes, (name, field, getattr(s, field), value)
    assert {n for n in codecs.names() if "CodecFake+" in codecs.spec(n).public_sets} == covered
    assert codecs.spec("audiodec_24k_320d").decoder == "time"  # the one disagreement so far: see its note
