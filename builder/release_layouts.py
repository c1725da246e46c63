"""The two public releases as downloaded: the Hub-hosted CodecFake Parquet, and CodecFake+'s CoRS archive.

`builder import` reads three layouts into the same schema and splits (`detect_layout` picks one):

- `wav`: the original release's `<codec>+<utterance>.wav` files (`builder.release.scan_release`);
- `hf-parquet`: a local copy of the Hub dataset `rogertseng/CodecFake` (`hf download rogertseng/CodecFake
  --repo-type dataset --local-dir DIR`): `data/train-*.parquet` shards with `audio` ({bytes, path}), `label`
  (ClassLabel `bonafide`/`spoofing`), `speaker_id` and `codec_name`, one `train` split, and a `datalist.csv`
  overview beside them (not needed: the shards hold everything);
- `cors`: CodecFake+'s codec-resynthesised set (Chen et al. 2025, arXiv 2501.08238): the archive's audio files
  and a label file `CoRS_labels.txt` whose lines are `Model ClipID QUA AUX DEC Label` (as its CoSG label file),
  QUA/AUX/DEC being the codec's taxonomy (quantiser, auxiliary objective, decoder domain), or lines of the authors'
  protocol files (ResponsibleGenAI/CodecFake-Source-Tracing, `metadata/`): `speaker ClipID - AUX DEC QUA label`
  (training; `REAL` for bona fide, `Trad`/`SEM`/`Disent`, `TIME`/`FREQ`, `MVQ`/`SVQ`/`SQ`) or `speaker ClipID - -
  label` (evaluation), whose ClipID is `<utterance>_<codec>` (`p225_001_audiodec_24k_320d`, a file of
  `all_data_16k/`) for a fake and `<utterance>` for a bona fide clip.
  A codec the registry knows under its CoRS name (an alias: `DAC24`, `mini`, the misspelt `xocdec_...`) lands in the
  registry's config, one source-tracing class however the release spells it; its rows keep the label file's
  taxonomy where the file gives one (CodecFake+ labels AudioDec's decoder `frequency`, the registry `time`).

Neither public layout could be checked against the real files here (no network): the readers take the
column and field names above, accept the label spellings of both papers (`bonafide`/`bona-fide`/`real`,
`spoof`/`spoofing`/`fake`), and name what they miss. Rows are re-split by speaker (`--split_file` or the
paper's split); the utterance id is the audio file's stem without a `<codec>+` prefix.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from codecfake_hf.audio import decode_audio_bytes
from codecfake_hf.codecs import registry
from codecfake_hf.corpus import Corpus, CorpusError, Record
from codecfake_hf.errors import UnknownCodecError
from codecfake_hf.names import BadNameError, check_distinct, check_part, sanitise_part
from codecfake_hf.schema import GENUINE

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "wav", "hf-parquet", "cors")
CORS_LABELS = "CoRS_labels.txt"
CORS_FIELDS = ("Model", "ClipID", "QUA", "AUX", "DEC", "Label")
BONAFIDE_NAMES = {"bonafide", "bona-fide", "bona_fide", "bona fide", "genuine", "real", "original"}
SPOOF_NAMES = {"spoof", "spoofing", "fake", "codecfake", "spoofs"}  # `spoofs`: one line of the authors' CoRS_ALL.txt
AUDIO_SUFFIXES = {".wav", ".flac"}
SPEAKER = re.compile(r"(?<![A-Za-z0-9])(p\d{3,})(?=_)")  # VCTK speakers: p225_001 -> p225
# A CoRS clip: `<speaker>_<number>[_<codec>]` (`p225_001_audiodec_24k_320d`, `s5_400_xocdec_hubert_general_audio`).
CLIP = re.compile(r"^(?P<utterance>[A-Za-z]+\d+_\d+)(?:_(?P<codec>.+))?$")


def detect_layout(root: str | Path) -> str:
    """`hf-parquet` for a folder of Parquet shards, `cors` for one with `CoRS_labels.txt`, else `wav`."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"`import` folder {str(root)!r}: no such folder. Pass the downloaded release's folder.")
    if next(root.rglob(CORS_LABELS), None) is not None:
        return "cors"
    if next(root.rglob("*.parquet"), None) is not None:
        return "hf-parquet"
    return "wav"


def is_bonafide(label: str, where: str) -> bool:
    """True for a bona fide label, False for a spoof one; `CorpusError` naming `where` for anything else."""
    value = str(label).strip().lower()
    if value in BONAFIDE_NAMES:
        return True
    if value in SPOOF_NAMES:
        return False
    raise CorpusError(f"{where}: label {label!r} is neither bona fide ({', '.join(sorted(BONAFIDE_NAMES))}) nor "
                      f"spoof ({', '.join(sorted(SPOOF_NAMES))}); is this the right file?")


def utterance_of(name: str) -> str:
    """The utterance id of an audio file name: its stem, without a `<codec>+` prefix (`x+p225_001.wav`)."""
    stem = Path(name).stem
    return stem.split("+", 1)[1] if "+" in stem else stem


def speaker_of(utterance_id: str, given: str | None = None) -> str:
    """The speaker: the given one, else a VCTK `pNNN` in the id, else the id up to its first `_`."""
    if given:
        return str(given)
    match = SPEAKER.search(utterance_id)
    return match[1] if match else utterance_id.split("_", 1)[0]


def codec_part(name: str, where: str) -> str:
    """The dataset part of a codec named by a release: the registry's name (aliases resolved), else the release's
    own name made safe for a folder and a config name (CodecFake+ has codecs the registry does not;
    `names.sanitise_part`). A name that gives no usable part (`..`, `.`, nothing) or a reserved one (`genuine`,
    `all`) is refused naming `where`: it would put shards outside `data/<part>/` or replace the genuine part
    or the default config."""
    try:
        return registry.resolve(name)
    except UnknownCodecError:
        pass
    try:
        return check_part(sanitise_part(name), f"{where}: codec {name!r}", genuine_allowed=False)
    except BadNameError as error:
        raise CorpusError(str(error)) from None


def _part_of(name: str, where: str, known: dict[str, str]) -> str:
    """`codec_part(name)`, remembered in `known` (release name -> part); two release names that become one part
    the registry does not know (`codec:a`, `codec;a`) are refused with both names, before either is used: the
    second would take the first one's folder and config (aliases of one registry codec are one codec)."""
    if name not in known:
        part = codec_part(name, where)
        if part not in registry.names():
            try:
                check_distinct([*((n, p) for n, p in known.items() if p == part), (name, part)], where)
            except BadNameError as error:
                raise CorpusError(str(error)) from None
        known[name] = part
    return known[name]


# --- the Hub-hosted CodecFake (Parquet) -------------------------------------------------------------------


HF_COLUMNS = ("audio", "label", "speaker_id", "codec_name")


class ParquetAudio(Corpus):
    """Reads the audio of a Parquet release row: `record.path` is the shard, `record.index` the row in it.

    Rows are read a row group at a time and the last group is kept, since a shard's records are written in
    order (one row group of `datasets`' Parquet holds about a hundred audio rows).
    """

    kind = "release-parquet"

    def __init__(self, location: str):
        super().__init__(location)
        self._files: dict[str, tuple[pq.ParquetFile, np.ndarray]] = {}
        self._group: tuple[str, int, list] | None = None

    def records(self) -> list[Record]:  # the scanner lists them
        return []

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        file, starts = self._open(record.path)
        group = int(np.searchsorted(starts, record.index, side="right")) - 1
        if self._group is None or self._group[:2] != (record.path, group):
            column = file.read_row_group(group, columns=["audio"]).column("audio").to_pylist()
            self._group = (record.path, group, column)
        audio = self._group[2][record.index - int(starts[group])]
        if isinstance(audio, bytes):  # a plain binary audio column: the file's bytes, no name
            audio = {"bytes": audio}
        name = f"{record.path} row {record.index} ({(audio or {}).get('path') or record.utterance_id})"
        if not audio or not audio.get("bytes"):
            raise CorpusError(f"{name}: the row holds no audio bytes")
        return decode_audio_bytes(audio["bytes"], name)

    def _open(self, path: str) -> tuple[pq.ParquetFile, np.ndarray]:
        if path not in self._files:
            file = pq.ParquetFile(path)
            sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
            self._files[path] = (file, np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64))
        return self._files[path]


def _label_names(schema) -> list[str] | None:
    """The `label` ClassLabel names that `datasets` stored in the shard's schema, if any."""
    metadata = (schema.metadata or {}).get(b"huggingface")
    if not metadata:
        return None
    try:
        feature = json.loads(metadata).get("info", {}).get("features", {}).get("label", {})
    except (ValueError, AttributeError):  # metadata that is not `datasets`' JSON: as if there were none
        return None
    names = feature.get("names") if isinstance(feature, dict) else None
    return [str(name) for name in names] if isinstance(names, list) else None


def scan_hf_parquet(root: str | Path) -> tuple[dict[str, list[Record]], list[str]]:
    """{part: records} of a local copy of the Hub-hosted CodecFake, and what was skipped (with reasons).

    Reads only the small columns (label, speaker, codec, the audio's file name); the audio is read while
    writing, by `ParquetAudio`. A bona fide row becomes `genuine`; a spoof row the part of its `codec_name`.
    """
    root = Path(root)
    shards = sorted(root.rglob("*.parquet"))
    if not shards:
        raise CorpusError(f"`import` folder {str(root)!r} holds no Parquet shards (`*.parquet`).")
    parts: dict[str, list[Record]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    skipped: list[str] = []
    codec_names: dict[str, str] = {}  # the release's codec name -> its part
    for shard in shards:
        for index, row in enumerate(_hf_rows(shard)):
            where = f"{shard} row {index}"
            label = _label_of(row["label"], row["label_names"], where)
            if label is None:  # `datasets`' -1: a row without a label
                skipped.append(f"{shard.name} row {index}: no label ({row['label']!r}); neither bona fide nor spoof")
                continue
            bonafide = is_bonafide(label, where)
            if not bonafide and not str(row["codec_name"] or "").strip():
                skipped.append(f"{shard.name} row {index}: a spoof row without a codec_name (which codec made it?)")
                continue
            part = GENUINE if bonafide else _part_of(row["codec_name"], where, codec_names)
            utterance = utterance_of(row["path"] or f"{row['speaker_id']}_{shard.stem}_{index}")
            if (part, utterance) in seen:
                skipped.append(f"{shard.name} row {index}: a second {part} row for {utterance} (the first is kept)")
            else:
                seen.add((part, utterance))
                parts[part].append(Record(utterance_id=utterance, speaker_id=speaker_of(utterance, row["speaker_id"]),
                                          path=str(shard), index=index))
    for reason in skipped:
        logger.warning("import: skipped %s", reason)
    return dict(parts), skipped


def _hf_rows(shard: Path) -> Iterator[dict]:
    """The small columns of a Hub-hosted CodecFake shard, row by row: label (with the ClassLabel names the schema
    holds, if any), speaker_id, codec_name and the audio's file name (None for a plain binary audio column). A
    file pyarrow cannot read, or without those columns, is one `CorpusError` naming it."""
    try:
        file = pq.ParquetFile(shard)
        schema = file.schema_arrow
    except (pa.ArrowException, OSError) as error:  # truncated, 5 bytes, not Parquet at all
        raise CorpusError(f"{shard} is not a readable Parquet file ({type(error).__name__}: "
                          f"{str(error).splitlines()[0][:200] if str(error) else ''}); download it again.") from None
    names = set(schema.names)
    missing = [column for column in HF_COLUMNS if column not in names]
    if missing:
        raise CorpusError(f"{shard}: no column(s) {', '.join(missing)} (it has {', '.join(sorted(names))}); the "
                          f"Hub-hosted CodecFake's shards have {', '.join(HF_COLUMNS)}")
    audio = schema.field("audio").type
    named = pa.types.is_struct(audio) and audio.get_field_index("path") >= 0
    if not (named or pa.types.is_binary(audio) or pa.types.is_large_binary(audio)):
        raise CorpusError(f"{shard}: its `audio` column is {audio}, neither `datasets`' Audio struct "
                          "({bytes, path}) nor the audio files' bytes")
    label_names = _label_names(schema)
    try:
        table = file.read(columns=[*(["audio.path"] if named else []), "label", "speaker_id", "codec_name"])
    except (pa.ArrowException, OSError) as error:  # a footer that reads, pages that do not
        raise CorpusError(f"{shard}: its rows cannot be read ({type(error).__name__}: "
                          f"{str(error).splitlines()[0][:200] if str(error) else ''}); download it again.") from None
    for row in table.to_pylist():
        yield {"path": (row.get("audio") or {}).get("path") if named else None, "label": row["label"],
               "label_names": label_names, "speaker_id": row["speaker_id"], "codec_name": row["codec_name"]}


def _label_of(label, label_names: list[str] | None, where: str) -> str | None:
    """A row's label as a name: a ClassLabel id through the schema's names (without them, the dataset card's
    order: 0 bonafide, 1 spoofing), a string as it is; None for `datasets`' -1 (no label). An id outside the
    names is one `CorpusError` naming `where`."""
    if isinstance(label, bool) or not isinstance(label, int):
        return None if label is None else str(label)
    if label == -1:
        return None
    names = label_names or ["bonafide", "spoofing"]
    if not 0 <= label < len(names):
        raise CorpusError(f"{where}: label {label} is outside the label names {names} (0..{len(names) - 1}); is "
                          "this the right file?")
    return names[label]


# --- CodecFake+ CoRS ---------------------------------------------------------------------------------------


# The authors' protocol lines: `speaker ClipID - AUX DEC QUA label` (7 fields) or `speaker ClipID - - label` (5).
_PROTOCOL_FIELDS = {7: ("Speaker", "ClipID", "-", "Aux", "Dec", "Qua", "Label"),
                    5: ("Speaker", "ClipID", "-", "-", "Label")}


def _label_lines(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {field: value}) of a CodecFake+ label file; a header line, if present, names the fields.

    Lines of the authors' protocol files (7 or 5 fields, a `-` third) are read too; their Model is left empty (the
    ClipID's suffix names it, see `scan_cors`)."""
    fields = CORS_FIELDS
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(f"{path} is not UTF-8 text (byte {error.start}: {error.object[error.start:error.start + 1]!r}"
                          "); save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).") from None
    for number, line in enumerate(text.splitlines(), 1):
        values = line.split()
        if not values or line.lstrip().startswith("#"):
            continue
        if [v.lower() for v in values] == [f.lower() for f in CORS_FIELDS]:
            fields = tuple(values)
            continue
        if len(values) in _PROTOCOL_FIELDS and values[2] == "-" and len(values) != len(fields):
            entry = dict(zip(_PROTOCOL_FIELDS[len(values)], values, strict=True))
            yield number, {"Model": "", "ClipID": entry["ClipID"], "Qua": entry.get("Qua", "-"),
                           "Aux": entry.get("Aux", "-"), "Dec": entry.get("Dec", "-"), "Label": entry["Label"]}
            continue
        if len(values) != len(fields):
            raise CorpusError(f"{path}:{number}: {len(values)} fields, expected {len(fields)} "
                              f"({' '.join(CORS_FIELDS)}): {line.strip()!r}")
        yield number, dict(zip((f.capitalize() if f.lower() != "clipid" else "ClipID" for f in fields), values,
                               strict=True))


def scan_cors(root: str | Path) -> tuple[dict[str, list[Record]], list[str], dict[str, dict[str, str]]]:
    """{part: records}, what was skipped, and each codec part's taxonomy from a CodecFake+ CoRS download.

    A label line's clip is the audio file whose stem is its ClipID (under a folder named after its Model
    when several files share the stem). Bona fide lines become `genuine`; each Model a part, named as the
    registry names it where the registry knows it.
    """
    root = Path(root)
    label_file = next(root.rglob(CORS_LABELS), None)
    if label_file is None:
        raise CorpusError(f"`import` folder {str(root)!r} holds no {CORS_LABELS} (CodecFake+ CoRS's label file).")
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for path in root.rglob("*"):
        if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            by_stem[path.stem].append(path)
    parts: dict[str, list[Record]] = defaultdict(list)
    taxonomy: dict[str, dict[str, str]] = {}
    seen: set[tuple[str, str]] = set()
    skipped: list[str] = []
    codec_names: dict[str, str] = {}  # the release's Model name -> its part
    for number, entry in _label_lines(label_file):
        where = f"{label_file.name}:{number}"
        # A ClipID names its file with or without the audio suffix; a dot inside it belongs to the name
        # (`p225_001_SemantiCodec_1.40kbps_16k`), so only an audio suffix is dropped.
        clip = entry["ClipID"]
        clip = Path(clip).stem if Path(clip).suffix.lower() in AUDIO_SUFFIXES else clip
        if not entry["Model"]:  # a protocol line: the codec is the ClipID's suffix after `<speaker>_<number>`
            match = CLIP.match(clip)
            entry["Model"] = match["codec"] if match and match["codec"] else "VCTK"
        candidates = by_stem.get(clip, [])
        if len(candidates) > 1:
            candidates = [c for c in candidates if entry["Model"] in c.relative_to(root).parts[:-1]]
        if len(candidates) != 1:
            skipped.append(f"{where}: {clip}: " + ("no audio file of that name" if not candidates else
                                                   f"{len(candidates)} audio files of that name"))
            continue
        bonafide = is_bonafide(entry["Label"], where)
        part = GENUINE if bonafide else _part_of(entry["Model"], where, codec_names)
        utterance = utterance_of(clip)
        if not bonafide and utterance.endswith(f"_{entry['Model']}"):  # `p225_001_DAC24`: the genuine p225_001's fake
            utterance = utterance[: -len(entry["Model"]) - 1]
        if (part, utterance) in seen:
            skipped.append(f"{where}: a second {part} clip {utterance} (the first is kept)")
            continue
        seen.add((part, utterance))
        if not bonafide:
            facts = {"model": entry["Model"], "quantizer": entry["Qua"], "auxiliary": entry["Aux"],
                     "decoder": entry["Dec"]}
            known = taxonomy.setdefault(part, facts)
            # Two spellings of one codec (`xcodec_hubert_librispeech` and the misspelt `..._libirispeech`) are one
            # part; the taxonomy must agree, the name may differ (the first is kept).
            if {k: v for k, v in known.items() if k != "model"} != {k: v for k, v in facts.items() if k != "model"}:
                raise CorpusError(f"{where}: {entry['Model']} has taxonomy {facts} here but {known} "
                                  "on an earlier line; a codec has one taxonomy")
        parts[part].append(Record(utterance_id=utterance, speaker_id=speaker_of(utterance),
                                  path=str(candidates[0])))
    for reason in skipped:
        logger.warning("import: skipped %s", reason)
    if not parts:
        raise CorpusError(f"{label_file}: no line matched an audio file under {root} ({len(skipped)} skipped).")
    return dict(parts), skipped, taxonomy
