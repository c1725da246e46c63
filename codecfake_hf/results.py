"""Typed results shared by the evaluation and the model cards, with their JSON round trips.

- `CodecResult`: EER, threshold, minDCF and class counts of one codec's spoof rows against the genuine
  rows (or of every spoof row, pooled).
- `ScoreResults`: one scoring run (`python -m eval score`'s `results.json`): model, dataset, config,
  split, window, per-codec results and the pooled one; for a source-tracing model its
  `SourceTracingResult` (accuracy, macro-F1, confusion matrix).
- `TrainingFacts` (with `ValidationResult`): what a fine-tuning run says about itself
  (`codecfake_training.json` beside the model).

Each has `to_dict()`/`from_dict()` and `save(path)`/`load(path)`; the JSON files keep the keys they
always had. `from_dict` takes the keys it knows and ignores others (a file written by a newer
version); a missing key takes its field's default, and a missing required one is a `ResultsFileError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import CodecFakeError
from .files import write_json_atomic
from .metrics import ASVSPOOF5_DCF

POOLED = "pooled"  # the name of the all-codecs row in tables and plots
SCORE_DESCRIPTION = "bona fide log-odds (higher = more bona fide)"


class ResultsFileError(CodecFakeError):
    """A results or training-facts file that cannot be read back (bad JSON, a required key missing)."""


T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    if not isinstance(data, dict):
        raise ResultsFileError(f"{what}: expected a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    missing = [name for name, f in known.items()
               if name not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise ResultsFileError(f"{what}: missing {', '.join(missing)}; rewrite it with the command that made it")
    return cls(**{name: value for name, value in data.items() if name in known})


def load_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultsFileError(f"cannot read {path}: {error}") from None


class _Record:
    """A results dataclass's JSON round trip: `to_dict`, and `from_dict` naming `what` (default `_what`) in errors."""

    _what: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], what: str | None = None) -> T:
        return _from_dict(cls, data, cls._what if what is None else what)


class _RecordFile(_Record):
    """A `_Record` kept in a JSON file of its own: `save(path)`, `load(path)` (errors name the path)."""

    def save(self, path: str | os.PathLike) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls: type[T], path: str | os.PathLike) -> T:
        return cls.from_dict(load_json(path), str(path))


@dataclass
class CodecResult(_Record):
    """Detection results of one set of spoof rows against the genuine rows.

    Args:
        eer (float): equal error rate, 0..1.
        threshold (float): the score at the EER.
        min_dcf (float): normalised minimum detection cost (ASVspoof 5 costs).
        n_bonafide (int): genuine rows scored.
        n_spoof (int): spoof rows scored.
        act_dcf (float | None): normalised actual DCF at the Bayes threshold of the score read as an LLR
            (ASVspoof 5 costs; the calibrated score where the run was calibrated).
        cllr (float | None): cost of log-likelihood ratios in bits (likewise).
    """

    _what = "codec result"

    eer: float
    threshold: float
    min_dcf: float
    n_bonafide: int
    n_spoof: int
    act_dcf: float | None = None
    cllr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("act_dcf", "cllr"):  # absent from files written before they were measured: keep those keys
            if data[name] is None:
                del data[name]
        return data


@dataclass
class SourceTracingResult(_Record):
    """Multi-class results of a source-tracing model ("which codec made this?").

    Args:
        classes (list[str]): rows and columns of `confusion`, in the codec registry's order (genuine first).
        model_classes (list[str]): the model's classes (its id2label order).
        accuracy (float): share of rows whose predicted class is the true one, 0..1.
        macro_f1 (float): mean F1 over the classes that occur as true or predicted label, 0..1.
        f1 (dict[str, float | None]): each class's F1 (None where it does not occur).
        weighted_f1 (float | None): each class's F1 weighted by its true rows.
        confusion (list[list[int]]): counts, rows = true class, columns = predicted class.
        rows (int): rows scored.
        classes_unknown_to_model (list[str]): true classes the model cannot predict (always wrong).
    """

    _what = "source tracing"

    classes: list[str]
    model_classes: list[str]
    accuracy: float
    macro_f1: float
    f1: dict[str, float | None]
    confusion: list[list[int]]
    rows: int
    classes_unknown_to_model: list[str] = field(default_factory=list)
    weighted_f1: float | None = None


@dataclass
class ScoreResults(_RecordFile):
    """One scoring run of a detector on a dataset split.

    Args:
        model (str): the model scored (folder or Hub id).
        dataset (str): the dataset (folder or Hub id).
        dataset_config (str | None): its config (`all`, or one codec's).
        split (str): the split scored.
        max_length_seconds (float): the scoring window (0: whole clips).
        per_codec (dict[str, CodecResult]): codec -> its spoof rows against every genuine row (empty for a
            source-tracing model without a genuine class).
        pooled (CodecResult | None): every spoof row against every genuine row (None: no EER computed).
        score (str): what the score is.
        min_dcf_parameters (dict[str, float]): the minDCF costs.
        task (str): `detection` or `source-tracing`.
        source_tracing (SourceTracingResult | None): a source-tracing model's multi-class results.
        untrained (bool): the model was saved without training (its results mean nothing).
        per_family (dict[str, CodecResult]): codec family (`codecs.spec(name).family`) -> its spoof rows against
            every genuine row.
        per_cell (dict[str, CodecResult]): CodecFake+ taxonomy cell (`quantizer|auxiliary|decoder`) -> likewise.
        calibration (dict | None): the affine calibration applied before actDCF and Cllr (`scale`, `offset`,
            `split` it was fitted on, `prior`, rows); None: they read the raw score as an LLR.
        open_set (dict | None): open-set tracing: the "none of the known codecs" score of a tracer on parts it
            never saw against the spoof parts it knows (`auroc`, `threshold`, `unknown_detected`,
            `known_flagged`, the parts of each side).
        heads (dict[str, SourceTracingResult]): a multi-task model's taxonomy heads (head -> its results).
        dataset_revision (str | None): the dataset revision scored (a Hub commit where given).
        condition (str | None): the channel condition the scored rows went through (`clean`, `opus_16k`, ...)
            where the run chose one (`score --conditions`); None: every row of the split.
    """

    _what = "results"

    model: str
    dataset: str
    dataset_config: str | None
    split: str
    max_length_seconds: float
    per_codec: dict[str, CodecResult] = field(default_factory=dict)
    pooled: CodecResult | None = None
    score: str = SCORE_DESCRIPTION
    min_dcf_parameters: dict[str, float] = field(default_factory=lambda: dict(ASVSPOOF5_DCF))
    task: str = "detection"
    source_tracing: SourceTracingResult | None = None
    untrained: bool = False
    per_family: dict[str, CodecResult] = field(default_factory=dict)
    per_cell: dict[str, CodecResult] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    open_set: dict[str, Any] | None = None
    heads: dict[str, SourceTracingResult] = field(default_factory=dict)
    dataset_revision: str | None = None
    condition: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        """(dataset, config, split[, condition]): a model keeps one run per key."""
        base = (str(self.dataset), str(self.dataset_config), str(self.split))
        return base if self.condition is None else (*base, self.condition)

    def rows(self) -> list[tuple[str, CodecResult]]:
        """(name, result) of each codec, then `pooled` (none without EERs)."""
        return [*self.per_codec.items(), *([(POOLED, self.pooled)] if self.pooled is not None else [])]

    def to_dict(self) -> dict[str, Any]:
        data = {"model": self.model, "dataset": self.dataset, "dataset_config": self.dataset_config,
                "split": self.split, "score": self.score, "max_length_seconds": self.max_length_seconds,
                "min_dcf_parameters": dict(self.min_dcf_parameters),
                "per_codec": {codec: result.to_dict() for codec, result in self.per_codec.items()},
                "pooled": self.pooled.to_dict() if self.pooled is not None else None}
        if self.task != "detection" or self.source_tracing is not None:
            data["task"] = self.task
            data["source_tracing"] = self.source_tracing.to_dict() if self.source_tracing is not None else None
        if self.untrained:
            data["untrained"] = True
        for name in ("per_family", "per_cell"):
            if getattr(self, name):
                data[name] = {key: result.to_dict() for key, result in getattr(self, name).items()}
        for name in ("calibration", "open_set", "dataset_revision", "condition"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.heads:
            data["heads"] = {head: result.to_dict() for head, result in self.heads.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str | None = None) -> ScoreResults:
        what = cls._what if what is None else what
        results = _from_dict(cls, data, what)
        results.per_codec = {codec: CodecResult.from_dict(value, f"{what}: per_codec {codec}")
                             for codec, value in dict(results.per_codec).items()}
        if results.pooled is not None:
            results.pooled = CodecResult.from_dict(results.pooled, f"{what}: pooled")
        if isinstance(results.source_tracing, dict):
            results.source_tracing = SourceTracingResult.from_dict(results.source_tracing, f"{what}: source_tracing")
        for name in ("per_family", "per_cell"):
            setattr(results, name, {key: CodecResult.from_dict(value, f"{what}: {name} {key}")
                                    for key, value in dict(getattr(results, name) or {}).items()})
        results.heads = {head: SourceTracingResult.from_dict(value, f"{what}: heads {head}")
                         for head, value in dict(results.heads or {}).items()}
        return results


@dataclass
class ValidationResult(_Record):
    """The validation split's results at the end of fine-tuning (the training codecs only).

    Args:
        split (str): the validation split.
        eer (float | None): its EER, 0..1 (None when not computed).
        min_dcf (float | None): its minDCF.
        rows (int): rows evaluated.
        accuracy (float | None): source tracing: its accuracy, 0..1.
        macro_f1 (float | None): source tracing: its macro-F1, 0..1.
        weighted_f1 (float | None): source tracing: its F1 weighted by each class's rows, 0..1.
        classes (list[str]): source tracing: the rows and columns of `confusion`.
        confusion (list[list[int]] | None): source tracing: counts, rows = true class, columns = predicted.
        heads (dict[str, dict[str, float]]): a multi-task model: head -> its validation measures.
    """

    _what = "validation"

    split: str
    eer: float | None = None
    min_dcf: float | None = None
    rows: int = 0
    accuracy: float | None = None
    macro_f1: float | None = None
    weighted_f1: float | None = None
    classes: list[str] = field(default_factory=list)
    confusion: list[list[int]] | None = None
    heads: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class TrainingFacts(_RecordFile):
    """What a fine-tuning run says about itself, for the model card and for scoring with its window.

    Args:
        dataset (str): the training dataset (folder or Hub id).
        base_model (str | None): the checkpoint fine-tuned; None: a fresh model from `config_name`.
        config_name (str | None): the config a fresh model was built from.
        architecture (str | None): the model class.
        dataset_config (str | None): the dataset config trained on.
        train_split (str | None): the training split (None: no training, evaluation only).
        eval_split (str | None): the validation split.
        train_codecs (list[str]): codecs of the training rows (genuine included).
        train_rows (int): training rows.
        max_length_seconds (float | None): the training window.
        sampling_rate (int | None): the model's input rate.
        class_weighting (str | None): how the loss weighed the classes.
        class_weights (dict[str, float] | None): the weight of each class.
        freeze_feature_encoder (bool): whether the feature encoder was frozen.
        hyperparameters (dict[str, Any]): the card's hyper-parameters (`modelcard.training_hyperparameters`).
        validation (ValidationResult | None): results on the validation split.
        trained (bool): whether this run trained the model (False: `finetune` without `--do_train` saved it as
            it was loaded; cards and scores say so).
        task (str): `detection` (bona fide vs spoof) or `source-tracing` (one class per part or taxonomy value).
        label_column (str): the dataset column the classes came from.
        labels (list[str]): the classes, by id.
        label_smoothing_factor (float): the loss's label smoothing.
        origin (str | None): for a model trained elsewhere (a converted official checkpoint), where it comes
            from; the card then says this instead of "fine-tuned on".
        training_data (str | None): with `origin`, what it was trained on.
        license (str | None): the model's licence for its card (`--license`, else the base model's where its
            card could be read locally); None: not stated.
        heads (dict[str, list[str]]): a multi-task model (`--multitask`): head (dataset column) -> its classes,
            in the order of the model's logits (one linear layer, the heads' logits side by side).
    """

    _what = "training facts"

    dataset: str
    base_model: str | None = None
    config_name: str | None = None
    architecture: str | None = None
    dataset_config: str | None = None
    train_split: str | None = None
    eval_split: str | None = None
    train_codecs: list[str] = field(default_factory=list)
    train_rows: int = 0
    max_length_seconds: float | None = None
    sampling_rate: int | None = None
    class_weighting: str | None = None
    class_weights: dict[str, float] | None = None
    freeze_feature_encoder: bool = False
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    validation: ValidationResult | None = None
    trained: bool = True
    task: str = "detection"
    label_column: str = "label"
    labels: list[str] = field(default_factory=list)
    label_smoothing_factor: float = 0.0
    origin: str | None = None
    training_data: str | None = None
    license: str | None = None
    heads: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["validation"] = self.validation.to_dict() if self.validation is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str | None = None) -> TrainingFacts:
        what = cls._what if what is None else what
        facts = _from_dict(cls, data, what)
        if isinstance(facts.validation, dict):
            facts.validation = ValidationResult.from_dict(facts.validation, f"{what}: validation")
        facts.train_codecs = list(facts.train_codecs or [])
        facts.hyperparameters = dict(facts.hyperparameters or {})
        return facts


__all__ = ["POOLED", "SCORE_DESCRIPTION", "CodecResult", "ResultsFileError", "ScoreResults", "SourceTracingResult",
           "TrainingFacts", "ValidationResult", "load_json"]
