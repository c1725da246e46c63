"""The `datasets` builder: one `download_and_prepare()` writes one Parquet shard of genuine or codec rows.

`datasets` >= 4 loads no scripts, so the builder is instantiated and `download_and_prepare()`d
directly (by `builder.build`), and what it writes is published as Parquet + YAML configs. Why one
run per shard: `datasets` decides shard boundaries by bytes and renames its shards only when a whole
split is done, so a killed run would lose every finished shard of the split. With one run per
planned shard (a fixed list of utterances), a finished shard is final the moment it is renamed into
`data/<part>/<split>-NNNNN-of-NNNNN.parquet`, and a resumed build redoes only the shards not there.
The Parquet files are `datasets`' own (its `ParquetWriter`), so they carry the feature metadata
(`Audio`, `ClassLabel`) in their schema and load back typed, from a folder or from the Hub.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import datasets
import numpy as np

from codecfake_hf.audio import from_pcm16, read_audio, resample, to_pcm16
from codecfake_hf.corpus import Corpus, Record
from codecfake_hf.errors import AudioError
from codecfake_hf.resynth import Failure, Utterance, resynthesize_stream
from codecfake_hf.schema import FEATURES, make_row

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from codecfake_hf.codecs import Codec

    from .plan import Plan

logger = logging.getLogger(__name__)

# Genuine audio is stored as read (16-bit PCM): no ±0.99 clamp, which CodecFake applied to fakes only.
GENUINE_CLAMP = 1.0

_DESCRIPTION = ("Codec-resynthesised speech (CodecFake): genuine utterances and what neural audio codecs "
                "made of them, for training and testing anti-spoofing models.")
_HOMEPAGE = "https://codecfake.github.io"


@dataclass
class CodecFakeConfig(datasets.BuilderConfig):
    """What to build. `python -m builder build` only fills this dataclass.

    The first group is the user's request; `builder.build.build()` plans it into shards and runs the
    builder once per shard, filling the second group (`part`, `split`, `shard`).

    Args:
        source (str | None): the genuine speech, `vctk:PATH`, `folder:PATH`, `hf:ID[:config][:split]`,
            `builtin:demo` (see `codecfake_hf.corpus.open_source`); `release:PATH` for an import.
        codecs (str): `all` or comma-separated codec names/aliases (`codecfake_hf.codecs.names()`).
        out (str): the output folder, laid out as the Hub repository will be.
        split_file (str | None): speaker -> split file; None: the CodecFake paper's split.
        limit (int | None): at most this many utterances per split (round-robin over its speakers);
            None: every utterance.
        device (str): `auto` (CUDA when present), `cpu`, `cuda`, `cuda:1`...
        random_weights (bool): build each codec's official architecture with random weights (smoke runs).
        genuine_sample_rate (int | None): rate of the genuine rows and of the audio fed to every codec
            (16000, the rate of the CodecFake release's genuine files; the CodecFake pipeline itself fed
            its 24 and 44.1 kHz codecs the 48 kHz VCTK originals); None: each file's own rate, for the
            genuine rows and the codecs' input alike.
        shard_size (int): utterances per shard (≈100 MB of FLAC per shard for 16 kHz VCTK at 1000).
        batch_seconds (float | None): padded seconds of audio per codec batch; None: the engine's default
            for the device (`codecfake_hf.resynth.DEFAULT_BATCH_SECONDS`: 60 on CUDA, 8 on CPU).
        mic (str): VCTK 0.92 microphone, `mic1` or `mic2`.
        speaker_pattern (str | None): `folder:` sources; regex whose group `speaker` names the speaker.
        audio_column (str | None): `hf:` sources; the audio column (None: the first `Audio` column).
        speaker_column (str | None): `hf:` sources; the speaker column (None: found by its usual names).
        part (str | None): set per run: `genuine` or the codec whose rows this run writes.
        split (str | None): set per run: the split of the shard.
        shard (int | None): set per run: the shard's index within its split.
    """

    source: str | None = None
    codecs: str = "all"
    out: str = "out"
    split_file: str | None = None
    limit: int | None = None
    device: str = "auto"
    random_weights: bool = False
    genuine_sample_rate: int | None = 16000
    shard_size: int = 1000
    batch_seconds: float | None = None
    mic: str = "mic1"
    speaker_pattern: str | None = None
    audio_column: str | None = None
    speaker_column: str | None = None
    part: str | None = None
    split: str | None = None
    shard: int | None = None


class CodecFakeBuilder(datasets.GeneratorBasedBuilder):
    """Writes the rows of one shard (`config.part`, `config.split`, `config.shard`).

    Args:
        plan (Plan): the build plan, which lists each shard's records.
        corpus (Corpus | None): reads the genuine audio (genuine rows, and the codecs' input).
        codec (Codec | None): the loaded codec of a codec part; None for genuine or imported rows.
        progress (tqdm | None): a bar advanced once per utterance (written or skipped).
        **kwargs: `datasets.DatasetBuilder`'s arguments and `CodecFakeConfig`'s fields.

    Attributes:
        skipped (list[str]): `<utterance>: <reason>` of each utterance left out of the shard.
    """

    BUILDER_CONFIG_CLASS = CodecFakeConfig
    VERSION = datasets.Version("1.0.0")
    DEFAULT_WRITER_BATCH_SIZE = 100  # rows of FLAC audio per Arrow batch / Parquet row group

    def __init__(self, *args, plan: Plan, corpus: Corpus | None = None, codec: Codec | None = None,
                 progress: tqdm | None = None, **kwargs):
        self.plan = plan
        self.corpus = corpus
        self.codec = codec
        self.progress = progress
        self.skipped: list[str] = []
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=_DESCRIPTION, features=FEATURES, homepage=_HOMEPAGE)

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        cfg = self.config
        if cfg.part is None or cfg.split is None or cfg.shard is None:
            raise ValueError("CodecFakeBuilder writes one shard: set `part`, `split` and `shard` "
                             "(builder.build.build() does this for every shard of a plan).")
        records = self.plan.shard_records(cfg.part, cfg.split, cfg.shard)
        return [datasets.SplitGenerator(name=cfg.split, gen_kwargs={"records": records, "part": cfg.part})]

    def _generate_examples(self, records: list[Record], part: str) -> Iterator[tuple[str, dict]]:
        rows = self._stored_rows(records, part) if self.codec is None else self._codec_rows(records, part)
        for row in rows:
            yield row["id"], row

    # Named helpers for `_generate_examples`: rows stored as read, and rows made by a codec.

    def _stored_rows(self, records: list[Record], part: str) -> Iterator[dict]:
        """Genuine rows at `genuine_sample_rate`, or imported release files at their own rate (an
        import runs with `genuine_sample_rate=None`)."""
        for record, wave, rate in self._genuine_audio(records):
            self._advance()
            yield make_row(record, part, to_pcm16(wave, clamp=GENUINE_CLAMP), rate)

    def _codec_rows(self, records: list[Record], part: str) -> Iterator[dict]:
        by_id = {record.utterance_id: record for record in records}
        utterances = self._codec_inputs(records)
        for item in resynthesize_stream(self.codec, utterances, batch_seconds=self.config.batch_seconds,
                                        progress=False):
            self._advance()
            if isinstance(item, Failure):  # the engine has logged it
                self.skipped.append(f"{item.id}: {item.reason}")
                continue
            yield make_row(by_id[item.id], part, item.pcm, item.sample_rate)

    def _codec_inputs(self, records: list[Record]) -> Iterator[Utterance]:
        """The codecs' input: the genuine audio as the genuine rows hold it (same rate), read lazily."""
        for record, wave, rate in self._genuine_audio(records):
            if self.config.genuine_sample_rate is not None:
                # Quantised as the genuine row is, so that a fake is the resynthesis of exactly that row.
                wave = from_pcm16(to_pcm16(wave, clamp=GENUINE_CLAMP))
            yield Utterance(record.utterance_id, wave=wave, sample_rate=rate)

    def _genuine_audio(self, records: list[Record]) -> Iterator[tuple[Record, np.ndarray, int]]:
        """Each record's audio resampled to `genuine_sample_rate` (None: as read); unreadable ones are skipped."""
        target = self.config.genuine_sample_rate
        for record in records:
            try:
                wave, rate = self._read(record)
            except AudioError as error:
                self._skip(record, str(error))
                continue
            if target is not None:
                wave, rate = resample(wave, rate, target), target
            yield record, wave, rate

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
