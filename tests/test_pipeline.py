"""A detector through `pipeline("audio-classification")` on our own rows, as the model card tells users to run it."""

from __future__ import annotations

import importlib.util
import re

import datasets
import numpy as np
import pytest
import torch
from test_eval import write_tiny_codecfake

from codecfake_hf.modelcard import build_model_card
from codecfake_hf.results import TrainingFacts
from codecfake_hf.schema import GENUINE


@pytest.fixture(scope="module")
def detector_dir(tmp_path_factory):
    """A fresh tiny wav2vec2 classifier with the bonafide/spoof labels, saved as finetune saves one."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    folder = tmp_path_factory.mktemp("detector")
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, conv_dim=(8, 8),
        conv_kernel=(8, 8), conv_stride=(4, 4), conv_bias=True, num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, classifier_proj_size=16, mask_time_prob=0.0, vocab_size=32,
        id2label={0: "bonafide", 1: "spoof"}, label2id={"bonafide": 0, "spoof": 1})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16_000, do_normalize=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """Our schema's rows in the Hub layout: genuine at 16 kHz, encodec_24khz at 24 kHz."""
    return write_tiny_codecfake(tmp_path_factory.mktemp("codecfake"))


def expected_scores(detector, wave: np.ndarray) -> dict[str, float]:
    """The pipeline's model and feature extractor on one 16 kHz clip, called directly."""
    inputs = detector.feature_extractor(wave, sampling_rate=16_000, return_tensors="pt")
    with torch.no_grad():
        probabilities = detector.model(**inputs).logits.softmax(-1)[0]
    return {detector.model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}


def test_card_snippet_runs_on_a_row_of_each_rate(detector_dir, dataset_dir, tmp_path, monkeypatch):
    """The card's "How to use" code, run as written (repo ids replaced by the local folders)."""
    facts = TrainingFacts(dataset="someone/codecfake-vctk", dataset_config="encodec_24khz", sampling_rate=16_000,
                          train_codecs=[GENUINE, "encodec_24khz"], train_rows=8)
    card = str(build_model_card(facts, [], "someone/codecfake-detector"))
    (code,) = re.findall(r"```python\n(.*?)```", card, flags=re.S)
    assert 'pipeline("audio-classification", model="someone/codecfake-detector")' in code
    assert 'load_dataset("someone/codecfake-vctk", "encodec_24khz", split="test")' in code
    assert 'cast_column("audio", Audio(sampling_rate=16000))' in code
    code = code.replace('detector("speech.wav")', "pass")  # a file goes through the FFmpeg binary instead
    code = code.replace('"someone/codecfake-detector"', repr(str(detector_dir)))
    code = code.replace('load_dataset("someone/codecfake-vctk", ', f"load_dataset({str(dataset_dir)!r}, ")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    scope: dict = {}
    exec(compile(code, "model-card-snippet", "exec"), scope)  # noqa: S102 - the card's own example

    # The snippet's objects, on every test row: the genuine rows are 16 kHz, the codec's rows 24 kHz.
    detector, rows = scope["detector"], scope["rows"]
    rates = datasets.load_dataset(str(dataset_dir), "encodec_24khz", split="test",
                                  cache_dir=str(tmp_path / "cache"))
    seen = set()
    for index, row in enumerate(rows):
        audio = row["audio"]
        wave, rate = audio["array"], audio["sampling_rate"]
        seen.add(rates[index]["audio"]["sampling_rate"])
        result = detector({"raw": wave, "sampling_rate": rate})
        expected = expected_scores(detector, wave)
        assert {item["label"]: item["score"] for item in result} == pytest.approx(expected, abs=1e-5)
    assert seen == {16_000, 24_000}


def test_without_the_cast_a_24khz_row_needs_torchaudio(detector_dir, dataset_dir, tmp_path):
    """Why the card casts: the pipeline resamples a 24 kHz array only through torchaudio (not installable here)."""
    from transformers import pipeline

    if importlib.util.find_spec("torchaudio") is not None:
        pytest.skip("torchaudio is installed here, so the pipeline can resample (the project never installs it)")
    detector = pipeline("audio-classification", model=str(detector_dir), device="cpu")
    rows = datasets.load_dataset(str(dataset_dir), "encodec_24khz", split="test", cache_dir=str(tmp_path / "cache"))
    audio = next(row["audio"] for row in rows if row["codec"] != GENUINE)
    assert audio["sampling_rate"] == 24_000
    with pytest.raises(ImportError, match="torchaudio"):
        detector({"raw": audio["array"], "sampling_rate": audio["sampling_rate"]})
