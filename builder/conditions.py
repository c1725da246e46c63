"""Channel conditions in a build: the part `<part>@<condition>` of every part a run names, made from its clean shards.

`builder build --conditions opus_16k,amr_nb_12k2` adds, for genuine and for each codec, one part per condition
(`genuine@opus_16k`, `encodec_24khz@opus_16k`, ...). A condition shard is derived from the finished clean shard
of the same split and index: its rows' FLAC is decoded, run through the channel (`codecfake_hf.channels.apply`),
and written back with every other column as the clean row has it, `condition` filled. The codec therefore runs
once, and genuine rows pass through exactly the channel the fakes do (a detector cannot tell them apart by the
channel).

Decoded-length rule: the encoder's delay is trimmed (`channels.codec_delay`, measured once per condition and
rate by cross-correlating a probe), and the decoder's output is cut or zero-padded to the clean row's length: a
condition row holds exactly as many samples as its clean row, at its clean row's rate, aligned with it. It is
stored as 16-bit PCM FLAC, clipped at full scale (a channel such as `loudnorm` can raise the level), for genuine
and fake rows alike.

A condition shard's record names the clean shard it was made from and that shard's SHA-256: a run keeps it only
while the clean shard is that same file, so a clean shard written again (changed, damaged, made from a changed
source) takes its condition shards with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import pyarrow.parquet as pq

from codecfake_hf import channels
from codecfake_hf.audio import decode_audio_bytes, to_pcm16
from codecfake_hf.corpus import Record
from codecfake_hf.errors import AudioError
from codecfake_hf.resynth import ordered_map
from codecfake_hf.schema import CLEAN, DATA_DIR, codec_of, condition_of, condition_part, make_row

from .dataset import WRITER_BATCH_SIZE
from .plan import Plan
from .shards import read_record, recorded_sha256

CONDITION_CLAMP = 1.0  # full scale: what a 16-bit decoder's output holds; the same for genuine and fake rows


def parse_conditions(text: str | None) -> list[str]:
    """`BuildRequest.conditions` (`opus_16k,amr_nb_12k2`) as canonical condition names; None or empty: none. An
    unknown name, or an encoder the FFmpeg in use lacks, is `UnknownConditionError` listing what is available."""
    return channels.parse_condition_list(text) if text else []


def condition_parts(parts: Sequence[str], conditions: Sequence[str]) -> list[str]:
    """`<part>@<condition>` of each clean part and condition, part by part (`genuine@a`, `genuine@b`, `x@a`, ...)."""
    return [condition_part(part, condition) for part in parts if condition_of(part) == CLEAN
            for condition in conditions]


def is_conditioned(part: str) -> bool:
    """Whether `part` is a part under a channel condition (`<part>@<condition>`)."""
    return condition_of(part) != CLEAN


def clean_shard(plan: Plan, out: Path, part: str, split: str, shard: int) -> Path:
    """The clean shard a condition shard is made from: same split and index, the part without its condition."""
    return plan.shard_path(out, codec_of(part), split, shard)


def made_from(out: Path, clean: Path) -> dict:
    """What a condition shard's record says it was made from: its clean shard and that file's SHA-256 as recorded."""
    return {"clean": clean.relative_to(out / DATA_DIR).as_posix(), "clean_sha256": recorded_sha256(out, clean)}


def dependency_reason(out: Path, plan: Plan, part: str, split: str, shard: int,
                      redone: Sequence[tuple[str, int]] = ()) -> str | None:
    """Why a condition shard on disk cannot be kept because of its clean shard (None: it can): the clean shard is
    written again by this run (`redone`: the clean part's shards to write), or is not the file it was made from."""
    clean = clean_shard(plan, out, part, split, shard)
    if (split, shard) in set(map(tuple, redone)):
        return f"its clean shard {clean.relative_to(out).as_posix()} is written again"
    if not clean.is_file():
        return f"its clean shard {clean.relative_to(out).as_posix()} is missing"
    recorded = read_record(out, plan.shard_path(out, part, split, shard))
    if recorded is None:
        return None  # stale_reason has said why already
    source = recorded.get("made_from")
    if not isinstance(source, dict) or source.get("clean_sha256") is None:
        return "not recorded as made from its clean shard"
    if source.get("clean_sha256") != recorded_sha256(out, clean):
        return f"made from another version of its clean shard {clean.relative_to(out).as_posix()}"
    return None


class ConditionRows:
    """Makes the rows of one condition part from its clean shard.

    Args:
        progress (tqdm | None): a bar advanced once per row.

    Attributes:
        skipped (list[str]): `<utterance>: <reason>` of each row that could not be decoded or run through the channel.
        seen (int): clean rows read so far.
    """

    def __init__(self, progress=None):
        self.progress = progress
        self.skipped: list[str] = []
        self.seen = 0

    def rows(self, records: list[Record], part: str, clean: Path) -> Iterator[dict]:
        """The rows of `part` (`<clean part>@<condition>`) for the rows `clean` holds, in its order; `records` are the
        shard's planned records (a record without a clean row was skipped there, and is not made here)."""
        condition = condition_of(part)
        by_id = {record.utterance_id: record for record in records}
        batches = pq.ParquetFile(clean).iter_batches(batch_size=WRITER_BATCH_SIZE, columns=["utterance_id", "audio"])
        stored = (row for batch in batches for row in batch.to_pylist())

        def convert(row: dict) -> tuple[str, dict | AudioError]:
            utterance = row["utterance_id"]
            try:
                wave, rate = decode_audio_bytes(row["audio"]["bytes"], f"{clean.name}: {utterance}")
                out = channels.apply(condition, wave, rate)
            except AudioError as error:
                return utterance, error
            except av.error.FFmpegError as error:  # an encoder that refuses this row
                return utterance, AudioError(f"{condition}: FFmpeg refused it ({type(error).__name__}: {error})")
            return utterance, make_row(by_id[utterance], part, to_pcm16(out, clamp=CONDITION_CLAMP), rate)

        for utterance, row in ordered_map(convert, stored):
            self.seen += 1
            if self.progress is not None:
                self.progress.update(1)
            if isinstance(row, AudioError):
                self.skipped.append(f"{utterance}: {row}")
                continue
            yield row


__all__ = ["CONDITION_CLAMP", "ConditionRows", "clean_shard", "condition_parts", "parse_conditions",
           "dependency_reason", "is_conditioned", "made_from"]
