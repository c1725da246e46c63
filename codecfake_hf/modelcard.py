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

import json
import logging
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .errors import CodecFakeError
from .files import write_json_atomic, write_text_atomic
from .hub import push

logger = logging.getLogger(__name__)

TRAINING_FILE = "codecfake_training.json"
RESULTS_FILE = "codecfake_results.json"
TASK_TYPE = "audio-classification"
TASK_NAME = "Audio deepfake detection (bona fide vs codec resynthesis)"
POOLED = "pooled"

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
    return path.name if path.exists() else name


def _read_json(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


def write_training_facts(model_dir: str | Path, facts: dict) -> Path:
    """Save what `python -m eval finetune` says about its training run beside the model; returns the path."""
    path = Path(model_dir) / TRAINING_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, facts)
    return path


def read_training_facts(model_dir: str | Path) -> dict | None:
    """The training facts of a model folder; None where there are none (a Hub id, a model trained elsewhere)."""
    return _read_json(Path(model_dir) / TRAINING_FILE, None)


def add_results(model_dir: str | Path, results: dict) -> list[dict]:
    """Record one scoring run (`python -m eval score`'s results.json) beside the model, replacing an older
    run on the same dataset, config and split; returns every recorded run."""
    path = Path(model_dir) / RESULTS_FILE
    runs = [run for run in _read_json(path, []) if _key(run) != _key(results)]
    runs.append(results)
    runs.sort(key=_key)
    write_json_atomic(path, runs)
    return runs


def _key(run: dict) -> tuple[str, str, str]:
    return (str(run.get("dataset")), str(run.get("dataset_config")), str(run.get("split")))


def eval_results(training: dict | None, runs: list[dict]) -> list[EvalResult]:
    """`model-index` entries: EER (%) and minDCF per dataset config and split."""
    entries: list[EvalResult] = []
    seen: set[tuple] = set()  # one entry per dataset, config and split: e.g. a codec scored in `all` and alone

    def add(dataset: str, config: str | None, split: str, values: dict, codecs: str) -> None:
        key = (dataset_id(dataset), config, split)
        if key in seen:
            return
        seen.add(key)
        common = {"task_type": TASK_TYPE, "task_name": TASK_NAME, "dataset_type": dataset_id(dataset),
                  "dataset_name": f"{dataset_id(dataset)} ({config or 'default'}: {codecs})",
                  "dataset_config": config, "dataset_split": split}
        if values.get("eer") is not None:
            entries.append(EvalResult(metric_type="eer", metric_name="EER (%)",
                                      metric_value=round(100 * float(values["eer"]), 4), **common))
        if values.get("min_dcf") is not None:
            entries.append(EvalResult(metric_type="min_dcf", metric_name="minDCF (ASVspoof 5 costs)",
                                      metric_value=round(float(values["min_dcf"]), 4), **common))

    validation = (training or {}).get("validation")
    if validation:
        add(training["dataset"], training.get("dataset_config"), validation["split"], validation,
            "training codecs: " + ", ".join(training.get("train_codecs") or []))
    for run in runs:
        add(run["dataset"], run.get("dataset_config"), run["split"], run["pooled"], "all codecs pooled")
        for codec, values in run.get("per_codec", {}).items():
            add(run["dataset"], codec, run["split"], values, f"{codec} vs genuine")
    return entries


def results_table(run: dict) -> str:
    """A Markdown table of one scoring run: EER and minDCF per codec, then pooled."""
    lines = ["| codec | EER (%) | minDCF | bona fide | spoof |", "|---|---:|---:|---:|---:|"]
    rows = list(run.get("per_codec", {}).items()) + [(f"**{POOLED}**", run["pooled"])]
    for codec, values in rows:
        lines.append(f"| {codec} | {100 * values['eer']:.2f} | {values['min_dcf']:.4f} | "
                     f"{values['n_bonafide']} | {values['n_spoof']} |")
    return "\n".join(lines)


def build_model_card(training: dict | None, runs: list[dict], model_name: str) -> ModelCard:
    """The card of a fine-tuned detector: YAML metadata with `model-index`, then a readable body."""
    if not training and not runs:
        raise ModelCardError(
            f"nothing to put on the card of {model_name}: no {TRAINING_FILE} and no {RESULTS_FILE}; run "
            "`python -m eval finetune` (and `python -m eval score`) with this folder first")
    training = training or {}
    datasets_cited = sorted({dataset_id(d) for d in [training.get("dataset"), *(r["dataset"] for r in runs)] if d})
    base_model = training.get("base_model")
    data = ModelCardData(
        model_name=model_name,
        # `base_model` links a Hub model; a local folder is named in the text only
        base_model=base_model if base_model and not Path(base_model).exists() else None,
        datasets=datasets_cited or None,
        library_name="transformers",
        pipeline_tag="audio-classification",
        tags=["audio-classification", "anti-spoofing", "audio-deepfake-detection", "codecfake", "codecfake-hf"],
        metrics=["eer"],
        eval_results=eval_results(training, runs) or None,
    )
    body = [f"# {model_name}", ""]
    if training:
        base = base_model or (f"a fresh {training.get('architecture', 'model')} (random weights, "
                              f"config {training.get('config_name')})")
        body += [
            f"A bona fide vs spoof speech detector fine-tuned from {base} on "
            f"[{dataset_id(training['dataset'])}](https://huggingface.co/datasets/{dataset_id(training['dataset'])})"
            f" (config `{training.get('dataset_config')}`), codec-resynthesised speech as in CodecFake "
            "(Wu, Tseng and Lee, Interspeech 2024), with codecfake-hf's `python -m eval finetune`.",
            "",
            f"- Training codecs: {', '.join(f'`{c}`' for c in training.get('train_codecs') or []) or 'all'}"
            f" ({training.get('train_rows')} rows of split `{training.get('train_split')}`)",
            f"- Input: {training.get('max_length_seconds')} s windows at {training.get('sampling_rate')} Hz "
            "(random window in training, the first one in evaluation; short clips repeated)",
            f"- Loss: cross entropy, class weighting `{training.get('class_weighting')}`; feature encoder "
            f"{'frozen' if training.get('freeze_feature_encoder') else 'trained'}",
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
    validation = training.get("validation")
    if validation:
        body += [f"Validation (split `{validation['split']}`, training codecs, {validation.get('rows')} rows): "
                 f"EER {100 * validation['eer']:.2f} %, minDCF {validation['min_dcf']:.4f}.", ""]
    for run in runs:
        body += [f"### {dataset_id(run['dataset'])}, config `{run.get('dataset_config')}`, split `{run['split']}`",
                 "", results_table(run), ""]
    if not runs:
        body += ["Not scored on a test split yet (`python -m eval score`).", ""]
    hyper = training.get("hyperparameters") or {}
    if hyper:
        body += ["## Training hyper-parameters", "", "| name | value |", "|---|---|"]
        body += [f"| {name} | {value} |" for name, value in hyper.items()] + [""]
    body += [
        "## How to use",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        f'detector = pipeline("audio-classification", model="{model_name}")',
        'detector("speech.wav")  # [{"label": "bonafide", "score": ...}, {"label": "spoof", "score": ...}]',
        "```",
        "",
        "## Limitations",
        "",
        "The detector has seen only the codecs listed above, resynthesising one corpus's speakers; EER on "
        "unseen codecs, other corpora, channels or languages can be far higher (see the paper's cross-codec "
        "matrix). An EER picks its threshold on the test data itself; fix a threshold on held-out data before "
        "deploying.",
        "",
    ]
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)
    return ModelCard(content)


def write_model_card(model_dir: str | Path, model_name: str | None = None) -> Path:
    """Rebuild `README.md` of `model_dir` from its training facts and results; returns its path."""
    model_dir = Path(model_dir)
    training = read_training_facts(model_dir)
    runs = _read_json(model_dir / RESULTS_FILE, [])
    card = build_model_card(training, runs, model_name or model_dir.resolve().name)
    path = write_text_atomic(model_dir / "README.md", str(card))
    logger.info("Wrote the model card %s", path)
    return path


def push_model_folder(model_dir: str | Path, repo_id: str, *, token: str | None = None, private: bool | None = None,
                      commit_message: str = "Upload CodecFake detector", endpoint: str | None = None) -> str:
    """Upload `model_dir` (weights, card, results) to the model repo `repo_id` through `hub.push`; returns its URL.

    Checkpoint folders and temp files stay local, as Trainer's `push_to_hub` leaves them, and so does a
    `training_args.bin` that holds a token.
    """
    return push(model_dir, repo_id, repo_type="model", private=private, token=token, commit_message=commit_message,
                endpoint=endpoint)
