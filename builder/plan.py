"""The build plan: which utterances go to which split and shard, kept in `<out>/.codecfake/plan.json`.

The plan is made once, by the first run on a folder, and reread by every later run: shard `k` of a
split holds the same utterances for every part (genuine and each codec), so adding a codec later, or
resuming a killed run, writes exactly the shards that are missing. A later run whose source, split
or sharding differ from the plan is refused, since its shards would not line up with those on disk.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecfake_hf.corpus import Record
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.files import write_json_atomic
from codecfake_hf.schema import DATA_DIR, STATE_DIR
from codecfake_hf.splits import SpeakerSplit, split_sort_key

PLAN_FILE = "plan.json"
PLAN_VERSION = 1
ALL_PARTS = "*"  # a build's parts all share the corpus's records


class PlanMismatchError(CodecFakeError):
    """An output folder that holds a build of something else."""


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
            "seed": int | None}, updated as parts finish.
        card (bool): this tool has written the folder's README.md (so it may replace or delete it).
    """

    kind: str
    identity: dict[str, Any]
    records: dict[str, dict[str, list[Record]]]
    shard_size: int
    source: dict[str, str] = field(default_factory=dict)
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    card: bool = False

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
        """`data/<part>/<split>-NNNNN-of-NNNNN.parquet`: the Hub layout (`schema.DATA_DIR`; docs/ARCHITECTURE.md)."""
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
            "source": self.source, "parts": self.parts, "card": self.card,
            "records": {part: {split: [r.to_dict() for r in records] for split, records in table.items()}
                        for part, table in self.records.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        identity = dict(data["identity"])
        if data["kind"] == "build":
            # Builds made before the recipe was an option fed every codec its genuine row: `matched`.
            identity.setdefault("recipe", "matched")
        return cls(
            kind=data["kind"], identity=identity, shard_size=data["shard_size"],
            source=data.get("source", {}), parts=data.get("parts", {}), card=bool(data.get("card", False)),
            records={part: {split: [Record.from_dict(r) for r in records] for split, records in table.items()}
                     for part, table in data["records"].items()},
        )

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
        except (ValueError, KeyError, TypeError, OSError) as error:  # truncated, edited or not ours
            raise PlanMismatchError(
                f"`out` {str(out)!r}: its build plan {STATE_DIR}/{PLAN_FILE} is damaged ({type(error).__name__}: "
                f"{str(error)[:120]}), so its shards cannot be matched to a plan. Choose another `out`, or delete "
                "the folder to build it again.") from None

    def save(self, out: str | Path) -> None:
        """Write atomically: a temp name, then a rename, so a kill never leaves half a plan."""
        write_json_atomic(self.path(out), self.to_dict(), indent=1)

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
        if self.records != other.records:
            raise PlanMismatchError(
                f"`out` {str(out)!r} was started from the same source, but the source's utterances changed since "
                f"({_first_difference(other.records, self.records)}). Choose another `out`, or restore the source."
            )


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
