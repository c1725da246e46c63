"""SpeechTokenizer: its quirks (checkpoint layouts and files, length rule, exact batches, `n_q`).

Fixture parity, the official key set and the offline Hub: tests/test_codec_contract.py.
"""

import json

import pytest
import soundfile as sf
import torch
from codec_tester import FamilyTester, OfficialFacts
from conftest import pad_batch, rel_l2
from helpers import plain, torch_save_bytes
from near_ties import Quantiser, rows

from codecfake_hf import codecs
from codecfake_hf.codecs.nn import quantization
from codecfake_hf.codecs.speechtokenizer import codec as speechtokenizer
from codecfake_hf.errors import CheckpointError, CodecConfigError

NAME = "SpeechTokenizer"
REPO = "fnlp/SpeechTokenizer"
CONFIG_FILE = "speechtokenizer_hubert_avg/config.json"
CHECKPOINT_FILE = "speechtokenizer_hubert_avg/SpeechTokenizer.pt"
UTTERANCES = ("p225_273", "p295_144", "p318_114")


@pytest.fixture(scope="module")
def fixture(codec_fixture):
    return codec_fixture(NAME)


@pytest.fixture(scope="module")
def tiny(fixture):
    """The tiny random-weight model of the fixture, loaded strictly from its safetensors file."""
    return codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights())


def test_state_dict_is_accepted_nested_or_flat(fixture):
    flat = fixture.weights()
    nested: dict = {}
    for key, value in flat.items():
        head, rest = key.split(".", 1)
        nested.setdefault(head, {})[rest] = value
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=nested)
    loaded = codec.model.state_dict()
    assert all(torch.equal(loaded[k], flat[k]) for k in flat)


def test_default_config_is_the_official_one(fixture):  # its keys and shapes: tests/test_codec_contract.py
    assert speechtokenizer.default_config(codecs.spec(NAME)) == fixture.manifest["config"]["values"]


def test_config_dataclass_holds_the_keys_upstream_reads(fixture):
    """SpeechTokenizerConfig is what upstream's `SpeechTokenizer.__init__` reads of the file, with its values."""
    official = fixture.manifest["config"]
    config = speechtokenizer.SpeechTokenizerConfig.from_config(speechtokenizer.default_config(codecs.spec(NAME)))
    values = plain(config)
    assert set(values) == set(official["keys_read_by_SpeechTokenizer.__init__"])
    assert values == {key: official["values"][key] for key in values}


def test_checkpoint_of_another_model_names_the_file_and_the_keys(fake_hub, fixture):
    weights = fixture.weights()
    del weights["decoder.model.15.conv.conv.bias"]
    fake_hub.add(REPO, {CONFIG_FILE: json.dumps(fixture.tiny_config), CHECKPOINT_FILE: torch_save_bytes(weights)})
    with pytest.raises(CheckpointError, match=r"SpeechTokenizer\.pt does not match.*decoder\.model\.15\.conv"):
        codecs.load(NAME)


def test_corrupt_config_names_the_file(fake_hub, fixture):
    fake_hub.add(REPO, {CONFIG_FILE: "{\"n_filters\": 2,", CHECKPOINT_FILE: torch_save_bytes(fixture.weights())})
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        codecs.load(NAME)


def test_length_rule_matches_the_release_on_real_clips(tiny, demo_dir):
    # The release's SpeechTokenizer files are the decoder's full output: whole 320-sample frames.
    for utterance in UTTERANCES:
        genuine = sf.info(demo_dir / f"genuine+{utterance}.wav")
        fake = sf.info(demo_dir / f"{NAME}+{utterance}.wav")
        assert genuine.samplerate == fake.samplerate == 16000
        assert tiny.output_length(genuine.frames) == fake.frames, utterance
        assert fake.frames == -(-genuine.frames // 320) * 320


def test_padded_batch_gives_each_real_clip_what_it_gets_alone(tiny, demo_dir):
    assert tiny.batch_exact
    waves = [sf.read(demo_dir / f"genuine+{u}.wav", dtype="float32")[0] for u in UTTERANCES]
    batch, lengths = pad_batch(waves)
    out, out_lengths = tiny.resynthesize(batch, lengths)
    for i, wave in enumerate(waves):
        alone, alone_length = tiny.resynthesize(wave[None], [wave.shape[0]])
        assert int(out_lengths[i]) == int(alone_length[0]) == -(-wave.shape[0] // 320) * 320
        assert rel_l2(out[i, : out_lengths[i]], alone[0]) <= 1e-4
        assert not out[i, out_lengths[i]:].any()


def test_codes_of_a_batch_equal_codes_alone(tiny, fixture):
    wave = torch.from_numpy(fixture.npy("speech_input.npy"))
    lengths = torch.tensor([48000, 16100, 1])
    batch = torch.zeros(3, 48000)
    for i, n in enumerate(lengths.tolist()):
        batch[i, :n] = wave[:n]
    codes, frames = tiny.encode(batch, lengths)
    assert frames.tolist() == [150, 51, 1]
    for i, n in enumerate(lengths.tolist()):
        alone, _ = tiny.encode(wave[None, :n])
        torch.testing.assert_close(codes[i, :, : frames[i]], alone[0], rtol=0, atol=0)


def test_codebook_count_is_checked(fixture):
    with pytest.raises(CodecConfigError, match=r"`n_q` must lie in 1\.\.8"):
        codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), n_q=9)
    codec = codecs.load(NAME, config=fixture.tiny_config, state_dict=fixture.weights(), n_q=2)
    codes, _ = codec.encode(torch.from_numpy(fixture.npy("input.npy")))
    assert codes.shape == (1, 2, 50)


@pytest.mark.slow
def test_official_size_batch_equals_each_clip_alone(demo_dir):
    # The real widths (1024-unit BiLSTM) with random weights: packing must keep batches exact there too.
    torch.manual_seed(0)
    codec = codecs.load(NAME, random_weights=True)
    waves = [sf.read(demo_dir / f"genuine+{u}.wav", dtype="float32")[0] for u in UTTERANCES]
    batch, lengths = pad_batch(waves)
    out, out_lengths = codec.resynthesize(batch, lengths)
    for i, wave in enumerate(waves):
        alone, _ = codec.resynthesize(wave[None], [wave.shape[0]])
        assert rel_l2(out[i, : out_lengths[i]], alone[0]) <= 1e-4


# -- the family's tester (tests/codec_tester.py) ----------------------------------------------------------------

def hub_files(fixture, checkpoint=None, config=None) -> dict[str, bytes | str]:
    """config.json and SpeechTokenizer.pt under the repository's `speechtokenizer_hubert_avg/`."""
    return {CONFIG_FILE: json.dumps(config if config is not None else fixture.tiny_config),
            CHECKPOINT_FILE: torch_save_bytes(checkpoint if checkpoint is not None else fixture.weights())}


class SpeechTokenizerTester(FamilyTester):
    family = "speechtokenizer"
    architecture_key = ("n_filters",)
    quantiser = Quantiser(
        where=lambda: (quantization.EuclideanCodebook, "encode"),
        stages=lambda codec: [layer._codebook for layer in codec.model.quantizer.vq.layers],
        search=lambda book, x: (rows(x), book.embed),
    )
    facts = {NAME: OfficialFacts(
        source="../shared/codec-fixtures/SpeechTokenizer/manifest.json: fnlp/SpeechTokenizer's "
               "speechtokenizer_hubert_avg/SpeechTokenizer.pt (key set and shapes: 103,675,586 parameters + the "
               "codebooks' buffers) and its config.json",
        parameters=120_461_002, tensors=166,
        shapes={"encoder.model.0.conv.conv.bias": (64,), "encoder.model.13.lstm.weight_ih_l0": (4096, 1024),
                "quantizer.vq.layers.0._codebook.embed": (1024, 1024), "transform.weight": (768, 1024),
                "decoder.model.15.conv.conv.weight_v": (1, 64, 7)})}

    def hub_layout(self, name, fixture):
        return hub_files(fixture), CHECKPOINT_FILE


TESTER = SpeechTokenizerTester()
