"""Score a trained detector on one split: ASVspoof-style score file, results.json, EER/minDCF table, DET plots.

Usage:

    python -m eval score --model_name_or_path runs/w2v2-encodec --dataset_name ORG/codecfake \\
        --dataset_config_name all --split test --output_dir runs/w2v2-encodec/test-all

Writes to `--output_dir`: `scores.txt` (one line per row: utterance id, codec, bonafide|spoof, score;
higher = more bona fide, the bona fide log-odds), `results.json`, `results.md` (EER and minDCF per codec
and pooled) and `det.png`. Each codec's EER sets that codec's rows against every genuine row of the split;
pooled sets all spoof rows against them. With a local model folder, the results also go into its model
card (`README.md`, EER in `model-index`).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, HfArgumentParser

from codecfake_hf import metrics, modelcard
from codecfake_hf.files import atomic_path, write_text_atomic
from codecfake_hf.results import POOLED, CodecResult, ScoreResults

from .data import (
    CODECFAKE_SECONDS,
    EvalArgumentError,
    bonafide_log_odds,
    cap_rows,
    check_columns,
    crop_or_pad,
    load_split,
    mono,
    select_codecs,
)
from .plots import plot_det

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
        default=None, metadata={"help": "torch device. Default: cuda if available, else cpu."})
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


def score_dataset(model, feature_extractor, dataset: datasets.Dataset, args: ScoreArguments,
                  bonafide_id: int) -> np.ndarray:
    """The bona fide log-odds of every row (first window of `--max_length_seconds`), in row order.

    Decoding, cropping and feature extraction run in `--dataloader_num_workers` processes (0: this one).
    """
    rate = feature_extractor.sampling_rate
    length = int(round(args.max_length_seconds * rate))
    input_name = feature_extractor.model_input_names[0]
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device).eval()

    def collate(rows):
        waves = [crop_or_pad(mono(row[args.audio_column_name]), length, None) for row in rows]
        inputs = feature_extractor(waves, sampling_rate=rate, padding=True, return_tensors="pt")
        return {key: value for key, value in inputs.items() if key in (input_name, "attention_mask")}

    loader = torch.utils.data.DataLoader(dataset.select_columns([args.audio_column_name]),
                                         batch_size=args.batch_size, num_workers=args.dataloader_num_workers,
                                         collate_fn=collate, shuffle=False)
    scores = []
    for inputs in tqdm(loader, desc="Scoring", unit="batch"):
        with torch.inference_mode():
            logits = model(**{key: value.to(device) for key, value in inputs.items()}).logits
        scores.append(bonafide_log_odds(logits.float().cpu().numpy(), bonafide_id))
    return np.concatenate(scores) if scores else np.zeros(0)


def codec_results(scores: np.ndarray, labels: np.ndarray, codecs: np.ndarray,
                  dataset_bonafide: int) -> tuple[dict[str, CodecResult], dict[str, metrics.DetCurve]]:
    """EER, threshold and minDCF per codec (against every genuine row), then `pooled`; DET curves for the plot."""
    is_bonafide = labels == dataset_bonafide
    bonafide = scores[is_bonafide]
    if bonafide.size == 0:
        raise EvalArgumentError("the scored rows hold no bona fide (genuine) rows: no EER can be computed; "
                                "score a split and config that include the genuine rows, or raise `--max_samples`")
    groups = {codec: scores[(codecs == codec) & ~is_bonafide] for codec in sorted(set(codecs[~is_bonafide]))}
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


def run_score(args: ScoreArguments) -> ScoreResults:
    """Score, write the report files, update the model card; returns what results.json holds."""
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

    # The model, and which of its outputs is bona fide
    try:
        model = AutoModelForAudioClassification.from_pretrained(
            args.model_name_or_path, cache_dir=args.cache_dir, token=args.token)
        feature_extractor = AutoFeatureExtractor.from_pretrained(
            args.model_name_or_path, cache_dir=args.cache_dir, token=args.token)
    except (OSError, ValueError) as error:  # missing folder or repo, malformed id (a ValueError), no network
        raise EvalArgumentError(f"cannot load `--model_name_or_path {args.model_name_or_path}`: {error}") from None
    model_labels = {name: int(i) for name, i in model.config.label2id.items()}
    if args.bonafide_label not in model_labels:
        raise EvalArgumentError(
            f"`--bonafide_label {args.bonafide_label}` is not a label of the model {args.model_name_or_path} "
            f"(its labels: {sorted(model_labels)}); was it fine-tuned with `python -m eval finetune`?")

    # Score every row at the model's sampling rate, with the window it was trained on
    if args.max_length_seconds is None:
        facts = modelcard.read_training_facts(args.model_name_or_path)
        args.max_length_seconds = float(facts and facts.max_length_seconds or CODECFAKE_SECONDS)
    dataset = dataset.cast_column(args.audio_column_name, datasets.Audio(sampling_rate=feature_extractor.sampling_rate))
    scores = score_dataset(model, feature_extractor, dataset, args, model_labels[args.bonafide_label])
    meta = dataset.select_columns([args.id_column_name, args.codec_column_name, args.label_column_name])
    ids = meta[args.id_column_name]
    codecs = np.asarray(meta[args.codec_column_name])
    labels = np.asarray(meta[args.label_column_name])
    values, curves = codec_results(scores, labels, codecs, label_info.bonafide_id)

    # Report: score file, results.json, Markdown table, DET plot
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_score_file(output / "scores.txt", ids, codecs, labels, scores, label_info.names)
    results = ScoreResults(
        model=args.model_name_or_path, dataset=args.dataset_name, dataset_config=config_name, split=args.split,
        max_length_seconds=args.max_length_seconds, pooled=values[POOLED],
        per_codec={codec: value for codec, value in values.items() if codec != POOLED})
    results.save(output / "results.json")
    title = f"{modelcard.dataset_id(args.dataset_name)} / {config_name} / {args.split}"
    table = modelcard.results_table(results)
    write_text_atomic(output / "results.md", f"## {title}\n\nModel: `{args.model_name_or_path}`\n\n{table}\n")
    plot_det(curves, {name: value.eer for name, value in values.items()}, output / "det.png", title=f"DET: {title}")
    logger.info("Pooled EER %.2f %% (%d genuine, %d spoof rows); wrote %s", 100 * results.pooled.eer,
                results.pooled.n_bonafide, results.pooled.n_spoof, output)
    print(table)

    # The model card, if the model is a local folder
    model_dir = Path(args.model_name_or_path)
    if args.update_model_card and model_dir.is_dir():
        modelcard.add_results(model_dir, results)
        modelcard.write_model_card(model_dir)
    return results


def main(argv: list[str] | None = None) -> ScoreResults:
    parser = HfArgumentParser(ScoreArguments, prog="python -m eval score", description=__doc__.split("\n\n")[0])
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
    parser = HfArgumentParser(CardArguments, prog="python -m eval card", description=CardArguments.__doc__)
    (args,) = parser.parse_args_into_dataclasses(args=sys.argv[1:] if argv is None else argv)
    model_dir = Path(args.model_dir)
    if not model_dir.is_dir():
        raise EvalArgumentError(f"`--model_dir {args.model_dir}` is not a folder")
    repo_id = args.hub_model_id or model_dir.resolve().name
    path = modelcard.write_model_card(model_dir, model_name=repo_id)  # the full id: the card's pipeline snippet
    print(f"wrote {path}")
    if args.push_to_hub:
        url = modelcard.push_model_folder(model_dir, repo_id, token=args.hub_token, private=args.hub_private_repo)
        print(f"pushed {model_dir} to {url}")
    return path


__all__ = ["CardArguments", "ScoreArguments", "card_main", "main", "run_score"]
