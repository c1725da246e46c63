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

from codecfake_hf import codecs
from codecfake_hf.codecs.registry import TAXONOMY
from codecfake_hf.errors import CodecFakeError, UnknownCodecError
from codecfake_hf.schema import CLEAN, GENUINE, part_order

from .arguments import CODECFAKE_SAMPLES, CODECFAKE_SECONDS  # noqa: F401  (defined beside the flags that use them)

logger = logging.getLogger(__name__)



class EvalArgumentError(CodecFakeError, ValueError):
    """An evaluation argument that does not fit the dataset or model (the message names flag and value)."""


DETECTION = "detection"  # bona fide vs spoof: EER and minDCF
SOURCE_TRACING = "source-tracing"  # which part (genuine or which codec) made this clip: accuracy, macro-F1
MULTITASK = "multi-task"  # a detection head and the taxonomy heads in one model (`finetune --multitask`)
FAMILY = "family"  # a label derived from the codec column: the codec family of the registry (`CodecSpec.family`)
TAXONOMY_COLUMNS = tuple(TAXONOMY)  # quantizer, auxiliary, decoder: ClassLabel columns of a CodecFake dataset


def part_family(part: str) -> str | None:
    """The codec family of a part (`genuine` for genuine); None for a codec the registry does not know."""
    if part == GENUINE:
        return GENUINE
    try:
        return codecs.spec(part).family
    except UnknownCodecError:
        return None


def part_cell(part: str) -> str | None:
    """The CodecFake+ taxonomy cell of a codec, `quantizer|auxiliary|decoder` (e.g. `multi-codebook|none|time`);
    None for genuine and for a codec the registry does not know."""
    if part == GENUINE:
        return None
    try:
        spec = codecs.spec(part)
    except UnknownCodecError:
        return None
    return "|".join(str(getattr(spec, key)) for key in TAXONOMY_COLUMNS)


def family_order(parts) -> list[str]:
    """The families of `parts` (genuine first), in the order of their first codec in the registry."""
    families = [part_family(part) for part in part_order(parts)]
    unknown = sorted(part for part, family in zip(part_order(parts), families, strict=True) if family is None)
    if unknown:
        raise EvalArgumentError(f"`--label_column_name {FAMILY}`: {unknown} are not codecs of the registry, so their "
                                "family is unknown; leave them out with `--train_codecs`/`--codecs`, or trace "
                                "`--label_column_name codec`")
    return list(dict.fromkeys(families))


@dataclass(frozen=True)
class LabelInfo:
    """The classes a model learns: names by id, the bona fide class, and the task.

    Args:
        names: class names by id.
        bonafide_id: the id of the bona fide class (`bonafide`, or `genuine` in source tracing); None if none.
        task: `DETECTION` (a ClassLabel with a bona fide class) or `SOURCE_TRACING` (one class per part or
            taxonomy value).
        column: the label column; `encoded` means it holds strings (the `codec` column), mapped to ids at load.
        source: the dataset column the labels are read from (the codec column for `family`); None: `column`.
    """

    names: tuple[str, ...]
    bonafide_id: int | None
    task: str = DETECTION
    column: str = "label"
    encoded: bool = False
    source: str | None = None

    @property
    def read_from(self) -> str:
        """The dataset column holding this label's values."""
        return self.source or self.column

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
        if self.column == FAMILY:
            values = [part_family(value) or value for value in values]
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

    Detection: the label column is a two-class `ClassLabel` with a `bonafide` class (the schema's `label`).
    Source tracing: the label column is the codec column itself (strings; one class per part, in the registry's
    order, encoded at load), `family` (derived from the codec column: `codecs.spec(codec).family`), or a
    `ClassLabel` of more than two classes (a taxonomy column: `quantizer`, `auxiliary`, `decoder`, whose genuine
    rows are `bonafide`). A two-class `ClassLabel` without the bona fide name (e.g. `real`/`fake`) is refused:
    which class is bona fide must be named with `--bonafide_label`. Anything else (no column, plain integers or
    strings) is refused here, naming the flag.
    """
    columns = dataset.column_names
    derived = label == FAMILY and FAMILY not in columns  # the family of each row's codec
    for flag, column in (("--audio_column_name", audio), ("--label_column_name", label),
                         ("--codec_column_name", codec)):
        if column not in columns and not (derived and flag == "--label_column_name"):
            hint = " — a dataset without labels cannot be evaluated" if flag == "--label_column_name" else ""
            raise EvalArgumentError(
                f"`{flag} {column}` is not a column of {what}{hint}; its columns are {columns}")
    if not isinstance(dataset.features[audio], datasets.Audio):
        raise EvalArgumentError(
            f"`--audio_column_name {audio}` of {what} is {dataset.features[audio]}, not an `Audio` column")
    if derived:
        names = tuple(family_order(dataset.unique(codec)))
        return LabelInfo(names=names, bonafide_id=names.index(GENUINE) if GENUINE in names else None,
                         task=SOURCE_TRACING, column=FAMILY, encoded=True, source=codec)
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
            f"{codec}`, `{FAMILY}` or a ClassLabel taxonomy column")
    outside = [v for v in dataset.unique(label) if v is None or not 0 <= v < len(feature.names)]
    if outside:
        raise EvalArgumentError(
            f"`--label_column_name {label}` of {what} holds values {outside[:5]} outside its classes "
            f"0..{len(feature.names) - 1} ({feature.names}); fix or drop those rows")
    if len(feature.names) < 2:
        raise EvalArgumentError(f"`--label_column_name {label}` of {what} has {len(feature.names)} class(es) "
                                f"{feature.names}: nothing to tell apart")
    bonafide_id = feature.names.index(bonafide) if bonafide in feature.names else None
    if len(feature.names) == 2:
        if bonafide_id is None:  # bona fide vs spoof under other names: which one is bona fide is not guessed
            raise EvalArgumentError(
                f"`--label_column_name {label}` of {what} has the classes {feature.names}, none of them "
                f"`--bonafide_label {bonafide}`: name its bona fide class, e.g. `--bonafide_label "
                f"{feature.names[0]}`")
        return LabelInfo(names=tuple(feature.names), bonafide_id=bonafide_id, column=label)
    # more than two classes (a taxonomy column; its genuine rows are `bonafide`): source tracing over its classes
    return LabelInfo(names=tuple(feature.names), bonafide_id=bonafide_id, task=SOURCE_TRACING, column=label)


def merge_label_info(infos: Sequence[LabelInfo], present: Sequence[Sequence[str]]) -> LabelInfo:
    """One `LabelInfo` for several splits: for an encoded column, the union of the parts `present` in each."""
    first = infos[0]
    if not first.encoded:
        return first
    parts = {part for parts in present for part in parts}
    names = tuple(family_order(parts) if first.column == FAMILY else part_order(parts))
    return LabelInfo(names=names, bonafide_id=names.index(GENUINE) if GENUINE in names else None,
                     task=first.task, column=first.column, encoded=True, source=first.source)


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


def dataset_conditions(dataset: datasets.Dataset, condition_column: str) -> list[str]:
    """The channel conditions of `dataset`'s rows, `clean` first; a dataset without the column is all clean."""
    if condition_column not in dataset.column_names:
        return [CLEAN]
    values = set(dataset.unique(condition_column))
    return [*([CLEAN] if CLEAN in values else []), *sorted(values - {CLEAN})]


def select_conditions(dataset: datasets.Dataset, conditions: Sequence[str] | None, *, condition_column: str,
                      flag: str, what: str) -> datasets.Dataset:
    """Keep the rows that went through `conditions` (`clean`: no channel); `None` keeps everything. A dataset
    without the condition column is all `clean`; a condition it does not hold is refused, naming the ones it does."""
    if not conditions:
        return dataset
    present = dataset_conditions(dataset, condition_column)
    unknown = [c for c in conditions if c not in present]
    if unknown:
        raise EvalArgumentError(f"`{flag} {' '.join(conditions)}`: {unknown} not in {what}; its conditions are "
                                f"{present} (build conditions with `builder build --conditions`)")
    if condition_column not in dataset.column_names:
        return dataset
    keep = set(conditions)
    return dataset.filter(lambda values: [value in keep for value in values], input_columns=condition_column,
                          batched=True, desc=f"Keeping conditions {', '.join(sorted(keep))}")


def cap_rows(dataset: datasets.Dataset, limit: int | None, seed: int,
             stratify_by: Sequence[str] = ()) -> datasets.Dataset:
    """At most `limit` rows, a seeded shuffle rather than the first rows, which may all be one codec (the
    smoke-test knob). With `stratify_by` columns, the rows are taken in turn from each combination of their
    values (e.g. label and codec), so that a `limit` of at least the number of combinations keeps every class
    and every codec: an evaluation subset then always holds bona fide and spoof rows."""
    if limit is None or limit >= len(dataset):
        return dataset
    if not stratify_by:
        return dataset.shuffle(seed=seed).select(range(limit))
    rng = np.random.default_rng(seed)
    keys = list(zip(*(dataset[column] for column in stratify_by), strict=True))
    groups: dict = {}
    for index in rng.permutation(len(dataset)):
        groups.setdefault(keys[index], []).append(int(index))
    queues = [groups[key] for key in sorted(groups, key=str)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:  # round robin: the first row of every group, then the second, ...
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return dataset.select(sorted(chosen))


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
