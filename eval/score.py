"""Score a trained detector on one split: ASVspoof-style score file, results.json, EER/minDCF table, DET plots.

Usage:

    python -m eval score --model_name_or_path runs/w2v2-encodec --dataset_name ORG/codecfake \\
        --dataset_config_name all --split test --output_dir runs/w2v2-encodec/test-all

Writes to `--output_dir`: `scores.txt` (one line per row: utterance id, codec, bonafide|spoof, score;
higher = more bona fide, the bona fide log-odds), `results.json`, `results.md` (EER and minDCF per codec
and pooled) and `det.png`. Each codec's EER sets that codec's rows against every genuine row of the split;
pooled sets all spoof rows against them. With a local model folder, the results also go into its model
card (`README.md`, EER in `model-index`).

A source-tracing model (trained with `--label_column_name codec` or a taxonomy column) is scored with the
same `--label_column_name`: accuracy, macro-F1 and the confusion matrix (`confusion.md`, `confusion.png`, rows
and columns in the codec registry's order), plus the EERs of genuine against each codec where genuine is
one of its classes.

Rows go through `Trainer.predict`, so `--bf16` and several GPUs (`torchrun` / `accelerate launch`) work as
in training. A model whose classification head is not in its checkpoint (random weights) is refused; one
saved without training (`finetune` without `--do_train`) is scored with a warning, in the output and the card.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import (
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
)

from codecfake_hf import detectors, metrics, modelcard  # noqa: F401  (detectors: registers AASIST with the Auto classes)
from codecfake_hf.files import atomic_path, make_folder, write_text_atomic
from codecfake_hf.results import POOLED, CodecResult, ScoreResults, SourceTracingResult
from codecfake_hf.schema import GENUINE, part_order

from . import program_name
from .checks import check_count, check_device, check_seconds, check_window
from .data import (
    CODECFAKE_SECONDS,
    SOURCE_TRACING,
    EvalArgumentError,
    bonafide_log_odds,
    cap_rows,
    check_columns,
    crop_or_pad,
    load_split,
    mono,
    select_codecs,
)
from .plots import plot_confusion, plot_det

logger = logging.getLogger(__name__)


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
    audio_column_name: str = field(default="audio", metadata={"help": "Audio column. Default: audio."})
    label_column_name: str = field(
        default="label", metadata={"help": "ClassLabel column with a bona fide class. Default: label."})
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


def predict_logits(model, feature_extractor, dataset: datasets.Dataset, args: ScoreArguments) -> np.ndarray:
    """The logits [rows, classes] of every row (first window of `--max_length_seconds`), in row order.

    Through `Trainer.predict`: the same device placement, several GPUs and bf16 as training. Decoding, cropping
    and feature extraction run in `--dataloader_num_workers` processes (0: this one).
    """
    check_device(args.device)
    rate = feature_extractor.sampling_rate
    length = check_window(args.max_length_seconds, rate, args.batch_size, "--max_length_seconds")
    input_name = feature_extractor.model_input_names[0]

    def collate(rows):
        waves = [crop_or_pad(mono(row[args.audio_column_name]), length, None) for row in rows]
        inputs = feature_extractor(waves, sampling_rate=rate, padding=True, return_tensors="pt")
        return {key: value for key, value in inputs.items() if key in (input_name, "attention_mask")}

    trainer = Trainer(model=model, data_collator=collate, args=TrainingArguments(
        output_dir=args.output_dir, per_device_eval_batch_size=args.batch_size, report_to="none",
        dataloader_num_workers=args.dataloader_num_workers, remove_unused_columns=False,
        use_cpu=args.device == "cpu", bf16=args.bf16, bf16_full_eval=args.bf16))
    logits = trainer.predict(dataset.select_columns([args.audio_column_name])).predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return np.asarray(logits, dtype=np.float32).reshape(len(dataset), -1)


def codec_results(scores: np.ndarray, labels: np.ndarray, codecs: np.ndarray,
                  dataset_bonafide: int) -> tuple[dict[str, CodecResult], dict[str, metrics.DetCurve]]:
    """EER, threshold and minDCF per codec (against every genuine row), then `pooled`; DET curves for the plot."""
    is_bonafide = labels == dataset_bonafide
    bonafide = scores[is_bonafide]
    if bonafide.size == 0:
        raise EvalArgumentError("the scored rows hold no bona fide (genuine) rows: no EER can be computed; "
                                "score a split and config that include the genuine rows, or raise `--max_samples`")
    groups = {codec: scores[(codecs == codec) & ~is_bonafide] for codec in part_order(set(codecs[~is_bonafide]))}
    if not groups:
        raise EvalArgumentError("the scored rows hold no spoof rows: no EER can be computed; score a split and "
                                "config that include codec rows (a codec's config, or `all`), or raise `--max_samples`")
    groups[POOLED] = scores[~is_bonafide]
    values, curves = {}, {}
    for name, spoof in groups.items():
        curves[name] = metrics.compute_det_curve(bonafide, spoof)
        eer, threshold = metrics.compute_eer(bonafide, spoof)
        min_dcf, _ = curves[name].min_dcf()
        values[name] = CodecResult(eer=eer, threshold=threshold, min_dcf=min_dcf, n_bonafide=int(bonafide.size),
                                   n_spoof=int(spoof.size))
    return values, curves


def write_score_file(path: Path, ids, codecs, labels, scores, label_names) -> None:
    """ASVspoof-style score file: `utterance codec key score` per line (written atomically)."""
    with atomic_path(path) as tmp, tmp.open("w") as file:
        for utt, codec, label, score in zip(ids, codecs, labels, scores, strict=True):
            file.write(f"{utt} {codec} {label_names[label]} {score:.6f}\n")


def check_score_arguments(args: ScoreArguments) -> None:
    """The numeric and device flags, before the dataset or the model is loaded (`eval.checks`)."""
    check_count(args.batch_size, "--batch_size")
    check_count(args.max_samples, "--max_samples")
    check_count(args.dataloader_num_workers, "--dataloader_num_workers", minimum=0)
    check_seconds(args.max_length_seconds, "--max_length_seconds")
    check_device(args.device)


def load_scoring_model(args: ScoreArguments):
    """(model, feature_extractor, training facts or None), refusing a model whose classification head is not in
    its checkpoint: its outputs would be random."""
    try:
        model, loading = AutoModelForAudioClassification.from_pretrained(
            args.model_name_or_path, cache_dir=args.cache_dir, token=args.token, output_loading_info=True)
        feature_extractor = AutoFeatureExtractor.from_pretrained(
            args.model_name_or_path, cache_dir=args.cache_dir, token=args.token)
    except (OSError, ValueError) as error:  # missing folder or repo, malformed id (a ValueError), no network
        raise EvalArgumentError(f"cannot load `--model_name_or_path {args.model_name_or_path}`: {error}") from None
    missing = list(loading.get("missing_keys") or [])
    if missing:
        raise EvalArgumentError(
            f"`--model_name_or_path {args.model_name_or_path}` is not a trained detector: {len(missing)} of its "
            f"weights are not in the checkpoint and would be random ({', '.join(sorted(missing)[:4])}...); "
            "fine-tune it first with `python -m eval finetune --do_train`")
    return model, feature_extractor, modelcard.read_training_facts(args.model_name_or_path)


def detection_report(logits: np.ndarray, meta: dict, is_bonafide: np.ndarray, bonafide_id: int, output: Path,
                     title: str) -> dict[str, CodecResult]:
    """EER/minDCF per codec and pooled from the bona fide log-odds: scores.txt, det.png; returns the results by
    codec, then `pooled`."""
    scores = bonafide_log_odds(logits, bonafide_id)
    keys = np.where(is_bonafide, 0, 1)
    values, curves = codec_results(scores, keys, meta["codecs"], 0)
    write_score_file(output / "scores.txt", meta["ids"], meta["codecs"], keys, scores, ("bonafide", "spoof"))
    plot_det(curves, {name: value.eer for name, value in values.items()}, output / "det.png", title=f"DET: {title}")
    logger.info("Pooled EER %.2f %% (%d genuine, %d spoof rows)", 100 * values[POOLED].eer,
                values[POOLED].n_bonafide, values[POOLED].n_spoof)
    return values


def source_tracing_report(logits: np.ndarray, meta: dict, model_classes: list[str], encoded: bool,
                          output: Path, title: str) -> SourceTracingResult:
    """Accuracy, macro-F1 and the confusion matrix (rows: true class, columns: predicted class, both in the
    registry's order; classes the model does not know appear as rows, always wrong): confusion.md/.png and
    predictions.txt (`utterance true predicted probability`)."""
    true_names = [str(name) for name in meta["classes"]]
    predicted = [model_classes[i] for i in np.argmax(logits, axis=1)]
    present = set(model_classes) | set(true_names)
    classes = part_order(present) if encoded else model_classes + sorted(present - set(model_classes))
    index = {name: i for i, name in enumerate(classes)}
    values = metrics.classification_scores([index[n] for n in true_names], [index[n] for n in predicted],
                                           num_classes=len(classes))
    tracing = SourceTracingResult(
        classes=classes, model_classes=list(model_classes), accuracy=values["accuracy"],
        macro_f1=values["macro_f1"], confusion=values["confusion"].tolist(), rows=len(true_names),
        f1={name: (None if np.isnan(f1) else float(f1)) for name, f1 in zip(classes, values["f1"], strict=True)},
        classes_unknown_to_model=sorted(set(true_names) - set(model_classes)))
    probabilities = torch.softmax(torch.from_numpy(logits).float(), dim=1).max(dim=1).values.numpy()
    with atomic_path(output / "predictions.txt") as tmp, tmp.open("w") as file:
        for utt, true, guess, prob in zip(meta["ids"], true_names, predicted, probabilities, strict=True):
            file.write(f"{utt} {true} {guess} {prob:.6f}\n")
    write_text_atomic(output / "confusion.md", f"## Source tracing: {title}\n\n{modelcard.confusion_table(tracing)}\n")
    plot_confusion(values["confusion"], classes, output / "confusion.png",
                   title=f"Source tracing: {title}\naccuracy {100 * tracing.accuracy:.1f} %, "
                         f"macro-F1 {100 * tracing.macro_f1:.1f} %")
    logger.info("Source tracing: accuracy %.2f %%, macro-F1 %.2f %% over %d rows", 100 * tracing.accuracy,
                100 * tracing.macro_f1, tracing.rows)
    return tracing


def run_score(args: ScoreArguments) -> ScoreResults:
    """Score, write the report files, update the model card; returns what results.json holds."""
    check_score_arguments(args)
    # made before any work: a folder that cannot be written (read-only, full) is one message, not a late traceback
    make_folder(args.output_dir)
    # Load and check the split
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s")
    dataset = load_split(args.dataset_name, args.dataset_config_name, args.split, split_flag="--split",
                         cache_dir=args.cache_dir, token=args.token, revision=args.dataset_revision)
    what = f"{args.dataset_name} ({dataset.info.config_name or 'default config'}, split {args.split})"
    label_info = check_columns(dataset, audio=args.audio_column_name, label=args.label_column_name,
                               codec=args.codec_column_name, bonafide=args.bonafide_label, what=what)
    if args.id_column_name not in dataset.column_names:
        raise EvalArgumentError(f"`--id_column_name {args.id_column_name}` is not a column of {what}; its "
                                f"columns are {dataset.column_names}")
    config_name = dataset.info.config_name or args.dataset_config_name
    dataset = select_codecs(dataset, args.codecs, codec_column=args.codec_column_name, flag="--codecs", what=what)
    dataset = cap_rows(dataset, args.max_samples, args.seed)

    # The model, which of its outputs is bona fide, and whether it was trained at all
    model, feature_extractor, facts = load_scoring_model(args)
    model_classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
    tracing_model = facts is not None and facts.task == SOURCE_TRACING
    if label_info.task == SOURCE_TRACING:
        bonafide_id = model_classes.index(GENUINE) if GENUINE in model_classes else None
    elif args.bonafide_label in model_classes:
        bonafide_id = model_classes.index(args.bonafide_label)
    else:
        hint = (f"; it is a source-tracing model: score it with `--label_column_name {facts.label_column}`"
                if tracing_model else "; was it fine-tuned with `python -m eval finetune`?")
        raise EvalArgumentError(
            f"`--bonafide_label {args.bonafide_label}` is not a label of the model {args.model_name_or_path} "
            f"(its labels: {sorted(model_classes)}){hint}")
    untrained = facts is not None and not facts.trained
    if untrained:
        logger.warning("%s was saved WITHOUT training (finetune without --do_train): these are the results of "
                       "an untrained model", args.model_name_or_path)

    # Score every row at the model's sampling rate, with the window it was trained on
    if args.max_length_seconds is None:
        args.max_length_seconds = float(facts and facts.max_length_seconds or CODECFAKE_SECONDS)
    dataset = dataset.cast_column(args.audio_column_name, datasets.Audio(sampling_rate=feature_extractor.sampling_rate))
    logits = predict_logits(model, feature_extractor, dataset, args)
    meta_rows = dataset.select_columns(list(dict.fromkeys(
        [args.id_column_name, args.codec_column_name, args.label_column_name])))
    meta = {"ids": meta_rows[args.id_column_name], "codecs": np.asarray(meta_rows[args.codec_column_name]),
            "labels": np.asarray(meta_rows[args.label_column_name])}

    # Report: score file, results.json, Markdown tables, DET plot / confusion matrix (by one process under torchrun:
    # Trainer.predict gathered every rank's predictions)
    if int(os.environ.get("RANK", "0")) != 0:
        return ScoreResults(model=args.model_name_or_path, dataset=args.dataset_name, dataset_config=config_name,
                            split=args.split, max_length_seconds=args.max_length_seconds, task=label_info.task)
    output = Path(args.output_dir)
    title = f"{modelcard.dataset_id(args.dataset_name)} / {config_name} / {args.split}"
    results = ScoreResults(model=args.model_name_or_path, dataset=args.dataset_name, dataset_config=config_name,
                           split=args.split, max_length_seconds=args.max_length_seconds, task=label_info.task,
                           untrained=untrained)
    if label_info.task == SOURCE_TRACING:
        feature = dataset.features[args.label_column_name]
        meta["classes"] = (meta["labels"] if label_info.encoded
                           else [feature.int2str(int(value)) for value in meta["labels"]])
        results.source_tracing = source_tracing_report(logits, meta, model_classes, label_info.encoded, output,
                                                       title)
        is_bonafide = meta["codecs"] == GENUINE  # genuine against the codecs, where genuine is a class
    else:
        is_bonafide = meta["labels"] == label_info.bonafide_id
    if bonafide_id is not None and is_bonafide.any() and not is_bonafide.all():
        values = detection_report(logits, meta, is_bonafide, bonafide_id, output, title)
        results.pooled = values[POOLED]
        results.per_codec = {codec: value for codec, value in values.items() if codec != POOLED}
    elif label_info.task != SOURCE_TRACING:
        codec_results(np.zeros(len(is_bonafide)), np.where(is_bonafide, 0, 1), meta["codecs"], 0)  # names the gap
    results.save(output / "results.json")
    warning = ("**Untrained model**: saved without training (finetune without `--do_train`); these results "
               "mean nothing about detection.\n\n" if untrained else "")
    tables = ([modelcard.confusion_table(results.source_tracing)] if results.source_tracing else []) + \
        ([modelcard.results_table(results)] if results.pooled is not None else [])
    body = "\n\n".join(tables)
    write_text_atomic(output / "results.md", f"## {title}\n\nModel: `{args.model_name_or_path}`\n\n{warning}{body}\n")
    logger.info("Wrote %s", output)
    print(warning + body)

    # The model card, if the model is a local folder
    model_dir = Path(args.model_name_or_path)
    if args.update_model_card and model_dir.is_dir():
        modelcard.add_results(model_dir, results)
        modelcard.write_model_card(model_dir)
    return results


def main(argv: list[str] | None = None) -> ScoreResults:
    parser = HfArgumentParser(ScoreArguments, prog=f"{program_name()} score", description=__doc__.split("\n\n")[0])
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        try:
            (args,) = parser.parse_json_file(json_file=argv[0])
        except (OSError, ValueError) as error:  # a missing file, bad JSON, or keys ScoreArguments lacks
            raise EvalArgumentError(f"cannot read the arguments file {argv[0]}: {error}") from None
    else:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    return run_score(args)


def card_main(argv: list[str] | None = None) -> Path:
    """`python -m eval card`: rebuild README.md from the folder's JSON files; push if asked."""
    parser = HfArgumentParser(CardArguments, prog=f"{program_name()} card", description=CardArguments.__doc__)
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    model_dir = Path(args.model_dir)
    if not model_dir.is_dir():
        raise EvalArgumentError(f"`--model_dir {args.model_dir}` is not a folder")
    repo_id = args.hub_model_id or model_dir.resolve().name
    # the full id: the card's pipeline snippet
    path = modelcard.write_model_card(model_dir, model_name=repo_id, license=args.license)
    print(f"wrote {path}")
    if args.push_to_hub:
        url = modelcard.push_model_folder(model_dir, repo_id, token=args.hub_token, private=args.hub_private_repo)
        print(f"pushed {model_dir} to {url}")
    return path


__all__ = ["CardArguments", "ScoreArguments", "card_main", "main", "run_score"]
