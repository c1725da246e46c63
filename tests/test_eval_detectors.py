"""Issue 13 through the command line: AASIST / W2V2-AASIST training, convert-aasist, source tracing, protocols that
always train, cross-dataset protocol, label smoothing, scoring through Trainer.predict, plots with many codecs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from test_eval import FAKE_CODECS, run_cli, tiny_codecfake, tiny_wav2vec2, trainer_flags, write_tiny_codecfake
from transformers import AutoConfig, TrainingArguments
from transformers.trainer_pt_utils import LabelSmoother

from codecfake_hf import metrics
from codecfake_hf.detectors import AasistConfig, AasistFeatureExtractor
from codecfake_hf.schema import GENUINE, part_order

__all__ = ["tiny_codecfake", "tiny_wav2vec2"]  # fixtures shared with test_eval

# Registry (paper) order of the tiny dataset's parts: genuine, EnCodec, SpeechTokenizer
PARTS = [GENUINE, *FAKE_CODECS]


@pytest.fixture(scope="module")
def tiny_aasist(tmp_path_factory):
    """A `--config_name` folder of a narrow AASIST (a few thousand weights) with its feature extractor."""
    folder = tmp_path_factory.mktemp("tiny-aasist")
    AasistConfig(first_conv=32, filts=[20, [1, 8], [8, 8], [8, 16], [16, 16]], gat_dims=[16, 8]).save_pretrained(folder)
    AasistFeatureExtractor(max_length=8000).save_pretrained(folder)
    return folder


def test_part_order_is_genuine_then_registry_then_unknown():
    assert part_order(["SpeechTokenizer", "zz-new", GENUINE, "encodec_24khz", "aa-new"]) == [
        GENUINE, "encodec_24khz", "SpeechTokenizer", "aa-new", "zz-new"]


def test_aasist_trains_through_finetune_with_the_upstream_recipe_then_scores(tiny_codecfake, tiny_aasist, tmp_path):
    out = tmp_path / "aasist"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_aasist,
                   *trainer_flags(out, tmp_path / "cache", steps=2)) == 0
    arguments = json.loads((out / "finetune_args.json").read_text())
    # flags not given take clovaai/aasist's optim_config; the given --learning_rate 1e-3 stays
    assert arguments["learning_rate"] == 1e-3 and arguments["weight_decay"] == 1e-4
    assert arguments["lr_scheduler_type"] == "cosine_with_min_lr"
    assert arguments["lr_scheduler_kwargs"] == {"min_lr": 5e-6}
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    assert AutoConfig.from_pretrained(out).model_type == "aasist"
    facts = json.loads((out / "codecfake_training.json").read_text())
    assert facts["trained"] is True and facts["architecture"] == "AasistForAudioClassification"
    assert run_cli("score", "--model_name_or_path", out, "--dataset_name", tiny_codecfake, "--split", "test",
                   "--output_dir", tmp_path / "report", "--cache_dir", tmp_path / "cache", "--device", "cpu") == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert list(results["per_codec"]) == list(FAKE_CODECS) and results["pooled"]["n_spoof"] == 8


def test_aasist_recipe_uses_adam_with_l2_weight_decay(tiny_codecfake, tiny_aasist, tmp_path):
    from transformers import AutoModelForAudioClassification

    from eval.finetune import CodecFakeTrainer, parse_args

    model_args, _, training_args = parse_args(["--dataset_name", str(tiny_codecfake), "--config_name",
                                               str(tiny_aasist), "--output_dir", str(tmp_path), "--use_cpu",
                                               "--eval_strategy", "no", "--load_best_model_at_end", "false"])
    assert (training_args.learning_rate, training_args.per_device_train_batch_size) == (1e-4, 24)
    model = AutoModelForAudioClassification.from_config(AutoConfig.from_pretrained(tiny_aasist))
    trainer = CodecFakeTrainer(model=model, args=training_args, adam_l2=True)
    optimizer = trainer.create_optimizer()
    assert type(optimizer) is torch.optim.Adam
    assert {group["weight_decay"] for group in optimizer.param_groups} == {0.0, 1e-4}
    _, _, plain = parse_args(["--dataset_name", str(tiny_codecfake), "--config_name", str(tiny_aasist),
                              "--output_dir", str(tmp_path), "--weight_decay", "0"])
    assert plain.weight_decay == 0 and plain.learning_rate == 1e-4  # a given flag wins


def test_convert_aasist_writes_a_folder_with_its_origin_on_the_card(shared, tmp_path, capsys):
    aasist = shared / "detector-fixtures" / "aasist"
    converted = tmp_path / "aasist-l"
    assert run_cli("convert-aasist", "--checkpoint", aasist / "AASIST-L.pth", "--model_config",
                   aasist / "AASIST-L.model_config.json", "--output_dir", converted) == 0
    assert "AASIST-L: 85306 parameters" in capsys.readouterr().out
    assert AutoConfig.from_pretrained(converted).gat_dims == [24, 32]
    assert json.loads((converted / "preprocessor_config.json").read_text())["max_length"] == 64600
    card = (converted / "README.md").read_text()
    assert "clovaai/aasist" in card and "ASVspoof 2019 LA" in card and "fine-tuned" not in card
    # the model's code travels with it: the snippet needs no codecfake-hf (tests/test_remote_code.py runs it)
    assert 'pipeline("audio-classification", model="aasist-l", trust_remote_code=True)' in card
    assert "import codecfake_hf" not in card
    # the weights' licence, as clovaai/aasist states it: the YAML, the Licence section, the LICENSE file beside them
    assert ModelCard.load(converted / "README.md").data.license == "mit"
    assert "`mit`. Copyright (c) 2021-present NAVER Corp.; the full text is in [LICENSE](LICENSE)." in card
    assert (converted / "LICENSE").read_text() == (aasist / "LICENSE-aasist.txt").read_text()
    assert "Not stated" not in card and "listed above" not in card  # no dangling reference: no codecs are listed
    assert "has seen only its training data (ASVspoof 2019 LA (train), by the clovaai/aasist authors)" in card
    assert run_cli("convert-aasist", "--checkpoint", aasist / "AASIST-L.pth", "--output_dir", tmp_path / "x") == 2
    assert "does not fit this model_config" in capsys.readouterr().err  # AASIST's config for AASIST-L's weights
    assert run_cli("convert-aasist", "--checkpoint", tmp_path / "none.pth", "--output_dir", tmp_path / "x") == 2
    assert f"`--checkpoint {tmp_path / 'none.pth'}` is not a file" in capsys.readouterr().err


@pytest.mark.slow
def test_finetune_from_the_converted_official_checkpoint(shared, tiny_codecfake, tmp_path):
    aasist = shared / "detector-fixtures" / "aasist"
    converted = tmp_path / "aasist-l"
    assert run_cli("convert-aasist", "--checkpoint", aasist / "AASIST-L.pth", "--model_config",
                   aasist / "AASIST-L.model_config.json", "--output_dir", converted) == 0
    out = tmp_path / "tuned"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--model_name_or_path", converted,
                   *trainer_flags(out, tmp_path / "cache", steps=1)) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 1


def test_w2v2_aasist_trains_through_finetune(tiny_codecfake, tiny_wav2vec2, tmp_path):
    """A fresh W2V2-AASIST from a `--config_name` folder (a narrow back end on the tiny wav2vec2)."""
    from test_detectors import tiny_w2v2_aasist_config

    folder = tmp_path / "config"
    tiny_w2v2_aasist_config().save_pretrained(folder)
    AasistFeatureExtractor(max_length=8000).save_pretrained(folder)
    out = tmp_path / "w2v2-aasist"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", folder,
                   *trainer_flags(out, tmp_path / "cache", steps=2)) == 0
    config = AutoConfig.from_pretrained(out)
    assert config.model_type == "w2v2_aasist" and config.encoder_config["hidden_size"] == 32
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2
    arguments = json.loads((out / "finetune_args.json").read_text())
    assert arguments["weight_decay"] == 1e-4  # the AASIST recipe applies to W2V2-AASIST too


@pytest.mark.slow
def test_w2v2_aasist_detector_on_a_wav2vec2_checkpoint(tiny_codecfake, tiny_wav2vec2, tmp_path):
    """`--detector w2v2-aasist` with the paper's back end (projection 128, 64 channels) on an encoder config."""
    out = tmp_path / "w2v2-aasist"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--detector", "w2v2-aasist",
                   "--config_name", tiny_wav2vec2, *trainer_flags(out, tmp_path / "cache", steps=1)) == 0
    config = AutoConfig.from_pretrained(out)
    assert config.model_type == "w2v2_aasist" and config.projection_dim == 128


@pytest.fixture(scope="module")
def tracing(tiny_codecfake, tiny_wav2vec2, tmp_path_factory):
    root = tmp_path_factory.mktemp("tracing")
    flags = trainer_flags(root / "model", root / "cache", steps=3)
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   "--label_column_name", "codec", *flags) == 0
    assert run_cli("score", "--model_name_or_path", root / "model", "--dataset_name", tiny_codecfake,
                   "--label_column_name", "codec", "--split", "test", "--output_dir", root / "report",
                   "--cache_dir", root / "cache", "--device", "cpu") == 0
    return root


def test_source_tracing_trains_one_class_per_part_in_registry_order(tracing):
    config = AutoConfig.from_pretrained(tracing / "model")
    assert config.id2label == dict(enumerate(PARTS))
    facts = json.loads((tracing / "model" / "codecfake_training.json").read_text())
    assert facts["task"] == "source-tracing" and facts["labels"] == PARTS
    assert facts["validation"]["macro_f1"] is not None  # validation chose the checkpoint by macro-F1


def test_source_tracing_score_reports_accuracy_macro_f1_and_confusion(tracing):
    results = json.loads((tracing / "report" / "results.json").read_text())
    traced = results["source_tracing"]
    assert traced["classes"] == PARTS
    confusion = np.array(traced["confusion"])
    predictions = [line.split() for line in (tracing / "report" / "predictions.txt").read_text().splitlines()]
    assert confusion.sum() == len(predictions) == traced["rows"] == 12
    index = {name: i for i, name in enumerate(PARTS)}
    expected = np.zeros_like(confusion)
    for _, true, guess, _ in predictions:
        expected[index[true], index[guess]] += 1
    np.testing.assert_array_equal(confusion, expected)
    assert traced["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert "pooled" in results  # genuine is a class: its log-odds give the EERs too
    table = (tracing / "report" / "confusion.md").read_text()
    assert "| true \\ predicted | genuine | encodec_24khz | SpeechTokenizer | F1 (%) |" in table
    assert (tracing / "report" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    card = (tracing / "model" / "README.md").read_text()
    assert "type: accuracy" in card and "type: f1" in card  # model-index entries
    assert f"value: {round(100 * traced['accuracy'], 4)}" in card
    assert f"value: {round(100 * traced['macro_f1'], 4)}" in card and "Macro-F1" in card
    assert "| true \\ predicted |" in card


def test_source_tracing_model_scored_as_a_detector_names_the_fix(tracing, tiny_codecfake, tmp_path, capsys):
    assert run_cli("score", "--model_name_or_path", tracing / "model", "--dataset_name", tiny_codecfake,
                   "--output_dir", tmp_path, "--cache_dir", tracing / "cache", "--device", "cpu") == 2
    assert "score it with `--label_column_name codec`" in capsys.readouterr().err


def test_classification_scores_match_hand_counts():
    true = [0, 0, 1, 1, 2, 2]
    predicted = [0, 1, 1, 1, 0, 2]
    values = metrics.classification_scores(true, predicted, num_classes=4)
    np.testing.assert_array_equal(values["confusion"][:3, :3], [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert values["accuracy"] == pytest.approx(4 / 6)
    # F1 per class: 2*1/(2+2)=0.5, 2*2/(2+3)=0.8, 2*1/(2+1)=2/3; class 3 never occurs and does not count
    assert values["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert np.isnan(values["f1"][3])


def test_protocol_without_do_train_trains_every_run(tiny_codecfake, tiny_wav2vec2, tmp_path, capsys):
    flags = trainer_flags(tmp_path / "all", tmp_path / "cache", steps=1)
    flags.remove("--do_train")  # as both READMEs show the command
    assert run_cli("protocol", "--protocol", "all", "--dataset_name", tiny_codecfake,
                   "--config_name", tiny_wav2vec2, *flags) == 0
    assert json.loads((tmp_path / "all" / "all" / "trainer_state.json").read_text())["global_step"] == 1
    assert json.loads((tmp_path / "all" / "all" / "codecfake_training.json").read_text())["trained"] is True
    report = json.loads((tmp_path / "all" / "matrix.json").read_text())
    assert report["trained"] is True and "Not trained" not in (tmp_path / "all" / "all" / "README.md").read_text()


def test_untrained_protocol_and_finetune_say_so(tiny_codecfake, tiny_wav2vec2, tmp_path, capsys):
    flags = trainer_flags(tmp_path / "base", tmp_path / "cache", steps=1)
    assert run_cli("protocol", "--protocol", "all", "--train", "false", "--dataset_name", tiny_codecfake,
                   "--config_name", tiny_wav2vec2, *flags) == 0
    assert not (tmp_path / "base" / "all" / "trainer_state.json").exists()
    assert (tmp_path / "base" / "matrix.md").read_text().startswith("**Untrained**")
    assert "**Not trained**" in (tmp_path / "base" / "all" / "README.md").read_text()
    results = json.loads((tmp_path / "base" / "all" / "test" / "results.json").read_text())
    assert results["untrained"] is True
    assert "**Untrained model**" in capsys.readouterr().out


def test_score_refuses_a_model_without_its_classification_head(tiny_codecfake, tiny_wav2vec2, tmp_path, capsys):
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    base = tmp_path / "base"
    Wav2Vec2Model(AutoConfig.from_pretrained(tiny_wav2vec2)).save_pretrained(base)  # a pretrained encoder only
    Wav2Vec2FeatureExtractor().save_pretrained(base)
    assert run_cli("score", "--model_name_or_path", base, "--dataset_name", tiny_codecfake,
                   "--output_dir", tmp_path / "out", "--cache_dir", tmp_path / "cache", "--device", "cpu") == 2
    err = capsys.readouterr().err
    assert "is not a trained detector" in err and "classifier.weight" in err and "--do_train" in err


def test_cross_dataset_protocol_tests_on_another_dataset(tiny_codecfake, tiny_wav2vec2, tmp_path):
    other = write_tiny_codecfake(tmp_path / "other", seed=7)
    flags = trainer_flags(tmp_path / "cross", tmp_path / "cache", steps=1)
    assert run_cli("protocol", "--protocol", "paper", "--protocol_codecs", "encodec_24khz", "--dataset_name",
                   tiny_codecfake, "--test_dataset_name", other, "--config_name", tiny_wav2vec2, *flags) == 0
    report = json.loads((tmp_path / "cross" / "matrix.json").read_text())
    assert report["rows"] == ["encodec_24khz"] and report["columns"] == [*FAKE_CODECS, "pooled"]
    assert report["test_dataset"] == str(other)
    results = json.loads((tmp_path / "cross" / "encodec_24khz" / "other-test" / "results.json").read_text())
    assert results["dataset"] == str(other) and list(results["per_codec"]) == list(FAKE_CODECS)
    assert "tested on" in (tmp_path / "cross" / "matrix.md").read_text()


@pytest.mark.parametrize("factor", [0.0, 0.1])
def test_label_smoothing_factor_changes_the_loss_as_trainer_does(tmp_path, factor):
    from transformers import PretrainedConfig, Trainer
    from transformers.modeling_outputs import SequenceClassifierOutput

    from eval.finetune import CodecFakeTrainer

    class Head(torch.nn.Module):  # logits in, logits out: the loss alone is under test
        config = PretrainedConfig()

        def forward(self, input_values):
            return SequenceClassifierOutput(logits=input_values)

    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0], [1.5, 1.5, 0.0]])
    labels = torch.tensor([0, 2, 1])
    args = TrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=factor, use_cpu=True, report_to="none")
    trainer = CodecFakeTrainer(model=Head(), args=args)
    ours = trainer.compute_loss(trainer.model, {"input_values": logits, "labels": labels})
    plain = torch.nn.functional.cross_entropy(logits, labels)
    if factor:  # Trainer's own compute_loss, which applies its LabelSmoother
        reference = Trainer.compute_loss(trainer, trainer.model, {"input_values": logits, "labels": labels})
        assert isinstance(trainer.label_smoother, LabelSmoother)
        assert abs(ours - plain) > 1e-3  # it does change the loss
    else:
        reference = plain
    torch.testing.assert_close(ours, reference)


def test_det_plot_with_every_registered_codec_has_distinct_styles_and_an_outside_legend(tmp_path):
    import matplotlib.image

    from codecfake_hf.codecs import registry
    from eval.plots import curve_styles, plot_det

    rng = np.random.default_rng(0)
    names = registry.names()[::-1] + ["pooled"]
    styles = curve_styles(len(names))
    assert len({(s["color"], str(s["linestyle"])) for s in styles}) == len(names)
    curves = {name: metrics.compute_det_curve(rng.normal(1, 1, 50), rng.normal(0, 1, 50)) for name in names}
    path = plot_det(curves, {name: 0.1 for name in names}, tmp_path / "det.png", title="many")
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > height  # room for the legend beside the square axes
