"""Loading a CodecFake dataset for evaluation: one split, chosen codecs, checked columns, cropped audio."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from codecfake_hf.errors import CodecFakeError
from codecfake_hf.schema import GENUINE, part_order

logger = logging.getLogger(__name__)

CODECFAKE_SAMPLES = 64_600  # CodecFake's (and the ASVspoof baselines') input: 64,600 samples at 16 kHz
CODECFAKE_SECONDS = CODECFAKE_SAMPLES / 16_000


class EvalArgumentError(CodecFakeError, ValueError):
    """An evaluation argument that does not fit the dataset or model (the message names flag and value)."""


DETECTION = "detection"  # bona fide vs spoof: EER and minDCF
SOURCE_TRACING = "source-tracing"  # which part (genuine or which codec) made this clip: accuracy, macro-F1


@dataclass(frozen=True)
class LabelInfo:
    """The classes a model learns: names by id, the bona fide class, and the task.

    Args:
        names: class names by id.
        bonafide_id: the id of the bona fide class (`bonafide`, or `genuine` in source tracing); None if none.
        task: `DETECTION` (a ClassLabel with a bona fide class) or `SOURCE_TRACING` (one class per part or
            taxonomy value).
        column: the label column; `encoded` means it holds strings (the `codec` column), mapped to ids at load.
    """

    names: tuple[str, ...]
    bonafide_id: int | None
    task: str = DETECTION
    column: str = "label"
    encoded: bool = False

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    def ids(self, values) -> list[int]:
        """Label ids of a column's values (strings of an encoded column are looked up; ids pass through)."""
        if not self.encoded:
            return [int(value) for value in values]
        lookup = self.label2id
        unknown = sorted({value for value in values if value not in lookup})
        if unknown:
            raise EvalArgumentError(f"`--label_column_name {self.column}`: rows of {unknown} are not among the "
                                    f"classes {list(self.names)}; choose the codecs with `--train_codecs` / "
                                    "`--eval_codecs` / `--codecs` so that every split holds the same parts")
        return [lookup[value] for value in values]


def load_split(
    dataset_name: str,
    config_name: str | None,
    split: str,
    *,
    split_flag: str,
    cache_dir: str | None = None,
    token: str | None = None,
    revision: str | None = None,
) -> datasets.Dataset:
    """`load_dataset(dataset_name, config_name, split=split)`, with the usual failures as one clear message.

    A folder written by `DatasetDict.save_to_disk` (it holds `dataset_dict.json`) is read with
    `load_from_disk`; it has no configs, so codecs are chosen with `--train_codecs`/`--codecs` instead.
    """
    if (Path(dataset_name) / "dataset_dict.json").is_file():
        return _load_saved_split(dataset_name, config_name, split, split_flag)
    where = f"`--dataset_name {dataset_name}`" + (f" (`--dataset_config_name {config_name}`)" if config_name else "")
    try:
        builder = datasets.load_dataset_builder(
            dataset_name, config_name, cache_dir=cache_dir, token=token, revision=revision)
    except (FileNotFoundError, ConnectionError, datasets.exceptions.DatasetNotFoundError) as error:
        raise EvalArgumentError(
            f"cannot find dataset {where}: {str(error).rstrip('.')}. Give a local folder in Hub layout (what "
            "`python -m builder` writes) or a Hub dataset id; offline, a Hub id loads only from the datasets cache"
        ) from None
    except ValueError as error:  # unknown config: datasets lists the available ones
        raise EvalArgumentError(f"cannot load {where}: {error}") from None
    splits = list(builder.config.data_files or {}) or list((builder.info.splits or {}).keys())
    if splits and split not in splits:
        raise EvalArgumentError(
            f"`{split_flag} {split}`: {where} has no split {split!r}; its splits are {sorted(splits)}")
    try:
        dataset = datasets.load_dataset(
            dataset_name, config_name, split=split, cache_dir=cache_dir, token=token, revision=revision)
    except datasets.exceptions.SplitsVerificationError as error:  # the card's counts and the files disagree
        counts = re.findall(r"num_examples=(\d+)", str(error))
        found = f"{counts[1]} rows where its card declares {counts[0]}" if len(counts) >= 2 else str(error)
        raise EvalArgumentError(
            f"cannot read {where}, split {split!r}: its files hold {found}; a shard "
            "is missing or was changed since. Rebuild or re-download the dataset (a build folder: run the same "
            "`python -m builder build` again, which redoes missing shards)") from None
    except (OSError, datasets.exceptions.DatasetGenerationError) as error:  # a shard truncated or unreadable
        cause = error.__cause__ or error
        raise EvalArgumentError(
            f"cannot read {where}, split {split!r}: a data file is missing or damaged ({type(cause).__name__}: "
            f"{str(cause).splitlines()[0] if str(cause) else ''}). Rebuild or re-download the dataset (a build "
            "folder: run the same `python -m builder build` again, which redoes missing shards)") from None
    logger.info("Loaded %s, config %s, split %s: %d rows", dataset_name, dataset.info.config_name, split,
                len(dataset))
    return dataset


def _load_saved_split(folder: str, config_name: str | None, split: str, split_flag: str) -> datasets.Dataset:
    if config_name not in (None, "all", "default"):
        raise EvalArgumentError(
            f"`--dataset_config_name {config_name}`: {folder} is a `save_to_disk` folder, which has no configs; "
            "leave the config out and choose codecs with `--train_codecs` (finetune) or `--codecs` (score)")
    try:
        splits = json.loads((Path(folder) / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EvalArgumentError(f"`--dataset_name {folder}`: its dataset_dict.json cannot be read ({error}); save "
                                "the dataset again with `save_to_disk`") from None
    if split not in splits:
        raise EvalArgumentError(f"`{split_flag} {split}`: {folder} has no split {split!r}; its splits are "
                                f"{sorted(splits)}")
    # Only the split asked for: `datasets` cannot read back a split saved with no rows (an IndexError), and
    # another split being empty must not stop this one.
    try:
        dataset = datasets.load_from_disk(str(Path(folder) / split))
    except IndexError:
        raise EvalArgumentError(f"`{split_flag} {split}`: the split {split!r} of {folder} holds no rows; choose a "
                                f"split with rows (its splits are {sorted(splits)})") from None
    logger.info("Loaded %s (save_to_disk), split %s: %d rows", folder, split, len(dataset))
    return dataset


def check_columns(dataset: datasets.Dataset, *, audio: str, label: str, codec: str, bonafide: str,
                  what: str) -> LabelInfo:
    """Check that `dataset` has the audio, label and codec columns; return its classes.

    Detection: the label column is a `ClassLabel` with a `bonafide` class (DESIGN.md's schema). Source
    tracing: the label column is the codec column itself (strings; one class per part, in the registry's
    order, encoded at load) or a `ClassLabel` without a bona fide class (a taxonomy column). Anything else
    (no column, plain integers or strings) is refused here, naming the flag.
    """
    columns = dataset.column_names
    for flag, column in (("--audio_column_name", audio), ("--label_column_name", label),
                         ("--codec_column_name", codec)):
        if column not in columns:
            hint = " — a dataset without labels cannot be evaluated" if flag == "--label_column_name" else ""
            raise EvalArgumentError(
                f"`{flag} {column}` is not a column of {what}{hint}; its columns are {columns}")
    if not isinstance(dataset.features[audio], datasets.Audio):
        raise EvalArgumentError(
            f"`--audio_column_name {audio}` of {what} is {dataset.features[audio]}, not an `Audio` column")
    feature = dataset.features[label]
    if label == codec and not isinstance(feature, datasets.ClassLabel):
        # source tracing over the parts: the string `codec` column, classes in the registry's order
        names = tuple(part_order(dataset.unique(codec)))
        return LabelInfo(names=names, bonafide_id=names.index(GENUINE) if GENUINE in names else None,
                         task=SOURCE_TRACING, column=label, encoded=True)
    if not isinstance(feature, datasets.ClassLabel):
        raise EvalArgumentError(
            f"`--label_column_name {label}` of {what} is {feature}, not a `ClassLabel`: the dataset has no "
            f"class names, so which label is `{bonafide}` is unknown (CodecFake datasets use "
            "ClassLabel(names=['bonafide', 'spoof'])); for source tracing give `--label_column_name "
            f"{codec}` or a ClassLabel taxonomy column")
    outside = [v for v in dataset.unique(label) if v is None or not 0 <= v < len(feature.names)]
    if outside:
        raise EvalArgumentError(
            f"`--label_column_name {label}` of {what} holds values {outside[:5]} outside its classes "
            f"0..{len(feature.names) - 1} ({feature.names}); fix or drop those rows")
    if bonafide not in feature.names:
        if len(feature.names) < 2:
            raise EvalArgumentError(f"`--label_column_name {label}` of {what} has {len(feature.names)} class(es) "
                                    f"{feature.names}: nothing to tell apart")
        # a ClassLabel without a bona fide class (a taxonomy column): source tracing over its classes
        return LabelInfo(names=tuple(feature.names), bonafide_id=None, task=SOURCE_TRACING, column=label)
    return LabelInfo(names=tuple(feature.names), bonafide_id=feature.names.index(bonafide), column=label)


def merge_label_info(infos: Sequence[LabelInfo], present: Sequence[Sequence[str]]) -> LabelInfo:
    """One `LabelInfo` for several splits: for an encoded column, the union of the parts `present` in each."""
    first = infos[0]
    if not first.encoded:
        return first
    names = tuple(part_order({part for parts in present for part in parts}))
    return LabelInfo(names=names, bonafide_id=names.index(GENUINE) if GENUINE in names else None,
                     task=first.task, column=first.column, encoded=True)


def dataset_codecs(dataset: datasets.Dataset, codec_column: str) -> list[str]:
    """The codecs present in `dataset`: genuine first, then in the registry's (the paper's) order."""
    return part_order(dataset.unique(codec_column))


def select_codecs(dataset: datasets.Dataset, codecs: Sequence[str] | None, *, codec_column: str, flag: str,
                  what: str) -> datasets.Dataset:
    """Keep the rows of `codecs` plus the genuine ones; `None` keeps everything. Unknown codecs are refused."""
    if not codecs:
        return dataset
    present = dataset_codecs(dataset, codec_column)
    unknown = [codec for codec in codecs if codec not in present]
    if unknown:
        raise EvalArgumentError(
            f"`{flag} {' '.join(codecs)}`: {unknown} not in {what}; its codecs are {present}")
    keep = set(codecs) | {GENUINE}
    return dataset.filter(lambda values: [value in keep for value in values], input_columns=codec_column,
                          batched=True, desc=f"Keeping {', '.join(sorted(keep))}")


def cap_rows(dataset: datasets.Dataset, limit: int | None, seed: int) -> datasets.Dataset:
    """At most `limit` rows, a seeded shuffle rather than the first rows, which may all be one codec (the
    smoke-test knob). A small `limit` can still miss a class, which then stops the run with a clear message."""
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(limit))


def crop_or_pad(wave: np.ndarray, length: int, rng: np.random.Generator | None) -> np.ndarray:
    """A `length`-sample window of a mono wave: random offset with `rng` (training), the start without.

    Shorter waves are repeated until long enough, as the ASVspoof/CodecFake baselines pad (`pad` in
    AASIST's data_utils), rather than zero-padded: silence would be a label-correlated cue.
    `length <= 0` returns the wave unchanged.
    """
    if length <= 0:
        return wave
    if wave.shape[-1] < length:
        wave = np.tile(wave, int(np.ceil(length / max(wave.shape[-1], 1))))
    offset = int(rng.integers(0, wave.shape[-1] - length + 1)) if rng is not None else 0
    return wave[offset:offset + length]


def mono(audio) -> np.ndarray:
    """The float32 mono samples of a decoded `Audio` value (channels averaged)."""
    wave = np.asarray(audio["array"], dtype=np.float32)
    return wave.mean(axis=0) if wave.ndim > 1 else wave


def bonafide_log_odds(logits: np.ndarray, bonafide_id: int) -> np.ndarray:
    """Score = log p(bona fide) − log p(not bona fide), from logits [N, K]; higher = more bona fide.

    Monotone in the bona fide probability, so it gives the same EER, but it does not saturate: a confident
    model's probabilities round to exactly 1.0 in float32 and turn into ties (see `codecfake_hf.metrics`).
    """
    logits = np.asarray(logits, dtype=np.float64)
    others = np.delete(logits, bonafide_id, axis=1)
    top = others.max(axis=1, keepdims=True)
    log_sum_others = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
    return logits[:, bonafide_id] - log_sum_others
