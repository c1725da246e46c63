"""AcademiCodec HiFi-Codec (3 configs): its quirks (peak normalisation, length rule, batches, checkpoints).

Fixture parity, the official keys and the offline Hub: tests/test_codec_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2, resynthesize_one
from helpers import plain, torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.codecs.academicodec import codec as academicodec
from codecfake_hf.codecs.academicodec import hificodec
from codecfake_hf.codecs.academicodec.config import HiFiCodecConfig
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAMES = ["academicodec_hifi_16k_320d", "academicodec_hifi_16k_320d_large_uni", "academicodec_hifi_24k_320d"]
UTTERANCES = ["p225_273", "p295_144", "p318_114"]
# The fixtures' parity bound (codec-fixtures/README.md), here between two runs of our own code.
PARITY = 1e-4

parametrize_names = pytest.mark.parametrize("name", NAMES)


@pytest.fixture(scope="module")
def tiny(tiny_codec):
    """`tiny(name)` -> the codec built from the fixture's tiny config and weights."""
    return tiny_codec


def nest(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Flat `part.key` weights -> the official file's layout `{part: {key: tensor}}`."""
    return {
        part: {key.removeprefix(f"{part}."): value for key, value in flat.items() if key.startswith(f"{part}.")}
        for part in academicodec.CHECKPOINT_PARTS
    }


@parametrize_names
def test_official_config_and_state_dict(name, codec_fixture):
    fixture = codec_fixture(name)
    spec = codecs.spec(name)
    assert academicodec.default_config(spec) == fixture.manifest["config"]["values"]
    # the official keys and shapes: tests/test_codec_contract.py
    codec = codecs.load(name, config=fixture.tiny_config, random_weights=True)
    assert codec.random_weights and (codec.sample_rate, codec.spec.hop_length) == (spec.sample_rate, 320)


@parametrize_names
def test_config_dataclass_holds_the_official_values_and_upstream_constants(name, codec_fixture):
    """HiFiCodecConfig: the file's inference keys with their values, and upstream's hard-coded constants."""
    official = codec_fixture(name).manifest["config"]
    values = plain(HiFiCodecConfig.from_config(academicodec.default_config(codecs.spec(name))))
    read = official["inference_relevant"]
    constants = {key: official["hardcoded_in_code"][key] for key in set(values) - set(read)}
    assert values == {**{key: official["values"][key] for key in read}, **constants}


@parametrize_names
def test_nested_checkpoint_layout_loads_like_the_flat_one(name, codec_fixture):
    fixture = codec_fixture(name)
    flat = fixture.weights()
    codec = codecs.load(name, config=fixture.tiny_config, state_dict=nest(flat))
    state = codec.model.state_dict()
    assert state.keys() == flat.keys()
    assert all(torch.equal(state[key], flat[key]) for key in flat)


def test_peak_normalisation_is_librosas_per_valid_item():
    rng = np.random.default_rng(0)
    waves = np.zeros((3, 400), np.float32)
    waves[0] = rng.normal(0, 0.1, 400)
    waves[1, :250] = rng.normal(0, 0.3, 250)  # zero padding beyond 250; item 2 is silence
    lengths = torch.tensor([400, 250, 300])
    out = academicodec.peak_normalize(torch.from_numpy(waves), lengths).numpy()
    for i in range(2):  # librosa.util.normalize(wav) * 0.95: divide by max |wav|, in float32
        valid = waves[i, : lengths[i]]
        np.testing.assert_array_equal(out[i, : lengths[i]], valid / np.abs(valid).max() * np.float32(0.95))
    assert not out[1, 250:].any() and not out[2].any()


@parametrize_names
def test_output_is_independent_of_input_level(name, codec_fixture, tiny):
    """The pipeline's peak normalisation makes the codec blind to the input's gain."""
    wave = codec_fixture(name).npy("speech_input.npy")
    codec = tiny(name)
    quiet, loud = resynthesize_one(codec, wave * 0.25), resynthesize_one(codec, wave)
    assert rel_l2(quiet, loud) <= 1e-5


@parametrize_names
def test_length_rule_on_release_clips(name, demo_dir, tiny, release_lengths):
    """Truncated to a multiple of 320, as the release's files are (102472 -> 102400 samples at 16 kHz)."""
    codec = tiny(name)
    waves = []
    for utt in UTTERANCES:
        wave, rate = read_audio(demo_dir / f"genuine+{utt}.wav")
        assert rate == 16000
        # The pipeline fed the 24 kHz config VCTK's 48 kHz files resampled to 24 kHz; the lengths agree.
        waves.append(resample(wave, rate, codec.sample_rate))
    batch, lengths = pad_batch(waves)
    out, out_lengths = codec.resynthesize(batch, lengths)
    release = [release_lengths[f"{name}+{utt}.wav"] for utt in UTTERANCES]
    assert all(info.samplerate == codec.sample_rate for info in release)
    assert out_lengths.tolist() == [info.frames for info in release]
    assert [codec.output_length(n) for n in lengths] == [info.frames for info in release]
    assert out.shape[1] == max(info.frames for info in release)


@parametrize_names
def test_padded_batch_matches_one_by_one(name, codec_fixture, tiny):
    """Each item of a padded batch gets the codes it gets alone.

    Without the network's length masks it would not: GroupNorm would normalise over the padding too
    (relative errors of 0.25 to 1.3 on these items, and most codes changed).
    """
    codec = tiny(name)
    assert codec.batch_exact
    wave = codec_fixture(name).npy("speech_input.npy")
    lengths = [wave.shape[0], 30001, 16321, 700]
    batch = np.zeros((len(lengths), wave.shape[0]), np.float32)
    for i, n in enumerate(lengths):
        batch[i, :n] = wave[:n]
    codes, frames = codec.encode(torch.from_numpy(batch), lengths)
    for i, n in enumerate(lengths):  # the outputs, batched against alone: tests/test_codec_contract.py
        assert codec.output_length(n) == n // 320 * 320
        alone_codes, _ = codec.encode(torch.from_numpy(wave[None, :n]), [n])
        assert torch.equal(codes[i, : int(frames[i])], alone_codes[0])


def test_input_shorter_than_a_frame_is_refused(tiny):
    codec = tiny(NAMES[0])
    with pytest.raises(ValueError, match="at least one 320-sample frame"):
        codec.resynthesize(np.ones((2, 400), np.float32), [400, 319])


def test_config_that_does_not_fit_the_codec_is_refused():
    config_24k = academicodec.default_config(codecs.spec("academicodec_hifi_24k_320d"))
    with pytest.raises(CodecConfigError, match="24000 Hz"):
        codecs.load("academicodec_hifi_16k_320d", config=config_24k, random_weights=True)
    with pytest.raises(CodecConfigError, match="resblock"):
        codecs.load("academicodec_hifi_16k_320d", random_weights=True, config={**config_24k, "resblock": "2"})


def official_shaped_checkpoint(shapes: dict[str, tuple[int, ...]]) -> dict[str, dict[str, torch.Tensor]]:
    """A checkpoint in the official layout and shapes, each tensor a distinct constant.

    Each tensor expands a one-element storage, which `torch.save` writes as such: the file is a few KB
    instead of the real 250 MB, and loads back with the official shapes.
    """
    flat = {key: torch.full((1,), 0.01 * (1 + i % 13)).expand(shape) for i, (key, shape) in enumerate(shapes.items())}
    return nest(flat)


@parametrize_names
def test_official_checkpoint_through_the_offline_hub(name, codec_fixture, fake_hub, tmp_path):
    spec = codecs.spec(name)
    checkpoint = official_shaped_checkpoint(codec_fixture(name).official_shapes())
    checkpoint["steps"] = 1_000_000  # upstream's loader reads the three parts and ignores anything else
    path = tmp_path / spec.hub_files[0]
    torch.save(checkpoint, path)
    fake_hub.add(spec.hub_repo, {spec.hub_files[0]: path})

    codec = codecs.load(name)
    assert not codec.random_weights
    state = codec.model.state_dict()
    assert state.keys() == codec_fixture(name).official_shapes().keys()
    for part in academicodec.CHECKPOINT_PARTS:
        assert all(torch.equal(state[f"{part}.{key}"], value) for key, value in checkpoint[part].items())
    out, lengths = codec.resynthesize(np.sin(np.arange(1000, dtype=np.float32) / 7)[None], [1000])
    assert lengths.tolist() == [960] and torch.isfinite(out).all()


def bad_checkpoint(defect: str, tiny_weights: dict[str, torch.Tensor], path: Path) -> Path:
    if defect == "discriminator_file":  # what AcademiCodec's training saves beside the generator file
        torch.save({"mpd": {"convs.0.bias": torch.zeros(32)}, "steps": 3}, path)
        return path
    torch.save(nest(tiny_weights), path)  # loads, but has tiny shapes where the official config wants 512 channels
    if defect == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


@parametrize_names
@pytest.mark.parametrize(
    "defect, message",
    [
        ("truncated", "could not be loaded safely"),
        ("discriminator_file", "lacks the sub-dictionaries generator, encoder, quantizer"),
        ("other_shapes", "wrong shapes"),
    ],
)
def test_bad_checkpoint_file_is_named(name, defect, message, codec_fixture, fake_hub, tmp_path):
    spec = codecs.spec(name)
    path = bad_checkpoint(defect, codec_fixture(name).weights(), tmp_path / "checkpoint")
    fake_hub.add(spec.hub_repo, {spec.hub_files[0]: path})
    with pytest.raises(CheckpointError, match=message) as error:
        codecs.load(name)
    assert spec.hub_files[0] in str(error.value)


@pytest.mark.slow
@parametrize_names
def test_official_size_batch_matches_one_by_one(name, codec_fixture):
    """The length masks at the official width (512 channels, GroupNorm of 16-channel groups), random weights."""
    torch.manual_seed(0)
    codec = codecs.load(name, random_weights=True)
    wave = codec_fixture(name).npy("speech_input.npy")[: codec.sample_rate]
    lengths = [wave.shape[0], wave.shape[0] // 2 + 1]
    batch = np.stack([wave, np.where(np.arange(wave.shape[0]) < lengths[1], wave, 0)]).astype(np.float32)
    out, out_lengths = codec.resynthesize(batch, lengths)
    for i, n in enumerate(lengths):
        alone = resynthesize_one(codec, wave[:n])
        assert int(out_lengths[i]) == alone.shape[0]
        assert rel_l2(out[i, : alone.shape[0]], alone) <= PARITY


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def hub_files(name: str, fixture) -> dict[str, bytes]:
    """The repository's one checkpoint file `{generator, encoder, quantizer}` (its config lives in the code)."""
    nested = {part: {k.removeprefix(f"{part}."): v for k, v in fixture.weights().items() if k.startswith(f"{part}.")}
              for part in academicodec.CHECKPOINT_PARTS}
    return {codecs.spec(name).hub_files[0]: torch_save_bytes({**nested, "steps": 1_000_000})}


def _chains(codec, rows: int) -> list[list[int]]:
    # Rows layer by layer, group by group: each group's slice is its own residual chain.
    groups = len(codec.model.quantizer.quantizer_modules)
    return [list(range(g, rows, groups)) for g in range(groups)]


_FACTS = OfficialFacts(
    source="../shared/codec-fixtures/academicodec_hifi_*/manifest.json: the Hub file Dongchao/AcademiCodec/"
           "HiFi-Codec-* (generator, encoder and quantizer state dicts, weight_g and weight_v both counted: "
           "15,353,346 + 47,228,960 + 1,048,576) and AcademiCodec's egs/*/config_*.json",
    parameters=63_630_882, tensors=495,
    shapes={"generator.conv_pre.weight_v": (512, 512, 7), "generator.conv_post.weight_g": (1, 1, 1),
            "quantizer.quantizer_modules.0.embedding.weight": (1024, 256),
            "quantizer.quantizer_modules2.1.embedding.weight": (1024, 256)})


class AcademiCodecTester(FamilyTester):
    family = "academicodec"
    architecture_key = ("n_codes",)
    quantiser = Quantiser(
        where=lambda: (hificodec.Codebook, "encode"),
        stages=lambda codec: [book for layer in codec.model.quantizer.layers for book in layer],
        search=lambda book, x: (rows(x), book.embedding.weight),  # one group's slice
        chains=_chains,
        layout=lambda codec, codes: codes[0].T,  # [1, T, layers * groups]
    )
    facts = dict.fromkeys(NAMES, _FACTS)

    def chains(self):
        return 2

    def hub_layout(self, name, fixture):
        files = hub_files(name, fixture)
        return files, next(iter(files))

    def official_config_is_tiny(self, monkeypatch, name, fixture):
        # The Hub repository holds only the checkpoint; the config comes from the code.
        monkeypatch.setattr(academicodec, "default_config", lambda spec: dict(fixture.tiny_config))


TESTER = AcademiCodecTester()
