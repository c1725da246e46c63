"""Every `python -m eval` command's arguments, one dataclass per command, and the parser of each command.

Like `builder/request.py` for the builder: each dataclass is its command's manual under `HfArgumentParser`.
They live apart from the commands' code so that `<command> --help` imports only this module and
`transformers.HfArgumentParser`, not datasets, torch or the models. `eval/__main__.py` answers `--help` from
here (`help_parser`); each command's `main()` parses with `parser(command)`.

finetune and protocol also take every `TrainingArguments` flag, and importing `TrainingArguments` imports torch
(seconds on a small machine). Their `--help` therefore reads those flags from `training_arguments.json`, what
`HfArgumentParser(TrainingArguments)` makes of them (flags, help, defaults, choices), recorded for one
transformers version; with another version installed, `--help` imports `TrainingArguments` instead. A test holds
the recorded help to the real one (`write_training_help()` records it again).
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

CODECFAKE_SAMPLES = 64_600  # CodecFake's (and the ASVspoof baselines') input: 64,600 samples at 16 kHz
CODECFAKE_SECONDS = CODECFAKE_SAMPLES / 16_000


@dataclass
class ScoreArguments:
    """What to score, with which model, and where the report goes."""

    model_name_or_path: str = field(
        metadata={"help": "Trained detector: the output folder of `python -m eval finetune` or a Hub id."})
    dataset_name: str = field(
        metadata={"help": "Dataset: a local folder in Hub layout or a Hub id."})
    output_dir: str = field(
        metadata={"help": "Folder for scores.txt, results.json, results.md and det.png (created)."})
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "Dataset config to score (`all` or one codec's). Default: the dataset's "
                                        "default config (`all` in a CodecFake dataset)."})
    dataset_revision: str | None = field(
        default=None, metadata={"help": "Branch, tag or commit of a Hub dataset. Default: main."})
    split: str = field(default="test", metadata={"help": "Split to score. Default: test."})
    codecs: list[str] | None = field(
        default=None, metadata={"help": "Score only these codecs (plus genuine). Default: every codec of the config."})
    conditions: list[str] | None = field(
        default=None,
        metadata={"help": "Score only rows that went through these channel conditions (`clean`: none; e.g. "
                          "`opus_16k`); one condition is recorded with the results, so the card can compare "
                          "conditions. Default: every row."})
    condition_column_name: str = field(
        default="condition", metadata={"help": "Channel condition column (absent: all `clean`). Default: condition."})
    audio_column_name: str = field(default="audio", metadata={"help": "Audio column. Default: audio."})
    label_column_name: str = field(
        default="label", metadata={"help": "The column the model was trained on: `label` (bona fide vs spoof) for a "
                                          "detector or a multi-task model; `codec`, `family` or a taxonomy column "
                                          "for a tracer. Default: label."})
    codec_column_name: str = field(default="codec", metadata={"help": "Codec column. Default: codec."})
    id_column_name: str = field(
        default="id", metadata={"help": "Utterance id written to the score file. Default: id (`<codec>+<utt>`)."})
    bonafide_label: str = field(
        default="bonafide", metadata={"help": "Name of the bona fide class (in the dataset and the model's "
                                              "id2label). Default: bonafide."})
    max_length_seconds: float | None = field(
        default=None,
        metadata={"help": "Score the first window of this many seconds (shorter clips repeated). Default: the "
                          "window the model was fine-tuned with (its codecfake_training.json), else 4.0375 "
                          "(64,600 samples at 16 kHz, CodecFake's). 0 scores whole clips."})
    batch_size: int = field(default=16, metadata={"help": "Rows per forward pass. Default: 16."})
    dataloader_num_workers: int = field(
        default=0, metadata={"help": "Processes that decode and crop audio while the model runs. Default: 0 "
                                     "(the main process)."})
    device: str | None = field(
        default=None, metadata={"help": "`cpu` to score on the CPU. Default: Trainer's choice (every visible GPU, "
                                        "else the CPU); choose GPUs with CUDA_VISIBLE_DEVICES."})
    bf16: bool = field(default=False, metadata={"help": "Score in bfloat16 (Trainer's `bf16_full_eval`). "
                                                        "Default: False."})
    max_samples: int | None = field(
        default=None, metadata={"help": "Score at most this many rows (smoke tests). Default: all."})
    cache_dir: str | None = field(default=None, metadata={"help": "Hub cache folder. Default: HF's."})
    token: str | None = field(default=None, metadata={"help": "Hub token. Default: the logged-in one."})
    update_model_card: bool = field(
        default=True,
        metadata={"help": "With a local model folder, add these results to its codecfake_results.json and "
                          "rebuild its README.md (model-index). Default: True."})
    seed: int = field(default=42, metadata={"help": "Seed of the `--max_samples` subset. Default: 42."})
    calibration_split: str | None = field(
        default=None,
        metadata={"help": "Calibrate the scores on this split (e.g. `validation`, the development set) before actDCF "
                          "and Cllr: an affine map fitted by prior-weighted logistic regression turns the bona fide "
                          "log-odds into LLRs, as the ASVspoof 5 tools do (`codecfake_hf.metrics.fit_calibration`); "
                          "writes calibration.json and scores_calibrated.txt. EER and minDCF do not change. "
                          "Default: none, actDCF and Cllr read the raw log-odds as LLRs."})
    open_set_threshold: float = field(
        default=0.5,
        metadata={"help": "Open-set tracing (a tracer scored on parts it never saw): a clip whose largest class "
                          "probability is below this is \"none of the known codecs\". Default: 0.5."})


@dataclass
class CardArguments:
    """Rebuild a model folder's card, and push the folder like Trainer's `--push_to_hub`."""

    model_dir: str = field(metadata={"help": "Model folder written by `python -m eval finetune`."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the folder to the Hub. Default: False."})
    hub_model_id: str | None = field(
        default=None, metadata={"help": "Repo to push to (`user/name`). Default: the folder's name."})
    hub_token: str | None = field(default=None, metadata={"help": "Hub token. Default: the logged-in one."})
    hub_private_repo: bool | None = field(
        default=None, metadata={"help": "Create the repo private. Default: the Hub's default."})
    license: str | None = field(default=None, metadata={"help": (
        "The model's licence on its card (an SPDX or Hub licence id, e.g. `mit`). Default: what the card states "
        "already, else what finetune recorded (its `--license`, else the base model's licence as its local card "
        "states), else left out with a note on the card.")})


@dataclass
class ModelArguments:
    """Which model to fine-tune: a checkpoint, or a config for a fresh (random-weight) model."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Checkpoint (Hub id or folder) of any AutoModelForAudioClassification architecture "
                          "(wav2vec2, WavLM, HuBERT, AST, ...). Default: none, then `--config_name` builds a fresh "
                          "model."})
    config_name: str | None = field(
        default=None,
        metadata={"help": "Config (Hub id, folder or config.json) if not the checkpoint's. Alone, without "
                          "`--model_name_or_path`, it builds a model with random weights."})
    feature_extractor_name: str | None = field(
        default=None,
        metadata={"help": "Feature extractor (Hub id or folder). Default: the checkpoint's, else the config's "
                          "folder."})
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where Hub downloads (models and datasets) are cached. Default: HF's."})
    model_revision: str = field(
        default="main", metadata={"help": "Branch, tag or commit of the checkpoint. Default: main."})
    token: str | None = field(
        default=None, metadata={"help": "Hub token for private models or datasets. Default: the logged-in one."})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Run modelling code from the checkpoint's repository. Default: False."})
    freeze_feature_encoder: bool = field(
        default=True,
        metadata={"help": "Freeze the convolutional feature encoder (wav2vec2-style models), as CodecFake's "
                          "W2V2 detectors and run_audio_classification.py do. Default: True."})
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={"help": "Replace a checkpoint's classification head of another size (e.g. AST's 527 "
                          "AudioSet classes) with a new 2-class one. Default: False."})
    detector: str | None = field(
        default=None,
        metadata={"help": "Build a CodecFake detector instead of a stock classifier: `aasist` / `aasist-l` (fresh "
                          "AASIST or AASIST-L, random weights; for the official weights convert them with "
                          "`python -m eval convert-aasist` and pass the folder as `--model_name_or_path`), or "
                          "`w2v2-aasist` (W2V2-AASIST on the wav2vec2-family encoder `--model_name_or_path`, or a "
                          "fresh one from `--config_name`). These train with the CodecDetect/AASIST recipe "
                          "unless the flags are given: Adam (L2 weight decay 1e-4, betas 0.9/0.999), learning "
                          "rate 1e-4 cosine-annealed to 5e-6, batch 24 (an `--optim` other than the default "
                          "replaces Adam). Default: none.",
                  "choices": ["aasist", "aasist-l", "w2v2-aasist"]})
    class_weighting: str = field(
        default="balanced",
        metadata={"help": "Loss weights per class: `balanced` weighs each class by N / (K * N_class), so "
                          "the few bona fide rows count as much as the many spoof rows; `none` is plain cross "
                          "entropy. Default: balanced.", "choices": ["balanced", "none"]})


@dataclass
class DataTrainingArguments:
    """Which data to train and validate on, and how to cut it."""

    dataset_name: str = field(
        metadata={"help": "Dataset: a local folder in Hub layout (what `python -m builder` writes) or a Hub id."})
    dataset_config_name: str | None = field(
        default=None,
        metadata={"help": "Dataset config: `all` (every codec) or one codec's config (that codec + genuine). "
                          "One config per run: for several codecs use `all` with `--train_codecs` (per-codec "
                          "configs share their genuine rows). Default: the dataset's default config (`all` in a "
                          "CodecFake dataset)."})
    dataset_revision: str | None = field(
        default=None, metadata={"help": "Branch, tag or commit of a Hub dataset. Default: main."})
    train_codecs: list[str] | None = field(
        default=None,
        metadata={"help": "Codecs to train on (space-separated); genuine rows are always kept. Default: every "
                          "codec of the config."})
    eval_codecs: list[str] | None = field(
        default=None,
        metadata={"help": "Codecs to validate on (plus genuine). Default: the training codecs, so the best "
                          "checkpoint is chosen on seen attacks."})
    train_conditions: list[str] | None = field(
        default=None,
        metadata={"help": "Channel conditions to train on (space-separated; `clean`: rows that went through no "
                          "channel; a build's `--conditions` add others, e.g. `opus_16k`). Default: every row."})
    eval_conditions: list[str] | None = field(
        default=None, metadata={"help": "Channel conditions to validate on. Default: the training conditions."})
    condition_column_name: str = field(
        default="condition",
        metadata={"help": "Column naming the channel condition (a dataset without it is all `clean`). "
                          "Default: condition."})
    train_split_name: str = field(default="train", metadata={"help": "Training split. Default: train."})
    eval_split_name: str = field(
        default="validation", metadata={"help": "Validation split (for the best checkpoint). Default: validation."})
    audio_column_name: str = field(default="audio", metadata={"help": "Audio column. Default: audio."})
    label_column_name: str = field(
        default="label",
        metadata={"help": "What the model learns. `label` (a two-class ClassLabel with a bona fide class): a bona "
                          "fide/spoof detector, best checkpoint by EER. A tracer (\"which codec made this?\", best "
                          "checkpoint by macro-F1): `codec` (one class per part), `family` (the codec family, from "
                          "the codec column) or a taxonomy ClassLabel column (`quantizer`, `auxiliary`, `decoder`). "
                          "Default: label."})
    multitask: bool = field(
        default=False,
        metadata={"help": "Train the bona fide/spoof head (`--label_column_name`) and the three CodecFake+ taxonomy "
                          "heads (quantizer, auxiliary, decoder) at once, as CodecFake+'s source-tracing models do: "
                          "one linear layer whose logits are the heads' side by side, the loss the mean of the "
                          "heads' cross entropies; best checkpoint by the detection head's EER; every head "
                          "reported. Default: False."})
    codec_column_name: str = field(
        default="codec", metadata={"help": "Column naming the codec (`genuine` for bona fide). Default: codec."})
    bonafide_label: str = field(
        default="bonafide", metadata={"help": "Name of the bona fide class in the label column. Default: bonafide."})
    max_length_seconds: float = field(
        default=CODECFAKE_SECONDS,
        metadata={"help": "Window length in seconds: a random window for training, the first one for "
                          "validation; shorter clips are repeated. Default: 4.0375 (64,600 samples at 16 kHz, "
                          "CodecFake's). 0 keeps whole clips."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use at most this many training rows (smoke tests). Default: all."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use at most this many validation rows, taken in turn from every class and "
                                        "codec (stratified), so a small subset still holds both labels. Default: "
                                        "all."})
    license: str | None = field(default=None, metadata={"help": (
        "The model's licence on its card (an SPDX or Hub licence id, e.g. `mit`). Default: the base model's "
        "licence as its card states, read locally (its folder, or the Hub cache); else left out with a note.")})


# Defaults that differ from TrainingArguments': validate and save every epoch, keep the best checkpoint by
# validation EER (lower is better), keep the label and codec columns for the on-the-fly transforms, no
# experiment trackers unless asked. A `.json` of arguments bypasses these (it fills the dataclass directly).
TRAINING_DEFAULTS = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "metric_for_best_model": "eer",
    "greater_is_better": False,
    "remove_unused_columns": False,
    "report_to": "none",
    "save_total_limit": 2,
}


PROTOCOLS = ("paper", "all", "leave-one-out", "family", "leave-one-family-out", "held-out-cell", "channels")


@dataclass
class ProtocolArguments:
    """Which protocol, over which codecs, tested on which split."""

    protocol: str = field(
        default="paper",
        metadata={"help": "`paper` (train on each codec + genuine, test on all: the EER matrix), `all` (train on "
                          "every codec), `leave-one-out` (each codec unseen in turn), `family` (train on each codec "
                          "family, test on all: the family × family matrix), `leave-one-family-out` (each family "
                          "unseen in turn), `held-out-cell` (the codecs of each `--held_out` taxonomy cell unseen) or "
                          "`channels` (trained on clean rows and on the channel conditions' rows, each scored under "
                          "every condition). Default: paper.",
                  "choices": list(PROTOCOLS)})
    held_out: list[str] | None = field(
        default=None,
        metadata={"help": "`held-out-cell`: the taxonomy cells to hold out, one run each, as `key=value` of the "
                          "CodecFake+ taxonomy (quantizer, auxiliary, decoder), several joined by commas for their "
                          "intersection, e.g. `decoder=frequency` or `quantizer=multi-codebook,auxiliary=none`. "
                          "Default: none (required by `held-out-cell`)."})
    calibration_split: str | None = field(
        default=None, metadata={"help": "Calibrate every run's scores on this split before actDCF and Cllr (`score "
                                        "--calibration_split`). Default: none."})
    open_set_threshold: float = field(
        default=0.5, metadata={"help": "A tracer's open-set threshold (`score --open_set_threshold`). Default: 0.5."})
    protocol_codecs: list[str] | None = field(
        default=None,
        metadata={"help": "Codecs the protocol runs over (space-separated). Default: every codec of the "
                          "dataset config's training split."})
    protocol_conditions: list[str] | None = field(
        default=None,
        metadata={"help": "`channels`: the channel conditions it runs over (space-separated). Default: every "
                          "condition of the training split but `clean`."})
    test_split_name: str = field(default="test", metadata={"help": "Split every run is scored on. Default: test."})
    score_batch_size: int = field(default=16, metadata={"help": "Rows per forward pass when scoring. Default: 16."})
    train: bool = field(
        default=True,
        metadata={"help": "Train every run (`--do_train` is implied). `--train false` scores the starting model as "
                          "it is, untrained, in every run: a baseline, labelled untrained in the matrix, the cards "
                          "and the output. Default: True."})
    test_dataset_name: str | None = field(
        default=None,
        metadata={"help": "Cross-dataset: score every run on this dataset (folder or Hub id) instead of "
                          "`--dataset_name`, over every codec it holds. Default: the training dataset."})
    test_dataset_config_name: str | None = field(
        default=None, metadata={"help": "Config of `--test_dataset_name`. Default: its default config (`all`)."})


@dataclass
class ConvertArguments:
    """Which official checkpoint to convert, and where to."""

    checkpoint: str = field(metadata={"help": "The official .pth file (clovaai/aasist models/weights/AASIST.pth or "
                                              "AASIST-L.pth)."})
    output_dir: str = field(metadata={"help": "Folder to write the converted model into (created)."})
    model_config: str | None = field(
        default=None,
        metadata={"help": "The upstream config (config/AASIST.conf, or a JSON file of its model_config section) "
                          "that came with the checkpoint. Default: AASIST's."})



# The Speech Anti-Spoofing Arena's organisation on the Hub (eval/export.py).
ARENA_ORGANISATION = "SpeechAntiSpoofingBenchmarks"


@dataclass
class ExportArguments:
    """Which scoring run to export, to which benchmark, and who submits it."""

    results_dir: str = field(metadata={"help": "Output folder of `python -m eval score` (scores.txt, results.json)."})
    output_dir: str = field(metadata={"help": "Folder for `.eval_results/<dataset>/scores.txt` and "
                                              "`submissions/<slug>.yaml` (created)."})
    system_name: str = field(metadata={"help": "The system's name on the leaderboard."})
    benchmark_dataset: str | None = field(
        default=None, metadata={"help": f"The Arena's dataset id (`{ARENA_ORGANISATION}/<name>`). Default: the scored "
                                        "dataset, which must then be a Hub id."})
    dataset_revision: str | None = field(
        default=None, metadata={"help": "The dataset's commit (40 hex digits) the scores were computed on: a "
                                        "submission pins it. Default: the one `score --dataset_revision` recorded."})
    system_slug: str | None = field(
        default=None, metadata={"help": "File-name id of the system. Default: the name, lower case, hyphenated."})
    description: str = field(default="", metadata={"help": "A line about the system's configuration."})
    paper_title: str | None = field(default=None, metadata={"help": "The system's paper title. Default: none."})
    paper_url: str | None = field(default=None, metadata={"help": "The system's paper URL. Default: none."})
    code_url: str | None = field(default=None, metadata={"help": "The system's code. Default: none."})
    checkpoint: str | None = field(
        default=None, metadata={"help": "The checkpoint's Hub id or URL. Default: `--model_repo`."})
    model_repo: str | None = field(
        default=None, metadata={"help": "Your model repo the scores file is uploaded to (`owner/name`)."})
    scores_commit: str | None = field(
        default=None, metadata={"help": "The commit (40 hex digits) of that upload, for the pinned `scores_url`. "
                                        "Default: none; the YAML's url is then left empty and the output says how "
                                        "to fill it."})
    hf_username: str | None = field(default=None, metadata={"help": "Your Hub user name. Default: none."})
    contact: str | None = field(default=None, metadata={"help": "Your contact e-mail. Default: none."})
    calibrated: bool = field(
        default=False, metadata={"help": "Export scores_calibrated.txt (after `score --calibration_split`) instead "
                                         "of scores.txt. Default: False."})


@dataclass
class AppArguments:
    """Which detector the app serves, and whether to serve it here or write (and push) a Space folder."""

    model_name_or_path: str = field(
        metadata={"help": "The detector: a model folder (`finetune`, `convert-aasist`) or a Hub model id."})
    space_dir: str | None = field(
        default=None,
        metadata={"help": "Write a Hugging Face Space folder here (app.py, requirements.txt, README.md, space.json; "
                          "a local model folder is copied into it as model/) instead of serving the app. "
                          "Default: serve the app."})
    push_to_hub: bool = field(
        default=False, metadata={"help": "Upload the `--space_dir` folder to the Space `--hub_space_id`. "
                                         "Default: False."})
    hub_space_id: str | None = field(
        default=None, metadata={"help": "The Space to push to (`user/name`). Default: the space folder's name."})
    hub_token: str | None = field(default=None, metadata={"help": "Hub token. Default: the logged-in one."})
    hub_private_repo: bool | None = field(
        default=None, metadata={"help": "Create the Space private. Default: the Hub's default."})
    server_name: str = field(
        default="127.0.0.1", metadata={"help": "Address to serve on (0.0.0.0: every interface). Default: 127.0.0.1."})
    server_port: int = field(default=7860, metadata={"help": "Port to serve on. Default: 7860."})
    device: str | None = field(
        default=None, metadata={"help": "`cpu` or `cuda`. Default: cuda when there is a GPU, else cpu."})


# command -> (module holding its code, its argument dataclasses; "training" stands for TrainingArguments)
COMMAND_ARGUMENTS = {
    "finetune": ("finetune", (ModelArguments, DataTrainingArguments, "training")),
    "score": ("score", (ScoreArguments,)),
    "protocol": ("protocols", (ProtocolArguments, ModelArguments, DataTrainingArguments, "training")),
    "card": ("score", (CardArguments,)),
    "convert-aasist": ("convert", (ConvertArguments,)),
    "export": ("export", (ExportArguments,)),
    "app": ("app", (AppArguments,)),
}


def description(command: str) -> str:
    """The first paragraph of the command module's docstring (read from its file, not imported; `card`: its
    dataclass's docstring)."""
    module, _ = COMMAND_ARGUMENTS[command]
    if command == "card":
        return CardArguments.__doc__
    spec = importlib.util.find_spec(f"{__package__}.{module}")
    with open(spec.origin, encoding="utf-8") as file:
        return (ast.get_docstring(ast.parse(file.read())) or "").split("\n\n")[0]


def parser(command: str, prog: str):
    """The command's `HfArgumentParser` (finetune and protocol with TrainingArguments and this command's defaults).

    Args:
        command: a key of `COMMAND_ARGUMENTS`.
        prog: the program as the user called it (`codecfake-eval` or `python -m eval`).
    """
    from transformers import HfArgumentParser

    _, classes = COMMAND_ARGUMENTS[command]
    if "training" in classes:
        from transformers import TrainingArguments

        classes = tuple(TrainingArguments if value == "training" else value for value in classes)
    built = HfArgumentParser(classes, prog=f"{prog} {command}", description=description(command))
    if uses_training_arguments(command):
        built.set_defaults(**TRAINING_DEFAULTS)
    return built


def uses_training_arguments(command: str) -> bool:
    """Whether the command also takes every TrainingArguments flag (finetune, protocol)."""
    return "training" in COMMAND_ARGUMENTS[command][1]


TRAINING_HELP_FILE = Path(__file__).with_name("training_arguments.json")
_ACTIONS = {"_StoreAction": "store", "_StoreFalseAction": "store_false", "_StoreTrueAction": "store_true"}


def help_parser(command: str, prog: str):
    """A parser that prints the same `--help` as `parser(command, prog)`, only for printing it: the
    TrainingArguments flags come from `training_arguments.json` where it was recorded with the installed
    transformers (their types are not kept: never parse with it)."""
    recorded = _recorded_training_help() if uses_training_arguments(command) else None
    if recorded is None:
        return parser(command, prog)
    from transformers import HfArgumentParser

    _, classes = COMMAND_ARGUMENTS[command]
    built = HfArgumentParser(tuple(value for value in classes if value != "training"), prog=f"{prog} {command}",
                             description=description(command))
    for action in recorded:  # TrainingArguments comes last in both commands, as in `parser`
        kind = action.pop("action")
        options = action.pop("option_strings")
        if kind != "store":
            for key in ("nargs", "const", "choices", "metavar"):
                action.pop(key)
        built.add_argument(*options, action=kind, **action)
    built.set_defaults(**TRAINING_DEFAULTS)
    return built


def training_help_actions() -> list[dict]:
    """What `HfArgumentParser(TrainingArguments)` makes of each TrainingArguments field, as `--help` shows it
    (defaults and choices as the text argparse prints for them)."""
    from transformers import HfArgumentParser, TrainingArguments

    actions = []
    for action in HfArgumentParser(TrainingArguments)._actions:  # argparse keeps them in this (private) list
        if isinstance(action, argparse._HelpAction):
            continue
        actions.append({
            "action": _ACTIONS[type(action).__name__], "option_strings": list(action.option_strings),
            "dest": action.dest, "nargs": action.nargs, "const": None if action.const is None else str(action.const),
            "default": None if action.default is None else str(action.default),
            "choices": None if action.choices is None else [str(choice) for choice in action.choices],
            "required": action.required, "help": action.help, "metavar": action.metavar})
    return actions


def write_training_help(path: Path = TRAINING_HELP_FILE) -> Path:
    """Record `training_help_actions()` for the installed transformers (after a transformers upgrade)."""
    from codecfake_hf.files import write_json_atomic

    return write_json_atomic(path, {"transformers": importlib.metadata.version("transformers"),
                                    "actions": training_help_actions()})


def _recorded_training_help() -> list[dict] | None:
    try:
        recorded = json.loads(TRAINING_HELP_FILE.read_text())
    except (OSError, ValueError):
        return None
    if recorded.get("transformers") != importlib.metadata.version("transformers"):
        return None
    return recorded["actions"]
