"""The evaluation package end to end on a tiny dataset: finetune → score → report → card, protocols, bad args."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import numpy as np
import pytest

from codecfake_hf import hub
from codecfake_hf.audio import to_pcm16
from codecfake_hf.corpus import Record
from codecfake_hf.schema import FEATURES, GENUINE, make_row

FAKE_CODECS = ("encodec_24khz", "SpeechTokenizer")
SPLITS = {"train": ("p225", "p230"), "validation": ("p226",), "test": ("p227", "p228")}
RATES = {GENUINE: 16_000, "encodec_24khz": 24_000, "SpeechTokenizer": 16_000}


def _wave(rng: np.random.Generator, codec: str, seconds: float) -> np.ndarray:
    """A sine plus noise; fakes get a codec-specific hum, so the classes differ a little."""
    rate = RATES[codec]
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * rng.uniform(120, 300) * t) + 0.05 * rng.standard_normal(t.size)
    if codec != GENUINE:
        wave += 0.1 * np.sin(2 * np.pi * (3000 if codec == "encodec_24khz" else 5000) * t)
    return wave.astype(np.float32)


def write_hub_layout(root: Path, rows: list[dict], codecs: list[str], splits: list[str]) -> Path:
    """A CodecFake dataset folder as the builder lays it out: the schema's rows (`codecfake_hf.schema`), one
    Parquet shard per codec and split under `data/<codec>/` (written by `datasets`, so Audio/ClassLabel survive),
    and the builder's dataset card, whose YAML declares `all` (the default) and one config per fake codec."""
    for codec in codecs:
        for split in splits:
            chosen = [{name: row[name] for name in FEATURES} for row in rows
                      if row["codec"] == codec and row["split"] == split]
            shard = root / "data" / codec / f"{split}-00000-of-00001.parquet"
            shard.parent.mkdir(parents=True, exist_ok=True)
            datasets.Dataset.from_list(chosen, features=FEATURES).to_parquet(str(shard))
    speakers = {split: sorted({row["speaker_id"] for row in rows if row["split"] == split}) for split in splits}
    hub.write_dataset_card(root, hub.DatasetCardInfo(parts=codecs, speakers=speakers, source={}))
    return root


def row(codec: str, utterance: str, split: str, wave: np.ndarray, rate: int) -> dict:
    """The schema's row (16-bit FLAC) of `wave`, plus the split it goes to."""
    record = Record(utterance, utterance.split("_")[0], text="please call stella")
    return {**make_row(record, codec, to_pcm16(wave), rate), "split": split}


def write_tiny_codecfake(root: Path, utterances_per_speaker: int = 2, seed: int = 0) -> Path:
    """Synthetic audio (0.3-0.6 s) for genuine and two codecs, two utterances per speaker, paper-like splits."""
    rng = np.random.default_rng(seed)
    rows = [row(codec, f"{speaker}_{n + 1:03d}", split, _wave(rng, codec, rng.uniform(0.3, 0.6)), RATES[codec])
            for codec in (GENUINE, *FAKE_CODECS) for split, speakers in SPLITS.items()
            for speaker in speakers for n in range(utterances_per_speaker)]
    return write_hub_layout(root, rows, [GENUINE, *FAKE_CODECS], list(SPLITS))


@pytest.fixture(scope="module")
def tiny_codecfake(tmp_path_factory) -> Path:
    return write_tiny_codecfake(tmp_path_factory.mktemp("tiny-codecfake"))


# --- a tiny random-weight wav2vec2, built in code (no download) -------------------------------------------------


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory) -> Path:
    """A config + feature extractor folder for a fresh 2-layer, 32-wide wav2vec2 (`--config_name`)."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    folder = tmp_path_factory.mktemp("tiny-wav2vec2")
    Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
        conv_dim=(8, 8), conv_kernel=(8, 8), conv_stride=(4, 4), conv_bias=True,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=16,
        mask_time_prob=0.0, vocab_size=32,
    ).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16_000, do_normalize=True).save_pretrained(folder)
    return folder


def run_cli(*argv: str) -> int:
    from eval.__main__ import main

    return main([str(arg) for arg in argv])


def trainer_flags(output_dir: Path, cache: Path, steps: int = 3) -> list[str]:
    return ["--output_dir", output_dir, "--cache_dir", cache, "--do_train", "--do_eval",
            "--max_steps", str(steps), "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "8",
            "--eval_strategy", "steps", "--eval_steps", str(steps), "--save_strategy", "steps",
            "--save_steps", str(steps), "--learning_rate", "1e-3", "--use_cpu", "--dataloader_num_workers", "0",
            "--report_to", "none", "--max_length_seconds", "0.5", "--logging_steps", "1"]


@pytest.fixture(scope="module")
def chain(tiny_codecfake, tiny_wav2vec2, tmp_path_factory):
    """finetune (train on encodec_24khz + genuine) → score (test, every codec) → report → card."""
    root = tmp_path_factory.mktemp("chain")
    model_dir, report_dir, cache = root / "model", root / "report", root / "cache"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--dataset_config_name", "all",
                   "--train_codecs", "encodec_24khz", "--config_name", tiny_wav2vec2,
                   *trainer_flags(model_dir, cache)) == 0
    assert run_cli("score", "--model_name_or_path", model_dir, "--dataset_name", tiny_codecfake,
                   "--split", "test", "--output_dir", report_dir, "--cache_dir", cache, "--device", "cpu") == 0
    return {"model": model_dir, "report": report_dir, "cache": cache}


def test_tiny_dataset_loads_per_codec_config(tiny_codecfake, tmp_path):
    every = datasets.load_dataset(str(tiny_codecfake), "all", split="test", cache_dir=str(tmp_path))
    one = datasets.load_dataset(str(tiny_codecfake), "encodec_24khz", split="test", cache_dir=str(tmp_path))
    assert set(every["codec"]) == {GENUINE, *FAKE_CODECS}
    assert set(one["codec"]) == {GENUINE, "encodec_24khz"}
    assert one.features["label"].names == ["bonafide", "spoof"]


def test_finetune_writes_model_with_labels_and_best_checkpoint(chain):
    from transformers import AutoConfig

    model = chain["model"]
    config = AutoConfig.from_pretrained(model)
    assert config.label2id == {"bonafide": 0, "spoof": 1}
    assert config.id2label == {0: "bonafide", 1: "spoof"}
    assert (model / "model.safetensors").is_file()
    state = json.loads((model / "trainer_state.json").read_text())
    eval_logs = [entry for entry in state["log_history"] if "eval_eer" in entry]
    assert eval_logs and 0.0 <= eval_logs[-1]["eval_eer"] <= 1.0
    assert state["best_model_checkpoint"].endswith("checkpoint-3")  # chosen by validation EER
    assert state["best_metric"] == eval_logs[0]["eval_eer"]
    facts = json.loads((model / "codecfake_training.json").read_text())
    assert facts["train_codecs"] == [GENUINE, "encodec_24khz"]
    assert facts["validation"]["rows"] == 4  # validation: genuine + encodec rows of speaker p226
    assert facts["train_rows"] == 8 and facts["class_weights"] == {"bonafide": 1.0, "spoof": 1.0}  # 4 + 4 rows


def test_score_writes_score_file_results_table_and_plot(chain):
    report = chain["report"]
    lines = (report / "scores.txt").read_text().splitlines()
    assert len(lines) == 3 * 4  # 3 codecs × 2 test speakers × 2 utterances
    utterance, codec, key, score = lines[0].split()
    assert utterance.startswith(f"{codec}+") and key in ("bonafide", "spoof")
    float(score)
    results = json.loads((report / "results.json").read_text())
    assert results["max_length_seconds"] == 0.5  # the training window, from the model's training facts
    assert set(results["per_codec"]) == set(FAKE_CODECS)
    assert results["pooled"]["n_bonafide"] == 4 and results["pooled"]["n_spoof"] == 8
    table = (report / "results.md").read_text()
    assert "| **pooled** |" in table and "| encodec_24khz |" in table and "minDCF" in table
    assert (report / "det.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_eer_agrees_with_metric_module_on_score_file(chain):
    from codecfake_hf.metrics import compute_eer, compute_min_dcf

    rows = [line.split() for line in (chain["report"] / "scores.txt").read_text().splitlines()]
    results = json.loads((chain["report"] / "results.json").read_text())
    bonafide = np.array([float(r[3]) for r in rows if r[2] == "bonafide"])
    for codec, values in results["per_codec"].items():
        spoof = np.array([float(r[3]) for r in rows if r[1] == codec])
        # the score file holds each score's float64 exactly: the table equals the measures recomputed from it
        assert values["eer"] == pytest.approx(compute_eer(bonafide, spoof)[0], abs=1e-9)
        assert values["min_dcf"] == pytest.approx(compute_min_dcf(bonafide, spoof)[0], abs=1e-9)
    assert results["pooled"]["eer"] == compute_eer(
        bonafide, np.array([float(r[3]) for r in rows if r[2] == "spoof"]))[0]


def test_model_card_has_eer_per_config_and_split(chain):
    from huggingface_hub import ModelCard

    card = ModelCard.load(chain["model"] / "README.md")
    eers = {(r.dataset_config, r.dataset_split): r.metric_value
            for r in card.data.eval_results if r.metric_type == "eer"}
    assert set(eers) == {("all", "validation"), ("all", "test"), ("encodec_24khz", "test"),
                         ("SpeechTokenizer", "test")}
    results = json.loads((chain["report"] / "results.json").read_text())
    assert eers[("all", "test")] == pytest.approx(100 * results["pooled"]["eer"], abs=1e-4)
    assert all(r.task_type == "audio-classification" for r in card.data.eval_results)
    assert card.data.pipeline_tag == "audio-classification"
    assert "## Training hyper-parameters" in card.text and "| learning_rate | 0.001 |" in card.text
    assert "| **pooled** |" in card.text


def test_card_command_pushes_folder(chain, monkeypatch):
    from huggingface_hub import HfApi

    calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_CardCommandToken0123456789abcdef")
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))
    monkeypatch.setattr(HfApi, "upload_folder",
                        lambda self, **kw: calls.append(("upload", kw["repo_id"], kw)) or "https://hub/commit")
    assert run_cli("card", "--model_dir", chain["model"], "--push_to_hub", "--hub_model_id", "me/codecfake-w2v2") == 0
    assert [call[:2] for call in calls] == [("create", "me/codecfake-w2v2"), ("upload", "me/codecfake-w2v2")]
    assert calls[1][2]["folder_path"] == str(chain["model"])
    assert "checkpoint-*" in calls[1][2]["ignore_patterns"]


def test_finetune_push_to_hub_uploads_our_card(tiny_codecfake, tiny_wav2vec2, tmp_path, monkeypatch):
    """`--push_to_hub` goes through the one push path (`hub.push`), once, with our card (EER in model-index)."""
    from huggingface_hub import HfApi

    uploads = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: None)

    def upload_folder(self, repo_id, folder_path, **kwargs):
        uploads.append((repo_id, (Path(folder_path) / "README.md").read_text(), self.token, kwargs))
        return "https://hub/commit"

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    flags = trainer_flags(tmp_path / "pushed", tmp_path / "cache", steps=1)
    secret = "hf_FinetuneSecret0123456789abcdefghij"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2, *flags,
                   "--push_to_hub", "--hub_model_id", "me/detector", "--hub_strategy", "end",
                   "--hub_token", secret, "--license", "mit") == 0
    assert [repo for repo, *_ in uploads] == ["me/detector"]
    assert "license: mit" in uploads[0][1] and "## Licence\n\n`mit`." in uploads[0][1]
    assert "type: eer" in uploads[0][1] and "split: validation" in uploads[0][1]
    assert uploads[0][2] == secret and "checkpoint-*" in uploads[0][3]["ignore_patterns"]
    training = json.loads((tmp_path / "pushed" / "codecfake_training.json").read_text())
    # every codec: 4 genuine and 8 spoof training rows; balanced weights N / (2 N_class)
    assert training["class_weights"] == {"bonafide": 1.5, "spoof": 0.75}
    # the token reached no file of the output folder (training_args.bin pickles the Trainer's arguments)
    written = [p for p in (tmp_path / "pushed").rglob("*") if p.is_file()]
    assert any(p.name == "training_args.bin" for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]


@pytest.mark.slow
def test_chain_on_real_codecfake_clips(release_dir, tiny_wav2vec2, tmp_path):
    """The real CodecFake release's clips (16, 24 and 44.1 kHz, 6.4 s) through finetune → score → card."""
    import soundfile

    codecs = [GENUINE, "encodec_24khz", "descript-audio-codec-44khz"]
    splits = {"p225_273": "train", "p295_144": "validation", "p318_114": "test"}
    rows = []
    for codec in codecs:
        for utterance, split in splits.items():
            wave, rate = soundfile.read(release_dir / f"{codec}+{utterance}.wav", dtype="float32")
            rows.append(row(codec, utterance, split, wave, rate))
    dataset = write_hub_layout(tmp_path / "demo", rows, codecs, ["train", "validation", "test"])
    flags = trainer_flags(tmp_path / "model", tmp_path / "cache", steps=2)
    flags[flags.index("--max_length_seconds") + 1] = "4.0375"  # CodecFake's 64,600 samples at 16 kHz
    assert run_cli("finetune", "--dataset_name", dataset, "--config_name", tiny_wav2vec2, *flags) == 0
    assert run_cli("score", "--model_name_or_path", tmp_path / "model", "--dataset_name", dataset,
                   "--output_dir", tmp_path / "report", "--cache_dir", tmp_path / "cache") == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert set(results["per_codec"]) == set(codecs[1:]) and results["max_length_seconds"] == 4.0375
    assert "config: descript-audio-codec-44khz" in (tmp_path / "model" / "README.md").read_text()


def test_score_reads_a_save_to_disk_folder(chain, tiny_codecfake, tmp_path, capsys):
    saved = tmp_path / "saved"
    datasets.load_dataset(str(tiny_codecfake), "all", cache_dir=str(chain["cache"])).save_to_disk(str(saved))
    assert run_cli("score", "--model_name_or_path", chain["model"], "--dataset_name", saved, "--split", "test",
                   "--codecs", "SpeechTokenizer", "--output_dir", tmp_path / "report", "--no_update_model_card",
                   "--dataloader_num_workers", "1", "--batch_size", "3") == 0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert list(results["per_codec"]) == ["SpeechTokenizer"] and results["pooled"]["n_spoof"] == 4
    # same rows, same scores as the chain's in-process scoring (another batch size, a worker process)
    chain_scores = dict(line.split()[::3] for line in (chain["report"] / "scores.txt").read_text().splitlines())
    for line in (tmp_path / "report" / "scores.txt").read_text().splitlines():
        utterance, score = line.split()[::3]
        assert float(score) == pytest.approx(float(chain_scores[utterance]), abs=2e-6)
    assert run_cli("score", "--model_name_or_path", chain["model"], "--dataset_name", saved, "--split", "dev",
                   "--output_dir", tmp_path / "report") == 2
    assert "`--split dev`" in capsys.readouterr().err


# --- bad arguments: one message naming flag and value, exit code 2, no traceback ----------------------------------


@pytest.mark.parametrize(("extra", "message"), [
    (["--train_codecs", "nocodec"], r"`--train_codecs nocodec`: \['nocodec'\] not in"),
    (["--eval_split_name", "dev"], "`--eval_split_name dev`: .* has no split 'dev'; its splits are"),
    (["--dataset_config_name", "nope"], "cannot load `--dataset_name"),
    (["--label_column_name", "is_fake"], "`--label_column_name is_fake` is not a column .* without labels"),
])
def test_finetune_bad_arguments(tiny_codecfake, tiny_wav2vec2, tmp_path, capsys, extra, message):
    code = run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   *trainer_flags(tmp_path / "out", tmp_path / "cache"), *extra)
    err = capsys.readouterr().err
    last_line = err.rstrip().split("\n")[-1]  # above it: datasets' progress bars
    assert code == 2
    assert last_line.startswith("error: ") and "Traceback" not in err
    assert re.search(message, last_line), err
    if "nocodec" in extra:
        assert "SpeechTokenizer" in err and "encodec_24khz" in err  # the valid choices


def test_dataset_without_labels_is_refused(tmp_path, capsys, tiny_codecfake):
    rows = datasets.load_dataset(str(tiny_codecfake), "all", split="test", cache_dir=str(tmp_path / "cache"))
    unlabelled = tmp_path / "unlabelled"
    shard = unlabelled / "data" / "test-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    rows.remove_columns("label").to_parquet(str(shard))
    code = run_cli("score", "--model_name_or_path", tmp_path / "no-model", "--dataset_name", unlabelled,
                   "--output_dir", tmp_path / "out", "--cache_dir", tmp_path / "cache")
    err = capsys.readouterr().err
    assert code == 2 and "`--label_column_name label` is not a column" in err and "without labels" in err


def test_inconsistent_training_arguments_are_one_message(capsys, tmp_path):
    assert run_cli("finetune", "--dataset_name", tmp_path, "--output_dir", tmp_path, "--eval_strategy", "no") == 2
    assert "pass `--load_best_model_at_end false`" in capsys.readouterr().err
    arguments = tmp_path / "args.json"
    arguments.write_text(json.dumps({"dataset_name": str(tmp_path), "output_dir": str(tmp_path), "bogus": 1}))
    assert run_cli("finetune", arguments) == 2
    err = capsys.readouterr().err
    assert "['bogus']" in err and "load_best_model_at_end" not in err  # no hint about an unrelated default


def test_score_arguments_file_errors_are_one_message(capsys, tmp_path):
    arguments = tmp_path / "score.json"
    arguments.write_text(json.dumps({"model_name_or_path": str(tmp_path), "dataset_name": str(tmp_path),
                                     "output_dir": str(tmp_path), "bogus": 1}))
    assert run_cli("score", arguments) == 2
    err = capsys.readouterr().err
    assert f"cannot read the arguments file {arguments}" in err and "bogus" in err and "Traceback" not in err
    assert run_cli("score", tmp_path / "missing.json") == 2
    assert f"cannot read the arguments file {tmp_path / 'missing.json'}" in capsys.readouterr().err


def test_unknown_command_and_missing_model(capsys, tiny_codecfake, tmp_path):
    assert run_cli("train") == 2
    assert "unknown command 'train'" in capsys.readouterr().err
    code = run_cli("finetune", "--dataset_name", tiny_codecfake, *trainer_flags(tmp_path / "o", tmp_path / "c"))
    assert code == 2 and "give `--model_name_or_path`" in capsys.readouterr().err
    code = run_cli("finetune", "--dataset_name", tiny_codecfake, "--model_name_or_path", tmp_path / "no-model",
                   *trainer_flags(tmp_path / "o", tmp_path / "c"))
    assert code == 2 and f"cannot load `--model_name_or_path {tmp_path / 'no-model'}`" in capsys.readouterr().err


def test_feature_extractor_error_names_the_flag_it_came_from(capsys, tiny_codecfake, tiny_wav2vec2, tmp_path):
    # the config loads from `--config_name`; the feature extractor is the checkpoint's, which is missing
    missing = tmp_path / "no-model"
    code = run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   "--model_name_or_path", missing, *trainer_flags(tmp_path / "o", tmp_path / "c"))
    assert code == 2 and f"cannot load `--model_name_or_path {missing}`" in capsys.readouterr().err


# --- protocols ------------------------------------------------------------------------------------------------


def test_paper_protocol_writes_eer_matrix(tiny_codecfake, tiny_wav2vec2, tmp_path):
    flags = trainer_flags(tmp_path / "paper", tmp_path / "cache", steps=1)
    flags[flags.index("--do_eval")] = "--do_train"  # keep the validation of the best checkpoint, once per run
    assert run_cli("protocol", "--protocol", "paper", "--dataset_name", tiny_codecfake,
                   "--config_name", tiny_wav2vec2, *flags) == 0
    report = json.loads((tmp_path / "paper" / "matrix.json").read_text())
    assert report["rows"] == list(FAKE_CODECS)  # the registry's (the paper's) order
    assert report["columns"] == [*FAKE_CODECS, "pooled"]
    matrix = np.array(report["eer"], dtype=float)
    assert matrix.shape == (2, 3) and np.all((matrix >= 0) & (matrix <= 1))
    for row_index, codec in enumerate(report["rows"]):  # each cell is the EER in that run's results.json
        results = json.loads((tmp_path / "paper" / codec / "test" / "results.json").read_text())
        expected = [results["per_codec"][name]["eer"] for name in FAKE_CODECS] + [results["pooled"]["eer"]]
        assert report["eer"][row_index] == expected
    assert "*" in (tmp_path / "paper" / "matrix.md").read_text()  # unseen codecs marked
    assert (tmp_path / "paper" / "matrix.png").read_bytes()[:4] == b"\x89PNG"
    for codec in FAKE_CODECS:
        assert (tmp_path / "paper" / codec / "test" / "results.json").is_file()


def test_finetune_from_a_checkpoint(tiny_codecfake, tiny_wav2vec2, tmp_path):
    """`--model_name_or_path`: a saved random-weight checkpoint (a local folder in the Hub's layout)."""
    from transformers import AutoConfig, AutoModelForAudioClassification, Wav2Vec2FeatureExtractor

    checkpoint = tmp_path / "checkpoint"
    AutoModelForAudioClassification.from_config(AutoConfig.from_pretrained(tiny_wav2vec2)).save_pretrained(checkpoint)
    Wav2Vec2FeatureExtractor.from_pretrained(tiny_wav2vec2).save_pretrained(checkpoint)
    (checkpoint / "README.md").write_text("---\nlicense: apache-2.0\n---\n# a checkpoint\n")  # its own card
    flags = trainer_flags(tmp_path / "model", tmp_path / "cache", steps=1)
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--dataset_config_name", "SpeechTokenizer",
                   "--model_name_or_path", checkpoint, "--no_freeze_feature_encoder", *flags) == 0
    facts = json.loads((tmp_path / "model" / "finetune_args.json").read_text())
    assert facts["model_name_or_path"] == str(checkpoint) and facts["freeze_feature_encoder"] is False
    training = json.loads((tmp_path / "model" / "codecfake_training.json").read_text())
    assert training["base_model"] == str(checkpoint)
    card = (tmp_path / "model" / "README.md").read_text()
    assert "config: SpeechTokenizer" in card and str(checkpoint) in card
    # No `--license`: the base model's, as its card states; a local folder is no `base_model` link.
    assert training["license"] == "apache-2.0" and "license: apache-2.0" in card and "base_model:" not in card


@pytest.mark.slow
def test_leave_one_out_and_all_protocols(tiny_codecfake, tiny_wav2vec2, tmp_path):
    for protocol, rows in (("leave-one-out", ["without-encodec_24khz", "without-SpeechTokenizer"]),
                           ("all", ["all"])):
        flags = trainer_flags(tmp_path / protocol, tmp_path / "cache", steps=1)
        assert run_cli("protocol", "--protocol", protocol, "--dataset_name", tiny_codecfake,
                       "--config_name", tiny_wav2vec2, *flags) == 0
        report = json.loads((tmp_path / protocol / "matrix.json").read_text())
        assert report["rows"] == rows
        assert report["runs"][rows[0]]["train_codecs"] == (list(FAKE_CODECS) if protocol == "all"
                                                           else ["SpeechTokenizer"])


def test_protocol_runs():
    from eval.protocols import protocol_runs

    assert protocol_runs("all", ["a", "b"]) == [("all", ["a", "b"])]
    assert protocol_runs("leave-one-out", ["a", "b", "c"])[0] == ("without-a", ["b", "c"])
    assert protocol_runs("paper", ["a", "b"]) == [("a", ["a"]), ("b", ["b"])]


# --- pieces ---------------------------------------------------------------------------------------------------


def test_crop_or_pad_and_log_odds():
    from eval.data import bonafide_log_odds, crop_or_pad

    wave = np.arange(10, dtype=np.float32)
    assert crop_or_pad(wave, 4, None).tolist() == [0, 1, 2, 3]  # evaluation: the first window
    window = crop_or_pad(wave, 4, np.random.default_rng(0))
    assert window.size == 4 and np.all(np.diff(window) == 1)  # training: a random contiguous window
    assert crop_or_pad(wave[:3], 7, None).tolist() == [0, 1, 2, 0, 1, 2, 0]  # short clips repeat
    logits = np.array([[2.0, 0.0], [0.0, 50.0], [-100.0, 100.0]])
    scores = bonafide_log_odds(logits, 0)
    np.testing.assert_allclose(scores, [2.0, -50.0, -200.0])  # no saturation, unlike probabilities


def test_class_weights_balance_the_classes():
    from eval.data import EvalArgumentError, LabelInfo
    from eval.finetune import class_weights

    info = LabelInfo(names=("bonafide", "spoof"), bonafide_id=0)
    weights = class_weights(np.array([0] + [1] * 15), info, "balanced")
    assert weights.tolist() == pytest.approx([8.0, 16 / 30])
    assert class_weights(np.array([0, 1]), info, "none") is None
    with pytest.raises(EvalArgumentError, match=r"no \['bonafide'\] rows"):
        class_weights(np.array([1, 1]), info, "balanced")


def test_model_card_keeps_one_entry_per_config_and_split(tmp_path):
    from huggingface_hub import ModelCard

    from codecfake_hf import modelcard
    from codecfake_hf.results import CodecResult, ScoreResults

    values = CodecResult(eer=0.1, threshold=0.0, min_dcf=0.2, n_bonafide=4, n_spoof=4)

    def run(config: str, pooled: CodecResult = values) -> ScoreResults:
        return ScoreResults(model="m", dataset="org/cf", dataset_config=config, split="test", max_length_seconds=4.0,
                            pooled=pooled, per_codec={"encodec_24khz": values})

    modelcard.add_results(tmp_path, run("all"))
    # the same codec scored alone, then `all` scored again (replaces the first run)
    modelcard.add_results(tmp_path, run("encodec_24khz"))
    runs = modelcard.add_results(tmp_path, run("all", CodecResult(0.3, 0.0, 0.2, 4, 4)))
    assert len(runs) == 2
    card = ModelCard.load(modelcard.write_model_card(tmp_path, model_name="det"))
    eers = [(r.dataset_type, r.dataset_config, r.dataset_split, r.metric_value)
            for r in card.data.eval_results if r.metric_type == "eer"]
    assert sorted(eers) == [("org/cf", "all", "test", 30.0), ("org/cf", "encodec_24khz", "test", 10.0)]
    assert card.data.datasets == ["org/cf"] and card.data.base_model is None
    with pytest.raises(modelcard.ModelCardError, match="nothing to put on the card"):
        modelcard.write_model_card(tmp_path / "empty-model")
