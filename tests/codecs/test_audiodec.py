"""AudioDec: its quirks (primed and zero vocoder state, official config, length rule, trainer checkpoints).

Fixture parity (primed state, as the release ran), the official keys and the offline Hub: tests/test_codec_contract.py.
"""

import copy
import os

import numpy as np
import pytest
import torch
import yaml
from codec_tester import FamilyTester, OfficialFacts
from conftest import rel_l2, resynthesize_one
from helpers import plain, torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs.audiodec import codec as audiodec
from codecfake_hf.codecs.audiodec import model as audiodec_model
from codecfake_hf.codecs.audiodec.config import generator_params
from codecfake_hf.errors import CheckpointError, CodecConfigError, WeightsUnavailableError

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


def test_generator_params_hold_the_official_values(fixture):
    """Each part's dataclass: the official file's generator_params, and upstream's defaults for what it omits
    (the autoencoder's ELU, which the manifest records as a code default)."""
    config = audiodec.default_config(codecs.spec(NAME))
    for part in PARTS:
        official = fixture.manifest["config"][part]["values"]["generator_params"]
        values = plain(generator_params(config, part))
        assert {key: values[key] for key in official} == official
    autoencoder = generator_params(config, "autoencoder")
    assert fixture.manifest["config"]["hardcoded_in_code"]["activation"].startswith(autoencoder.nonlinear_activation)


# --- the vocoder state ------------------------------------------------------------------------------------


def test_zeros_decoder_state_reproduces_the_cleared_state_output(fixture):
    wave = fixture.npy("input.npy")
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), decoder_state="zeros")
    zero_state = fixture.npy("output_zero_state.npy")
    assert rel_l2(resynthesize_one(codec, wave), zero_state) <= 1e-4
    # The two states differ (up to 0.17 in the first 0.4 s), so the primed-state parity is not vacuous.
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
    with pytest.raises(CodecConfigError, match="primed"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), decoder_state="warm")
    config = audiodec.default_config(codecs.spec(NAME))
    config["vocoder"]["generator_params"]["upsampling"] = 2
    with pytest.raises(CodecConfigError, match="upsampling"):
        codecs.load(NAME, config=config, random_weights=True)
    config = audiodec.default_config(codecs.spec(NAME))
    config["autoencoder"]["generator_params"]["mode"] = "noncausal"
    with pytest.raises(CodecConfigError, match="noncausal"):
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


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def _without_vocoder_mean(fixture) -> bytes:
    generator = _nested(fixture.weights())["vocoder"]["generator"]
    del generator["mean"]
    return trainer_checkpoint(generator)


@pytest.mark.parametrize(
    ("defect", "target", "message"),
    [
        ("not a checkpoint", f"{VOCODER_DIR}/{CHECKPOINT}", "corrupt or truncated"),
        ("runs code", f"{VOCODER_DIR}/{CHECKPOINT}", "could not be loaded safely"),
        ("no generator", f"{AUTOENCODER_DIR}/{CHECKPOINT}", r"no \['model'\]\['generator'\]"),
        ("missing key", f"{VOCODER_DIR}/{CHECKPOINT}", "missing keys: mean"),
        ("bad yaml", f"{VOCODER_DIR}/config.yml", "YAML"),
    ],
)
def test_bad_official_files_fail_naming_the_file(fake_hub, fixture, defect, target, message):
    files = hub_files(fixture)
    files[target] = {
        "not a checkpoint": lambda: b"<html>rate limited</html>",
        "runs code": lambda: torch_save_bytes({"model": {"generator": _RunsCode()}}),
        "no generator": lambda: torch_save_bytes({"model": {"discriminator": {}}}),
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


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def trainer_checkpoint(generator: dict) -> bytes:
    """A checkpoint as AudioDec's trainer saves it: model, optimizer and scheduler states, steps, epochs."""
    probe = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-4, betas=(0.5, 0.9))
    probe(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    step_lr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=200000, gamma=1.0)
    multi_step = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[200000, 400000], gamma=0.5)
    return torch_save_bytes({
        "optimizer": {"generator": optimizer.state_dict(), "discriminator": optimizer.state_dict()},
        "scheduler": {"generator": step_lr.state_dict(), "discriminator": multi_step.state_dict()},
        "steps": 500000,
        "epochs": 17,
        "model": {"generator": generator, "discriminator": {"msd.weight": torch.zeros(2, 2)}},
    })


def hub_files(fixture) -> dict[str, bytes]:
    """The tiny model as the official repository's files: trainer .pkl checkpoints and config.yml per part."""
    files = {}
    for path in codecs.spec(NAME).hub_files:
        part = path.split("/")[0]
        if path.endswith(".yml"):
            model_type = "symAudioDec" if part == "autoencoder" else "HiFiGAN"
            config = {"model_type": model_type, "sampling_rate": 24000, "batch_length": 9600,
                      "generator_params": fixture.tiny_config[f"{part}_generator_params"]}
            files[path] = yaml.safe_dump(config).encode()
        else:
            prefix = f"{part}.generator."
            generator = {k.removeprefix(prefix): v for k, v in fixture.weights().items() if k.startswith(prefix)}
            files[path] = trainer_checkpoint(generator)
    return files


def _layout(codec, codes: np.ndarray) -> np.ndarray:
    # The fixture stores flat indices into the stacked codebooks: row q holds code + q * codebook_size.
    size = codec.model.autoencoder["generator"].quantizer.codebook.codebook_size
    return codes - size * np.arange(codes.shape[0])[:, None]


class AudioDecTester(FamilyTester):
    family = "audiodec"
    # The fixtures' short form of the config: each part's generator_params under `<part>_generator_params`.
    architecture_key = ("autoencoder_generator_params", "code_dim")
    quantiser = Quantiser(
        where=lambda: (audiodec_model.VectorQuantizer, "encode"),
        stages=lambda codec: list(codec.model.autoencoder["generator"].quantizer.codebook.layers),
        search=lambda layer, x: (rows(x), layer.embed.t()),
        layout=_layout,
    )
    facts = {NAME: OfficialFacts(
        source="../shared/codec-fixtures/audiodec_24k_320d/manifest.json: AudioDecBenchmark/AudioDec's two "
               "checkpoint-500000steps.pkl generators (7,939,936 + 19,461,090 parameters and their state-dict "
               "buffers, 1,138,278 + 174,464) and their config.yml",
        parameters=28_713_768, tensors=258,
        shapes={"autoencoder.generator.quantizer.codebook.layers.0.embed": (64, 1024),
                "vocoder.generator.input_conv.conv.bias": (512,),
                "vocoder.generator.output_conv.pad_buffer": (1, 32, 6),
                "autoencoder.generator.encoder.conv.pad_buffer": (1, 1, 6)})}

    def hub_layout(self, name, fixture):
        files = hub_files(fixture)
        return files, next(path for path in files if path.endswith(".pkl"))

    def with_unknown_key(self, name, config, key):
        config = copy.deepcopy(config)
        config["autoencoder_generator_params"][key] = 11  # AudioDec checks its generator_params
        return config


TESTER = AudioDecTester()
