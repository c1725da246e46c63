"""The build plan: which utterances go to which split and shard, kept in `<out>/.codecfake/plan.json`.

The plan is made once, by the first run on a folder, and reread by every later run: shard `k` of a
split holds the same utterances for every part (genuine and each codec), so adding a codec later, or
resuming a killed run, writes exactly the shards that are missing. A later run whose source, split
or sharding differ from the plan is refused, since its shards would not line up with those on disk.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codecfake_hf.codecs.base import PRECISIONS
from codecfake_hf.corpus import Record
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.files import write_json_atomic
from codecfake_hf.names import BadNameError, check_part, check_split
from codecfake_hf.recipe import RECIPES
from codecfake_hf.schema import DATA_DIR, STATE_DIR
from codecfake_hf.splits import SpeakerSplit, split_sort_key

PLAN_FILE = "plan.json"
PLAN_VERSION = 1
ALL_PARTS = "*"  # a build's parts all share the corpus's records
KINDS = ("build", "import")
MAX_SHARD_SIZE = 10**7  # records per shard: far above any sane size, low enough that arithmetic stays small


class PlanMismatchError(CodecFakeError):
    """An output folder that holds a build of something else."""


class PlanFormatError(ValueError):
    """A plan mapping with a value of the wrong type or range (`Plan.load` turns it into `PlanMismatchError`)."""


@dataclass
class Plan:
    """Splits and shards of one output folder.

    Args:
        kind (str): `build` (corpus resynthesised by codecs) or `import` (release files).
        identity (dict): the options a later run must repeat (source, split, limit, sharding, rate).
        records (dict): part (`*` for every part of a build) -> split -> records, in shard order.
        shard_size (int): records per shard.
        source (dict): the source's description, license, attribution and citation, for the card.
        parts (dict): part -> {"complete": bool, "random_weights": bool, and for codecs "precision": str,
            "seed": int | None; "stale": [reasons] when its shards were made from source files that changed
            since}, updated as parts finish.
        card (bool): this tool has written the folder's README.md (so it may replace it).
        card_sha256 (str | None): the SHA-256 of the README.md this tool wrote last (what `demo` may delete).
    """

    kind: str
    identity: dict[str, Any]
    records: dict[str, dict[str, list[Record]]]
    shard_size: int
    source: dict[str, str] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    card: bool = False
    card_sha256: str | None = None

    @staticmethod
    def split_records(records: list[Record], split: SpeakerSplit, limit: int | None) -> dict[str, list[Record]]:
        """{split: records} by speaker; with `limit`, at most that many per split, round-robin over speakers."""
        by_split: dict[str, dict[str, list[Record]]] = {}
        for record in records:
            by_split.setdefault(split.split_of(record.speaker_id), {}).setdefault(record.speaker_id, []).append(record)
        result = {}
        for name in sorted(by_split, key=split_sort_key):
            speakers = [by_split[name][s] for s in sorted(by_split[name])]
            if limit is None:
                result[name] = [r for group in speakers for r in group]
            else:
                picked = [group[i] for i in range(max(map(len, speakers))) for group in speakers if i < len(group)]
                result[name] = sorted(picked[:limit], key=lambda r: (r.speaker_id, r.utterance_id))
        return result

    # Shards

    def _table(self, part: str) -> dict[str, list[Record]]:
        """{split: records} of `part`: a build's parts share one table, an import's each have their own."""
        return self.records.get(ALL_PARTS) or self.records.get(part, {})

    def records_of(self, part: str, split: str) -> list[Record]:
        return self._table(part).get(split, [])

    def splits_of(self, part: str) -> list[str]:
        table = self._table(part)
        return [s for s in sorted(table, key=split_sort_key) if table[s]]

    def num_shards(self, part: str, split: str) -> int:
        return math.ceil(len(self.records_of(part, split)) / self.shard_size)

    def shard_records(self, part: str, split: str, shard: int) -> list[Record]:
        start = shard * self.shard_size
        return self.records_of(part, split)[start:start + self.shard_size]

    def shard_path(self, out: Path, part: str, split: str, shard: int) -> Path:
        """`data/<part>/<split>-NNNNN-of-NNNNN.parquet`: the Hub layout (`schema.DATA_DIR`; docs/ARCHITECTURE.md).
        Part and split are names (`codecfake_hf.names`), never `..` or a path: every shard stays under
        `data/<part>/`."""
        check_part(part, "a shard's part")
        check_split(split, f"a shard of {part}")
        return Path(out) / DATA_DIR / part / f"{split}-{shard:05d}-of-{self.num_shards(part, split):05d}.parquet"

    def speakers(self) -> dict[str, list[str]]:
        """{split: sorted speakers} over every part."""
        speakers: dict[str, set[str]] = {}
        for table in self.records.values():
            for split, records in table.items():
                speakers.setdefault(split, set()).update(r.speaker_id for r in records)
        return {s: sorted(speakers[s]) for s in sorted(speakers, key=split_sort_key)}

    # Persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION, "kind": self.kind, "identity": self.identity, "shard_size": self.shard_size,
            "source": self.source, "parts": self.parts, "card": self.card, "card_sha256": self.card_sha256,
            "records": {part: {split: [r.to_dict() for r in records] for split, records in table.items()}
                        for part, table in self.records.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """The plan a `to_dict()` mapping describes, every value checked for type and range (`PlanFormatError`
        naming the first that is not), so that a plan read back can be used without a surprise later."""
        return _parse_plan(data)

    @staticmethod
    def path(out: str | Path) -> Path:
        return Path(out) / STATE_DIR / PLAN_FILE

    @classmethod
    def load(cls, out: str | Path) -> Plan | None:
        """The plan of `out`, None when there is none; `PlanMismatchError` when it cannot be read."""
        path = cls.path(out)
        if not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except PlanFormatError as error:  # edited, or not ours: the first value that is wrong, named
            reason = str(error)
        except (ValueError, RecursionError) as error:  # truncated, not UTF-8, not JSON, nested without end
            reason = f"{type(error).__name__}: {str(error)[:120]}"
        except OSError as error:  # a folder in its place, unreadable
            reason = f"cannot be read: {error.strerror or error}"
        raise PlanMismatchError(
            f"`out` {str(out)!r}: its build plan {STATE_DIR}/{PLAN_FILE} is damaged ({reason}), so its shards "
            "cannot be matched to a plan. Choose another `out`, or delete the folder to build it again.")

    def save(self, out: str | Path) -> None:
        """Write atomically: a temp name, then a rename, so a kill never leaves half a plan."""
        write_json_atomic(self.path(out), self.to_dict(), indent=1, within=out)

    def check_same(self, other: Plan, out: str | Path) -> None:
        """Refuse to continue `other` (on disk) with this plan when their shards would not line up."""
        mine = {"kind": self.kind, **self.identity}
        theirs = {"kind": other.kind, **other.identity}
        keys = sorted(set(mine) | set(theirs))
        differ = {k: (theirs.get(k), mine.get(k)) for k in keys if mine.get(k) != theirs.get(k)}
        if differ:
            details = "; ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in differ.items())
            raise PlanMismatchError(
                f"`out` {str(out)!r} holds a build made with other options ({details}). Repeat those options to "
                "resume or add codecs, or choose another `out`."
            )
        if self.records != other.records and _without_languages(self.records) == _without_languages(other.records):
            raise PlanMismatchError(
                f"`out` {str(out)!r} was built before rows had a `language` column: its shards lack it, and new "
                "shards beside them would not load together. Build into a new `out` (or delete this one).")
        if self.records != other.records:
            raise PlanMismatchError(
                f"`out` {str(out)!r} was started from the same source, but the source's utterances changed since "
                f"({_first_difference(other.records, self.records)}). Choose another `out`, or restore the source."
            )


def _without_languages(records: dict[str, dict[str, list[Record]]]) -> dict:
    """The plan's records with their `language` left out (what a plan made before the column held)."""
    return {part: {split: [replace(r, language="") for r in items] for split, items in table.items()}
            for part, table in records.items()}


def _first_difference(before: dict, now: dict) -> str:
    """The first record that differs between two plans' records, in words."""
    for part in sorted(set(before) | set(now)):
        for split in sorted(set(before.get(part, {})) | set(now.get(part, {}))):
            old = {r.utterance_id: r for r in before.get(part, {}).get(split, [])}
            new = {r.utterance_id: r for r in now.get(part, {}).get(split, [])}
            for utt in sorted(set(old) | set(new)):
                if utt not in new:
                    return f"{utt} ({split}) is no longer there"
                if utt not in old:
                    return f"{utt} ({split}) was added"
                if old[utt] != new[utt]:
                    a, b = old[utt].to_dict(), new[utt].to_dict()
                    fields = ", ".join(f"{k}: {a[k]!r} then, {b[k]!r} now" for k in a if a[k] != b[k])
                    return f"{utt}: {fields}"
            if list(old) != list(new):
                return f"the order of {split}'s utterances"
    return "files added, removed or renamed"


# Reading a plan back: every value typed and bounded (a plan.json is a file a user or a crash can damage)


def _need(condition: bool, where: str, value: Any, expected: str) -> None:
    if not condition:
        shown = repr(value)
        raise PlanFormatError(f"{where} is {shown[:60] + '...' if len(shown) > 60 else shown}, not {expected}")


def _mapping(value: Any, where: str) -> dict:
    _need(isinstance(value, dict), where, value, "a mapping")
    return value


def _integer(value: Any, where: str, low: int, high: int) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high, where, value,
          f"a whole number within {low}..{high}")
    return value


def _typed(value: Any, where: str, kind: type, expected: str, *, optional: bool = False) -> Any:
    """`value` when it is a `kind` (a bool is not an int, nor an int a bool), or None where `optional`."""
    fits = isinstance(value, kind) and (kind is bool) == isinstance(value, bool)
    _need(fits or (optional and value is None), where, value, expected + (" or null" if optional else ""))
    return value


# Record fields: (type, may be null, in words)
_RECORD_FIELDS = {"utterance_id": (str, False, "a non-empty string"), "speaker_id": (str, False, "a non-empty string"),
                  "path": (str, True, "a path"), "index": (int, True, "a row index"), "text": (str, False, "a string"),
                  "gender": (str, False, "a string"), "age": (int, True, "a whole number"),
                  "accent": (str, False, "a string"), "region": (str, False, "a string"),
                  "language": (str, False, "a string"), "source": (int, True, "a source index")}


def _record(value: Any, where: str) -> Record:
    value = _mapping(value, where)
    for key in ("utterance_id", "speaker_id"):
        _need(isinstance(value.get(key), str) and value[key] != "", f"{where}.{key}", value.get(key),
              "a non-empty string")
    for key, (kind, optional, expected) in _RECORD_FIELDS.items():
        if key in value:
            _typed(value[key], f"{where}.{key}", kind, expected, optional=optional)
    if value.get("index") is not None:
        _integer(value["index"], f"{where}.index", 0, 2**62)
    if value.get("source") is not None:
        _integer(value["source"], f"{where}.source", 0, 2**16)
    return Record.from_dict(value)


def _name(check, name: str, where: str) -> str:
    try:
        return check(name, where)
    except BadNameError as error:
        raise PlanFormatError(str(error)) from None


def _parse_records(value: Any) -> dict[str, dict[str, list[Record]]]:
    records = {}
    for part, table in _mapping(value, "records").items():
        if part != ALL_PARTS:
            _name(check_part, part, "records")
        tables = {}
        for split, items in _mapping(table, f"records[{part!r}]").items():
            _name(check_split, split, f"records[{part!r}]")
            where = f"records[{part!r}][{split!r}]"
            _need(isinstance(items, list), where, items, "a list of records")
            tables[split] = [_record(item, f"{where}[{i}]") for i, item in enumerate(items)]
        records[part] = tables
    return records


# A part's state: (type, may be null, in words)
_PART_STATE = {"complete": (bool, False, "true or false"), "random_weights": (bool, False, "true or false"),
               "precision": (str, True, f"one of {', '.join(PRECISIONS)}"), "seed": (int, True, "a whole number")}


def _parse_parts(value: Any) -> dict[str, dict[str, Any]]:
    parts = {}
    for part, state in _mapping(value, "parts").items():
        _name(check_part, part, "parts")
        state = dict(_mapping(state, f"parts[{part!r}]"))
        for key, (kind, optional, expected) in _PART_STATE.items():
            if key in state:
                _typed(state[key], f"parts[{part!r}].{key}", kind, expected, optional=optional)
        if state.get("precision") is not None:
            _need(state["precision"] in PRECISIONS, f"parts[{part!r}].precision", state["precision"],
                  f"one of {', '.join(PRECISIONS)}")
        if "stale" in state:
            _need(isinstance(state["stale"], list) and all(isinstance(s, str) for s in state["stale"]),
                  f"parts[{part!r}].stale", state["stale"], "a list of reasons")
        parts[part] = state
    return parts


def _parse_plan(data: Any) -> Plan:
    data = _mapping(data, "the plan")
    for key in ("kind", "identity", "shard_size", "records"):
        _need(key in data, key, None, "present (a required key is missing)")
    kind = data["kind"]
    _need(kind in KINDS, "kind", kind, f"one of {', '.join(KINDS)}")
    identity = dict(_mapping(data["identity"], "identity"))
    if kind == "build":
        # Builds made before the recipe was an option fed every codec its genuine row: `matched`.
        identity.setdefault("recipe", "matched")
        _need(identity["recipe"] in RECIPES, "identity.recipe", identity["recipe"], f"one of {', '.join(RECIPES)}")
        rate = identity.get("genuine_sample_rate")
        _need(rate is None or isinstance(rate, int) and not isinstance(rate, bool) and rate > 0,
              "identity.genuine_sample_rate", rate, "a rate in Hz or null")
    _need("split" in identity, "identity.split", None, "present (a required key is missing)")
    try:
        SpeakerSplit.from_dict(_mapping(identity["split"], "identity.split"))
    except (CodecFakeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise PlanFormatError(f"identity.split is not a split ({str(error)[:120]})") from None
    _typed(identity.get("split_rule", ""), "identity.split_rule", str, "a string")
    source = _mapping(data.get("source", {}), "source")
    if "taxonomy" in source:
        for part, facts in _mapping(source["taxonomy"], "source.taxonomy").items():
            _mapping(facts, f"source.taxonomy[{part!r}]")
    card = _typed(data.get("card", False), "card", bool, "true or false")
    digest = data.get("card_sha256")
    _need(digest is None or isinstance(digest, str) and len(digest) == 64, "card_sha256", digest,
          "a SHA-256 hex digest or null")
    return Plan(kind=kind, identity=identity, shard_size=_integer(data["shard_size"], "shard_size", 1, MAX_SHARD_SIZE),
                source=source, parts=_parse_parts(data.get("parts", {})), card=card, card_sha256=digest,
                records=_parse_records(data["records"]))
