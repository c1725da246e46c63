"""AudioDec: fixture parity, primed vocoder state, official key set, offline Hub loading, length rule, batches."""

import io
import os

import numpy as np
import pytest
import torch
import yaml
from conftest import pad_batch, rel_l2, resynthesize_one

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs.audiodec import codec as audiodec
from codecfake_hf.errors import CheckpointError, WeightsUnavailableError

NAME = "audiodec_24k_320d"
REPO = "AudioDecBenchmark/AudioDec"
AUTOENCODER_DIR = "autoencoder/symAD_libritts_24000_hop300"
VOCODER_DIR = "vocoder/AudioDec_v1_symAD_libritts_24000_hop300_clean"
CHECKPOINT = "checkpoint-500000steps.pkl"
UTTERANCES = ("p225_273", "p295_144", "p318_114")
PARTS = ("autoencoder", "vocoder")


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def tiny(fixture):
    """The fixture's tiny random-weight model, loaded strictly, vocoder primed as after loading."""
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def _nested(flat: dict) -> dict:
    """Fixture keys `autoencoder.generator.x` -> `{"autoencoder": {"generator": {"x": ...}}, ...}`."""
    nested: dict = {part: {"generator": {}} for part in PARTS}
    for key, value in flat.items():
        part, _, rest = key.split(".", 2)
        nested[part]["generator"][rest] = value
    return nested


# --- the official architecture ---------------------------------------------------------------------------


def test_official_config_builds_exactly_the_checkpoint_keys_and_shapes(fixture):
    codec = codecs.load(NAME, random_weights=True)
    state = codec.model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == fixture.official_shapes()
    buffers = {name for name, _ in codec.model.named_buffers()}
    for part, names in fixture.manifest["state_dict_buffers"].items():
        assert {f"{part}.{name}" for name in names} <= buffers
    assert codec.model.hop_length == 300 and codec.sample_rate == 24000


def test_default_config_is_the_official_one(fixture):
    config = audiodec.default_config(codecs.spec(NAME))
    for part in PARTS:
        official = fixture.manifest["config"][part]["values"]
        assert config[part]["model_type"] == official["model_type"]
        assert config[part]["generator_params"] == official["generator_params"]


# --- parity with the upstream code ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["", "speech_"])
def test_tiny_model_reproduces_the_upstream_output_and_codes(tiny, fixture, case):
    wave = fixture.npy(f"{case}input.npy")
    expected = fixture.npy(f"{case}output.npy")
    out = resynthesize_one(tiny, wave)
    assert out.shape == expected.shape
    # Float32 vs the upstream run: ~5e-7 relative; 1e-4 is the fixtures' bound.
    assert rel_l2(out, expected) <= 1e-4
    # The fixture's codes are flat indices into the stacked codebooks: row q holds code + q * 1024.
    codes = tiny.encode(torch.from_numpy(wave)[None])[0].numpy()
    flat = codes + 1024 * np.arange(codes.shape[0])[:, None]
    np.testing.assert_array_equal(flat, fixture.npy(f"{case}codes.npy"))


def test_zeros_decoder_state_reproduces_the_cleared_state_output(fixture):
    wave = fixture.npy("input.npy")
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), decoder_state="zeros")
    zero_state = fixture.npy("output_zero_state.npy")
    assert rel_l2(resynthesize_one(codec, wave), zero_state) <= 1e-4
    # The two states differ (up to 0.17 in the first 0.4 s), so the primed-state parity above is not vacuous.
    assert rel_l2(fixture.npy("output.npy"), zero_state) > 1e-2


def test_each_utterance_starts_from_the_state_after_loading(tiny, fixture):
    """Upstream carried the vocoder state from one utterance to the next; here order does not matter."""
    first, second = fixture.npy("input.npy"), fixture.npy("speech_input.npy")
    forward = [resynthesize_one(tiny, first), resynthesize_one(tiny, second)]
    backward = [resynthesize_one(tiny, second), resynthesize_one(tiny, first)][::-1]
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(a, b)
    assert rel_l2(forward[0], fixture.npy("output.npy")) <= 1e-4
    assert rel_l2(forward[1], fixture.npy("speech_output.npy")) <= 1e-4


def test_bad_options_and_configs_name_the_choices(fixture):
    with pytest.raises(ValueError, match="primed"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), decoder_state="warm")
    config = audiodec.default_config(codecs.spec(NAME))
    config["vocoder"]["generator_params"]["upsampling"] = 2
    with pytest.raises(ValueError, match="upsampling"):
        codecs.load(NAME, config=config, random_weights=True)
    config = audiodec.default_config(codecs.spec(NAME))
    config["autoencoder"]["generator_params"]["mode"] = "noncausal"
    with pytest.raises(ValueError, match="noncausal"):
        codecs.load(NAME, config=config, random_weights=True)


# --- length rule and batches ---------------------------------------------------------------------------


@pytest.mark.parametrize("utterance", UTTERANCES)
def test_output_length_follows_the_release_files(tiny, demo_dir, utterance):
    """The release resampled VCTK to 24 kHz and padded up to whole 300-sample frames (153708 -> 153900)."""
    genuine, rate = read_audio(demo_dir / f"genuine+{utterance}.wav")
    release, release_rate = read_audio(demo_dir / f"{NAME}+{utterance}.wav")
    assert release_rate == tiny.sample_rate
    wave = resample(genuine, rate, tiny.sample_rate)
    out, lengths = tiny.resynthesize(wave[None], [wave.shape[0]])
    assert int(lengths[0]) == out.shape[1] == release.shape[0] == tiny.output_length(wave.shape[0])
    assert release.shape[0] % 300 == 0 and 0 <= release.shape[0] - wave.shape[0] < 300


def test_padded_batch_gives_each_item_what_it_gets_alone(tiny, fixture):
    speech = fixture.npy("speech_input.npy")
    items = [speech, fixture.npy("input.npy"), speech[:30001], speech[9000:9300], speech[20000:20001]]
    batch, item_lengths = pad_batch(items)
    out, lengths = tiny.resynthesize(batch, item_lengths)
    assert tiny.batch_exact
    for i, item in enumerate(items):
        alone = resynthesize_one(tiny, item)
        n = int(lengths[i])
        assert n == alone.shape[0] == -(-len(item) // 300) * 300
        assert rel_l2(out[i, :n], alone) <= 1e-4
        assert not out[i, n:].any()


# --- checkpoints: layouts, the Hub path, bad files -------------------------------------------------------


def test_state_dict_is_accepted_nested_or_flat(fixture, tiny):
    flat = fixture.weights()
    nested = _nested(flat)
    dotted = {f"{part}.generator": nested[part]["generator"] for part in PARTS}
    for layout in (nested, dotted):
        codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=layout)
        loaded = codec.model.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in flat.items())
    with pytest.raises(CheckpointError, match="generator.stray"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict={**flat, "generator.stray": torch.zeros(1)})
    wrong = dict(flat)
    wrong["vocoder.generator.mean"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match="mean: \\(3,\\) in the file"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict=wrong)


def _bytes_of(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _trainer_checkpoint(generator: dict) -> bytes:
    """A checkpoint as AudioDec's trainer saves it: model, optimizer and scheduler states, steps, epochs."""
    probe = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-4, betas=(0.5, 0.9))
    probe(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=200000, gamma=1.0)
    multi_step = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[200000, 400000], gamma=0.5)
    checkpoint = {
        "optimizer": {"generator": optimizer.state_dict(), "discriminator": optimizer.state_dict()},
        "scheduler": {"generator": step_lr.state_dict(), "discriminator": multi_step.state_dict()},
        "steps": 500000,
        "epochs": 17,
        "model": {"generator": generator, "discriminator": {"msd.weight": torch.zeros(2, 2)}},
    }
    return _bytes_of(checkpoint)


def _official_layout(fixture) -> dict[str, bytes]:
    """The tiny model as the official repository's files: trainer .pkl checkpoints and config.yml."""
    nested = _nested(fixture.weights())
    files = {}
    for part, folder, model_type in (("autoencoder", AUTOENCODER_DIR, "symAudioDec"),
                                     ("vocoder", VOCODER_DIR, "HiFiGAN")):
        config = {"model_type": model_type, "sampling_rate": 24000, "batch_length": 9600,
                  "generator_params": fixture.tiny_config[f"{part}_generator_params"]}
        files[f"{folder}/config.yml"] = yaml.safe_dump(config).encode()
        files[f"{folder}/{CHECKPOINT}"] = _trainer_checkpoint(nested[part]["generator"])
    return files


def test_hub_files_load_offline_through_the_cache(fake_hub, fixture):
    files = _official_layout(fixture)
    assert set(files) == set(codecs.spec(NAME).hub_files)
    fake_hub.add(REPO, files)
    codec = codecs.load(NAME)
    assert not codec.random_weights
    assert rel_l2(resynthesize_one(codec, fixture.npy("input.npy")), fixture.npy("output.npy")) <= 1e-4


def test_empty_cache_offline_names_the_repository(fake_hub):
    with pytest.raises(WeightsUnavailableError, match=REPO):
        codecs.load(NAME)


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def _without_vocoder_mean(fixture) -> bytes:
    generator = _nested(fixture.weights())["vocoder"]["generator"]
    del generator["mean"]
    return _trainer_checkpoint(generator)


@pytest.mark.parametrize(
    ("defect", "target", "message"),
    [
        ("truncated", f"{AUTOENCODER_DIR}/{CHECKPOINT}", "corrupt or truncated"),
        ("not a checkpoint", f"{VOCODER_DIR}/{CHECKPOINT}", "corrupt or truncated"),
        ("runs code", f"{VOCODER_DIR}/{CHECKPOINT}", "could not be loaded safely"),
        ("no generator", f"{AUTOENCODER_DIR}/{CHECKPOINT}", r"no \['model'\]\['generator'\]"),
        ("missing key", f"{VOCODER_DIR}/{CHECKPOINT}", "missing keys: mean"),
        ("bad yaml", f"{VOCODER_DIR}/config.yml", "YAML"),
    ],
)
def test_bad_official_files_fail_naming_the_file(fake_hub, fixture, defect, target, message):
    files = _official_layout(fixture)
    files[target] = {
        "truncated": lambda: files[target][: len(files[target]) // 2],
        "not a checkpoint": lambda: b"<html>rate limited</html>",
        "runs code": lambda: _bytes_of({"model": {"generator": _RunsCode()}}),
        "no generator": lambda: _bytes_of({"model": {"discriminator": {}}}),
        "missing key": lambda: _without_vocoder_mean(fixture),
        "bad yaml": lambda: b"generator_params: [unclosed",
    }[defect]()
    fake_hub.add(REPO, files)
    with pytest.raises(CheckpointError, match=message) as error:
        codecs.load(NAME)
    assert target in str(error.value)


@pytest.mark.slow
def test_official_weights_from_the_cache(demo_dir):
    """With the official files in the local Hugging Face cache: strict load and a real clip, padded up."""
    if not os.environ.get("HF_HUB_OFFLINE"):
        pytest.skip("set HF_HUB_OFFLINE=1 with the official AudioDec files in the cache to run this")
    try:
        codec = codecs.load(NAME)
    except WeightsUnavailableError as error:
        pytest.skip(f"official weights not in the cache: {error}")
    genuine, rate = read_audio(demo_dir / "genuine+p225_273.wav")
    wave = resample(genuine, rate, codec.sample_rate)
    out = resynthesize_one(codec, wave)
    assert out.shape == (153900,) and np.isfinite(out).all() and np.abs(out).max() <= 1.0
