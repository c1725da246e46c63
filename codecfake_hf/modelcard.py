"""Model cards of CodecFake detectors: `model-index` with EER per dataset config and split, and pushing them.

`Trainer.create_model_card` drops metrics it does not know (EER among them) from `model-index`, so the
card is written here with `huggingface_hub.ModelCardData(eval_results=[EvalResult(metric_type="eer")])`.
A model folder holds two JSON files beside the weights, and the card is rebuilt from them whenever one
changes:

- `codecfake_training.json`: base model, dataset and config, training codecs, hyper-parameters, and the
  validation EER (written by `python -m eval finetune`);
- `codecfake_results.json`: one entry per scored (dataset, config, split), pooled and per codec (written
  by `python -m eval score`).

Per-codec results go into `model-index` under that codec's dataset config (a CodecFake dataset has one
config per codec: that codec plus the genuine rows), pooled ones under the config that was scored.
"""

from __future__ import annotations

import logging
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .errors import CodecFakeError
from .files import atomic_path, write_json_atomic, write_text_atomic
from .hub import push
from .results import POOLED, CodecResult, ScoreResults, SourceTracingResult, TrainingFacts, load_json

logger = logging.getLogger(__name__)

TRAINING_FILE = "codecfake_training.json"
RESULTS_FILE = "codecfake_results.json"
FIGURES_DIR = "figures"  # PNGs the card embeds (DET curves, confusion matrices, protocol matrices); pushed with it
TASK_TYPE = "audio-classification"
TASK_NAME = "Audio deepfake detection (bona fide vs codec resynthesis)"
SOURCE_TRACING_TASK = "Codec source tracing (which codec made this clip)"

# Hyper-parameters worth a line on the card (TrainingArguments' names).
_HYPERPARAMETERS = (
    "learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "warmup_steps", "lr_scheduler_type", "optim",
    "weight_decay", "seed", "fp16", "bf16",
)


class ModelCardError(CodecFakeError):
    """A model folder without what its card needs (no training facts and no results)."""


def training_hyperparameters(training_args) -> dict:
    """The card's hyper-parameters from a `TrainingArguments` (plain JSON values)."""
    values = {}
    for name in _HYPERPARAMETERS:
        value = getattr(training_args, name, None)
        if value is None or (name == "max_steps" and value <= 0):
            continue
        values[name] = value if isinstance(value, int | float | bool | str) else str(value)
    values["total_train_batch_size"] = (training_args.per_device_train_batch_size
                                        * training_args.gradient_accumulation_steps
                                        * max(training_args.world_size, 1))
    return values


def dataset_id(name: str) -> str:
    """The Hub id to cite for a dataset given as a Hub id or a local folder (the folder's name)."""
    path = Path(name)
    return path.name if is_local_dataset(name) else name


def base_model_id(base_model: str | None) -> str | None:
    """The Hub id for the card's `base_model`: a Hub id as given; a local folder only where it is a snapshot in
    the Hub cache (`.../models--ORG--NAME/snapshots/...`), which names its repo; else None (named in the text)."""
    if not base_model:
        return None
    path = Path(base_model)
    if not path.exists():
        return base_model
    for part in path.resolve().parts:
        if part.startswith("models--") and part.count("--") >= 2:
            return "/".join(part.split("--")[1:])
    return None


def base_model_license(base_model: str | None) -> str | None:
    """The base model's licence from its card's metadata, read locally only (no network): the folder's
    README.md, or for a Hub id its README.md in the local Hub cache; None where no card says."""
    if not base_model:
        return None
    card_path = Path(base_model) / "README.md"
    if not card_path.is_file():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(base_model, "README.md")
        except ValueError:  # not a repo id
            return None
        if not isinstance(cached, str):
            return None
        card_path = Path(cached)
    try:
        license_id = ModelCard.load(card_path).data.license
    except (OSError, ValueError) as error:
        logger.warning("could not read the licence of %s from %s: %s", base_model, card_path, error)
        return None
    return license_id if isinstance(license_id, str) and license_id else None


def is_local_dataset(name: str) -> bool:
    """A dataset given as a local folder (existing, or an absolute or `./` path), not a Hub id."""
    return Path(name).exists() or Path(name).is_absolute() or str(name).startswith(("./", "../", "~"))


def dataset_words(name: str) -> str:
    """How the card's text names a dataset: a link for a Hub id, the folder's name for a local folder."""
    if is_local_dataset(name):
        return f"a local dataset folder `{Path(name).name}` (not on the Hub)"
    return f"[{name}](https://huggingface.co/datasets/{name})"


def write_training_facts(model_dir: str | Path, facts: TrainingFacts) -> Path:
    """Save what `python -m eval finetune` says about its training run beside the model; returns the path."""
    return facts.save(Path(model_dir) / TRAINING_FILE)


def read_training_facts(model_dir: str | Path) -> TrainingFacts | None:
    """The training facts of a model folder; None where there are none (a Hub id, a model trained elsewhere)."""
    path = Path(model_dir) / TRAINING_FILE
    return TrainingFacts.load(path) if path.is_file() else None


def read_results(model_dir: str | Path) -> list[ScoreResults]:
    """Every scoring run recorded beside the model (none where there is no results file)."""
    path = Path(model_dir) / RESULTS_FILE
    if not path.is_file():
        return []
    return [ScoreResults.from_dict(run, f"{path} (run {i})") for i, run in enumerate(load_json(path))]


def add_results(model_dir: str | Path, results: ScoreResults) -> list[ScoreResults]:
    """Record one scoring run (`python -m eval score`'s results.json) beside the model, replacing an older
    run on the same dataset, config and split; returns every recorded run."""
    runs = [run for run in read_results(model_dir) if run.key != results.key]
    runs.append(results)
    runs.sort(key=lambda run: run.key)
    write_json_atomic(Path(model_dir) / RESULTS_FILE, [run.to_dict() for run in runs])
    return runs


def eval_results(training: TrainingFacts | None, runs: list[ScoreResults]) -> list[EvalResult]:
    """`model-index` entries: EER (%) and minDCF per dataset config and split."""
    entries: list[EvalResult] = []
    seen: set[tuple] = set()  # one entry per dataset, config and split: e.g. a codec scored in `all` and alone

    def add(dataset: str, config: str | None, split: str, eer: float | None, min_dcf: float | None,
            codecs: str, result: CodecResult | None = None) -> None:
        key = (dataset_id(dataset), config, split)
        if key in seen:
            return
        seen.add(key)
        common = {"task_type": TASK_TYPE, "task_name": TASK_NAME, "dataset_type": dataset_id(dataset),
                  "dataset_name": f"{dataset_id(dataset)} ({config or 'default'}: {codecs})",
                  "dataset_config": config, "dataset_split": split}
        if eer is not None:
            entries.append(EvalResult(metric_type="eer", metric_name="EER (%)",
                                      metric_value=round(100 * float(eer), 4), **common))
        if min_dcf is not None:
            entries.append(EvalResult(metric_type="min_dcf", metric_name="minDCF (ASVspoof 5 costs)",
                                      metric_value=round(float(min_dcf), 4), **common))
        if result is not None and result.act_dcf is not None:
            entries.append(EvalResult(metric_type="act_dcf", metric_name="actDCF (ASVspoof 5 costs)",
                                      metric_value=round(float(result.act_dcf), 4), **common))
        if result is not None and result.cllr is not None:
            entries.append(EvalResult(metric_type="cllr", metric_name="Cllr (bits)",
                                      metric_value=round(float(result.cllr), 4), **common))

    def add_tracing(run_or_training, config: str | None, split: str, accuracy: float | None,
                    macro_f1: float | None, weighted_f1: float | None, what: str, head: str | None = None) -> None:
        dataset = dataset_id(run_or_training.dataset)
        task = SOURCE_TRACING_TASK + (f", head `{head}`" if head else "")
        common = {"task_type": TASK_TYPE, "task_name": task, "dataset_type": dataset,
                  "dataset_name": f"{dataset} ({config or 'default'}: {what})", "dataset_config": config,
                  "dataset_split": split}
        for metric_type, name, value, metric_config in (
                ("accuracy", "Accuracy (%)", accuracy, None), ("f1", "Macro-F1 (%)", macro_f1, "macro"),
                ("f1", "Weighted F1 (%)", weighted_f1, "weighted")):
            if value is not None:
                entries.append(EvalResult(metric_type=metric_type, metric_name=name, metric_config=metric_config,
                                          metric_value=round(100 * float(value), 4), **common))

    validation = training.validation if training is not None else None
    if validation:
        if training.task == "source-tracing":
            add_tracing(training, training.dataset_config, validation.split, validation.accuracy,
                        validation.macro_f1, validation.weighted_f1, f"`{training.label_column}`, training codecs")
        for head, values in validation.heads.items():
            add_tracing(training, training.dataset_config, validation.split, values.get("accuracy"),
                        values.get("macro_f1"), values.get("weighted_f1"), f"`{head}`, training codecs", head)
        add(training.dataset, training.dataset_config, validation.split, validation.eer, validation.min_dcf,
            "training codecs: " + ", ".join(training.train_codecs))
    for run in runs:
        tracing = run.source_tracing
        if tracing is not None:  # accuracy and F1 of "which codec made this?", before the split's EERs
            add_tracing(run, run.dataset_config, run.split, tracing.accuracy, tracing.macro_f1, tracing.weighted_f1,
                        f"{len(tracing.classes)} classes")
        for head, result in run.heads.items():
            add_tracing(run, run.dataset_config, run.split, result.accuracy, result.macro_f1, result.weighted_f1,
                        f"`{head}`, {len(result.classes)} classes", head)
        if run.pooled is not None:
            add(run.dataset, run.dataset_config, run.split, run.pooled.eer, run.pooled.min_dcf, "all codecs pooled",
                run.pooled)
        for codec, result in run.per_codec.items():
            add(run.dataset, codec, run.split, result.eer, result.min_dcf, f"{codec} vs genuine", result)
    return entries


def confusion_table(tracing: SourceTracingResult) -> str:
    """A Markdown table of a source-tracing run: counts, rows = true class, columns = predicted class (registry
    order), then each class's F1; accuracy, macro-F1 and weighted F1 above it."""
    weighted = "" if tracing.weighted_f1 is None else f", weighted F1 {100 * tracing.weighted_f1:.2f} %"
    lines = [f"Accuracy {100 * tracing.accuracy:.2f} %, macro-F1 {100 * tracing.macro_f1:.2f} %{weighted} "
             f"({tracing.rows} rows; rows: true class, columns: predicted class)", "",
             "| true \\ predicted | " + " | ".join(tracing.classes) + " | F1 (%) |",
             "|---|" + "---:|" * (len(tracing.classes) + 1)]
    for name, counts in zip(tracing.classes, tracing.confusion, strict=True):
        f1 = tracing.f1.get(name)
        f1_text = "" if f1 is None else f"{100 * f1:.1f}"
        lines.append(f"| {name} | " + " | ".join(str(c) for c in counts) + f" | {f1_text} |")
    return "\n".join(lines)


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def results_table(run: ScoreResults, grouping: str = "codec") -> str:
    """A Markdown table of one scoring run: ASVspoof 5's measures (minDCF, actDCF, Cllr, EER) per codec then pooled
    (`grouping` `codec`), or per codec family (`family`) or taxonomy cell (`cell`)."""
    rows = run.rows() if grouping == "codec" else list(getattr(run, f"per_{grouping}").items())
    lines = [f"| {grouping} | minDCF | actDCF | Cllr (bits) | EER (%) | bona fide | spoof |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, result in rows:
        shown = f"**{name}**" if name == POOLED else name
        lines.append(f"| {shown} | {result.min_dcf:.4f} | {_number(result.act_dcf)} | {_number(result.cllr)} | "
                     f"{100 * result.eer:.2f} | {result.n_bonafide} | {result.n_spoof} |")
    return "\n".join(lines)


def run_tables(run: ScoreResults) -> list[str]:
    """Every table of one scoring run: tracing (and each multi-task head), open set, then the detection measures
    per codec, family and cell, with the calibration they used."""
    tables = []
    if run.source_tracing is not None:
        tables.append(confusion_table(run.source_tracing))
    for head, result in run.heads.items():
        tables.append(f"Head `{head}`: " + confusion_table(result))
    if run.open_set:
        o = run.open_set
        tables.append(f"Open-set tracing ({o['n_unknown']} clips of parts the tracer never saw: "
                      f"{', '.join(o['unknown_parts'])}; {o['n_known']} of known codecs): AUROC {o['auroc']:.4f}; at "
                      f"largest class probability < {o['threshold']}, {100 * o['unknown_detected']:.1f} % of the "
                      f"unseen caught, {100 * o['known_flagged']:.1f} % of the known flagged.")
    if run.pooled is not None:
        calibration = run.calibration
        tables.append("actDCF and Cllr of the scores calibrated on split "
                      f"`{calibration['split']}` (LLR = {calibration['scale']:.4f} × score "
                      f"{calibration['offset']:+.4f})." if calibration else
                      "actDCF and Cllr read the uncalibrated bona fide log-odds as LLRs (`python -m eval score "
                      "--calibration_split validation` calibrates them).")
        tables.append(results_table(run))
        for grouping in ("family", "cell"):
            if getattr(run, f"per_{grouping}"):
                tables.append(results_table(run, grouping))
    return tables


def add_figure(model_dir: str | Path, source: str | Path, name: str) -> Path:
    """Copy a PNG into the model folder's `figures/` (atomically), where the card embeds it and the push takes it."""
    target = Path(model_dir) / FIGURES_DIR / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(Path(source).read_bytes())
    return target


def figure_lines(figures: list[str]) -> list[str]:
    """The card's "Figures" section: each PNG of `figures/` embedded, captioned with its name."""
    if not figures:
        return []
    lines = ["## Figures", ""]
    for name in figures:
        caption = Path(name).stem.replace("_", " ")
        lines += [f"![{caption}]({FIGURES_DIR}/{name})", "", f"*{caption}*", ""]
    return lines


def channel_lines(runs: list[ScoreResults]) -> list[str]:
    """The card's channel robustness: pooled EER per channel condition the model was scored under (runs of
    `score --conditions`), and the worst condition named; nothing where no run chose a condition."""
    by_condition = {run.condition: run for run in runs if run.condition is not None and run.pooled is not None}
    if not by_condition:
        return []
    worst = max(by_condition, key=lambda condition: by_condition[condition].pooled.eer)
    lines = ["## Channel robustness", "",
             f"Worst condition: **`{worst}`**, pooled EER {100 * by_condition[worst].pooled.eer:.2f} % "
             f"(the same detector scored on the same utterances after each channel; `clean`: none).", "",
             "| condition | pooled EER (%) | minDCF |", "|---|---:|---:|"]
    for condition, run in by_condition.items():
        lines.append(f"| `{condition}` | {100 * run.pooled.eer:.2f} | {_number(run.pooled.min_dcf)} |")
    return [*lines, ""]


def build_model_card(training: TrainingFacts | None, runs: list[ScoreResults], model_name: str,
                     license: str | None = None, figures: list[str] | None = None,
                     license_text: str | None = None) -> ModelCard:
    """The card of a fine-tuned detector: YAML metadata with `model-index`, then a readable body.

    `license`: the card's licence; None: the training facts' (`--license` of finetune, else the base model's
    as its local card states), else left out and the body says so. `figures`: PNG names under `figures/` to
    embed. `license_text`: the folder's LICENSE file, whose first line (the copyright) the Licence section
    quotes."""
    if not training and not runs:
        raise ModelCardError(
            f"nothing to put on the card of {model_name}: no {TRAINING_FILE} and no {RESULTS_FILE}; run "
            "`python -m eval finetune` (and `python -m eval score`) with this folder first")
    # `datasets:` links Hub datasets; a local folder is named in the text only; a converted model (origin) was
    # trained elsewhere, on data that is not a Hub dataset here
    trained_on = training.dataset if training and not training.origin else None
    datasets_cited = sorted({d for d in [trained_on, *(r.dataset for r in runs)] if d and not is_local_dataset(d)})
    base_model = training.base_model if training else None
    license = license or (training.license if training else None)
    data = ModelCardData(
        model_name=model_name,
        license=license,
        # `base_model` links a Hub model; a local folder is named in the text only (unless it is a Hub cache
        # snapshot, which names its repo)
        base_model=base_model_id(base_model),
        datasets=datasets_cited or None,
        library_name="transformers",
        pipeline_tag="audio-classification",
        tags=["audio-classification", "anti-spoofing", "audio-deepfake-detection", "codecfake", "codecfake-hf"],
        metrics=["eer", "min_dcf", "act_dcf", "cllr"] if any(r.pooled is not None for r in runs) else ["eer"],
        eval_results=eval_results(training, runs) or None,
    )
    body = [f"# {model_name}", ""]
    if training is not None and not training.trained:
        body += ["**Not trained**: this folder holds the starting model as it was loaded (`python -m eval finetune` "
                 "ran without `--do_train`). The results below are those of an untrained model.", ""]
    if training is not None and training.origin:
        body += [f"A bona fide vs spoof speech detector: {training.origin}. Training data: "
                 f"{training.training_data or 'not stated'}.", "",
                 f"- Input: {training.max_length_seconds} s windows at {training.sampling_rate} Hz "
                 "(the first window of each clip; short clips repeated)", ""]
    elif training:
        base = base_model or (f"a fresh {training.architecture or 'model'} (random weights, "
                              f"config {training.config_name})")
        body += [
            f"{model_kind(training)} fine-tuned from {base} on {dataset_words(training.dataset)}"
            f" (config `{training.dataset_config}`), codec-resynthesised speech as in CodecFake "
            "(Wu, Tseng and Lee, Interspeech 2024), with codecfake-hf's `python -m eval finetune`.",
            "",
            f"- Training codecs: {', '.join(f'`{c}`' for c in training.train_codecs) or 'all'}"
            f" ({training.train_rows} rows of split `{training.train_split}`)",
            f"- Input: {training.max_length_seconds} s windows at {training.sampling_rate} Hz "
            "(random window in training, the first one in evaluation; short clips repeated)",
            f"- Loss: cross entropy, class weighting `{training.class_weighting}`; feature encoder "
            f"{'frozen' if training.freeze_feature_encoder else 'trained'}",
            "",
        ]
    body += [
        "Scores follow the ASVspoof convention: higher = more bona fide. The score is the bona fide log-odds "
        "`log p(bonafide) − log p(spoof)`; EER is computed as the ASVspoof evaluation code does "
        "(`codecfake_hf.metrics.compute_eer`, or `evaluate.load(\"eval/eer\")` in a codecfake-hf checkout); "
        "minDCF uses the ASVspoof 5 costs (P_spoof 0.05, C_miss 1, C_fa 10).",
        "",
        "## Results",
        "",
    ]
    validation = training.validation if training else None
    if validation:
        shown = [f"{name} {100 * value:.2f} %" for name, value in
                 (("accuracy", validation.accuracy), ("macro-F1", validation.macro_f1), ("EER", validation.eer))
                 if value is not None]
        if validation.min_dcf is not None:
            shown.append(f"minDCF {validation.min_dcf:.4f}")
        if shown:
            body += [f"Validation (split `{validation.split}`, training codecs, {validation.rows} rows): "
                     f"{', '.join(shown)}.", ""]
    if training is not None and training.task == "source-tracing":
        body += [f"Source tracing: the classes are the values of `{training.label_column}` "
                 f"({', '.join(f'`{name}`' for name in training.labels)}).", ""]
    body += channel_lines(runs)
    for run in runs:
        channel = f", condition `{run.condition}`" if run.condition is not None else ""
        body += [f"### {dataset_id(run.dataset)}, config `{run.dataset_config}`, split `{run.split}`{channel}", ""]
        if run.untrained:
            body += ["(scored without training)", ""]
        for table in run_tables(run):
            body += [table, ""]
    body += figure_lines(figures or [])
    if not runs:
        body += ["Not scored on a test split yet (`python -m eval score`).", ""]
    hyper = training.hyperparameters if training else {}
    if hyper:
        body += ["## Training hyper-parameters", "", "| name | value |", "|---|---|"]
        body += [f"| {name} | {value} |" for name, value in hyper.items()] + [""]
    body += [*how_to_use(model_name, training), ""]
    if license:
        # the folder's LICENSE file (a converted checkpoint's upstream licence) names the copyright holder
        notice = f" {license_text.strip().splitlines()[0]}; the full text is in [LICENSE](LICENSE)." \
            if license_text and license_text.strip() else ""
        body += ["## Licence", "", f"`{license}`.{notice}", ""]
    else:
        base = f" The weights derive from {base_model}, whose licence applies to them." if base_model else ""
        body += ["## Licence", "", f"Not stated: no `--license` was given and no local card of the base model "
                 f"names one.{base} State it with `python -m eval card --model_dir FOLDER --license ID` (an SPDX or "
                 "Hub licence id).", ""]
    if training is not None and training.origin:
        seen = f"only its training data ({training.training_data or 'not stated'})"
    elif training is not None and training.train_codecs:
        seen = "only its training codecs (listed above), resynthesising one corpus's speakers"
    else:
        seen = "only the data it was trained on"
    body += [
        "## Limitations",
        "",
        f"The detector has seen {seen}; EER on unseen codecs, other corpora, channels or languages can be far "
        "higher (see the CodecFake paper's cross-codec matrix). An EER picks its threshold on the test data "
        "itself; fix a threshold on held-out data before deploying.",
        "",
    ]
    content = f"---\n{data.to_yaml()}\n---\n\n{GENERATED_START}\n" + "\n".join(body) + f"\n{GENERATED_END}\n"
    return ModelCard(content)


def model_kind(training: TrainingFacts) -> str:
    """What the model is, for the card's first sentence: a detector, a tracer of one column, or both at once."""
    if training.task == "source-tracing":
        return (f"A codec source tracer (classes: the values of `{training.label_column}`, "
                f"{len(training.labels)} of them)")
    if training.task == "multi-task":
        return (f"A multi-task bona fide vs spoof detector and codec tracer (heads: "
                f"{', '.join(f'`{head}`' for head in training.heads)})")
    return "A bona fide vs spoof speech detector"


def how_to_use(model_name: str, training: TrainingFacts | None) -> list[str]:
    """The card's "How to use" section: `pipeline` on a file, and on a CodecFake dataset row.

    A row's `audio` is a torchcodec decoder at the file's own rate (24 or 44.1 kHz for many codecs): the
    pipeline refuses the decoder, and resamples an array only through torchaudio. Casting the column to the
    model's rate and passing `{"raw": array, "sampling_rate": rate}` works with neither.
    """
    rate = training.sampling_rate if training and training.sampling_rate else 16_000
    dataset = (training.dataset if training and training.dataset and not training.origin
               else "DATASET")  # a local folder: its path
    config = training.dataset_config if training and training.dataset_config else "all"
    # AASIST / W2V2-AASIST folders carry their model code (auto_map): transformers runs it when trusted, so
    # the reader needs no codecfake-hf
    remote = training is not None and (training.architecture or "").endswith("AasistForAudioClassification")
    return [
        "## How to use",
        "",
        *(["The model's code travels with it (`auto_map` in `config.json`; the `*_aasist.py` files are "
           "codecfake-hf's, Apache-2.0): `trust_remote_code=True` runs it, without codecfake-hf installed.", ""]
          if remote else []),
        "```python",
        "from datasets import Audio, load_dataset",
        "from transformers import pipeline",
        "",
        f'detector = pipeline("audio-classification", model="{model_name}"'
        + (", trust_remote_code=True)" if remote else ")"),
        'detector("speech.wav")  # [{"label": "bonafide", "score": ...}, {"label": "spoof", "score": ...}]',
        "",
        f"# Rows of a CodecFake dataset: decode the audio at the model's {rate} Hz (the pipeline resamples only",
        "# through torchaudio, and does not take the row's decoder itself), then pass the array and its rate.",
        f'rows = load_dataset("{dataset}", "{config}", split="test")',
        f'rows = rows.cast_column("audio", Audio(sampling_rate={rate}))',
        'audio = rows[0]["audio"]',
        'detector({"raw": audio["array"], "sampling_rate": audio["sampling_rate"]})',
        "```",
    ]


# The card's part that codecfake-hf writes lies between these lines; a user's text around them is kept.
GENERATED_START = "<!-- codecfake-hf: generated from the folder's results; edits inside are replaced -->"
GENERATED_END = "<!-- codecfake-hf: end of the generated part -->"
# Metadata keys the results decide; every other key of an existing card (licence, language, ...) is kept.
OWN_METADATA = ("model_name", "base_model", "datasets", "library_name", "pipeline_tag", "metrics", "model-index")


def write_model_card(model_dir: str | Path, model_name: str | None = None, license: str | None = None) -> Path:
    """Write or update `README.md` of `model_dir` from its training facts and results; returns its path.

    As huggingface_hub's `metadata_update` does, an existing card keeps what its user wrote: metadata keys
    other than the results' own (`OWN_METADATA`; tags are merged), and the text outside the generated part
    (a card without that part keeps its text above it). The licence: `license` where given, else the one the
    existing card states (a user's edit), else the training facts'.
    """
    model_dir = Path(model_dir)
    training = read_training_facts(model_dir)
    runs = read_results(model_dir)
    path = model_dir / "README.md"
    existing = ModelCard.load(path) if path.is_file() else None
    if license is None and existing is not None and isinstance(existing.data.license, str):
        license = existing.data.license or None
    figures = sorted(path.name for path in (model_dir / FIGURES_DIR).glob("*.png"))
    license_file = model_dir / "LICENSE"
    card = build_model_card(training, runs, model_name or model_dir.resolve().name, license=license,
                            figures=figures, license_text=license_file.read_text() if license_file.is_file() else None)
    if existing is not None:
        card = merge_with_existing(existing, card)
    path = write_text_atomic(path, str(card))
    logger.info("Wrote the model card %s", path)
    return path


def merge_with_existing(existing: ModelCard, generated: ModelCard) -> ModelCard:
    """`generated` with the user's metadata keys and text of `existing` kept."""
    ours = generated.data.to_dict()
    theirs = existing.data.to_dict()
    merged = {key: value for key, value in theirs.items() if key not in OWN_METADATA}
    merged.update({key: value for key, value in ours.items() if value is not None})
    merged["tags"] = list(dict.fromkeys([*(theirs.get("tags") or []), *(ours.get("tags") or [])]))
    text = existing.text
    if GENERATED_START in text and GENERATED_END in text:
        before, rest = text.split(GENERATED_START, 1)
        after = rest.split(GENERATED_END, 1)[1]
    else:
        before, after = text.rstrip() + "\n\n", "\n"
    body = generated.text.split(GENERATED_START, 1)[1].split(GENERATED_END, 1)[0]
    data = ModelCardData(**merged)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{before}{GENERATED_START}{body}{GENERATED_END}{after}")


def push_model_folder(model_dir: str | Path, repo_id: str, *, token: str | None = None, private: bool | None = None,
                      commit_message: str = "Upload CodecFake detector", endpoint: str | None = None) -> str:
    """Upload `model_dir` (weights, card, results) to the model repo `repo_id` through `hub.push`; returns its URL.

    Checkpoint folders and temp files stay local, as Trainer's `push_to_hub` leaves them, and so does a
    `training_args.bin` that holds a token.
    """
    return push(model_dir, repo_id, repo_type="model", private=private, token=token, commit_message=commit_message,
                endpoint=endpoint)
