"""codecfake_hf.results: typed results and training facts, read back as written."""

from __future__ import annotations

import json

import pytest

from codecfake_hf.results import CodecResult, ResultsFileError, ScoreResults, TrainingFacts, ValidationResult


def test_score_results_round_trip_through_the_json_file_with_the_same_keys(tmp_path):
    codec = CodecResult(eer=0.125, threshold=-0.5, min_dcf=0.25, n_bonafide=8, n_spoof=8)
    results = ScoreResults(model="m", dataset="org/cf", dataset_config="all", split="test", max_length_seconds=4.0375,
                           per_codec={"encodec_24khz": codec, "SpeechTokenizer": CodecResult(0.5, 0.0, 1.0, 8, 8)},
                           pooled=CodecResult(0.3125, 0.1, 0.5, 8, 16))
    path = results.save(tmp_path / "results.json")
    data = json.loads(path.read_text())
    assert list(data) == ["model", "dataset", "dataset_config", "split", "score", "max_length_seconds",
                          "min_dcf_parameters", "per_codec", "pooled"]
    assert data["per_codec"]["encodec_24khz"] == {"eer": 0.125, "threshold": -0.5, "min_dcf": 0.25,
                                                  "n_bonafide": 8, "n_spoof": 8}
    back = ScoreResults.load(path)
    assert back == results and isinstance(back.per_codec["SpeechTokenizer"], CodecResult)
    assert back.key == ("org/cf", "all", "test") and [name for name, _ in back.rows()][-1] == "pooled"


def test_training_facts_round_trip_and_tolerate_newer_keys(tmp_path):
    facts = TrainingFacts(dataset="org/cf", base_model="facebook/wav2vec2-base", train_codecs=["genuine", "x"],
                          train_rows=8, max_length_seconds=0.5, class_weights={"bonafide": 1.5, "spoof": 0.75},
                          hyperparameters={"learning_rate": 0.001},
                          validation=ValidationResult(split="validation", eer=0.25, min_dcf=0.5, rows=4))
    path = facts.save(tmp_path / "codecfake_training.json")
    assert TrainingFacts.load(path) == facts
    data = json.loads(path.read_text())
    data["detector_family"] = "aasist"  # a key written by a newer version is ignored
    assert TrainingFacts.from_dict(data) == facts


def test_unreadable_or_incomplete_files_are_one_message(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"model": "m", "dataset": "d"}')
    with pytest.raises(ResultsFileError, match="missing dataset_config, split, max_length_seconds, per_codec, pooled"):
        ScoreResults.load(path)
    path.write_text("{not json")
    with pytest.raises(ResultsFileError, match="cannot read"):
        ScoreResults.load(path)
