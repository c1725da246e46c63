"""What a finished shard was made from, kept beside the plan: resume and extend trust contents, not file names.

Each shard, once renamed into `data/`, gets a small record in `<out>/.codecfake/shards/<part>/<shard>.json`:
the shard's fingerprint (size, row count from its Parquet footer, the SHA-256 of the whole file, read
in pieces) and the fingerprint of every source file it was made from (size and modification time). A
later run keeps a shard only when its record exists and both still match; otherwise the shard is redone,
and the run says why. The whole file is hashed, not its ends: a shard damaged in the middle, at the same
size, is redone rather than kept and found undecodable later. The same hash decides what `demo` may
delete: a file whose content is not what was recorded is not the tool's to delete. A shard without a
record was renamed into place by a run killed just after: it is redone too. Records are one file per
shard, so the ranks of a distributed build never share one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from codecfake_hf.corpus import Record
from codecfake_hf.files import sha256_file, write_json_atomic
from codecfake_hf.schema import DATA_DIR, STATE_DIR

RECORDS_DIR = "shards"


@dataclass(frozen=True)
class ShardState:
    """A shard's record: `rows` written of `records` planned (the rest were skipped)."""

    rows: int
    records: int


def record_path(out: Path, shard: Path) -> Path:
    relative = shard.relative_to(out / DATA_DIR)
    return out / STATE_DIR / RECORDS_DIR / relative.with_suffix(".json")


def shard_fingerprint(path: Path) -> dict:
    """Size, Parquet row count and the whole file's SHA-256 (streamed) of a shard."""
    return {"bytes": path.stat().st_size, "rows": pq.read_metadata(path).num_rows, "sha256": sha256_file(path)}


def source_fingerprint(record: Record) -> str | None:
    """`size:mtime_ns` of a record's audio file; None for audio held by its source (a Hub dataset's row)."""
    if record.path is None:
        return None
    try:
        stat = os.stat(record.path)
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def write_record(out: Path, shard: Path, records: list[Record], made_from: dict | None = None) -> ShardState:
    """Record a shard just renamed into place, with the fingerprints of the source files it was made from, and
    `made_from`: what else it was made from (a condition shard: its clean shard and that shard's SHA-256)."""
    fingerprint = shard_fingerprint(shard)
    sources = {r.utterance_id: source_fingerprint(r) for r in records}
    write_json_atomic(record_path(out, shard), {"shard": fingerprint, "records": len(records), "sources": sources,
                                                **({"made_from": made_from} if made_from else {})}, within=out)
    return ShardState(rows=fingerprint["rows"], records=len(records))


def read_record(out: Path, shard: Path) -> dict | None:
    """The shard's record, or None when there is none or it is not a record (damaged, edited, not ours)."""
    try:
        recorded = json.loads(record_path(out, shard).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    fingerprint = recorded.get("shard") if isinstance(recorded, dict) else None
    if not (isinstance(fingerprint, dict) and _count(fingerprint.get("rows")) and _count(recorded.get("records"))
            and isinstance(recorded.get("sources", {}), dict)):
        return None
    return recorded


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def stale_reason(out: Path, shard: Path, records: list[Record]) -> str | None:
    """Why the shard on disk cannot be kept (None: it can): missing, unrecorded, changed, or made from
    source files that have changed since."""
    if not shard.exists():
        return "missing"
    recorded = read_record(out, shard)
    if recorded is None:
        return "not recorded (a run was stopped just after writing it)"
    try:
        now = shard_fingerprint(shard)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError: a truncated footer
        return f"unreadable ({type(error).__name__})"
    then = recorded["shard"]
    if "sha256" not in then:
        return "recorded without a whole-file hash (by an older version)"
    if now != then:
        return (f"changed since it was written ({now['bytes']} bytes, {now['rows']} rows; recorded "
                f"{then.get('bytes')} bytes, {then.get('rows')} rows)")
    sources = recorded.get("sources", {})
    changed = [r.utterance_id for r in records if sources.get(r.utterance_id) != source_fingerprint(r)]
    if changed:
        return f"source file(s) changed since: {', '.join(changed[:3])}" + (" ..." if len(changed) > 3 else "")
    return None


def shard_state(out: Path, shard: Path) -> ShardState | None:
    """Rows written and records planned, as the shard's record says; None without a usable record."""
    recorded = read_record(out, shard)
    if recorded is None:
        return None
    return ShardState(rows=recorded["shard"]["rows"], records=recorded["records"])


def recorded_sha256(out: Path, shard: Path) -> str | None:
    """The whole-file SHA-256 this tool recorded for `shard` (None: no record with one)."""
    recorded = read_record(out, shard)
    digest = recorded["shard"].get("sha256") if recorded is not None else None
    return digest if isinstance(digest, str) else None


def recorded_shards(out: Path) -> list[Path]:
    """The shards of `out/data/` this tool wrote (those with a record)."""
    root = out / STATE_DIR / RECORDS_DIR
    return sorted(out / DATA_DIR / p.relative_to(root).with_suffix(".parquet") for p in root.rglob("*.json"))
