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
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import (
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    Trainer,
    TrainingArguments,
)

from codecfake_hf import detectors, metrics, modelcard  # noqa: F401  (detectors: registers AASIST with the Auto classes)
from codecfake_hf.files import atomic_path, make_folder, write_json_atomic, write_text_atomic
from codecfake_hf.results import POOLED, CodecResult, ScoreResults, SourceTracingResult
from codecfake_hf.schema import GENUINE, part_order

from . import program_name
from .arguments import CardArguments, ScoreArguments
from .arguments import parser as command_parser
from .checks import check_count, check_device, check_seconds, check_window
from .data import (
    CODECFAKE_SECONDS,
    MULTITASK,
    SOURCE_TRACING,
    EvalArgumentError,
    bonafide_log_odds,
    cap_rows,
    check_columns,
    crop_or_pad,
    load_split,
    mono,
    part_cell,
    part_family,
    select_codecs,
    select_conditions,
)
from .plots import plot_confusion, plot_det

logger = logging.getLogger(__name__)






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


GROUPINGS = ("codec", "family", "cell")  # how spoof rows are grouped: codec config, codec family, taxonomy cell


def group_of(grouping: str, codec: str) -> str | None:
    """The group of a spoof row's codec under `grouping` (None: the registry does not know the codec)."""
    if grouping == "codec":
        return codec
    return part_family(codec) if grouping == "family" else part_cell(codec)


def measure(bonafide: np.ndarray, spoof: np.ndarray, calibration: metrics.Calibration | None) -> CodecResult:
    """One group's CodecResult: EER, threshold and minDCF of the scores (an increasing affine calibration leaves
    them unchanged), actDCF and Cllr of the calibrated scores where there is a calibration (else of the raw
    scores, read as LLRs)."""
    eer, threshold = metrics.compute_eer(bonafide, spoof)
    min_dcf, _ = metrics.compute_min_dcf(bonafide, spoof)
    if calibration is not None:
        bonafide, spoof = calibration(bonafide), calibration(spoof)
    return CodecResult(eer=eer, threshold=threshold, min_dcf=min_dcf, n_bonafide=int(bonafide.size),
                       n_spoof=int(spoof.size), act_dcf=metrics.compute_act_dcf(bonafide, spoof)[0],
                       cllr=metrics.compute_cllr(bonafide, spoof))


def codec_results(scores: np.ndarray, labels: np.ndarray, codecs: np.ndarray, dataset_bonafide: int,
                  calibration: metrics.Calibration | None = None
                  ) -> tuple[dict[str, dict[str, CodecResult]], dict[str, metrics.DetCurve]]:
    """ASVspoof 5's measures per codec, per codec family and per taxonomy cell (each group's spoof rows against
    every genuine row), and `pooled` (every spoof row) under `codec`; DET curves of the codecs and pooled.

    Returns `({"codec": {codec..., "pooled"}, "family": {...}, "cell": {...}}, curves)`; codecs the registry does
    not know are in `codec` and `pooled` only.
    """
    is_bonafide = labels == dataset_bonafide
    bonafide = scores[is_bonafide]
    if bonafide.size == 0:
        raise EvalArgumentError("the scored rows hold no bona fide (genuine) rows: no EER can be computed; "
                                "score a split and config that include the genuine rows, or raise `--max_samples`")
    spoof_codecs = part_order(set(codecs[~is_bonafide]))
    if not spoof_codecs:
        raise EvalArgumentError("the scored rows hold no spoof rows: no EER can be computed; score a split and "
                                "config that include codec rows (a codec's config, or `all`), or raise `--max_samples`")
    values: dict[str, dict[str, CodecResult]] = {}
    for grouping in GROUPINGS:
        names = list(dict.fromkeys(g for g in (group_of(grouping, c) for c in spoof_codecs) if g is not None))
        members = {name: [c for c in spoof_codecs if group_of(grouping, c) == name] for name in names}
        values[grouping] = {name: measure(bonafide, scores[np.isin(codecs, chosen) & ~is_bonafide], calibration)
                            for name, chosen in members.items()}
    values["codec"][POOLED] = measure(bonafide, scores[~is_bonafide], calibration)
    curves = {name: metrics.compute_det_curve(bonafide, scores[(codecs == name) & ~is_bonafide])
              for name in spoof_codecs}
    curves[POOLED] = metrics.compute_det_curve(bonafide, scores[~is_bonafide])
    return values, curves


def write_score_file(path: Path, ids, codecs, labels, scores, label_names) -> None:
    """ASVspoof-style score file: `utterance codec key score` per line (written atomically). The score is written
    with the shortest digits that read back as the same float64, so measures recomputed from the file equal the
    report's exactly."""
    with atomic_path(path) as tmp, tmp.open("w") as file:
        for utt, codec, label, score in zip(ids, codecs, labels, scores, strict=True):
            file.write(f"{utt} {codec} {label_names[label]} {float(score)!r}\n")


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
                     title: str, calibration: metrics.Calibration | None = None) -> dict[str, dict[str, CodecResult]]:
    """ASVspoof 5's measures per codec, family, cell and pooled from the bona fide log-odds: scores.txt (and
    scores_calibrated.txt), det.png; returns the results by grouping (`codec_results`)."""
    scores = bonafide_log_odds(logits, bonafide_id)
    keys = np.where(is_bonafide, 0, 1)
    values, curves = codec_results(scores, keys, meta["codecs"], 0, calibration)
    write_score_file(output / "scores.txt", meta["ids"], meta["codecs"], keys, scores, ("bonafide", "spoof"))
    if calibration is not None:
        write_score_file(output / "scores_calibrated.txt", meta["ids"], meta["codecs"], keys, calibration(scores),
                         ("bonafide", "spoof"))
    plot_det(curves, {name: value.eer for name, value in values["codec"].items()}, output / "det.png",
             title=f"DET: {title}")
    pooled = values["codec"][POOLED]
    logger.info("Pooled EER %.2f %%, minDCF %.4f, actDCF %.4f, Cllr %.4f (%d genuine, %d spoof rows)",
                100 * pooled.eer, pooled.min_dcf, pooled.act_dcf, pooled.cllr, pooled.n_bonafide, pooled.n_spoof)
    return values


def open_set_report(logits: np.ndarray, true_names: list[str], model_classes: list[str],
                    threshold: float) -> dict | None:
    """Open-set tracing: is this spoof clip from a part the tracer never saw? The "none of the known codecs" score
    is 1 − the largest class probability; AUROC of the unseen parts' clips against the known codecs' clips, and at
    `threshold` (a clip is "none of the known" when its largest probability is below it) the share of unseen clips
    caught and of known codec clips wrongly flagged. None where either side has no rows."""
    known = np.array([name in model_classes and name not in (GENUINE, "bonafide") for name in true_names])
    unknown = np.array([name not in model_classes for name in true_names])
    if not known.any() or not unknown.any():
        return None
    probabilities = torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float64)), dim=1).numpy()
    largest = probabilities.max(axis=1)
    none_of_known = 1.0 - largest
    return {"auroc": metrics.compute_auroc(none_of_known[unknown], none_of_known[known]),
            "threshold": threshold,
            "unknown_detected": float(np.mean(largest[unknown] < threshold)),
            "known_flagged": float(np.mean(largest[known] < threshold)),
            "unknown_parts": sorted(set(np.asarray(true_names)[unknown].tolist())),
            "known_parts": sorted(set(np.asarray(true_names)[known].tolist())),
            "n_unknown": int(unknown.sum()), "n_known": int(known.sum())}


def source_tracing_report(logits: np.ndarray, meta: dict, model_classes: list[str], encoded: bool,
                          output: Path, title: str, stem: str = "") -> SourceTracingResult:
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
        weighted_f1=values["weighted_f1"],
        f1={name: (None if np.isnan(f1) else float(f1)) for name, f1 in zip(classes, values["f1"], strict=True)},
        classes_unknown_to_model=sorted(set(true_names) - set(model_classes)))
    probabilities = torch.softmax(torch.from_numpy(logits).float(), dim=1).max(dim=1).values.numpy()
    with atomic_path(output / f"predictions{stem}.txt") as tmp, tmp.open("w") as file:
        for utt, true, guess, prob in zip(meta["ids"], true_names, predicted, probabilities, strict=True):
            file.write(f"{utt} {true} {guess} {prob:.6f}\n")
    write_text_atomic(output / f"confusion{stem}.md",
                      f"## Source tracing: {title}\n\n{modelcard.confusion_table(tracing)}\n")
    plot_confusion(values["confusion"], classes, output / f"confusion{stem}.png",
                   title=f"Source tracing: {title}\naccuracy {100 * tracing.accuracy:.1f} %, "
                         f"macro-F1 {100 * tracing.macro_f1:.1f} %")
    logger.info("Source tracing: accuracy %.2f %%, macro-F1 %.2f %% over %d rows", 100 * tracing.accuracy,
                100 * tracing.macro_f1, tracing.rows)
    return tracing


def scoring_split(args: ScoreArguments, split: str, flag: str):
    """(dataset, label info, config name) of one split: loaded, columns checked, codecs chosen, capped."""
    dataset = load_split(args.dataset_name, args.dataset_config_name, split, split_flag=flag,
                         cache_dir=args.cache_dir, token=args.token, revision=args.dataset_revision)
    what = f"{args.dataset_name} ({dataset.info.config_name or 'default config'}, split {split})"
    label_info = check_columns(dataset, audio=args.audio_column_name, label=args.label_column_name,
                               codec=args.codec_column_name, bonafide=args.bonafide_label, what=what)
    if args.id_column_name not in dataset.column_names:
        raise EvalArgumentError(f"`--id_column_name {args.id_column_name}` is not a column of {what}; its "
                                f"columns are {dataset.column_names}")
    config_name = dataset.info.config_name or args.dataset_config_name
    dataset = select_codecs(dataset, args.codecs, codec_column=args.codec_column_name, flag="--codecs", what=what)
    dataset = select_conditions(dataset, args.conditions, condition_column=args.condition_column_name,
                                flag="--conditions", what=what)
    dataset = cap_rows(dataset, args.max_samples, args.seed)
    return dataset, label_info, config_name


def model_bonafide_id(args: ScoreArguments, label_info, model_classes: list[str], facts) -> int | None:
    """Which of the model's outputs is bona fide; refuses a model whose classes do not fit the dataset's labels."""
    tracing_model = facts is not None and facts.task == SOURCE_TRACING
    if facts is not None and facts.task == MULTITASK:
        return model_classes.index(f"{facts.label_column}:{args.bonafide_label}") \
            if f"{facts.label_column}:{args.bonafide_label}" in model_classes else None
    if label_info.task == SOURCE_TRACING:
        if not set(model_classes) & set(label_info.names):
            raise EvalArgumentError(
                f"`--label_column_name {args.label_column_name}`: the model {args.model_name_or_path} knows the "
                f"classes {model_classes}, none of the dataset's {list(label_info.names)}"
                + (f"; it is a tracer of `{facts.label_column}`: score it with `--label_column_name "
                   f"{facts.label_column}`" if tracing_model else
                   "; a bona fide/spoof detector is scored with the dataset's bona fide/spoof column "
                   "(`--label_column_name label`)"))
        for name in (GENUINE, args.bonafide_label):
            if name in model_classes:
                return model_classes.index(name)
        return None
    if args.bonafide_label in model_classes:
        return model_classes.index(args.bonafide_label)
    hint = (f"; it is a source-tracing model: score it with `--label_column_name {facts.label_column}`"
            if tracing_model else "; was it fine-tuned with `python -m eval finetune`?")
    raise EvalArgumentError(
        f"`--bonafide_label {args.bonafide_label}` is not a label of the model {args.model_name_or_path} "
        f"(its labels: {sorted(model_classes)}){hint}")


def fit_split_calibration(model, feature_extractor, args: ScoreArguments, bonafide_id: int, head: slice) -> dict:
    """Score `--calibration_split` with the model and fit the affine calibration on its bona fide log-odds."""
    dataset, label_info, _ = scoring_split(args, args.calibration_split, "--calibration_split")
    dataset = dataset.cast_column(args.audio_column_name, datasets.Audio(sampling_rate=feature_extractor.sampling_rate))
    logits = predict_logits(model, feature_extractor, dataset, args)[:, head]
    codecs = np.asarray(dataset[args.codec_column_name])
    is_bonafide = (codecs == GENUINE) if label_info.task == SOURCE_TRACING else \
        (np.asarray(dataset[label_info.read_from]) == label_info.bonafide_id)
    if is_bonafide.all() or not is_bonafide.any():
        raise EvalArgumentError(f"`--calibration_split {args.calibration_split}`: its rows hold only one class; "
                                "calibration needs bona fide and spoof rows (raise `--max_samples`)")
    scores = bonafide_log_odds(logits, bonafide_id)
    calibration = metrics.fit_calibration(scores[is_bonafide], scores[~is_bonafide])
    logger.info("Calibration on %s: LLR = %.4f * score %+.4f", args.calibration_split, calibration.scale,
                calibration.offset)
    return {"scale": calibration.scale, "offset": calibration.offset, "prior": calibration.prior,
            "split": args.calibration_split, "n_bonafide": calibration.n_bonafide, "n_spoof": calibration.n_spoof}


def run_score(args: ScoreArguments) -> ScoreResults:
    """Score, write the report files, update the model card; returns what results.json holds."""
    check_score_arguments(args)
    # made before any work: a folder that cannot be written (read-only, full) is one message, not a late traceback
    make_folder(args.output_dir)
    # Load and check the split
    logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(name)s - %(message)s")
    dataset, label_info, config_name = scoring_split(args, args.split, "--split")

    # The model, which of its outputs is bona fide, and whether it was trained at all
    model, feature_extractor, facts = load_scoring_model(args)
    model_classes = [model.config.id2label[i] for i in range(model.config.num_labels)]
    heads = dict(facts.heads) if facts is not None and facts.task == MULTITASK else {}
    bonafide_id = model_bonafide_id(args, label_info, model_classes, facts)
    detection_slice = slice(None)
    if heads:  # a multi-task model: the detection head's logits are the first slice
        if label_info.task == SOURCE_TRACING:
            raise EvalArgumentError(f"{args.model_name_or_path} is a multi-task model: score it with its bona "
                                    f"fide/spoof column `--label_column_name {facts.label_column}`; every head is "
                                    "reported")
        detection_slice = slice(0, len(heads[facts.label_column]))
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
        [args.id_column_name, args.codec_column_name, label_info.read_from, *[h for h in heads if h in
                                                                              dataset.column_names]])))
    meta = {"ids": meta_rows[args.id_column_name], "codecs": np.asarray(meta_rows[args.codec_column_name]),
            "labels": np.asarray(meta_rows[label_info.read_from])}
    calibration = None
    if args.calibration_split and bonafide_id is not None:
        calibration = fit_split_calibration(model, feature_extractor, args, bonafide_id, detection_slice)

    # Report: score file, results.json, Markdown tables, DET plot / confusion matrix (by one process under torchrun:
    # Trainer.predict gathered every rank's predictions)
    if int(os.environ.get("RANK", "0")) != 0:
        return ScoreResults(model=args.model_name_or_path, dataset=args.dataset_name, dataset_config=config_name,
                            split=args.split, max_length_seconds=args.max_length_seconds, task=label_info.task)
    output = Path(args.output_dir)
    title = f"{modelcard.dataset_id(args.dataset_name)} / {config_name} / {args.split}"
    results = ScoreResults(model=args.model_name_or_path, dataset=args.dataset_name, dataset_config=config_name,
                           split=args.split, max_length_seconds=args.max_length_seconds,
                           task=MULTITASK if heads else label_info.task, untrained=untrained,
                           calibration=calibration, dataset_revision=args.dataset_revision,
                           condition=args.conditions[0] if args.conditions and len(args.conditions) == 1 else None)
    if label_info.task == SOURCE_TRACING:
        meta["classes"] = ([label_info.names[i] for i in label_info.ids(meta["labels"])] if label_info.encoded
                           else [label_info.names[int(value)] for value in meta["labels"]])
        results.source_tracing = source_tracing_report(logits, meta, model_classes, label_info.encoded, output,
                                                       title)
        results.open_set = open_set_report(logits, meta["classes"], model_classes, args.open_set_threshold)
        is_bonafide = meta["codecs"] == GENUINE  # genuine against the codecs, where genuine is a class
    else:
        is_bonafide = meta["labels"] == label_info.bonafide_id
    start = detection_slice.stop or 0
    for head, classes in list(heads.items())[1:]:  # a multi-task model's taxonomy heads, each with its matrix
        part = logits[:, start:start + len(classes)]
        start += len(classes)
        feature = dataset.features[head]
        head_meta = {**meta, "classes": [feature.int2str(int(value)) for value in meta_rows[head]]}
        results.heads[head] = source_tracing_report(part, head_meta, list(classes), False, output,
                                                    f"{title} ({head})", stem=f"-{head}")
    detection_bonafide = bonafide_id
    if bonafide_id is not None and is_bonafide.any() and not is_bonafide.all():
        scale = None if calibration is None else metrics.Calibration(calibration["scale"], calibration["offset"])
        values = detection_report(logits[:, detection_slice], meta, is_bonafide, detection_bonafide, output, title,
                                  scale)
        results.pooled = values["codec"].pop(POOLED)
        results.per_codec, results.per_family, results.per_cell = values["codec"], values["family"], values["cell"]
    elif label_info.task != SOURCE_TRACING:
        codec_results(np.zeros(len(is_bonafide)), np.where(is_bonafide, 0, 1), meta["codecs"], 0)  # names the gap
    if calibration is not None:
        write_json_atomic(output / "calibration.json", calibration)
    results.save(output / "results.json")
    warning = ("**Untrained model**: saved without training (finetune without `--do_train`); these results "
               "mean nothing about detection.\n\n" if untrained else "")
    body = "\n\n".join(modelcard.run_tables(results))
    write_text_atomic(output / "results.md", f"## {title}\n\nModel: `{args.model_name_or_path}`\n\n{warning}{body}\n")
    logger.info("Wrote %s", output)
    print(warning + body)

    # The model card, if the model is a local folder, with the plots beside it (pushed with the card)
    model_dir = Path(args.model_name_or_path)
    if args.update_model_card and model_dir.is_dir():
        modelcard.add_results(model_dir, results)
        for plot in sorted(output.glob("*.png")):
            modelcard.add_figure(model_dir, plot, f"{results_slug(results)}-{plot.name}")
        modelcard.write_model_card(model_dir)
    return results


def results_slug(results: ScoreResults) -> str:
    """A file-name part naming a scoring run: `<dataset>-<config>-<split>`."""
    text = f"{modelcard.dataset_id(results.dataset)}-{results.dataset_config or 'default'}-{results.split}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def main(argv: list[str] | None = None) -> ScoreResults:
    parser = command_parser("score", program_name())
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
    parser = command_parser("card", program_name())
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
