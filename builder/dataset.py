"""The rows of a shard, how a shard file is written, and `CodecFakeBuilder`, the `datasets` face of both.

`PartRows` makes the rows of one part (genuine, a codec, or imported release files) from a list of
records. `write_shard` writes them through `datasets`' own Parquet writer, so the file carries the
feature metadata (`Audio`, `ClassLabel`) in its schema and `load_dataset` gives the types back, from
a folder or from the Hub; it writes to a unique temporary name and renames, so a shard is either
complete or absent. `builder.build` calls these directly: one call per planned shard (a fixed list
of utterances), so a finished shard is final the moment it is renamed into
`data/<part>/<split>-NNNNN-of-NNNNN.parquet`, and a resumed build redoes only the shards not there.

`CodecFakeBuilder` wraps the same rows as a `datasets.GeneratorBasedBuilder` for code that wants a
builder (`download_and_prepare()`, `as_dataset()`); `datasets` >= 4 loads no scripts, so it is
instantiated directly, and what is published is Parquet + YAML configs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import datasets
import numpy as np
import pyarrow.parquet as pq
from datasets.arrow_writer import ParquetWriter

from codecfake_hf.audio import clipped_samples, is_pcm16, read_audio, resample, to_pcm16, to_pcm24
from codecfake_hf.corpus import Corpus, Record
from codecfake_hf.errors import AudioError, CodecFakeError
from codecfake_hf.files import atomic_path
from codecfake_hf.recipe import MATCHED, from_source
from codecfake_hf.resynth import Failure, Utterance, ordered_map, resynthesize_stream
from codecfake_hf.schema import FEATURES, GENUINE, make_row, release_taxonomy

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from codecfake_hf.codecs import Codec

    from .plan import Plan
    from .source_cache import SourceCache

logger = logging.getLogger(__name__)

# Genuine audio is stored as read (16-bit PCM, or 24-bit for a source with more bits): no ±0.99 clamp, which
# CodecFake applied to fakes only.
GENUINE_CLAMP = 1.0

_DESCRIPTION = ("Codec-resynthesised speech (CodecFake): genuine utterances and what neural audio codecs "
                "made of them, for training and testing anti-spoofing models.")
_HOMEPAGE = "https://codecfake.github.io"
WRITER_BATCH_SIZE = 100  # rows of FLAC audio per Arrow batch / Parquet row group


class PartRows:
    """Makes the rows of one part from its records: genuine audio as read, or a codec's resynthesis of it.

    Args:
        corpus (Corpus | None): reads the genuine audio; None for imported release files, whose
            records point at the files.
        codec (Codec | None): the loaded codec of a codec part; None for genuine or imported rows.
        genuine_sample_rate (int | None): rate of the genuine rows; None: each file's own rate (an
            import uses None: release files keep their rate).
        recipe (str): what a codec resynthesises (`codecfake_hf.recipe`): `matched` (default), its
            genuine row; `paper`, for codecs at another rate, the source as read, sinc-resampled.
        batch_seconds (float | None): padded seconds per codec batch (None: the engine's default).
        max_seconds (float | None): longer utterances are skipped (None: no limit).
        progress (tqdm | None): a bar advanced once per utterance (written or skipped).
        taxonomy (Mapping | None): {part: {field: release spelling}} of an imported release's codecs (CodecFake+
            CoRS's `QUA AUX DEC`): the taxonomy columns of those parts, where the spelling is known (the release's
            label, also where the registry's differs).
        source_cache (SourceCache | None): where a codec fed the source (`paper`) finds each shard's source audio
            read once for every such codec (`builder.source_cache`); None: each codec reads the source itself.

    Attributes:
        skipped (list[str]): `<utterance>: <reason>` of each utterance left out so far.
        clipped (list[str]): `<utterance>: <what>` of each genuine row whose audio went beyond full scale
            (a float file) and was clipped to it.
    """

    def __init__(self, *, corpus: Corpus | None = None, codec: Codec | None = None,
                 genuine_sample_rate: int | None = None, recipe: str = MATCHED, batch_seconds: float | None = None,
                 max_seconds: float | None = None, progress: tqdm | None = None,
                 taxonomy: Mapping[str, Mapping[str, str]] | None = None, source_cache: SourceCache | None = None):
        self.corpus = corpus
        self.source_cache = source_cache
        self.taxonomy = {part: release_taxonomy(facts) for part, facts in (taxonomy or {}).items()}
        self.codec = codec
        self.genuine_sample_rate = genuine_sample_rate
        self.recipe = recipe
        self.batch_seconds = batch_seconds
        self.max_seconds = max_seconds
        self.progress = progress
        self.skipped: list[str] = []
        self.clipped: list[str] = []

    def rows(self, records: list[Record], part: str, *, genuine: Path | None = None) -> Iterator[dict]:
        """The rows of `records` for `part`, in record order; unreadable or rejected utterances are skipped.

        `genuine`: for a codec part, the genuine shard of the same records, whose rows are the codec's
        input (the source is read and resampled once, for the genuine rows, not once per codec).
        """
        if self.codec is None:
            return self._stored_rows(records, part)
        if genuine is None:
            raise ValueError("a codec part's rows are made from its genuine shard: pass `genuine`")
        return self._codec_rows(records, part, genuine)

    def _stored_rows(self, records: list[Record], part: str) -> Iterator[dict]:
        """Genuine rows at `genuine_sample_rate`, or imported release files at their own rate.

        Reading, resampling and FLAC encoding run on the engine's worker threads, a bounded distance
        ahead of the Parquet writer; rows come out in record order."""
        for record, row in ordered_map(lambda r: (r, self._stored_row(r, part)), records):
            if isinstance(row, AudioError):
                self._skip(record, str(row))
                continue
            self._advance()
            yield row

    def _stored_row(self, record: Record, part: str) -> dict | AudioError:
        try:
            wave, rate = self._read(record)
        except AudioError as error:
            return error
        if self.max_seconds is not None and wave.shape[0] > self.max_seconds * rate:
            # A codec holds a whole utterance in memory: a 5-minute clip took 6 GB.
            return AudioError(f"{wave.shape[0] / rate:.1f} s, longer than `max_seconds` ({self.max_seconds:g} s); "
                              "cut it, or raise `max_seconds` if memory allows")
        # The source's own precision decides the row's: 16-bit PCM where it holds the audio as read (a 16-bit
        # file), else 24-bit (a 24-bit file exactly; a float file to within 2**-23), resampled or not.
        quantise = to_pcm16 if is_pcm16(wave) else to_pcm24
        if self.genuine_sample_rate is not None:
            wave, rate = resample(wave, rate, self.genuine_sample_rate), self.genuine_sample_rate
        clipped = clipped_samples(wave, GENUINE_CLAMP)
        if clipped:  # a float file louder than full scale: stored clipped, and said so
            what = f"{clipped} samples beyond full scale (peak {float(np.abs(wave).max()):.3g}) clipped"
            logger.warning("%s: %s", record.utterance_id, what)
            self.clipped.append(f"{record.utterance_id}: {what}")  # list.append: safe from the worker threads
        return make_row(record, part, quantise(wave, clamp=GENUINE_CLAMP), rate, taxonomy=self.taxonomy.get(part))

    def _codec_rows(self, records: list[Record], part: str, genuine: Path) -> Iterator[dict]:
        by_id = {record.utterance_id: record for record in records}
        utterances = self._codec_inputs(records, genuine)
        for item in resynthesize_stream(self.codec, utterances, batch_seconds=self.batch_seconds, progress=False,
                                        flac=True):
            self._advance()
            if isinstance(item, Failure):  # the engine has logged it
                self.skipped.append(f"{item.id}: {item.reason}")
                continue
            yield make_row(by_id[item.id], part, item.pcm, item.sample_rate, flac=item.flac)

    def _codec_inputs(self, records: list[Record], genuine: Path) -> Iterator[Utterance]:
        """The codec's input: the audio of the genuine rows, read from the genuine shard (FLAC bytes, decoded
        by the engine's workers), so that a fake is the resynthesis of exactly its genuine row; under the
        `paper` recipe, for a codec at another rate than those rows, the source as read, for the engine's
        sinc resampler. A record without a genuine row (its audio could not be read) is skipped here too."""
        source_fed = from_source(self.recipe, self.codec.sample_rate, self.genuine_sample_rate)
        stored = set(pq.read_table(genuine, columns=["utterance_id"]).column(0).to_pylist())
        wanted = [record for record in records if record.utterance_id in stored]
        for record in records:
            if record.utterance_id not in stored:
                self._skip(record, "no genuine row (its audio could not be read; see the genuine part)")
        columns = ["utterance_id"] if source_fed else ["utterance_id", "audio"]
        batches = pq.ParquetFile(genuine).iter_batches(batch_size=WRITER_BATCH_SIZE, columns=columns)
        rows = (row for batch in batches for row in batch.to_pylist())
        reads = self._source_reads(wanted, genuine) if source_fed else None
        for record, row in zip(wanted, rows, strict=True):
            if row["utterance_id"] != record.utterance_id:  # the plan fixes both orders: this is a bug
                raise CodecFakeError(f"internal: {genuine} holds {row['utterance_id']} where the plan has "
                                     f"{record.utterance_id}; delete that genuine shard and build again.")
            if reads is None:
                yield Utterance(record.utterance_id, data=row["audio"]["bytes"])
                continue
            _, read = next(reads)
            if isinstance(read, AudioError):
                self._skip(record, str(read))
                continue
            wave, rate = read
            yield Utterance(record.utterance_id, wave=wave, sample_rate=rate, resampler="sinc")
        if reads is not None:
            next(reads, None)  # run it to its end: a cache file is complete, and kept, only then

    def _source_reads(self, records: list[Record], genuine: Path) -> Iterator[tuple[Record, object]]:
        """`(record, (samples, rate) or AudioError)` of the source, in order: through the shard's source cache
        where there is one, else read here."""
        if self.source_cache is not None:
            yield from self.source_cache.items(records, genuine, self._read)
            return
        for record in records:
            try:
                yield record, self._read(record)
            except AudioError as error:
                yield record, error

    def _read(self, record: Record) -> tuple[np.ndarray, int]:
        # Imported release files have no corpus object: their records point at the files.
        return self.corpus.read(record) if self.corpus is not None else read_audio(record.path)

    def _skip(self, record: Record, reason: str) -> None:
        logger.warning("skipped %s: %s", record.utterance_id, reason)
        self.skipped.append(f"{record.utterance_id}: {reason}")
        self._advance()

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress.update(1)


def write_shard(rows: Iterable[dict], path: str | Path, *, tmp_dir: str | Path | None = None,
                within: str | Path | None = None) -> int:
    """Write `rows` (the schema's rows) as one Parquet file at `path`, atomically; returns the row count.

    The writer is `datasets`' own `ParquetWriter` (the one `download_and_prepare` and `to_parquet` use),
    so the file's schema carries `FEATURES` as `datasets` metadata. The rows go to a unique temporary
    name (in `tmp_dir`, None: beside `path`) that is renamed to `path` once the file is complete; with
    `within`, a `path` that resolves outside that folder (a symlink, a `..`) is refused before writing.
    """
    with atomic_path(path, tmp_dir=tmp_dir, within=within) as tmp:
        writer = ParquetWriter(features=FEATURES, path=str(tmp), writer_batch_size=WRITER_BATCH_SIZE,
                               embed_local_files=True)
        try:
            for row in rows:
                writer.write(FEATURES.encode_example(row))
            count, _ = writer.finalize()
        finally:
            writer.close()
    return count


@dataclass
class CodecFakeConfig(datasets.BuilderConfig):
    """One shard for `CodecFakeBuilder`.

    Args:
        part (str | None): `genuine` or the codec whose rows this shard holds.
        split (str | None): the split of the shard.
        shard (int | None): the shard's index within its split.
    """

    part: str | None = None
    split: str | None = None
    shard: int | None = None


class CodecFakeBuilder(datasets.GeneratorBasedBuilder):
    """The `datasets` face of one shard (`config.part`, `config.split`, `config.shard` of `plan`).

    Args:
        plan (Plan): the build plan, which lists each shard's records.
        rows (PartRows): makes the rows (its corpus, codec and progress bar).
        out (str | Path | None): the dataset folder whose genuine shard feeds a codec part's shard.
        **kwargs: `datasets.DatasetBuilder`'s arguments and `CodecFakeConfig`'s fields.
    """

    BUILDER_CONFIG_CLASS = CodecFakeConfig
    VERSION = datasets.Version("1.0.0")
    DEFAULT_WRITER_BATCH_SIZE = WRITER_BATCH_SIZE

    def __init__(self, *args, plan: Plan, rows: PartRows, out: str | Path | None = None, **kwargs):
        self.plan = plan
        self.part_rows = rows
        self.out = out
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=_DESCRIPTION, features=FEATURES, homepage=_HOMEPAGE)

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        cfg = self.config
        if cfg.part is None or cfg.split is None or cfg.shard is None:
            raise ValueError("CodecFakeBuilder writes one shard: set `part`, `split` and `shard` "
                             "(builder.build() writes every shard of a plan without it).")
        records = self.plan.shard_records(cfg.part, cfg.split, cfg.shard)
        genuine = (self.plan.shard_path(Path(self.out), GENUINE, cfg.split, cfg.shard)
                   if self.part_rows.codec is not None and self.out is not None else None)
        return [datasets.SplitGenerator(name=cfg.split, gen_kwargs={"records": records, "part": cfg.part,
                                                                    "genuine": genuine})]

    def _generate_examples(self, records: list[Record], part: str, genuine: Path | None
                           ) -> Iterator[tuple[str, dict]]:
        for row in self.part_rows.rows(records, part, genuine=genuine):
            yield row["id"], row
