"""The codec contract, for every registered config: what any family must do, tested once over `codecs.names()`.

Parity with the reference (the upstream packages' outputs, or transformers' own pipeline for the configs beyond
the paper) on both inputs, near-ties through the one table of tests/near_ties.py, is here; each family's own test
file keeps only its quirks (DAC's loudness and windows, AudioDec's vocoder state, FunCodec's segments, ...).
All of these run on the fixtures' tiny configs (a few thousand parameters), so the whole file stays fast.
"""

from __future__ import annotations

import re

import near_ties
import numpy as np
import pytest
import torch
from codec_tester import PARITY_CASES, get_tester
from conftest import pad_batch, rel_l2, resynthesize_one
from helpers import with_value

from codecfake_hf import codecs
from codecfake_hf.codecs.base import Runtime
from codecfake_hf.errors import CheckpointError, CodecConfigError, WeightsUnavailableError

parametrize_names = pytest.mark.parametrize("name", codecs.names())
_TRANSFORMERS = [name for name in codecs.names() if get_tester(name).transformers_config]
parametrize_native = pytest.mark.parametrize("name", [name for name in codecs.names() if name not in _TRANSFORMERS])
parametrize_transformers = pytest.mark.parametrize("name", _TRANSFORMERS)
# One config per family with codes (the first registered), for checks of the quantiser's mechanism rather than of a
# config; families of continuous latents have no quantiser (`FamilyTester.has_codes`).
parametrize_families = pytest.mark.parametrize(
    "name", [name for name in list({codecs.spec(name).family: name for name in codecs.names()[::-1]}.values())[::-1]
             if get_tester(name).has_codes(name)])


@parametrize_names
@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_reproduces_the_reference_output_and_codes(name, case, codec_fixture, tiny_codec):
    """`resynthesize` (the path the CodecFake pipeline ran) against the reference's output and codes.

    The codes are recorded from the quantiser during that same run; they may differ from the reference only
    at near-ties (tests/near_ties.py), and then the output is compared under the reference's codes. Continuous
    latents (`FamilyTester.has_codes` False) have no codes: the output alone is compared.
    """
    fixture, codec = codec_fixture(name), tiny_codec(name)
    inputs, outputs, codes_file = get_tester(name).parity_files(name, case)
    wave, expected = fixture.npy(inputs), fixture.npy(outputs)
    if not get_tester(name).has_codes(name):
        output = resynthesize_one(codec, wave)
        assert output.shape == expected.shape
        assert rel_l2(output, expected) <= get_tester(name).parity_bound
        return
    reference = near_ties.reference_codes(codec, fixture.npy(codes_file))
    with near_ties.recording(codec) as stages:
        output = resynthesize_one(codec, wave)
    assert output.shape == expected.shape
    flipped = near_ties.check_codes(stages.codes(), reference, stages)
    if flipped:
        with near_ties.recording(codec, force=reference) as forced:
            output = resynthesize_one(codec, wave)
        np.testing.assert_array_equal(forced.codes(), reference)
    assert rel_l2(output, expected) <= get_tester(name).parity_bound, flipped


@parametrize_families
def test_near_tie_check_refuses_what_is_not_a_near_tie(name, codec_fixture, tiny_codec):
    """A changed code passes only as a later stage of its chain, and only if its codeword is near-tied: the
    second-nearest codeword, one a looser `TIE_GAP` could let through, is refused at a later stage, and any change
    at a chain's first stage is refused."""
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
            distances = ((codebook - vector) ** 2).sum(-1)
            second = int(distances.argsort()[1])  # the runner-up: the nearest codeword that is not the choice
            if second == int(codes[row, frame]):
                second = int(distances.argsort()[0])
            changed = codes.copy()
            changed[row, frame] = second
            with pytest.raises(AssertionError, match=f"stage {row}.*{message}"):
                near_ties.check_codes(changed, codes, stages)
    assert len(stages.chains) == get_tester(name).chains()


def test_near_tie_gap_is_pinned_just_above_and_below_tie_gap():
    """Two codewords whose distance gap is 1.5 × TIE_GAP are not a near-tie; at 0.5 × TIE_GAP they are."""
    vector = torch.tensor([1.0, 0.0], dtype=torch.float64)
    zero = torch.zeros(1, 1, dtype=torch.long)
    for factor, passes in ((0.5, True), (1.5, False)):
        gap = factor * near_ties.TIE_GAP
        # e_0 = x and e_1 = x + (0, s): the gap |d_1 - d_0| / (|x|² + |e_1|²) = s² / (2 + s²) = gap
        codebook = torch.tensor([[1.0, 0.0], [1.0, (2 * gap / (1 - gap)) ** 0.5]], dtype=torch.float64)
        assert near_ties.tie_gap(codebook, vector, 1, 0) == pytest.approx(gap, rel=1e-9)
        stages = near_ties.Stages(vectors={0: [vector[None, None]], 1: [vector[None, None]]},
                                  indices={0: [zero], 1: [zero]}, codebooks={0: codebook, 1: codebook},
                                  chains=[[0, 1]])
        flipped, expected = np.array([[0], [1]]), np.zeros((2, 1), np.int64)  # the chain's second stage differs
        if passes:
            assert near_ties.check_codes(flipped, expected, stages) == [0]
        else:
            with pytest.raises(AssertionError, match="not near-tied"):
                near_ties.check_codes(flipped, expected, stages)


def _official_build(name: str):
    """`name`'s official config built on the meta device (names and shapes only, no memory)."""
    spec = codecs.spec(name)
    family = codecs.registry.family(name)
    with torch.device("meta"):
        return family.build(spec, family.default_config(spec), None, runtime=Runtime(device="meta"))


_INDEPENDENT_KEYS = [name for name in codecs.names() if get_tester(name).has_official_key_set(name)]


@pytest.mark.parametrize("name", _INDEPENDENT_KEYS)
def test_official_config_builds_the_checkpoint_keys_and_shapes(name, codec_fixture):
    """The official config, built on the meta device, has the official file's keys and shapes (from the fixture's
    manifest, an upstream record of the checkpoint)."""
    shapes = {key: tuple(value.shape) for key, value in _official_build(name).model.state_dict().items()}
    assert shapes == get_tester(name).official_key_shapes(name, codec_fixture(name))


@parametrize_names
def test_official_architecture_facts(name):
    """Parameter count, tensor count, a few shapes and config values of the official config as built, against
    facts pinned in the family's tester from a source outside our code (never from our builder): a layer more or
    less, a wider convolution or another codebook size fails here."""
    facts = get_tester(name).facts.get(name)
    assert facts is not None, f"{name}: pin its official architecture facts in its family's TESTER.facts"
    assert facts.source
    codec = _official_build(name)
    state = get_tester(name).facts_state(codec)
    assert (sum(v.numel() for v in state.values()), len(state)) == (facts.parameters, facts.tensors), facts.source
    assert {key: tuple(state[key].shape) for key in facts.shapes} == dict(facts.shapes)
    assert {key: get_tester(name).config_value(codec, key) for key in facts.config} == dict(facts.config)


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
    config = get_tester(name).with_unknown_key(name, codec_fixture(name).tiny_checkpoint_config, "volume_knob")
    with pytest.raises(CodecConfigError, match="volume_knob") as info:
        codecs.load(name, config=config, random_weights=True)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and message.endswith("(config: the `config` argument)")


@parametrize_native
def test_missing_config_key_is_one_error_naming_codec_and_key(name, codec_fixture):
    """A native family's config dataclass names the architecture key an official-format config lacks."""
    path = get_tester(name).required_key or get_tester(name).architecture_key
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
    path = get_tester(name).architecture_key
    tiny = codec_fixture(name).tiny_checkpoint_config
    with torch.device("meta"):
        codec = family.build(spec, with_value(tiny, path), None, runtime=Runtime(device="meta"))
    built, default, given = codec.model.config, type(codec.model.config)(), tiny
    for key in path:
        built, default, given = getattr(built, key), getattr(default, key), given[key]
    assert built == default != given


@parametrize_names
def test_wrong_typed_config_value_is_one_error_naming_the_key(name, codec_fixture):
    path = get_tester(name).architecture_key
    config = with_value(codec_fixture(name).tiny_checkpoint_config, path, "sixteen")
    with pytest.raises(CodecConfigError) as info:
        codecs.load(name, config=config, random_weights=True)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and f"{path[-1]}`" in message and "'sixteen'" in message
    assert message.endswith("(config: the `config` argument)")


def test_speechtokenizer_refuses_encodecs_bandwidth_naming_its_own_option():
    with pytest.raises(CodecConfigError, match=r"^SpeechTokenizer: unknown option\(s\) bandwidth=1.5\. .*`n_q`"):
        codecs.load("SpeechTokenizer", bandwidth=1.5)


def official_repo(name: str) -> tuple[str, dict[str, str]]:
    """(the Hub repository the test puts the official files in, `load`'s arguments to read them): the spec's own,
    or, for a release published outside the Hub, a user's mirror of it passed as `weights`."""
    repo = codecs.spec(name).hub_repo
    return (repo, {}) if repo is not None else (f"someone/{name}-release", {"weights": f"someone/{name}-release"})


@parametrize_names
def test_empty_cache_names_the_repository(name, fake_hub):
    """Where the files would come from: the Hub repository, or the page of a release outside the Hub."""
    spec = codecs.spec(name)
    with pytest.raises(WeightsUnavailableError, match=re.escape(spec.hub_repo or spec.weights_page)):
        codecs.load(name)


@parametrize_names
def test_official_layout_loads_offline_from_the_hub_cache(name, codec_fixture, tiny_codec, fake_hub, monkeypatch):
    """The official files in a local Hub cache (HF_HUB_OFFLINE) give the model the fixture's weights give."""
    fixture = codec_fixture(name)
    files, _ = get_tester(name).hub_layout(name, fixture)
    assert set(files) <= set(codecs.spec(name).hub_files) | {"model.safetensors", "config.json"}
    repo, source = official_repo(name)
    fake_hub.add(repo, files)
    get_tester(name).official_config_is_tiny(monkeypatch, name, fixture)
    codec = codecs.load(name, **source)
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
    files, checkpoint = get_tester(name).hub_layout(name, fixture)
    data = files[checkpoint]
    files[checkpoint] = data[: len(data) // 2]
    repo, source = official_repo(name)
    fake_hub.add(repo, files)
    get_tester(name).official_config_is_tiny(monkeypatch, name, fixture)
    with pytest.raises(CheckpointError, match=f"{name}: checkpoint file .*{checkpoint.split('/')[-1]}") as info:
        codecs.load(name, **source)
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
        assert rel_l2(out[i, : alone.shape[0]].numpy(), alone) <= get_tester(name).batch_parity_bound, (name, i)
        assert not out[i, alone.shape[0]:].any(), (name, i)
