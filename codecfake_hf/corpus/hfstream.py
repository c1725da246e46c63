"""A Hub audio dataset read as a stream (`hf:ID` with `streaming=True`): nothing of the source is stored on disk.

`datasets` streams a Hub dataset from its files (Parquet shards, WebDataset tars, ...) without downloading
or converting them: no Arrow cache is written. A stream has no random access, so this corpus reads in two
kinds of pass, both streamed:

- the metadata pass (`records()`): only the id, speaker, text and gender columns. A Parquet source is
  reopened with `columns=` (the Parquet reader then reads no audio bytes at all); any other format goes
  through `IterableDataset.select_columns`, so the audio is read but never decoded. The pass also counts the
  rows of each of the stream's units (`IterableDataset.n_shards`: a source file, per split), which places
  every record, by its position, in one unit.
- the audio pass of a shard (`fetched(records)`): the units holding the shard's records, each read with
  `IterableDataset.shard(n_shards, unit)` from its start up to the last row wanted, audio not decoded
  (`Audio(decode=False)`: the encoded bytes); the wanted rows' bytes are kept in memory for as long as the
  shard is being made, and decoded by the source's own `Audio` feature when the shard reads them
  (`read()`), as the non-streamed `HubDataset` decodes them.

The cost of the second pass: a unit is read once per shard that has records in it, up to that shard's last
record there. A source ordered by speaker (most corpora) puts a shard's records in one or two units; a
shuffled source makes every shard read every unit. Records are the same as `HubDataset`'s (same ids, same
`index`: the row's position in the splits concatenated in name order), so a streamed and a non-streamed build
of one source write the same shards, and a folder started one way resumes the other way.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
from collections.abc import Iterator

import numpy as np

from .base import CorpusError, Record
from .hfdataset import HubDataset, decoded_wave

logger = logging.getLogger(__name__)


class StreamedHubDataset(HubDataset):
    """`HubDataset` over `datasets` streaming (same arguments): records from a metadata pass, audio by shard.

    Attributes:
        units (list[int] | None): the first record index of each unit of the stream, set by `records()` (and
            given by rank 0 to the other ranks of a build: `layout`/`adopt_layout`).
        rows_streamed (int): rows read by the audio passes so far (what reading a stream costs).
    """

    streamed = True

    def _load(self, **options):
        import datasets

        loaded = super()._load(streaming=True, **options)
        splits = ([loaded[name] for name in sorted(loaded)] if isinstance(loaded, datasets.IterableDatasetDict)
                  else [loaded])
        columns = [list(split.column_names or []) for split in splits]
        if any(c != columns[0] for c in columns):  # `HubDataset` concatenates them: the same columns throughout
            raise CorpusError(f"`hf:` source {self.location!r}: its splits have different columns ({columns}); "
                              "name one split (`hf:ID:config:split`).")
        if splits[0].features is None:
            raise CorpusError(f"`hf:` source {self.location!r} does not state its features, so its audio column "
                              "cannot be found in a stream; load it whole with `streaming=False`.")
        self.splits, self.units, self._bytes = splits, None, {}
        self.rows_streamed = 0
        return splits[0]

    def _unit_streams(self, select: list[str], *, pushdown: bool = False) -> Iterator:
        """Every unit of the stream, in order: (split number, unit within it, its IterableDataset of `select`);
        `pushdown`: read only those columns where the format allows (Parquet), else select them from each row."""
        splits = (self._reopen(select) if pushdown else None) or self.splits
        for number, split in enumerate(splits):
            for unit in range(split.n_shards):
                stream = split.shard(num_shards=split.n_shards, index=unit, contiguous=True)
                yield number, unit, stream.select_columns(select)

    def _reopen(self, columns: list[str]) -> list:
        """The splits reopened reading only `columns` (a Parquet source: no audio bytes read), or [] where the
        source's format takes no `columns` (or splits its files otherwise)."""
        import datasets

        try:
            loaded = HubDataset._load(self, streaming=True, columns=columns)
        except CorpusError:  # a builder without a `columns` option refuses it (ValueError, wrapped)
            return []
        splits = ([loaded[name] for name in sorted(loaded)] if isinstance(loaded, datasets.IterableDatasetDict)
                  else [loaded])
        if [s.n_shards for s in splits] != [s.n_shards for s in self.splits]:
            return []
        return splits

    def records(self) -> list[Record]:
        import datasets

        meta = [c for c in (self.speaker_column, self.id_column, self.text_column, self.gender_column) if c]
        starts: list[int] = []
        rows: list[dict] = []
        if meta:
            for _, _, stream in self._unit_streams(meta, pushdown=True):
                starts.append(len(rows))
                rows.extend(stream)
        else:  # no metadata column at all: count the rows without decoding their audio
            for _, _, stream in self._unit_streams([self.audio_column]):
                starts.append(len(rows))
                rows.extend({} for _ in stream.cast_column(self.audio_column, datasets.Audio(decode=False)))
        self.units = starts
        logger.info("source %s: %d rows in %d streamed units (metadata columns only)", self.spec, len(rows),
                    len(starts))
        return self._records_from(rows)

    # The layout of the stream, for ranks that did not list the records themselves

    def layout(self) -> list[int] | None:
        return self.units

    def adopt_layout(self, units: list[int] | None) -> None:
        self.units = units

    @contextlib.contextmanager
    def fetched(self, records: list[Record]) -> Iterator[None]:
        """Stream the encoded audio of `records` into memory for the `with` block (`read()` decodes it there)."""
        import datasets

        if self.units is None:
            raise CorpusError(f"{self.spec}: internal: the stream's layout is unknown (records() was not listed).")
        wanted: dict[int, set[int]] = {}
        for record in records:
            unit = bisect.bisect_right(self.units, int(record.index)) - 1
            wanted.setdefault(unit, set()).add(int(record.index) - self.units[unit])
        found: dict[int, dict] = {}
        streams = self._unit_streams([self.audio_column])
        for number, (_, _, stream) in enumerate(streams):
            positions = wanted.get(number)
            if not positions:
                continue
            last = max(positions)
            raw = stream.cast_column(self.audio_column, datasets.Audio(decode=False))
            for position, row in enumerate(raw):
                self.rows_streamed += 1
                if position in positions:
                    found[self.units[number] + position] = row[self.audio_column]
                if position >= last:
                    break
        self._bytes = found
        try:
            yield
        finally:
            self._bytes = {}

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        raw = self._bytes.get(int(record.index)) if record.index is not None else None
        if raw is None:
            raise CorpusError(f"{record.utterance_id}: row {record.index} of {self.spec} was not found in the "
                              "stream; the source changed since the build was planned. Build into a new `out`.")
        feature = self.dataset.features[self.audio_column]
        return decoded_wave(feature.decode_example(raw), record)
