"""Each shard's source audio, decoded once for every codec that the `paper` recipe feeds the source.

Under `paper`, a codec at another rate than the genuine rows resynthesises the source as read (the 48 kHz VCTK
files), so a build with several such codecs read and decoded each source file once per codec. The first of them to
reach a shard now writes what it read to one cache file in the state folder's staging folder
(`.codecfake/tmp/source/<split>-NNNNN-of-NNNNN.npz`), one utterance at a time as it goes; the others read that
file back. The file holds exactly the arrays the corpus returned (16-bit-exact audio as int16, which converts back
to the same float32 values; anything else as it was), so the rows are the same bytes as without the cache.

Why a file and not memory: the build runs codec by codec (each codec loaded once, every shard of it, then the
next), so one shard's audio in memory would be gone by the time the next codec reaches that shard; holding every
codec at once instead would need all their weights in memory together. The files are staging: every run clears the
staging folder when it starts and when it ends, so they live for one run, on the disk that holds the build. Memory
holds one utterance at a time.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from codecfake_hf.audio import is_pcm16
from codecfake_hf.corpus import Record
from codecfake_hf.errors import AudioError
from codecfake_hf.files import atomic_path

logger = logging.getLogger(__name__)

CACHE_DIR = "source"  # under the state folder's staging folder (`.codecfake/tmp/`)
INDEX_KEY = "index"  # in each cache file, JSON: [[utterance id, rate, dtype, stored as int16, error], ...]
PCM16_SCALE = 32768.0

Read = Callable[[Record], tuple[np.ndarray, int]]
Result = tuple[np.ndarray, int] | AudioError


class SourceCache:
    """Source audio of one shard per file, shared by the codecs of a run.

    Args:
        folder (Path): where the cache files go (the state folder's staging folder, cleared by every run).
        within (Path): the output folder the files must stay inside (`files.atomic_path`).
    """

    def __init__(self, folder: Path, within: Path):
        self.folder = Path(folder) / CACHE_DIR
        self.within = within

    def path(self, shard: Path) -> Path:
        """The cache file of the shard whose genuine file is `shard` (`data/genuine/<split>-NNNNN-of-NNNNN`)."""
        return self.folder / f"{Path(shard).stem}.npz"

    def items(self, records: list[Record], shard: Path, read: Read) -> Iterator[tuple[Record, Result]]:
        """`(record, (samples, rate) or the AudioError of reading it)` for each of `records`, in order: from the
        shard's cache file where one holds these records, else read with `read` and written to it as they go
        (the file is complete, renamed into place, only once every record was read)."""
        cached = self._open(records, shard)
        if cached is not None:
            yield from cached
            return
        yield from self._fill(records, shard, read)

    def _open(self, records: list[Record], shard: Path) -> Iterator[tuple[Record, Result]] | None:
        path = self.path(shard)
        if not path.is_file():
            return None
        try:
            archive = np.load(path, allow_pickle=False)
            index = json.loads(archive[INDEX_KEY].tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            logger.warning("%s: unreadable (%s); the source is read again", path, error)
            return None
        if [entry[0] for entry in index] != [record.utterance_id for record in records]:
            archive.close()
            logger.warning("%s: holds other utterances than the shard; the source is read again", path)
            return None
        return self._replay(archive, index, records)

    @staticmethod
    def _replay(archive, index: list, records: list[Record]) -> Iterator[tuple[Record, Result]]:
        with archive:
            for i, (record, (_, rate, dtype, pcm16, error)) in enumerate(zip(records, index, strict=True)):
                if error is not None:
                    yield record, AudioError(error)
                    continue
                stored = archive[f"w{i}"]
                wave = (stored.astype(np.float32) / np.float32(PCM16_SCALE)) if pcm16 else stored
                yield record, (wave.astype(dtype, copy=False), int(rate))

    def _fill(self, records: list[Record], shard: Path, read: Read) -> Iterator[tuple[Record, Result]]:
        self.folder.mkdir(parents=True, exist_ok=True)
        index = []
        with atomic_path(self.path(shard), within=self.within) as tmp, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            for i, record in enumerate(records):
                try:
                    wave, rate = read(record)
                except AudioError as error:
                    index.append([record.utterance_id, None, None, False, str(error)])
                    yield record, error
                    continue
                pcm16 = is_pcm16(wave)
                # 16-bit-exact audio (a 16-bit file) as int16: half the bytes, and k / 32768 comes back exactly.
                stored = np.rint(np.asarray(wave, dtype=np.float64) * PCM16_SCALE).astype(np.int16) if pcm16 else wave
                with archive.open(f"w{i}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(stored), allow_pickle=False)
                index.append([record.utterance_id, int(rate), str(np.asarray(wave).dtype), pcm16, None])
                yield record, (wave, rate)
            with archive.open(f"{INDEX_KEY}.npy", "w") as member:
                np.lib.format.write_array(member, np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8))
        logger.debug("%s: source audio of %d utterances cached", self.path(shard), len(records))
