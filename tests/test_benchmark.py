"""Issue 21: ASVspoof 5's measures against the package's own outputs, taxonomy and family tracers, multi-task
heads, protocols for unseen families and cells with open-set tracing, stratified validation, nothing lost after
training, figures on the card, the Arena export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
import yaml
from test_eval import row, run_cli, tiny_codecfake, tiny_wav2vec2, trainer_flags, write_hub_layout

from codecfake_hf import codecs, metrics
from codecfake_hf.schema import GENUINE

__all__ = ["tiny_codecfake", "tiny_wav2vec2"]  # fixtures shared with test_eval

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "asvspoof5"
MEASURES = ("eer", "min_dcf", "act_dcf", "cllr")


def fixture_rows():
    rows = [line.split() for line in (FIXTURE / "scores.txt").read_text().splitlines()]
    return (np.array([float(r[3]) for r in rows]), np.array([0 if r[2] == "bonafide" else 1 for r in rows]),
            np.array([r[1] for r in rows]))


# --- measures: the ASVspoof 5 evaluation package's own numbers ----------------------------------------------------


def test_fixture_conditions_are_the_registrys():
    from eval.data import part_cell, part_family

    for codec, facts in json.loads((FIXTURE / "conditions.json").read_text()).items():
        assert (part_family(codec), part_cell(codec)) == (facts["family"], facts["cell"])
        assert codecs.spec(codec).family == facts["family"]


def test_score_report_equals_the_asvspoof5_package_per_codec_family_cell_and_pooled():
    """eval score's grouping (`codec_results`) on the recorded scores: every group's EER, minDCF, actDCF and Cllr
    equal the package's `calculate_minDCF_EER_CLLR_actDCF_full` output (tests/fixtures/make_asvspoof5_fixture.py)."""
    from eval.score import codec_results

    expected = json.loads((FIXTURE / "expected.json").read_text())["groups"]
    scores, labels, codec_names = fixture_rows()
    values, _ = codec_results(scores, labels, codec_names, 0)
    ours = {("pooled" if name == "pooled" else f"{grouping}:{name}"): result
            for grouping, group in values.items() for name, result in group.items()}
    assert set(ours) == set(expected) and len(expected) == 5 + 4 + 3 + 1
    for name, reference in expected.items():
        for measure in MEASURES:
            assert getattr(ours[name], measure) == pytest.approx(reference[measure], abs=1e-6), (name, measure)
    # the fixture is not trivial: a group tied with the bona fide scores, one where actDCF exceeds minDCF
    assert expected["codec:funcodec-funcodec_en_libritts-16k-gr1nq32ds320"]["min_dcf"] == 1.0
    assert expected["codec:descript-audio-codec-24khz"]["act_dcf"] > expected["codec:descript-audio-codec-24khz"][
        "min_dcf"]


def test_stand_alone_metric_module_equals_the_package():
    """eval/eer/eer.py (numpy only, no codecfake_hf) on the fixture's groups: the package's four measures."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("standalone_eer", FIXTURE.parents[2] / "eval" / "eer" / "eer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = json.loads((FIXTURE / "expected.json").read_text())
    scores, labels, names = fixture_rows()
    for codec in {n for n in names if n != GENUINE}:
        bonafide, spoof = scores[labels == 0], scores[names == codec]
        values = {"eer": module.compute_eer(bonafide, spoof)[0], **module.asvspoof5_costs(bonafide, spoof)}
        for measure in MEASURES:
            assert values[measure] == pytest.approx(expected["groups"][f"codec:{codec}"][measure], abs=1e-6)
    for reference in expected["degenerate"].values():
        bonafide, spoof = np.array(reference["bonafide"]), np.array(reference["spoof"])
        values = {"eer": module.compute_eer(bonafide, spoof)[0], **module.asvspoof5_costs(bonafide, spoof)}
        assert all(values[m] == pytest.approx(reference[m], abs=1e-6) for m in MEASURES)


def test_degenerate_splits_equal_the_package():
    for name, reference in json.loads((FIXTURE / "expected.json").read_text())["degenerate"].items():
        values = metrics.detection_measures(reference["bonafide"], reference["spoof"])
        for measure in MEASURES:
            assert values[measure] == pytest.approx(reference[measure], abs=1e-6), (name, measure)


def test_calibration_equals_scikit_learns_logistic_regression():
    scores, labels, _ = fixture_rows()
    for prior, reference in json.loads((FIXTURE / "expected.json").read_text())["calibration"].items():
        calibration = metrics.fit_calibration(scores[labels == 0], scores[labels == 1], prior=float(prior))
        assert calibration.scale == pytest.approx(reference["scale"], abs=1e-6)
        assert calibration.offset == pytest.approx(reference["offset"], abs=1e-6)
    # calibrating on the same trials cannot raise Cllr (it minimises it, up to the weak ridge)
    calibration = metrics.fit_calibration(scores[labels == 0], scores[labels == 1])
    assert metrics.compute_cllr(calibration(scores[labels == 0]), calibration(scores[labels == 1])) < \
        metrics.compute_cllr(scores[labels == 0], scores[labels == 1])


def oracle_min_dcf(bonafide, spoof, p_spoof=0.05, c_miss=1.0, c_fa=10.0):
    """Every threshold tried: accept above it; the smallest normalised cost (tie-free scores)."""
    best = np.inf
    for threshold in [min(bonafide.min(), spoof.min()) - 1, *np.concatenate((bonafide, spoof))]:
        frr = np.mean(bonafide <= threshold)
        far = np.mean(spoof > threshold)
        best = min(best, c_miss * (1 - p_spoof) * frr + c_fa * p_spoof * far)
    return best / min(c_miss * (1 - p_spoof), c_fa * p_spoof)


def test_min_dcf_and_per_codec_eer_equal_an_oracle_on_a_fixed_score_set():
    from test_metrics import brute_force_eer

    from eval.score import codec_results

    rng = np.random.default_rng(21)
    bonafide = rng.normal(1.0, 1.0, 37)
    spoof = {"encodec_24khz": rng.normal(-1.0, 1.0, 23), "SpeechTokenizer": rng.normal(0.5, 1.0, 29)}
    scores = np.concatenate((bonafide, *spoof.values()))
    labels = np.array([0] * 37 + [1] * 52)
    names = np.array([GENUINE] * 37 + ["encodec_24khz"] * 23 + ["SpeechTokenizer"] * 29)
    values, _ = codec_results(scores, labels, names, 0)
    for codec, rows in spoof.items():
        assert values["codec"][codec].eer == pytest.approx(brute_force_eer(bonafide, rows)[0], abs=1e-9)
        assert values["codec"][codec].min_dcf == pytest.approx(oracle_min_dcf(bonafide, rows), abs=1e-9)
    pooled = np.concatenate(list(spoof.values()))
    assert values["codec"]["pooled"].min_dcf == pytest.approx(oracle_min_dcf(bonafide, pooled), abs=1e-9)


def test_auroc_and_weighted_f1_by_hand():
    # positives [1, 2, 3] vs negatives [0, 2]: pairs won 1 (of 1 vs 0, 2) + 1.5 (2 vs 0, tie 2) + 2 = 4.5 of 6
    assert metrics.compute_auroc([1, 2, 3], [0, 2]) == pytest.approx(4.5 / 6)
    # F1: class 0 0.5 (2 true rows), class 1 0.8 (2), class 2 2/3 (2); weighted by true rows = the mean here
    values = metrics.classification_scores([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 0, 2, 2])
    f1 = [2 * 1 / (2 + 2), 2 * 2 / (2 + 3), 2 * 2 / (3 + 2)]
    assert values["weighted_f1"] == pytest.approx((2 * f1[0] + 2 * f1[1] + 3 * f1[2]) / 7)


def test_act_dcf_threshold_is_the_bayes_threshold():
    # beta = 1 * 0.95 / (10 * 0.05) = 1.9: a bona fide LLR just below -log 1.9 is a miss, a spoof at it accepted
    threshold = -np.log(1.9)
    value, at = metrics.compute_act_dcf([threshold - 1e-9, 5.0], [threshold, -5.0])
    assert at == pytest.approx(threshold)
    assert value == pytest.approx((0.95 * 0.5 + 10 * 0.05 * 0.5) / 0.5)


# --- labels: detection, tracing, real/fake ---------------------------------------------------------------------


def relabel(source: Path, target: Path, names: list[str]) -> Path:
    """The tiny dataset with its `label` column's names replaced (e.g. real/fake), as one save_to_disk folder."""
    loaded = datasets.load_dataset(str(source), "all", cache_dir=str(target / "cache"))
    features = loaded["train"].features.copy()
    features["label"] = datasets.ClassLabel(names=names)
    loaded.cast(features).save_to_disk(str(target / "data"))
    return target / "data"


def test_score_of_a_detector_on_real_fake_labels_names_the_bonafide_flag(chain_model, tiny_codecfake, tmp_path,
                                                                         capsys):
    """Issue 19's reproduction: a bona fide/spoof detector on a dataset labelled `real`/`fake` used to switch to
    source tracing silently (accuracy 0.00 %); now one message names `--bonafide_label`, and with it it scores."""
    data = relabel(tiny_codecfake, tmp_path, ["real", "fake"])
    assert run_cli("score", "--model_name_or_path", chain_model, "--dataset_name", data, "--split", "test",
                   "--output_dir", tmp_path / "out", "--device", "cpu", "--no_update_model_card") == 2
    err = capsys.readouterr().err
    assert "has the classes ['real', 'fake'], none of them `--bonafide_label bonafide`" in err
    assert "--bonafide_label real" in err and not (tmp_path / "out" / "results.json").exists()


def test_taxonomy_and_family_columns_are_tracing_labels(tiny_codecfake, tmp_path):
    from eval.data import DETECTION, SOURCE_TRACING, check_columns

    rows = datasets.load_dataset(str(tiny_codecfake), "all", split="train", cache_dir=str(tmp_path))
    common = {"audio": "audio", "codec": "codec", "bonafide": "bonafide", "what": "tiny"}
    assert check_columns(rows, label="label", **common).task == DETECTION
    decoder = check_columns(rows, label="decoder", **common)
    assert decoder.task == SOURCE_TRACING and decoder.names == ("bonafide", "time", "frequency")
    assert decoder.bonafide_id == 0
    family = check_columns(rows, label="family", **common)
    assert family.task == SOURCE_TRACING and family.names == (GENUINE, "encodec", "speechtokenizer")
    assert family.read_from == "codec" and family.ids(["SpeechTokenizer", GENUINE]) == [2, 0]


# --- end to end on the tiny dataset -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_model(tiny_codecfake, tiny_wav2vec2, tmp_path_factory):
    """A detector trained 2 steps, scored on the test split with calibration on the validation split."""
    root = tmp_path_factory.mktemp("bench-chain")
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   *trainer_flags(root / "model", root / "cache", steps=2)) == 0
    assert run_cli("score", "--model_name_or_path", root / "model", "--dataset_name", tiny_codecfake, "--split",
                   "test", "--output_dir", root / "model" / "test", "--cache_dir", root / "cache", "--device", "cpu",
                   "--calibration_split", "validation", "--dataset_revision", "a" * 40) == 0
    return root / "model"


def test_score_reports_every_measure_per_codec_family_cell_with_calibration(chain_model):
    report = chain_model / "test"
    results = json.loads((report / "results.json").read_text())
    assert set(results["per_family"]) == {"encodec", "speechtokenizer"}
    assert set(results["per_cell"]) == {"multi-codebook|none|time", "multi-codebook|semantic-distillation|time"}
    calibration = json.loads((report / "calibration.json").read_text())
    assert results["calibration"] == calibration and calibration["split"] == "validation"
    rows = [line.split() for line in (report / "scores.txt").read_text().splitlines()]
    calibrated = {r[0]: float(r[3]) for r in (line.split() for line in
                                              (report / "scores_calibrated.txt").read_text().splitlines())}
    bonafide = np.array([float(r[3]) for r in rows if r[2] == "bonafide"])
    for codec, values in results["per_codec"].items():  # recomputed from the score files, to 1e-9
        spoof = np.array([float(r[3]) for r in rows if r[1] == codec])
        assert values["eer"] == pytest.approx(metrics.compute_eer(bonafide, spoof)[0], abs=1e-9)
        assert values["min_dcf"] == pytest.approx(metrics.compute_min_dcf(bonafide, spoof)[0], abs=1e-9)
        llr_bona = np.array([calibrated[r[0]] for r in rows if r[2] == "bonafide"])
        llr_spoof = np.array([calibrated[r[0]] for r in rows if r[1] == codec])
        np.testing.assert_allclose(llr_spoof, calibration["scale"] * spoof + calibration["offset"], rtol=1e-12)
        assert values["act_dcf"] == pytest.approx(metrics.compute_act_dcf(llr_bona, llr_spoof)[0], abs=1e-9)
        assert values["cllr"] == pytest.approx(metrics.compute_cllr(llr_bona, llr_spoof), abs=1e-9)
    assert results["per_family"]["encodec"]["eer"] == results["per_codec"]["encodec_24khz"]["eer"]


def test_card_embeds_the_det_plot_and_carries_act_dcf_and_cllr(chain_model):
    card = (chain_model / "README.md").read_text()
    figure = next((chain_model / "figures").glob("*-det.png"))
    assert f"](figures/{figure.name})" in card and figure.read_bytes()[:4] == b"\x89PNG"
    assert "type: act_dcf" in card and "type: cllr" in card and "| family | minDCF |" in card


def test_export_writes_an_arena_submission(chain_model, tmp_path, capsys):
    out = tmp_path / "arena"
    assert run_cli("export", "--results_dir", chain_model / "test", "--output_dir", out, "--system_name",
                   "Tiny W2V2", "--benchmark_dataset", "SpeechAntiSpoofingBenchmarks/CodecFake",
                   "--model_repo", "me/tiny", "--scores_commit", "b" * 40) == 0
    scores = out / ".eval_results" / "SpeechAntiSpoofingBenchmarks" / "CodecFake" / "scores.txt"
    lines = scores.read_text().splitlines()
    ours = [line.split() for line in (chain_model / "test" / "scores.txt").read_text().splitlines()]
    assert [line.split() for line in lines] == [[r[0], r[3]] for r in ours]
    submission = yaml.safe_load((out / "submissions" / "tiny-w2v2.yaml").read_text())
    assert submission["schema_version"] == 4
    assert submission["artifact"]["scores_sha256"] == hashlib.sha256(scores.read_bytes()).hexdigest()
    assert submission["artifact"]["scores_url"] == (
        f"https://huggingface.co/me/tiny/resolve/{'b' * 40}/.eval_results/SpeechAntiSpoofingBenchmarks/CodecFake/"
        "scores.txt")
    assert submission["dataset"] == {"id": "SpeechAntiSpoofingBenchmarks/CodecFake", "revision": "a" * 40,
                                     "split": "test"}
    capsys.readouterr()
    assert run_cli("export", "--results_dir", chain_model / "test", "--output_dir", out, "--system_name", "x",
                   "--benchmark_dataset", "SpeechAntiSpoofingBenchmarks/CodecFake", "--dataset_revision", "main") == 2
    assert "`--dataset_revision main`: a submission pins the dataset's commit" in capsys.readouterr().err


def test_decoder_tracer_records_tracing_macro_f1_and_confusion(tiny_codecfake, tiny_wav2vec2, tmp_path):
    out = tmp_path / "decoder"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   "--label_column_name", "decoder", *trainer_flags(out, tmp_path / "cache", steps=2)) == 0
    facts = json.loads((out / "codecfake_training.json").read_text())
    assert facts["task"] == "source-tracing" and facts["labels"] == ["bonafide", "time", "frequency"]
    validation = facts["validation"]
    assert validation["macro_f1"] is not None and validation["weighted_f1"] is not None
    confusion = np.array(validation["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == validation["rows"] == 6  # 3 parts × 2 rows of p226
    assert confusion.sum(axis=1).tolist() == [2, 4, 0]  # genuine; EnCodec + SpeechTokenizer (time); no frequency
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["best_metric"] == validation["macro_f1"]  # the checkpoint chosen by macro-F1
    card = (out / "README.md").read_text()
    assert "A codec source tracer" in card and "bona fide vs spoof speech detector" not in card
    assert "type: f1" in card and "config: weighted" in card


def test_multitask_trains_and_reports_all_four_heads(tiny_codecfake, tiny_wav2vec2, tmp_path):
    out = tmp_path / "multi"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2, "--multitask",
                   *trainer_flags(out, tmp_path / "cache", steps=2)) == 0
    facts = json.loads((out / "codecfake_training.json").read_text())
    assert list(facts["heads"]) == ["label", "quantizer", "auxiliary", "decoder"] and facts["task"] == "multi-task"
    assert set(facts["validation"]["heads"]) == {"quantizer", "auxiliary", "decoder"}
    assert facts["validation"]["eer"] is not None
    from transformers import AutoConfig
    assert AutoConfig.from_pretrained(out).num_labels == sum(len(v) for v in facts["heads"].values())
    assert run_cli("score", "--model_name_or_path", out, "--dataset_name", tiny_codecfake, "--split", "test",
                   "--output_dir", out / "test", "--cache_dir", tmp_path / "cache", "--device", "cpu") == 0
    results = json.loads((out / "test" / "results.json").read_text())
    assert results["task"] == "multi-task" and results["pooled"] is not None
    assert set(results["heads"]) == {"quantizer", "auxiliary", "decoder"}
    auxiliary = results["heads"]["auxiliary"]
    # the auxiliary head's confusion counts match the dataset: 4 genuine, 4 encodec (none), 4 SpeechTokenizer (SD)
    assert np.array(auxiliary["confusion"]).sum(axis=1).tolist()[:3] == [4, 4, 4]
    assert (out / "test" / "confusion-decoder.png").is_file()


def test_max_eval_samples_4_is_stratified_and_the_model_is_saved(tiny_codecfake, tiny_wav2vec2, tmp_path):
    """The issue's case: the seed is chosen so that the old unstratified subset (a seeded shuffle's first 4 rows)
    holds no bona fide row, which stopped the run after training with the model lost."""
    from eval.data import select_codecs

    validation = datasets.load_dataset(str(tiny_codecfake), "all", split="validation", cache_dir=str(tmp_path))
    validation = select_codecs(validation, None, codec_column="codec", flag="", what="")
    seed = next(s for s in range(200) if set(validation.shuffle(seed=s).select(range(4))["label"]) == {1})
    out = tmp_path / "model"
    flags = trainer_flags(out, tmp_path / "cache", steps=2)
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   "--max_eval_samples", "4", "--seed", str(seed), *flags) == 0
    facts = json.loads((out / "codecfake_training.json").read_text())
    assert facts["validation"]["rows"] == 4 and facts["validation"]["eer"] is not None
    assert (out / "model.safetensors").is_file()


def test_a_failure_after_training_keeps_the_model_and_says_how_to_score_it(tiny_codecfake, tiny_wav2vec2, tmp_path,
                                                                           capsys, monkeypatch):
    from eval.finetune import CodecFakeTrainer

    def broken(self, *args, **kwargs):
        raise RuntimeError("validation exploded")

    monkeypatch.setattr(CodecFakeTrainer, "evaluate", broken)
    out = tmp_path / "model"
    flags = trainer_flags(out, tmp_path / "cache", steps=2)
    flags[flags.index("--eval_strategy") + 1] = "no"
    flags += ["--load_best_model_at_end", "false"]
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2, *flags) == 2
    err = capsys.readouterr().err.rstrip().splitlines()[-1]
    assert err.startswith("error: evaluation failed after training (RuntimeError: validation exploded)")
    assert f"python -m eval score --model_name_or_path {out}" in err
    for name in ("model.safetensors", "trainer_state.json", "finetune_args.json", "codecfake_training.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 2


def test_label_smoothing_is_honoured_with_balanced_class_weights(tmp_path):
    from transformers import PretrainedConfig, TrainingArguments
    from transformers.modeling_outputs import SequenceClassifierOutput

    from eval.finetune import CodecFakeTrainer

    class Head(torch.nn.Module):
        config = PretrainedConfig()

        def forward(self, input_values):
            return SequenceClassifierOutput(logits=input_values)

    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0], [1.5, 1.5, 0.0], [0.0, 1.0, 2.0]])
    labels = np.array([0, 2, 1, 1])
    weights = np.array([4 / 3, 4 / 6, 4 / 3])  # balanced N / (K N_c) of some training counts
    for factor in (0.0, 0.2):
        args = TrainingArguments(output_dir=str(tmp_path), label_smoothing_factor=factor, use_cpu=True,
                                 report_to="none")
        trainer = CodecFakeTrainer(model=Head(), args=args, class_weights=torch.tensor(weights, dtype=torch.float32))
        ours = trainer.compute_loss(trainer.model, {"input_values": torch.tensor(logits, dtype=torch.float32),
                                                    "labels": torch.tensor(labels)})
        # by hand: (1 - e) w_y (-log p_y) + e / K sum_c w_c (-log p_c), divided by sum of w_y (torch's weighted mean)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        per_row = (1 - factor) * weights[labels] * -log_p[np.arange(4), labels] + \
            factor / 3 * (weights * -log_p).sum(axis=1)
        assert float(ours) == pytest.approx(per_row.sum() / weights[labels].sum(), rel=1e-6), factor


# --- protocols: unseen families, held-out cells, open set ---------------------------------------------------------

THREE = ("encodec_24khz", "SpeechTokenizer", "descript-audio-codec-16khz")  # families encodec, speechtokenizer, dac


@pytest.fixture(scope="module")
def three_families(tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    hums = {GENUINE: 0, THREE[0]: 3000, THREE[1]: 5000, THREE[2]: 1500}
    splits = {"train": ("p225", "p230"), "validation": ("p226",), "test": ("p227",)}
    rows = []
    for codec, hum in hums.items():
        for split, speakers in splits.items():
            for speaker in speakers:
                for n in range(2):
                    t = np.arange(int(rng.uniform(0.3, 0.5) * 16_000)) / 16_000
                    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(120, 300) * t) + 0.05 * rng.standard_normal(t.size)
                    wave += 0.1 * np.sin(2 * np.pi * hum * t) if hum else 0
                    rows.append(row(codec, f"{speaker}_{n + 1:03d}", split, wave.astype(np.float32), 16_000))
    return write_hub_layout(tmp_path_factory.mktemp("three"), rows, [GENUINE, *THREE], list(splits))


def test_leave_one_family_out_matrices_equal_each_runs_results_and_report_open_set(three_families, tiny_wav2vec2,
                                                                                   tmp_path):
    root = tmp_path / "lofo"
    flags = trainer_flags(root, tmp_path / "cache", steps=1)
    assert run_cli("protocol", "--protocol", "leave-one-family-out", "--dataset_name", three_families,
                   "--label_column_name", "family", "--config_name", tiny_wav2vec2, *flags) == 0
    report = json.loads((root / "matrix.json").read_text())
    assert report["rows"] == ["without-encodec", "without-dac", "without-speechtokenizer"]  # the registry's order
    assert report["family_columns"] == ["encodec", "dac", "speechtokenizer", "pooled"]
    for row_index, name in enumerate(report["rows"]):
        results = json.loads((root / name / "test" / "results.json").read_text())
        for column, codec in enumerate(report["columns"]):  # each cell is the EER of that run's results.json
            expected = results["pooled"] if codec == "pooled" else results["per_codec"][codec]
            assert report["eer"][row_index][column] == expected["eer"]
        for column, family in enumerate(report["family_columns"]):
            expected = results["pooled"] if family == "pooled" else results["per_family"][family]
            assert report["family_eer"][row_index][column] == expected["eer"]
        held_out = name.removeprefix("without-")
        open_set = report["open_set"][name]
        assert open_set["unknown_parts"] == [held_out] and 0.0 <= open_set["auroc"] <= 1.0
        assert open_set == results["open_set"]
    assert (root / "family_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert "Open-set tracing" in (root / "family_matrix.md").read_text()
    card = (root / "without-dac" / "README.md").read_text()
    assert "figures/protocol-leave-one-family-out-family_matrix.png" in card


def test_protocol_runs_for_families_and_cells():
    from eval.data import EvalArgumentError
    from eval.protocols import protocol_runs

    codecs_ = ["encodec_24khz", "descript-audio-codec-16khz", "funcodec-funcodec_en_libritts-16k-gr1nq32ds320",
               "descript-audio-codec-24khz"]
    assert protocol_runs("family", codecs_) == [
        ("encodec", ["encodec_24khz"]), ("dac", ["descript-audio-codec-16khz", "descript-audio-codec-24khz"]),
        ("funcodec", ["funcodec-funcodec_en_libritts-16k-gr1nq32ds320"])]
    assert protocol_runs("leave-one-family-out", codecs_)[1] == (
        "without-dac", ["encodec_24khz", "funcodec-funcodec_en_libritts-16k-gr1nq32ds320"])
    assert protocol_runs("held-out-cell", codecs_, ["decoder=frequency"]) == [
        ("without-decoder-frequency", ["encodec_24khz", "descript-audio-codec-16khz", "descript-audio-codec-24khz"])]
    with pytest.raises(EvalArgumentError, match="needs `--held_out`"):
        protocol_runs("held-out-cell", codecs_)
    with pytest.raises(EvalArgumentError, match="'decoder=wavelet' is not `key=value` of the taxonomy"):
        protocol_runs("held-out-cell", codecs_, ["decoder=wavelet"])
    with pytest.raises(EvalArgumentError, match="at least two families"):
        protocol_runs("leave-one-family-out", ["descript-audio-codec-16khz", "descript-audio-codec-24khz"])
