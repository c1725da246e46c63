"""Fine-tune a `transformers` audio classifier to tell bona fide speech from codec resynthesis (CodecFake).

Usage (from a checkout; the arguments are those of `--help`, or one `.json` file holding them):

    python -m eval finetune \\
        --dataset_name ORG/codecfake --dataset_config_name all --train_codecs encodec_24khz \\
        --model_name_or_path facebook/wav2vec2-base --output_dir runs/w2v2-encodec \\
        --do_train --do_eval --learning_rate 3e-5 --num_train_epochs 5 --per_device_train_batch_size 32

In the style of transformers' `examples/pytorch/audio-classification/run_audio_classification.py`,
with CodecFake's choices: 4 s windows (64,600 samples at 16 kHz), a class-weighted loss for the 1:N
bona fide/spoof imbalance, and the best checkpoint chosen by validation EER.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

import datasets
import numpy as np
import torch
import transformers
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.utils.versions import require_version

from codecfake_hf import detectors, hub, metrics, modelcard
from codecfake_hf.files import write_json_atomic
from codecfake_hf.results import TrainingFacts, ValidationResult

from . import program_name
from .arguments import TRAINING_DEFAULTS, DataTrainingArguments, ModelArguments
from .arguments import parser as command_parser
from .checks import check_count, check_seconds, check_window
from .data import (
    DETECTION,
    MULTITASK,
    SOURCE_TRACING,
    TAXONOMY_COLUMNS,
    EvalArgumentError,
    LabelInfo,
    bonafide_log_odds,
    cap_rows,
    check_columns,
    crop_or_pad,
    dataset_codecs,
    load_split,
    merge_label_info,
    mono,
    select_codecs,
    select_conditions,
)

# datasets >= 4 decodes Audio through torchcodec and loads Hub-layout folders with per-config data_files.
require_version("datasets>=4.0", "To fix: pip install -e . in the codecfake-hf checkout")
require_version("transformers>=5.0", "To fix: pip install -e . in the codecfake-hf checkout")

logger = logging.getLogger(__name__)

ARGUMENTS_FILE = "finetune_args.json"  # beside the model: the arguments, a `.json` that reruns this training






# Defaults that differ from TrainingArguments': validate and save every epoch, keep the best checkpoint by
# validation EER (lower is better), keep the label and codec columns for the on-the-fly transforms, no
# experiment trackers unless asked. A `.json` of arguments bypasses these (it fills the dataclass directly).


# clovaai/aasist config/AASIST.conf `optim_config` (the CodecDetect recipe trains AASIST with it): Adam with L2
# weight decay, cosine annealing to lr_min, batch 24. TrainingArguments' names; applied only to flags not given.
AASIST_RECIPE = {
    "learning_rate": 1e-4,
    "weight_decay": 1e-4,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "lr_scheduler_type": "cosine_with_min_lr",
    "lr_scheduler_kwargs": {"min_lr": 5e-6},
    "per_device_train_batch_size": 24,
}


def is_detector(model_args: ModelArguments) -> bool:
    """Whether the model is one of `codecfake_hf.detectors` (a `--detector`, or a local folder/config.json of one)."""
    if model_args.detector:
        return True
    for source in (model_args.config_name, model_args.model_name_or_path):
        if not source:
            continue
        path = Path(source)
        path = path / "config.json" if path.is_dir() else path
        if path.is_file() and path.suffix == ".json":
            try:
                return json.loads(path.read_text()).get("model_type") in detectors.DETECTOR_TYPES
            except ValueError:
                return False
        return False
    return False


def apply_detector_recipe(model_args: ModelArguments, training_args: TrainingArguments, given: set[str]) -> dict:
    """Set `AASIST_RECIPE` on `training_args` for a detector, except the flags the user gave; returns what was set."""
    if not is_detector(model_args):
        return {}
    applied = {}
    for name, value in AASIST_RECIPE.items():
        if name in given:
            continue
        if name == "lr_scheduler_type":
            value = transformers.SchedulerType(value)
        setattr(training_args, name, value)
        applied[name] = AASIST_RECIPE[name]
    if applied:
        logger.info("AASIST recipe (clovaai/aasist optim_config) for the flags not given: %s", applied)
    return applied


def given_flags(argv: list[str]) -> set[str]:
    """The argument names on a command line (`--name value`, `--name=value`) or the keys of a lone `.json`."""
    if len(argv) == 1 and argv[0].endswith(".json") and Path(argv[0]).is_file():
        try:
            return set(json.loads(Path(argv[0]).read_text()))
        except ValueError:
            return set()
    return {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}


def parse_args(argv: list[str] | None = None):
    """(ModelArguments, DataTrainingArguments, TrainingArguments) from the command line or one `.json`."""
    parser = command_parser("finetune", program_name())
    return parse_into_dataclasses(parser, sys.argv[1:] if argv is None else argv)


def parse_into_dataclasses(parser: HfArgumentParser, argv: list[str]) -> tuple:
    """Command line or one `.json`; TrainingArguments' own checks (ValueError) become one clear message, with
    the way out of this command's defaults where those caused it."""
    try:
        if len(argv) == 1 and argv[0].endswith(".json"):
            parsed = parser.parse_json_file(json_file=os.path.abspath(argv[0]))
        else:
            parsed = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as error:
        hint = ""
        if "load_best_model_at_end" in str(error):  # switched on by TRAINING_DEFAULTS, not by the user
            hint = (f" (this command defaults to {TRAINING_DEFAULTS['eval_strategy']!r} evaluation and saving with "
                    "`--load_best_model_at_end`; without validation pass `--load_best_model_at_end false`)")
        raise EvalArgumentError(f"{error}{hint}") from None
    model_args = next((value for value in parsed if isinstance(value, ModelArguments)), None)
    training_args = next((value for value in parsed if isinstance(value, TrainingArguments)), None)
    if model_args is not None and training_args is not None:
        apply_detector_recipe(model_args, training_args, given_flags(argv))
    return parsed


# `--report_to` names whose package is missing end in a traceback deep inside Trainer; this names the install.
# transformers' name -> (its availability check in transformers.integrations, the package to install).
TRACKERS = {
    "tensorboard": ("is_tensorboard_available", "tensorboard"),
    "wandb": ("is_wandb_available", "wandb"),
    "mlflow": ("is_mlflow_available", "mlflow"),
    "trackio": ("is_trackio_available", "trackio"),
    "comet_ml": ("is_comet_available", "comet_ml"),
    "neptune": ("is_neptune_available", "neptune"),
    "clearml": ("is_clearml_available", "clearml"),
    "dvclive": ("is_dvclive_available", "dvclive"),
    "swanlab": ("is_swanlab_available", "swanlab"),
    "azure_ml": ("is_azureml_available", "azureml-core"),
    "codecarbon": ("is_codecarbon_available", "codecarbon"),
    "dagshub": ("is_dagshub_available", "dagshub"),
}
EXTRAS = ("tensorboard", "wandb", "mlflow")  # pyproject.toml's tracker extras


def check_trackers(report_to) -> None:
    """Refuse `--report_to` trackers that are not installed, naming what to install (one message, no traceback)."""
    import transformers.integrations as integrations

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    missing = [name for name in names if name in TRACKERS
               and not getattr(integrations, TRACKERS[name][0], lambda: True)()]
    if missing:
        installs = " ".join(TRACKERS[name][1] for name in missing)
        extras = ",".join(name for name in missing if name in EXTRAS)
        extra_hint = f" (or `pip install 'codecfake-hf[{extras}]'`)" if extras else ""
        raise EvalArgumentError(
            f"`--report_to {' '.join(names)}`: {', '.join(missing)} is not installed; `pip install {installs}`"
            f"{extra_hint}, or leave `--report_to` at its default `none`")


class CodecFakeTrainer(Trainer):
    """`Trainer` with a class-weighted cross entropy, and a model card that keeps EER in `model-index`.

    `--label_smoothing_factor` is honoured as `Trainer`'s own `LabelSmoother` applies it: (1 - e) * NLL +
    e * mean over classes of -log p (torch's `label_smoothing`, which also takes the class weights).

    Args:
        class_weights: float tensor [num_labels], or None for plain cross entropy.
        adam_l2: train with `torch.optim.Adam` (weight decay as an L2 term, as clovaai/aasist does) instead of
            `--optim`'s AdamW; learning rate, betas, epsilon and weight decay come from the arguments.
        head_sizes: a multi-task model's heads: the number of classes of each, in the order of the logits; the
            labels are then [batch, heads] and the loss is the mean of the heads' (weighted) cross entropies.
    """

    def __init__(self, *args, class_weights: torch.Tensor | None = None, adam_l2: bool = False,
                 head_sizes: list[int] | None = None, **kwargs):
        if adam_l2:
            training_args = kwargs["args"]
            kwargs["optimizer_cls_and_kwargs"] = (torch.optim.Adam, {
                "lr": training_args.learning_rate, "betas": (training_args.adam_beta1, training_args.adam_beta2),
                "eps": training_args.adam_epsilon, "amsgrad": False})
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights
        self.head_sizes = list(head_sizes or [])

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
        logits = outputs.logits.float()
        weight = None if self.class_weights is None else self.class_weights.to(logits.device)
        if not self.head_sizes:
            loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight,
                                                     label_smoothing=self.args.label_smoothing_factor)
            return (loss, outputs) if return_outputs else loss
        losses, start = [], 0
        for head, size in enumerate(self.head_sizes):  # one cross entropy per head, on its slice of the logits
            part = slice(start, start + size)
            losses.append(torch.nn.functional.cross_entropy(
                logits[:, part], labels[:, head], weight=None if weight is None else weight[part],
                label_smoothing=self.args.label_smoothing_factor))
            start += size
        loss = torch.stack(losses).mean()
        return (loss, outputs) if return_outputs else loss

    def create_model_card(self, **kwargs):
        """Trainer's own card drops EER from `model-index`; write ours from the folder's JSON files (this is
        also what Trainer's `push_to_hub` calls before uploading)."""
        if self.is_world_process_zero():
            # The full repository id where there is one, so the card's pipeline snippet names it.
            modelcard.write_model_card(self.args.output_dir,
                                       model_name=self.args.hub_model_id or kwargs.get("model_name"))


def class_weights(labels: np.ndarray, label_info: LabelInfo, how: str) -> torch.Tensor | None:
    """Balanced weights N / (K * N_class) from the training labels, K the classes present.

    A detector needs both classes. A tracer may have classes no training row holds (a taxonomy column lists
    every value of the registry, e.g. `frequency` in a build of time-domain codecs only): they get weight 0
    (they cannot be learned, and no row of theirs is in the loss); at least two classes must be present.
    """
    if how not in ("balanced", "none"):
        raise EvalArgumentError(f"`--class_weighting {how}`: choose `balanced` or `none`")
    counts = np.bincount(labels, minlength=len(label_info.names))
    missing = [label_info.names[i] for i, count in enumerate(counts) if count == 0]
    present = int(np.count_nonzero(counts))
    if missing and (label_info.task != SOURCE_TRACING or present < 2):
        seen = dict(zip(label_info.names, counts.tolist(), strict=True))
        need = "a detector needs both classes" if label_info.task != SOURCE_TRACING else \
            "a tracer needs at least two classes"
        raise EvalArgumentError(
            f"the training rows of `{label_info.column}` have no {missing} rows (counts {seen}): "
            f"{need}; check `--train_codecs` and the split")
    if missing:
        logger.warning("No training rows of %s %s: weight 0, the model cannot learn them", label_info.column, missing)
    if how == "none":
        return None
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, counts.sum() / (present * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def make_transform(feature_extractor, data_args: DataTrainingArguments, label_info: LabelInfo, *, train: bool,
                   seed: int, heads: list[LabelInfo] | None = None, batch_size: int = 1):
    """The `set_transform` function: decode, crop (random for training), extract features, attach label ids
    (a multi-task model: one id per head, [rows, heads])."""
    input_name = feature_extractor.model_input_names[0]
    rate = feature_extractor.sampling_rate
    length = check_window(data_args.max_length_seconds, rate, batch_size, "--max_length_seconds")
    rng = np.random.default_rng(seed) if train else None

    def transform(batch):
        waves = [crop_or_pad(mono(audio), length, rng) for audio in batch[data_args.audio_column_name]]
        inputs = feature_extractor(waves, sampling_rate=rate)
        if heads:
            labels = [list(ids) for ids in zip(*(head.ids(batch[head.read_from]) for head in heads), strict=True)]
        else:
            labels = label_info.ids(batch[label_info.read_from])
        return {input_name: inputs[input_name], "labels": labels}

    return transform


def detection_values(logits: np.ndarray, labels: np.ndarray, bonafide_id: int) -> dict[str, float]:
    """EER (and its threshold), minDCF, actDCF and Cllr of the bona fide log-odds of `logits` [N, K]."""
    scores = bonafide_log_odds(logits, bonafide_id)
    bonafide, spoof = metrics.split_scores(scores, labels, pos_label=bonafide_id)
    values = metrics.detection_measures(bonafide, spoof)
    values["eer_threshold"] = values.pop("threshold")
    return values


def tracing_values(logits: np.ndarray, labels: np.ndarray, names) -> dict:
    """Accuracy, macro-F1, weighted F1 and the confusion matrix (as a list) of a tracer's logits [N, K]."""
    values = metrics.classification_scores(labels, np.argmax(logits, axis=1), num_classes=len(names))
    return {"accuracy": values["accuracy"], "macro_f1": values["macro_f1"], "weighted_f1": values["weighted_f1"],
            "confusion": values["confusion"].tolist()}


def eer_metrics(bonafide_id: int | None, task: str = "detection", names=(), heads: list[LabelInfo] | None = None):
    """`compute_metrics` for Trainer: EER, minDCF, actDCF and Cllr of the bona fide log-odds on the validation
    rows; in source tracing, accuracy, macro-F1 and weighted F1 (and the EER of genuine against every codec, where
    genuine is a class); a multi-task model: the detection head's measures, then `<head>_accuracy`,
    `<head>_macro_f1`, `<head>_weighted_f1` of each taxonomy head. Trainer logs scalars only: the confusion
    matrices of the last call are kept in `compute.confusions` (head or task -> matrix)."""

    def compute(prediction) -> dict[str, float]:
        logits = np.asarray(prediction.predictions[0] if isinstance(prediction.predictions, tuple)
                            else prediction.predictions)
        labels = np.asarray(prediction.label_ids)
        compute.confusions = {}
        if heads:
            result, start = {}, 0
            for head_index, head in enumerate(heads):
                part, truth = logits[:, start:start + len(head.names)], labels[:, head_index]
                start += len(head.names)
                if head.task != SOURCE_TRACING:
                    result.update(detection_values(part, truth, head.bonafide_id))
                    continue
                values = tracing_values(part, truth, head.names)
                compute.confusions[head.column] = values.pop("confusion")
                result.update({f"{head.column}_{name}": value for name, value in values.items()})
            return result
        if task == SOURCE_TRACING:
            values = tracing_values(logits, labels, names or range(logits.shape[1]))
            compute.confusions[task] = values.pop("confusion")
            if bonafide_id is not None and np.any(labels == bonafide_id) and np.any(labels != bonafide_id):
                scores = bonafide_log_odds(logits, bonafide_id)
                values["eer"] = metrics.compute_eer(scores[labels == bonafide_id], scores[labels != bonafide_id])[0]
            return values
        return detection_values(logits, labels, bonafide_id)

    compute.confusions = {}
    return compute


@contextlib.contextmanager
def _clear_loading_errors(flag: str, value: str):
    """A missing folder or repo, a malformed id, no network, or a config no audio classifier fits: one message."""
    try:
        yield
    except (OSError, ValueError) as error:
        raise EvalArgumentError(f"cannot load `{flag} {value}`: {error}") from None


def load_detector(model_args: ModelArguments, label_info: LabelInfo):
    """(model, feature_extractor) of `--detector`: a fresh AASIST / AASIST-L, or W2V2-AASIST on an encoder."""
    labels = {"id2label": label_info.id2label, "label2id": label_info.label2id}
    extractor = detectors.AasistFeatureExtractor()
    if model_args.detector in ("aasist", "aasist-l"):
        if model_args.model_name_or_path or model_args.config_name:
            raise EvalArgumentError(
                f"`--detector {model_args.detector}` builds a fresh model: leave out `--model_name_or_path` and "
                "`--config_name` (to start from the official weights, convert them with `python -m eval "
                "convert-aasist` and pass that folder as `--model_name_or_path`, without `--detector`)")
        config = (detectors.AasistConfig.aasist_l(**labels) if model_args.detector == "aasist-l"
                  else detectors.AasistConfig(**labels))
        logger.info("Built a fresh %s with random weights", model_args.detector.upper())
        return detectors.AasistForAudioClassification(config), extractor
    if model_args.model_name_or_path:  # W2V2-AASIST on a pretrained encoder
        with _clear_loading_errors("--model_name_or_path", model_args.model_name_or_path):
            model = detectors.W2V2AasistForAudioClassification.from_encoder(model_args.model_name_or_path, **labels)
    elif model_args.config_name:
        with _clear_loading_errors("--config_name", model_args.config_name):
            encoder = AutoConfig.from_pretrained(model_args.config_name, cache_dir=model_args.cache_dir,
                                                 token=model_args.token)
        model = detectors.W2V2AasistForAudioClassification(
            detectors.W2V2AasistConfig(encoder_config=encoder.to_dict(), **labels))
        logger.info("Built a fresh W2V2-AASIST (random weights) on the encoder config %s", model_args.config_name)
    else:
        raise EvalArgumentError("`--detector w2v2-aasist` needs its encoder: `--model_name_or_path` (a wav2vec2-family "
                                "checkpoint, e.g. facebook/wav2vec2-xls-r-300m) or `--config_name` (a fresh one)")
    if model_args.freeze_feature_encoder:
        model.freeze_feature_encoder()
    return model, extractor


def load_model(model_args: ModelArguments, label_info: LabelInfo):
    """(model, feature_extractor): from a checkpoint, or fresh from a config, with the task's labels."""
    if model_args.detector:
        return load_detector(model_args, label_info)
    if model_args.model_name_or_path is None and model_args.config_name is None:
        raise EvalArgumentError("give `--model_name_or_path` (a checkpoint) or `--config_name` (a fresh model)")
    common = {"cache_dir": model_args.cache_dir, "revision": model_args.model_revision,
              "token": model_args.token, "trust_remote_code": model_args.trust_remote_code}
    config_source = model_args.config_name or model_args.model_name_or_path
    config_flag = "--config_name" if model_args.config_name else "--model_name_or_path"
    if model_args.feature_extractor_name:
        extractor_flag, extractor_source = "--feature_extractor_name", model_args.feature_extractor_name
    else:  # the checkpoint's, else the config's; a config.json file stands for its folder
        extractor_flag = "--model_name_or_path" if model_args.model_name_or_path else "--config_name"
        extractor_source = model_args.model_name_or_path or model_args.config_name
        if extractor_source.endswith(".json"):
            extractor_source = str(Path(extractor_source).parent)
    with _clear_loading_errors(config_flag, config_source):
        config = AutoConfig.from_pretrained(
            config_source, num_labels=len(label_info.names), label2id=label_info.label2id,
            id2label=label_info.id2label, finetuning_task="audio-classification", **common)
    with _clear_loading_errors(extractor_flag, extractor_source):
        feature_extractor = AutoFeatureExtractor.from_pretrained(extractor_source, **common)
    if model_args.model_name_or_path is not None:
        with _clear_loading_errors("--model_name_or_path", model_args.model_name_or_path):
            model = AutoModelForAudioClassification.from_pretrained(
                model_args.model_name_or_path, config=config,
                ignore_mismatched_sizes=model_args.ignore_mismatched_sizes, **common)
    else:
        with _clear_loading_errors(config_flag, config_source):
            model = AutoModelForAudioClassification.from_config(
                config, trust_remote_code=model_args.trust_remote_code)
        logger.info("Built a fresh %s with random weights from %s", type(model).__name__, model_args.config_name)
    if model_args.freeze_feature_encoder:
        if hasattr(model, "freeze_feature_encoder"):
            model.freeze_feature_encoder()
        else:
            logger.warning("%s has no feature encoder to freeze; training every weight", type(model).__name__)
    return model, feature_extractor


def run_finetune(model_args: ModelArguments, data_args: DataTrainingArguments,
                 training_args: TrainingArguments) -> TrainingFacts:
    """Fine-tune and save the best model to `training_args.output_dir`; returns the training facts."""
    check_trackers(training_args.report_to)
    check_seconds(data_args.max_length_seconds, "--max_length_seconds")
    check_count(data_args.max_train_samples, "--max_train_samples")
    check_count(data_args.max_eval_samples, "--max_eval_samples")
    # Logging, as run_audio_classification.py sets it up
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
                        datefmt="%m/%d/%Y %H:%M:%S", handlers=[logging.StreamHandler(sys.stdout)])
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    datasets.utils.logging.set_verbosity(min(log_level, logging.WARNING))
    logger.info("Training/evaluation parameters %s", training_args)

    # Seed before the model is built, so a fresh head (and a fresh model) is reproducible
    set_seed(training_args.seed)

    # Load the splits and keep the chosen codecs
    load = {"cache_dir": model_args.cache_dir, "token": model_args.token, "revision": data_args.dataset_revision}
    columns = {"audio": data_args.audio_column_name, "label": data_args.label_column_name,
               "codec": data_args.codec_column_name, "bonafide": data_args.bonafide_label}
    raw: dict[str, datasets.Dataset] = {}
    if training_args.do_train:
        raw["train"] = load_split(data_args.dataset_name, data_args.dataset_config_name, data_args.train_split_name,
                                  split_flag="--train_split_name", **load)
    if training_args.do_eval or training_args.eval_strategy != "no":
        raw["eval"] = load_split(data_args.dataset_name, data_args.dataset_config_name, data_args.eval_split_name,
                                 split_flag="--eval_split_name", **load)
    if not raw:
        raise EvalArgumentError("nothing to do: give `--do_train` and/or `--do_eval`")
    infos: list[LabelInfo] = []
    heads: list[LabelInfo] = []  # --multitask: the detection head, then the taxonomy heads
    for key, dataset in raw.items():
        what = f"{data_args.dataset_name} ({dataset.info.config_name or 'default config'}, {key} split)"
        infos.append(check_columns(dataset, what=what, **columns))
        if data_args.multitask:
            heads = multitask_heads(dataset, infos[-1], columns, what)
        if key == "eval" and data_args.eval_codecs:
            codecs, flag = data_args.eval_codecs, "--eval_codecs"
        else:  # validation defaults to the training codecs
            codecs, flag = data_args.train_codecs, "--train_codecs"
        dataset = select_codecs(dataset, codecs, codec_column=data_args.codec_column_name, flag=flag, what=what)
        if key == "eval" and data_args.eval_conditions:
            conditions, flag = data_args.eval_conditions, "--eval_conditions"
        else:  # validation defaults to the training conditions
            conditions, flag = data_args.train_conditions, "--train_conditions"
        dataset = select_conditions(dataset, conditions, condition_column=data_args.condition_column_name,
                                    flag=flag, what=what)
        if key == "train":
            raw[key] = cap_rows(dataset, data_args.max_train_samples, training_args.seed)
        else:  # every class and codec in turn: a small subset still holds bona fide and spoof rows
            raw[key] = cap_rows(dataset, data_args.max_eval_samples, training_args.seed,
                                stratify_by=list(dict.fromkeys([infos[-1].read_from, data_args.codec_column_name])))
    label_info = merge_label_info(infos, [dataset_codecs(dataset, data_args.codec_column_name)
                                          for dataset in raw.values()])
    if heads:
        label_info = multitask_label_info(heads)
        logger.info("Multi-task: heads %s", {head.column: list(head.names) for head in heads})
    elif label_info.task == SOURCE_TRACING:
        logger.info("Source tracing over %s: classes %s", label_info.column, list(label_info.names))
        if training_args.metric_for_best_model == "eer":  # this command's default: choose by macro-F1 instead
            training_args.metric_for_best_model, training_args.greater_is_better = "macro_f1", True
    if "eval" in raw:
        check_validation_rows(raw["eval"], heads[0] if heads else label_info, data_args)
    train_codecs = (dataset_codecs(raw["train"], data_args.codec_column_name) if "train" in raw
                    else list(data_args.train_codecs or []))
    config_name = next(iter(raw.values())).info.config_name or data_args.dataset_config_name

    # Save the arguments beside the results: `python -m eval finetune <output_dir>/finetune_args.json` reruns
    save_arguments(training_args.output_dir, model_args, data_args, training_args)

    # Model, feature extractor and labels (label2id/id2label: the Hub shows bonafide/spoof)
    model, feature_extractor = load_model(model_args, label_info)

    # Loss weights for the class imbalance (labels read before the audio transform is set), per head
    weights = weights_by_class = None
    if "train" in raw:
        per_head = []
        for info in heads or [label_info]:
            labels = np.asarray(info.ids(raw["train"].select_columns([info.read_from])[info.read_from]))
            per_head.append(class_weights(labels, info, model_args.class_weighting))
        if per_head[0] is not None:
            weights = torch.cat(per_head)
            weights_by_class = dict(zip(label_info.names, weights.tolist(), strict=True))
            logger.info("Class weights %s", weights_by_class)

    # Resample through the Audio feature, then crop on the fly
    for key, dataset in raw.items():
        dataset = dataset.cast_column(data_args.audio_column_name,
                                      datasets.Audio(sampling_rate=feature_extractor.sampling_rate))
        batch = (training_args.per_device_train_batch_size if key == "train"
                 else training_args.per_device_eval_batch_size)
        dataset.set_transform(make_transform(feature_extractor, data_args, label_info, train=key == "train",
                                             seed=training_args.seed, heads=heads, batch_size=batch))
        raw[key] = dataset

    # What the model card will say, saved beside the model
    facts = TrainingFacts(
        base_model=model_args.model_name_or_path,
        config_name=model_args.config_name,
        architecture=type(model).__name__,
        dataset=data_args.dataset_name,
        dataset_config=config_name,
        train_split=data_args.train_split_name if "train" in raw else None,
        eval_split=data_args.eval_split_name if "eval" in raw else None,
        train_codecs=train_codecs,
        train_rows=len(raw["train"]) if "train" in raw else 0,
        max_length_seconds=data_args.max_length_seconds,
        sampling_rate=feature_extractor.sampling_rate,
        class_weighting=model_args.class_weighting,
        class_weights=weights_by_class,
        freeze_feature_encoder=model_args.freeze_feature_encoder,
        hyperparameters=modelcard.training_hyperparameters(training_args),
        trained=bool(training_args.do_train),
        task=label_info.task,
        label_column=label_info.column,
        labels=list(label_info.names),
        label_smoothing_factor=training_args.label_smoothing_factor,
        license=data_args.license or modelcard.base_model_license(model_args.model_name_or_path),
        heads={head.column: list(head.names) for head in heads},
    )

    # The Hub token stays out of the Trainer's arguments, which it pickles into training_args.bin (top level and
    # every checkpoint); the push at the end takes it directly, through the one push path (codecfake_hf.hub.push)
    hub_token, push_to_hub = training_args.hub_token, training_args.push_to_hub
    training_args.hub_token, training_args.push_to_hub = None, False

    # Trainer
    compute_metrics = eer_metrics(label_info.bonafide_id, label_info.task, label_info.names, heads=heads)
    trainer = CodecFakeTrainer(
        model=model,
        args=training_args,
        train_dataset=raw.get("train"),
        eval_dataset=raw.get("eval"),
        compute_metrics=compute_metrics,
        processing_class=feature_extractor,
        class_weights=weights,
        adam_l2=is_detector(model_args) and training_args.optim == TrainingArguments.optim,  # no other `--optim`
        head_sizes=[len(head.names) for head in heads],
    )

    # Train (the best checkpoint by validation EER is loaded at the end), then evaluate on the validation split
    # with the best model. A failure after training began still saves what was trained (model, trainer state,
    # arguments, card) and says how to score it.
    trained = False
    try:
        if training_args.do_train:
            result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
            trained = True
            trainer.log_metrics("train", result.metrics)
            trainer.save_metrics("train", result.metrics)
            trainer.save_state()
        if "eval" in raw:
            eval_metrics = trainer.evaluate()
            trainer.log_metrics("eval", eval_metrics)
            trainer.save_metrics("eval", eval_metrics)
            facts.validation = validation_result(eval_metrics, compute_metrics.confusions, label_info, heads,
                                                 data_args.eval_split_name, len(raw["eval"]))
    except Exception as error:
        if not training_args.do_train or trainer.state.global_step == 0:
            raise
        save_after_failure(trainer, facts, trained, error, data_args, model_args)
    if not training_args.do_train:
        logger.warning("No `--do_train`: %s is saved as it was loaded, NOT trained by this run (its card says so)",
                       training_args.output_dir)

    # Save the model with its card (EER in model-index); `--push_to_hub` uploads both, once, as Trainer does
    modelcard.write_training_facts(training_args.output_dir, facts)
    trainer.save_model()
    trainer.create_model_card()
    if push_to_hub and trainer.is_world_process_zero():
        repo_id = training_args.hub_model_id or Path(training_args.output_dir).resolve().name
        hub.push(training_args.output_dir, repo_id, repo_type="model", token=hub_token,
                 private=training_args.hub_private_repo, commit_message="codecfake-hf fine-tuning")
    return facts


def multitask_heads(dataset: datasets.Dataset, detection: LabelInfo, columns: dict, what: str) -> list[LabelInfo]:
    """The heads of `--multitask`: the bona fide/spoof head (`--label_column_name`), then the taxonomy columns."""
    if detection.task != DETECTION:
        raise EvalArgumentError(f"`--multitask` trains a bona fide/spoof head on `--label_column_name` and the "
                                f"taxonomy heads {list(TAXONOMY_COLUMNS)}: give a bona fide/spoof column (the "
                                f"default `label`), not `{detection.column}`")
    heads = [detection]
    for column in TAXONOMY_COLUMNS:
        if column not in dataset.column_names:
            raise EvalArgumentError(f"`--multitask`: {what} has no taxonomy column `{column}` (a CodecFake dataset "
                                    "built by `python -m builder` has quantizer, auxiliary and decoder)")
        heads.append(check_columns(dataset, what=what, **{**columns, "label": column}))
    return heads


def multitask_label_info(heads: list[LabelInfo]) -> LabelInfo:
    """The model's classes of a multi-task model: `<head>:<class>` of every head, side by side."""
    names = tuple(f"{head.column}:{name}" for head in heads for name in head.names)
    return LabelInfo(names=names, bonafide_id=heads[0].bonafide_id, task=MULTITASK, column=heads[0].column)


def check_validation_rows(dataset: datasets.Dataset, label_info: LabelInfo, data_args: DataTrainingArguments) -> None:
    """Before any training: a detector's validation rows must hold both classes (its EER chooses the checkpoint)."""
    if label_info.task != DETECTION:
        return
    present = set(label_info.ids(dataset.unique(label_info.read_from)))
    if len(present) < 2:
        seen = [label_info.names[i] for i in sorted(present)]
        raise EvalArgumentError(
            f"the validation rows ({len(dataset)} of split `{data_args.eval_split_name}`) hold only {seen}: the "
            "EER that chooses the checkpoint needs bona fide and spoof rows; raise `--max_eval_samples`, or choose "
            "`--eval_codecs` / `--eval_split_name` with both")


def validation_result(eval_metrics: dict, confusions: dict, label_info: LabelInfo, heads: list[LabelInfo],
                      split: str, rows: int) -> ValidationResult:
    """The validation facts of the best model: its measures, a tracer's confusion matrix, each head's."""
    def value(name):
        return eval_metrics.get(f"eval_{name}")
    result = ValidationResult(split=split, eer=value("eer"), min_dcf=value("min_dcf"), rows=rows,
                              accuracy=value("accuracy"), macro_f1=value("macro_f1"),
                              weighted_f1=value("weighted_f1"))
    if label_info.task == SOURCE_TRACING:
        result.classes, result.confusion = list(label_info.names), confusions.get(SOURCE_TRACING)
    for head in heads[1:]:
        result.heads[head.column] = {name: value(f"{head.column}_{name}")
                                     for name in ("accuracy", "macro_f1", "weighted_f1")}
        result.heads[head.column]["confusion"] = confusions.get(head.column)
        result.heads[head.column]["classes"] = list(head.names)
    return result


def save_after_failure(trainer: Trainer, facts: TrainingFacts, trained: bool, error: Exception,
                       data_args: DataTrainingArguments, model_args: ModelArguments) -> None:
    """Training ran (some or all of it) and then something failed: keep the model, the trainer state and the
    arguments (saved before training), then stop with one message naming the cause and how to score the model."""
    output_dir = trainer.args.output_dir
    facts.validation = None
    modelcard.write_training_facts(output_dir, facts)
    trainer.save_model()
    trainer.save_state()
    trainer.create_model_card()
    what = "after training" if trained else f"during training, at step {trainer.state.global_step}"
    cause = str(error).splitlines()[0] if str(error) else type(error).__name__
    raise EvalArgumentError(
        f"evaluation failed {what} ({type(error).__name__}: {cause}); the model, trainer_state.json and "
        f"{ARGUMENTS_FILE} are saved in {output_dir}. Score it with `python -m eval score --model_name_or_path "
        f"{output_dir} --dataset_name {data_args.dataset_name} --label_column_name {facts.label_column} --split "
        f"{data_args.eval_split_name} --output_dir {output_dir}/{data_args.eval_split_name}`") from error


def save_arguments(output_dir: str, model_args: ModelArguments, data_args: DataTrainingArguments,
                   training_args: TrainingArguments) -> None:
    """All three dataclasses as one `.json` that `parse_args` accepts (tokens masked)."""
    values = {**asdict(model_args), **asdict(data_args), **training_args.to_dict()}
    values["token"] = "<HUB_TOKEN>" if model_args.token else None
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(output_dir) / ARGUMENTS_FILE, values)


def main(argv: list[str] | None = None) -> TrainingFacts:
    model_args, data_args, training_args = parse_args(argv)
    return run_finetune(model_args, data_args, training_args)

