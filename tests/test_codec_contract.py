"""The codec contract, for every registered config: what any family must do, tested once over `codecs.names()`.

Parity with the reference (the upstream packages' outputs, or transformers' own pipeline for the configs beyond
the paper) on both inputs, near-ties through the one table of tests/near_ties.py, is here; each family's own test
file keeps only its quirks (DAC's loudness and windows, AudioDec's vocoder state, FunCodec's segments, ...).
All of these run on the fixtures' tiny configs (a few thousand parameters), so the whole file stays fast.
"""

from __future__ import annotations

import near_ties
import numpy as np
import pytest
import torch
from conftest import pad_batch, rel_l2, resynthesize_one
from helpers import (
    ARCHITECTURE_KEYS,
    PARITY_CASES,
    REQUIRED_KEYS,
    TRANSFORMERS_FAMILIES,
    hub_layout,
    official_key_shapes,
    parity_files,
    tiny_official_config,
    with_unknown_option,
    with_value,
)

from codecfake_hf import codecs
from codecfake_hf.errors import CheckpointError, CodecConfigError, WeightsUnavailableError

# Batched against alone (rel. L2): the bound of the fixtures' parity, here between two runs of our own code.
BATCH_PARITY = 1e-4

parametrize_names = pytest.mark.parametrize("name", codecs.names())
_TRANSFORMERS = [name for name in codecs.names() if codecs.spec(name).family in TRANSFORMERS_FAMILIES]
parametrize_native = pytest.mark.parametrize("name", [name for name in codecs.names() if name not in _TRANSFORMERS])
parametrize_transformers = pytest.mark.parametrize("name", _TRANSFORMERS)

# Parity bound (rel. L2 of the output against the reference), by family: the fixtures' 1e-4, tighter where
# the family reaches far less. Measured here (noise, speech; the worst config of the family):
PARITY = {
    "encodec": 1e-5,  # the manifest expects <= 1e-5 of a faithful float32 implementation; reached: 3e-7
    "dac": 1e-4,
    "speechtokenizer": 1e-4,
    "academicodec": 1e-4,
    "audiodec": 1e-4,
    "funcodec": 1e-4,  # gr1's near-depthwise grouped convs round differently from upstream's calls: 1.1e-5
    "mimi": 1e-6,  # transformers against itself (tests/tiny_configs.py): bit-exact here
    "xcodec": 1e-6,
}


@parametrize_names
@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_reproduces_the_reference_output_and_codes(name, case, codec_fixture, tiny_codec):
    """`resynthesize` (the path the CodecFake pipeline ran) against the reference's output and codes.

    The codes are recorded from the quantiser during that same run; they may differ from the reference only
    at near-ties (tests/near_ties.py), and then the output is compared under the reference's codes.
    """
    fixture, codec = codec_fixture(name), tiny_codec(name)
    inputs, outputs, codes_file = parity_files(name, case)
    wave, expected = fixture.npy(inputs), fixture.npy(outputs)
    reference = near_ties.reference_codes(codec, fixture.npy(codes_file))
    with near_ties.recording(codec) as stages:
        output = resynthesize_one(codec, wave)
    assert output.shape == expected.shape
    flipped = near_ties.check_codes(stages.codes(), reference, stages)
    if flipped:
        with near_ties.recording(codec, force=reference) as forced:
            output = resynthesize_one(codec, wave)
        np.testing.assert_array_equal(forced.codes(), reference)
    assert rel_l2(output, expected) <= PARITY[codecs.spec(name).family], flipped


# One family per kind of chain: one RVQ chain with a stage call (FunCodec), DAC's normalised search,
# HiFi-Codec's groups (a chain each), Mimi's semantic and acoustic chains.
@pytest.mark.parametrize("name", ["funcodec-funcodec_en_libritts-16k-gr1nq32ds320", "descript-audio-codec-24khz",
                                  "academicodec_hifi_16k_320d", "mimi-nq8"])
def test_near_tie_check_refuses_what_is_not_a_near_tie(name, codec_fixture, tiny_codec):
    """A changed code passes only as a later stage of its chain, and only if its codeword is near-tied."""
    codec = tiny_codec(name)
    with near_ties.recording(codec) as stages:
        resynthesize_one(codec, codec_fixture(name).npy("input.npy"))
    codes = stages.codes()
    assert near_ties.check_codes(codes, codes.copy(), stages) == []
    frame = codes.shape[1] // 2
    for chain in stages.chains:
        later = [(chain[-1], "not near-tied")] if len(chain) > 1 else []  # Mimi's semantic chain: one stage
        for row, message in [*later, (chain[0], "quantises the latent itself")]:
            vector, codebook = stages.vector(row, frame), stages.codebooks[row]
            farthest = int(((codebook - vector) ** 2).sum(-1).argmax())  # the worst codeword: never a near-tie
            changed = codes.copy()
            changed[row, frame] = farthest
            with pytest.raises(AssertionError, match=f"stage {row}.*{message}"):
                near_ties.check_codes(changed, codes, stages)
    assert len(stages.chains) == {"academicodec": 2, "mimi": 2}.get(codecs.spec(name).family, 1)


@parametrize_names
def test_official_config_builds_the_checkpoint_keys_and_shapes(name, codec_fixture):
    """The official config, built on the meta device (names and shapes only), has the official file's keys."""
    spec = codecs.spec(name)
    family = codecs.registry.family(name)
    with torch.device("meta"):
        codec = family.build(spec, family.default_config(spec), None, device="meta")
    shapes = {key: tuple(value.shape) for key, value in codec.model.state_dict().items()}
    assert shapes == official_key_shapes(name, codec_fixture(name))


@parametrize_names
def test_unknown_option_is_one_error_naming_the_valid_ones(name, codec_fixture):
    family_options = codecs.registry.options(name)
    with pytest.raises(CodecConfigError) as info:
        codecs.load(name, config=codec_fixture(name).tiny_checkpoint_config, random_weights=True, volume=11)
    message = str(info.value)
    assert message.startswith(f"{name}: unknown option(s) volume=11")
    if family_options:
        assert all(f"`{option}`" in message for option in family_options)
    else:
        assert "takes no options" in message


@parametrize_names
def test_unknown_config_key_is_one_error_naming_codec_key_and_source(name, codec_fixture):
    config = with_unknown_option(name, codec_fixture(name).tiny_checkpoint_config)
    with pytest.raises(CodecConfigError, match="volume_knob") as info:
        codecs.load(name, config=config, random_weights=True)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and message.endswith("(config: the `config` argument)")


@parametrize_native
def test_missing_config_key_is_one_error_naming_codec_and_key(name, codec_fixture):
    """A native family's config dataclass names the architecture key an official-format config lacks."""
    path = REQUIRED_KEYS[codecs.spec(name).family]
    config = with_value(codec_fixture(name).tiny_checkpoint_config, path)
    with pytest.raises(CodecConfigError) as info:
        codecs.load(name, config=config, random_weights=True)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and f"lacks `{path[-1]}`" in message
    assert message.endswith("(config: the `config` argument)")


@parametrize_transformers
def test_transformers_config_without_a_key_takes_the_class_default(name, codec_fixture):
    """A transformers config.json holds only the values that differ from the config class's defaults
    (`save_pretrained`), so an omitted key is the default, as `from_pretrained` reads it."""
    spec, family = codecs.spec(name), codecs.registry.family(name)
    path = ARCHITECTURE_KEYS[spec.family]
    tiny = codec_fixture(name).tiny_checkpoint_config
    with torch.device("meta"):
        codec = family.build(spec, with_value(tiny, path), None, device="meta")
    built, default, given = codec.model.config, type(codec.model.config)(), tiny
    for key in path:
        built, default, given = getattr(built, key), getattr(default, key), given[key]
    assert built == default != given


@parametrize_names
def test_wrong_typed_config_value_is_one_error_naming_the_key(name, codec_fixture):
    path = ARCHITECTURE_KEYS[codecs.spec(name).family]
    config = with_value(codec_fixture(name).tiny_checkpoint_config, path, "sixteen")
    with pytest.raises(CodecConfigError) as info:
        codecs.load(name, config=config, random_weights=True)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and f"{path[-1]}`" in message and "'sixteen'" in message
    assert message.endswith("(config: the `config` argument)")


def test_speechtokenizer_refuses_encodecs_bandwidth_naming_its_own_option():
    with pytest.raises(CodecConfigError, match=r"^SpeechTokenizer: unknown option\(s\) bandwidth=1.5\. .*`n_q`"):
        codecs.load("SpeechTokenizer", bandwidth=1.5)


@parametrize_names
def test_empty_cache_names_the_repository(name, fake_hub):
    with pytest.raises(WeightsUnavailableError, match=codecs.spec(name).hub_repo):
        codecs.load(name)


@parametrize_names
def test_official_layout_loads_offline_from_the_hub_cache(name, codec_fixture, tiny_codec, fake_hub, monkeypatch):
    """The official files in a local Hub cache (HF_HUB_OFFLINE) give the model the fixture's weights give."""
    fixture = codec_fixture(name)
    files, _ = hub_layout(name, fixture)
    assert set(files) <= set(codecs.spec(name).hub_files) | {"model.safetensors", "config.json"}
    fake_hub.add(codecs.spec(name).hub_repo, files)
    tiny_official_config(monkeypatch, name, fixture)
    codec = codecs.load(name)
    assert not codec.random_weights
    reference = tiny_codec(name)
    state, expected = codec.model.state_dict(), reference.model.state_dict()
    assert state.keys() == expected.keys()
    assert all(np.array_equal(state[k].numpy(), expected[k].numpy()) for k in expected), name
    wave = fixture.npy("input.npy")
    assert rel_l2(resynthesize_one(codec, wave), resynthesize_one(reference, wave)) <= 1e-6


@parametrize_names
def test_truncated_checkpoint_names_the_file(name, codec_fixture, fake_hub, monkeypatch):
    fixture = codec_fixture(name)
    files, checkpoint = hub_layout(name, fixture)
    data = files[checkpoint]
    files[checkpoint] = data[: len(data) // 2]
    fake_hub.add(codecs.spec(name).hub_repo, files)
    tiny_official_config(monkeypatch, name, fixture)
    with pytest.raises(CheckpointError, match=f"{name}: checkpoint file .*{checkpoint.split('/')[-1]}") as info:
        codecs.load(name)
    assert "truncated" in str(info.value)


@parametrize_names
def test_padded_batch_gives_each_item_what_it_gets_alone(name, codec_fixture, tiny_codec):
    """Items of several lengths in one zero-padded batch, each against the same item alone."""
    codec = tiny_codec(name)
    wave = codec_fixture(name).npy("speech_input.npy")[: 3 * codec.sample_rate // 2]  # at most 1.5 s: suite time
    n = wave.shape[0]
    items = [wave, wave[: n * 5 // 8 + 1], wave[n // 5: n // 5 + n * 3 // 10], wave[: 3 * codec.spec.hop_length + 7]]
    batch, lengths = pad_batch(items)
    out, out_lengths = codec.resynthesize(batch, lengths)
    for i, item in enumerate(items):
        alone = resynthesize_one(codec, item)
        assert int(out_lengths[i]) == alone.shape[0] == codec.output_length(item.shape[0]), (name, i)
        assert rel_l2(out[i, : alone.shape[0]].numpy(), alone) <= BATCH_PARITY, (name, i)
        assert not out[i, alone.shape[0]:].any(), (name, i)
