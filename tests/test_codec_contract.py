"""The codec contract, for every registered config: what any family must do, tested once over `codecs.names()`.

Each family's own test file keeps only its quirks (DAC's loudness path, AudioDec's vocoder state,
FunCodec's segments, ...), its parity with the upstream fixtures and its official key set.
All of these run on the fixtures' tiny configs (a few thousand parameters), so the whole file stays fast.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import pad_batch, rel_l2, resynthesize_one
from helpers import (
    ARCHITECTURE_KEYS,
    REQUIRED_KEYS,
    TRANSFORMERS_FAMILIES,
    hub_layout,
    official_key_shapes,
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
    wave = codec_fixture(name).npy("speech_input.npy")
    n = wave.shape[0]
    items = [wave, wave[: n * 5 // 8 + 1], wave[n // 5: n // 5 + n * 3 // 10], wave[: 3 * codec.spec.hop_length + 7]]
    batch, lengths = pad_batch(items)
    out, out_lengths = codec.resynthesize(batch, lengths)
    for i, item in enumerate(items):
        alone = resynthesize_one(codec, item)
        assert int(out_lengths[i]) == alone.shape[0] == codec.output_length(item.shape[0]), (name, i)
        assert rel_l2(out[i, : alone.shape[0]].numpy(), alone) <= BATCH_PARITY, (name, i)
        assert not out[i, alone.shape[0]:].any(), (name, i)
