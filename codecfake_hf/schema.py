"""The dataset schema shared by the builder, the Hub card and the evaluation: labels, columns, row ids, rows.

One row per audio file (docs/ARCHITECTURE.md's dataset schema). Every part (genuine or a codec) has the same
columns, so that a config can list several parts' files and the `all` config can list them all. The columns are
declared once, in `COLUMNS`: each knows its `datasets` feature, the card's description of it, and how
to fill it from a corpus `Record` and the part. `FEATURES`, `make_row` and the card's schema table
are all derived from that list, so a new column is one `Column(...)` entry:

    >>> Column("decoder", datasets.ClassLabel(names=["time", "frequency"]), "the codec's decoder domain",
    ...        lambda record, part: ...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import datasets
import numpy as np

from .audio import encode_flac
from .codecs.registry import TAXONOMY
from .codecs.registry import spec as codec_spec
from .errors import UnknownCodecError

if TYPE_CHECKING:
    from .corpus import Record

GENUINE = "genuine"  # the `codec` (and the folder `data/genuine/`) of bona fide rows
CLEAN = "clean"  # the `condition` of rows that went through no channel
CONDITION_SEPARATOR = "@"  # a part under a channel condition: `<codec>@<condition>` (`encodec_24khz@opus_16k`)
LABELS = ("bonafide", "spoof")  # ClassLabel names: 0 = bona fide, 1 = spoof (ASVspoof's convention)
BONAFIDE, SPOOF = 0, 1
ID_SEPARATOR = "+"  # row ids are `<codec>+<utterance_id>`, as the CodecFake release names its files

# A dataset folder: `data/<part>/<split>-NNNNN-of-NNNNN.parquet`, `README.md` (the card), and the state of
# the run that writes it (plan, lock, temporary shards) in `STATE_DIR`, which is never uploaded.
DATA_DIR = "data"
STATE_DIR = ".codecfake"


def codec_of(part: str) -> str:
    """The codec (or `genuine`) of a part: `encodec_24khz@opus_16k` -> `encodec_24khz`."""
    return part.split(CONDITION_SEPARATOR, 1)[0]


def condition_of(part: str) -> str:
    """The channel condition of a part: `encodec_24khz@opus_16k` -> `opus_16k`; `clean` for a part without one."""
    _, _, condition = part.partition(CONDITION_SEPARATOR)
    return condition or CLEAN


def condition_part(part: str, condition: str) -> str:
    """The part of `part`'s rows under `condition` (`clean`: the part itself)."""
    return part if condition == CLEAN else f"{codec_of(part)}{CONDITION_SEPARATOR}{condition}"


def label_of(part: str) -> int:
    """The label of a part's rows: `BONAFIDE` for genuine (under any condition), `SPOOF` for every codec."""
    return BONAFIDE if codec_of(part) == GENUINE else SPOOF


def row_id(part: str, utterance_id: str) -> str:
    """`<part>+<utterance_id>`, e.g. `encodec_24khz+p225_273` (the release's file stem)."""
    return f"{part}{ID_SEPARATOR}{utterance_id}"


RowValue = Callable[["Record", str], Any]


def taxonomy_names(key: str) -> list[str]:
    """The ClassLabel names of taxonomy column `key`: `bonafide` (the genuine rows' value), then the codec values.

    Genuine rows get `bonafide`, the label column's bona fide name, so that `eval finetune --label_column_name
    decoder` finds its bona fide class without `--bonafide_label`, and a taxonomy classifier still tells genuine
    speech from every kind of codec.
    """
    return [LABELS[BONAFIDE], *TAXONOMY[key]]


# Spellings of the taxonomy values in CodecFake+'s label files (`QUA AUX DEC`), paper (arXiv 2501.08238) and the
# authors' protocol files (`Trad`/`SEM`/`Disent`, `TIME`/`FREQ`, `MVQ`/`SVQ`/`SQ`: CodecFake-Source-Tracing's
# metadata/), lower-cased with spaces and underscores as hyphens; our own value names are accepted as they are.
_TAXONOMY_SPELLINGS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "quantizer": {"mvq": "multi-codebook", "multi-codebook-vq": "multi-codebook", "rvq": "multi-codebook",
                  "svq": "single-codebook", "single-codebook-vq": "single-codebook",
                  "sq": "scalar", "fsq": "scalar", "scalar-quantization": "scalar"},
    "auxiliary": {"no": "none", "trad": "none", "sd": "semantic-distillation", "semantic": "semantic-distillation",
                  "sem": "semantic-distillation", "dis": "disentanglement", "disentangle": "disentanglement",
                  "disent": "disentanglement", "d": "disentanglement"},
    "decoder": {"t": "time", "time-domain": "time", "freq": "frequency", "f": "frequency",
                "frequency-domain": "frequency"},
})


def taxonomy_value(key: str, spelling: str | None) -> str | None:
    """Our value of taxonomy field `key` for a release's `spelling` of it (`MVQ` -> `multi-codebook`, `SD` ->
    `semantic-distillation`, `Freq` -> `frequency`, ...); None for a spelling not known (e.g. `-`)."""
    word = "-".join(str(spelling or "").strip().lower().replace("_", " ").split())
    if word in TAXONOMY[key]:
        return word
    return _TAXONOMY_SPELLINGS[key].get(word)


def release_taxonomy(facts: Mapping[str, str] | None) -> dict[str, str]:
    """{field: our value} of a release codec's taxonomy facts (`{"quantizer": "SVQ", ...}`), for the fields
    whose spelling is known."""
    values = {key: taxonomy_value(key, (facts or {}).get(key)) for key in TAXONOMY}
    return {key: value for key, value in values.items() if value is not None}


def taxonomy_of(part: str, key: str) -> int:
    """A part's class id in taxonomy column `key`: that of `bonafide` for genuine, else of its codec spec's value.

    A part the registry does not know (a codec of an imported release, e.g. CodecFake+'s) gets -1, `datasets`'
    "no label" (`make_row` fills in the release's own taxonomy where its label file gives it).
    """
    codec = codec_of(part)
    if codec == GENUINE:
        return taxonomy_names(key).index(LABELS[BONAFIDE])
    try:
        return taxonomy_names(key).index(getattr(codec_spec(codec), key))
    except UnknownCodecError:
        return -1


@dataclass(frozen=True)
class Column:
    """One column of the dataset.

    Args:
        name (str): the column name.
        feature (datasets feature): its type (`datasets.Value`, `ClassLabel`, `Audio`...).
        description (str): what it holds, for the dataset card's schema table (Markdown).
        value (RowValue | None): `(record, part) -> value` fills it in `make_row`; None only for `audio`,
            which `make_row` fills from the samples it is given.
    """

    name: str
    feature: Any
    description: str
    value: RowValue | None = None


COLUMNS: tuple[Column, ...] = (
    Column("audio", datasets.Audio(),  # no sampling_rate: each row decodes at its file's own rate
           "FLAC (16-bit; 24-bit for a genuine row from a 24-bit or float source), at the file's own rate"),
    Column("id", datasets.Value("string"),
           f"`<codec>{ID_SEPARATOR}<utterance_id>`, as in the CodecFake release (`{row_id(GENUINE, 'p225_001')}`)",
           lambda record, part: row_id(part, record.utterance_id)),
    Column("utterance_id", datasets.Value("string"), "the corpus's utterance id (`p225_001`)",
           lambda record, part: record.utterance_id),
    Column("speaker_id", datasets.Value("string"), "the speaker (`p225`); splits are speaker-disjoint",
           lambda record, part: record.speaker_id),
    Column("codec", datasets.Value("string"), f"the codec config, `{GENUINE}` for bona fide",
           lambda record, part: codec_of(part)),
    # A string, as `codec` is: the channel registry grows, and a ClassLabel's names fixed in the stored schema would
    # make shards of different builds (or a build that adds a condition later) disagree; `eval` encodes it at load.
    Column("condition", datasets.Value("string"),
           f"the channel the audio went through after the codec (`opus_16k`, `g711_mulaw`, chains as "
           f"`opus_16k+mp3_64k`), `{CLEAN}` for none; genuine rows go through the same channels",
           lambda record, part: condition_of(part)),
    Column("label", datasets.ClassLabel(names=list(LABELS)), f"{BONAFIDE} = {LABELS[BONAFIDE]}, "
           f"{SPOOF} = {LABELS[SPOOF]}", lambda record, part: label_of(part)),
    Column("quantizer", datasets.ClassLabel(names=taxonomy_names("quantizer")),
           "CodecFake+ taxonomy: the codec's vector quantizer (`bonafide` for genuine rows)",
           lambda record, part: taxonomy_of(part, "quantizer")),
    Column("auxiliary", datasets.ClassLabel(names=taxonomy_names("auxiliary")),
           "CodecFake+ taxonomy: the codec's auxiliary training objective (`bonafide` for genuine rows)",
           lambda record, part: taxonomy_of(part, "auxiliary")),
    Column("decoder", datasets.ClassLabel(names=taxonomy_names("decoder")),
           "CodecFake+ taxonomy: the domain the codec's decoder outputs (`bonafide` for genuine rows)",
           lambda record, part: taxonomy_of(part, "decoder")),
    Column("text", datasets.Value("string"), "transcript (empty where the corpus has none)",
           lambda record, part: record.text),
    Column("language", datasets.Value("string"),
           "the speech's language, a BCP-47 code (`en`, `zh`); empty where the source does not say",
           lambda record, part: record.language),
    Column("gender", datasets.Value("string"), "speaker's gender where the corpus states it (`F`, `M`)",
           lambda record, part: record.gender),
    Column("age", datasets.Value("int32"), "speaker's age where the corpus states it",
           lambda record, part: record.age),
    Column("accent", datasets.Value("string"), "speaker's accent where the corpus states it",
           lambda record, part: record.accent),
    Column("region", datasets.Value("string"), "speaker's region where the corpus states it",
           lambda record, part: record.region),
)

FEATURES = datasets.Features({column.name: column.feature for column in COLUMNS})


def make_row(record: Record, part: str, pcm: np.ndarray, sample_rate: int, flac: bytes | None = None,
             taxonomy: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One dataset row: FLAC audio of `pcm` (int16, or 24-bit values in int32) at `sample_rate`, and every other
    column from `record`/`part`.

    `flac`: `encode_flac(pcm, sample_rate)` when the caller has it already (the engine encodes in its
    worker threads); None: encoded here. `taxonomy`: {field: our value} (`release_taxonomy`) of an imported
    release's codec, for its taxonomy columns: the release's labels, for a codec the registry lacks (else -1) and for
    one it knows alike (CodecFake+ labels AudioDec's decoder `frequency`, the registry `time`: imported rows keep
    the release's label)."""
    row = {column.name: column.value(record, part) for column in COLUMNS if column.value is not None}
    for key, value in (taxonomy or {}).items():  # an imported release's codec: the release's taxonomy
        row[key] = taxonomy_names(key).index(value)
    row["audio"] = {"bytes": encode_flac(pcm, sample_rate) if flac is None else flac, "path": f"{row['id']}.flac"}
    return {column.name: row[column.name] for column in COLUMNS}  # in the declared column order


def feature_type(feature: Any) -> str:
    """A feature as the card shows it: `Audio()`, `ClassLabel(names=[...])`, or a Value's dtype."""
    if isinstance(feature, datasets.Audio):
        return "`Audio()`"
    if isinstance(feature, datasets.ClassLabel):
        names = ", ".join(f'"{name}"' for name in feature.names)
        return f"`ClassLabel(names=[{names}])`"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    return f"`{type(feature).__name__}`"


def schema_table(features: datasets.Features | None = None) -> list[str]:
    """The card's schema table (Markdown lines): one row per column of `features` (default `FEATURES`),
    its type read from the feature itself and its description from `COLUMNS`."""
    features = FEATURES if features is None else features
    described = {column.name: column.description for column in COLUMNS}
    lines = ["| column | type | description |", "|---|---|---|"]
    for name, feature in features.items():
        lines.append(f"| `{name}` | {feature_type(feature)} | {described.get(name, '')} |")
    return lines


__all__ = ["BONAFIDE", "CLEAN", "COLUMNS", "CONDITION_SEPARATOR", "DATA_DIR", "FEATURES", "GENUINE", "ID_SEPARATOR",
           "LABELS", "SPOOF", "STATE_DIR", "Column", "codec_of", "condition_of", "condition_part", "label_of",
           "make_row", "part_class_label", "part_order", "row_id", "schema_table"]


def part_order(parts) -> list[str]:
    """`parts` (genuine and codec names) in the order every table and plot uses: genuine first, then the codec
    registry's order (the CodecFake paper's table), then names the registry does not know, sorted; a part under a
    channel condition (`<codec>@<condition>`) right after its clean part, conditions sorted."""
    from .codecs import registry  # here, not at import: the registry is the larger module

    known = {name: i for i, name in enumerate(registry.names())}
    unique = set(parts)
    bases = {codec_of(p) for p in unique}
    ordered_bases = [GENUINE] if GENUINE in bases else []
    ordered_bases += sorted((p for p in bases if p in known), key=known.__getitem__)
    ordered_bases += sorted(p for p in bases if p != GENUINE and p not in known)
    ordered = []
    for base in ordered_bases:
        ordered += [base] if base in unique else []
        ordered += sorted(p for p in unique if p != base and codec_of(p) == base)
    return ordered


def part_class_label(parts) -> datasets.ClassLabel:
    """The `codec` column encoded as classes, for source tracing ("which codec made this?"): one class per part
    present, in `part_order`. The `codec` column itself stays a string in the stored schema, so datasets built
    before a codec joined the registry keep loading; the classes are made at load time, and the trained
    model keeps them in its `id2label`."""
    return datasets.ClassLabel(names=part_order(parts))
