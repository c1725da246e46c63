"""AASIST / AASIST-L with the official clovaai/aasist weights against the upstream logits, and the detectors'
transformers plumbing (Auto classes, save/load, pipeline, feature extractor, W2V2-AASIST).

Scale: an AASIST forward pass on one 64,600-sample window takes about 2 s on one CPU thread, so the default
tier checks two clips per checkpoint (alone and as a batch); `-m slow` checks all 48 demo clips.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import rel_l2
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, pipeline

from codecfake_hf.detectors import (
    AasistConfig,
    AasistFeatureExtractor,
    AasistForAudioClassification,
    W2V2AasistConfig,
    W2V2AasistForAudioClassification,
    aasist_from_original,
    cut_window,
)
from codecfake_hf.errors import CheckpointError

CHECKPOINTS = ("AASIST", "AASIST-L")
FAST_ROWS = [0, 24]  # SpeechTokenizer+p225_273 (accepted as bona fide) and encodec_24khz+p225_273 (caught)
TOLERANCE = 1e-4  # relative; the fixture README expects about 1e-5 (different threads, float64 sinc filters)


@pytest.fixture(scope="module")
def aasist_dir(shared):
    return shared / "detector-fixtures" / "aasist"


@pytest.fixture(scope="module")
def official(aasist_dir):
    """name -> (model from the official .pth, reference logits in OUR order [bonafide, spoof], last_hidden)."""
    models = {}
    for name in CHECKPOINTS:
        model = aasist_from_original(aasist_dir / f"{name}.pth",
                                                           aasist_dir / f"{name}.model_config.json")
        upstream = np.load(aasist_dir / f"logits_{name}.npy")
        models[name] = (model, upstream[:, [1, 0]], np.load(aasist_dir / f"last_hidden_{name}.npy"))
    return models


@pytest.fixture(scope="module")
def inputs(aasist_dir):
    return np.load(aasist_dir / "inputs.npy")


def _logits(model, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        out = model(torch.from_numpy(batch), output_hidden_states=True)
    return out.logits.numpy(), out.hidden_states[0].numpy()


def assert_parity(actual: np.ndarray, expected: np.ndarray) -> None:
    assert rel_l2(actual, expected) <= TOLERANCE
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE * np.abs(expected).max())


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_official_checkpoint_reproduces_upstream_logits_alone_and_batched(official, inputs, name):
    model, reference, hidden = official[name]
    assert model.config.id2label == {0: "bonafide", 1: "spoof"}
    alone = np.concatenate([_logits(model, inputs[[row]])[0] for row in FAST_ROWS[:1]])
    assert_parity(alone, reference[FAST_ROWS[:1]])
    batched, batched_hidden = _logits(model, inputs[FAST_ROWS])
    assert_parity(batched, reference[FAST_ROWS])
    assert_parity(batched_hidden, hidden[FAST_ROWS])
    # upstream's decision at threshold 0: SpeechTokenizer accepted as bona fide, this EnCodec clip caught
    assert (batched[:, 0] > batched[:, 1]).tolist() == [True, False]


def test_save_pretrained_and_auto_classes_keep_the_logits(official, inputs, tmp_path):
    model, reference, _ = official["AASIST-L"]
    model.save_pretrained(tmp_path)
    AasistFeatureExtractor().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "aasist" and config["gat_dims"] == [24, 32]
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is AasistForAudioClassification
    assert isinstance(AutoConfig.from_pretrained(tmp_path), AasistConfig)
    assert isinstance(AutoFeatureExtractor.from_pretrained(tmp_path), AasistFeatureExtractor)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert_parity(_logits(loaded, inputs[FAST_ROWS[1:]])[0], reference[FAST_ROWS[1:]])


def test_pipeline_on_a_converted_folder_labels_a_16khz_clip(official, demo_dir, tmp_path):
    model, _, _ = official["AASIST-L"]
    model.save_pretrained(tmp_path)
    AasistFeatureExtractor().save_pretrained(tmp_path)
    wave, rate = sf.read(demo_dir / "genuine+p225_273.wav", dtype="float32")
    assert rate == 16000
    detector = pipeline("audio-classification", model=str(tmp_path))
    result = detector({"raw": wave, "sampling_rate": rate})
    assert {entry["label"] for entry in result} == {"bonafide", "spoof"}
    assert result[0]["label"] == "bonafide" and abs(sum(entry["score"] for entry in result) - 1) < 1e-5


def test_state_dict_keys_are_upstream_and_init_computes_nothing(aasist_dir):
    manifest = json.loads((aasist_dir / "manifest.json").read_text())
    for name, config in (("AASIST", AasistConfig()), ("AASIST-L", AasistConfig.aasist_l())):
        with torch.device("meta"):  # transformers 5 builds models on the meta device in from_pretrained
            model = AasistForAudioClassification(config)
        shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
        assert shapes == manifest["models"][name]["keys"]
        # the manifest counts parameters and BatchNorm running statistics (not the step counters)
        counted = sum(v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
        assert counted == manifest["models"][name]["parameters"]


def test_from_original_refuses_a_mismatched_config_naming_file_and_keys(aasist_dir, tmp_path):
    wrong_shape = r"keys of the wrong shape \(GAT_layer_S.att_proj.bias \(24,\) \(expected \(64,\)\)"
    with pytest.raises(CheckpointError, match=r"AASIST-L\.pth does not fit.*" + wrong_shape):
        aasist_from_original(aasist_dir / "AASIST-L.pth", aasist_dir / "AASIST.model_config.json")
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read the AASIST checkpoint .*broken.pth"):
        aasist_from_original(broken)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"model": object()}, unsafe)  # weights_only refuses arbitrary objects
    with pytest.raises(CheckpointError, match="unsafe.pth"):
        aasist_from_original(unsafe)


def test_feature_extractor_cuts_windows_as_upstream():
    extractor = AasistFeatureExtractor(max_length=10)
    wave = np.arange(25, dtype=np.float32)
    short = np.arange(4, dtype=np.float32)
    first = extractor([wave, short], sampling_rate=16000)["input_values"]
    np.testing.assert_array_equal(first[0], np.arange(10))
    np.testing.assert_array_equal(first[1], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])  # tiled, as upstream's pad()
    random = extractor(wave, random_window=True, seed=3, return_tensors="pt")["input_values"]
    assert random.shape == (1, 10) and np.all(np.diff(random[0].numpy()) == 1)  # a contiguous window
    np.testing.assert_array_equal(extractor(wave, random_window=True, seed=3)["input_values"], random.numpy())
    whole = AasistFeatureExtractor(max_length=0)([wave, short])["input_values"]
    assert np.asarray(whole).shape == (2, 25)
    np.testing.assert_array_equal(cut_window(short, 0), short)
    with pytest.raises(ValueError, match="takes 16000 Hz audio, got 24000 Hz: resample first"):
        extractor(wave, sampling_rate=24000)


def tiny_w2v2_aasist_config(**kwargs) -> W2V2AasistConfig:
    """A W2V2-AASIST small enough for CPU tests: a 2-layer, 32-wide wav2vec2 and a narrow back end."""
    from transformers import Wav2Vec2Config

    encoder = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                             conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_feat_extract_layers=2,
                             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    return W2V2AasistConfig(encoder_config=encoder.to_dict(), projection_dim=24,
                            filts=[24, [1, 8], [8, 8], [8, 16], [16, 16]], gat_dims=[16, 8], **kwargs)


def test_w2v2_aasist_forward_save_and_reload(tmp_path):
    torch.manual_seed(0)
    model = W2V2AasistForAudioClassification(tiny_w2v2_aasist_config()).eval()
    waves = torch.randn(2, 8000)
    with torch.no_grad():
        out = model(waves, labels=torch.tensor([0, 1]), output_hidden_states=True)
        alone = model(waves[1:]).logits
    assert out.logits.shape == (2, 2) and out.hidden_states[0].shape == (2, 40) and out.loss.ndim == 0
    torch.testing.assert_close(alone, out.logits[1:], rtol=1e-5, atol=1e-5)
    model.freeze_feature_encoder()
    assert not any(p.requires_grad for p in model.wav2vec2.feature_extractor.parameters())
    model.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(loaded) is W2V2AasistForAudioClassification
    with torch.no_grad():
        torch.testing.assert_close(loaded(waves).logits, out.logits)


def test_w2v2_aasist_from_a_pretrained_encoder_keeps_its_weights(tmp_path):
    from transformers import Wav2Vec2Model

    encoder = Wav2Vec2Model(tiny_w2v2_aasist_config().encoder())
    encoder.save_pretrained(tmp_path / "encoder")
    model = W2V2AasistForAudioClassification.from_encoder(str(tmp_path / "encoder"), projection_dim=24,
                                                         filts=[24, [1, 8], [8, 8], [8, 16], [16, 16]])
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(model.wav2vec2.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", CHECKPOINTS)
def test_official_checkpoint_on_all_48_demo_clips(official, inputs, aasist_dir, name, tmp_path):
    """Every demo clip alone and in batches of 8, and again after save_pretrained -> from_pretrained."""
    model, reference, hidden = official[name]
    alone = np.concatenate([_logits(model, inputs[[row]])[0] for row in range(len(inputs))])
    assert_parity(alone, reference)
    batched = np.concatenate([_logits(model, inputs[start:start + 8])[0] for start in range(0, len(inputs), 8)])
    assert_parity(batched, reference)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    reloaded = np.concatenate([_logits(loaded, inputs[start:start + 8])[0] for start in range(0, len(inputs), 8)])
    assert_parity(reloaded, reference)
    # the paper's starting observation: the ASVspoof-trained model accepts most codec clips as bona fide
    ids = json.loads((aasist_dir / "manifest.json").read_text())["ids"]
    codec_rows = [i for i, row_id in enumerate(ids) if not row_id.startswith("genuine+")]
    accepted = int((alone[codec_rows, 0] > alone[codec_rows, 1]).sum())
    assert (len(codec_rows), accepted) == (45, {"AASIST": 43, "AASIST-L": 42}[name])
