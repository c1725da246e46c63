"""What every corpus source yields: `Record`s (one utterance and its metadata) and their audio."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ..audio import read_audio
from ..errors import CodecFakeError

logger = logging.getLogger(__name__)


class CorpusError(CodecFakeError):
    """A corpus that cannot be read: missing folder, unknown layout, bad source string."""


@dataclass(frozen=True)
class Record:
    """One utterance of a corpus, with what the dataset rows carry about it.

    Args:
        utterance_id (str): unique id, e.g. `p225_001` (the CodecFake release's naming).
        speaker_id (str): the speaker, e.g. `p225`; splits are made by speaker.
        path (str | None): the audio file; None for a source that holds audio in memory.
        index (int | None): position in a source that holds audio in memory (a Hub dataset).
        text (str): transcript; empty when the corpus has none for this utterance.
        gender (str): speaker's gender as the corpus states it (`F`, `M`), else empty.
        age (int | None): speaker's age, None when unknown.
        accent (str): speaker's accent, else empty.
        region (str): speaker's region, else empty.
        language (str): the speech's language as a BCP-47 code (`en`, `zh`, `de`): what the corpus says, else the
            reader's declared language (`Corpus.language`), else empty.
        source (int | None): in a mixed source (`corpus.mixed`), the index of the source it comes from; else None.
    """

    utterance_id: str
    speaker_id: str
    path: str | None = None
    index: int | None = None
    text: str = ""
    gender: str = ""
    age: int | None = None
    accent: str = ""
    region: str = ""
    language: str = ""
    source: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Corpus:
    """A source of genuine speech: `records()` lists the utterances, `read()` gives one's audio.

    Subclasses set `kind` and `location` and implement `records()`; sources that are not files
    override `read()`. `description`, `license`, `attribution` and `citation` go into the dataset card;
    `language` (a BCP-47 code, empty when the corpus does not say) is what its records carry where they
    say nothing else.
    """

    kind: str = "corpus"
    language: str = ""
    description: str = ""
    license: str = ""
    attribution: str = ""
    citation: str = ""

    def __init__(self, location: str):
        self.location = location
        # `<path>: <reason>` of each file or folder that `records()` left out (unreadable folder, dangling
        # link, symlink loop, misplaced file): the build reports them and the card counts them.
        self.skipped: list[str] = []

    def _skip(self, what: object, reason: str) -> None:
        logger.warning("%s: skipped: %s", what, reason)
        self.skipped.append(f"{what}: {reason}")

    @property
    def spec(self) -> str:
        """The source string that reopens this corpus (`vctk:PATH`, `folder:PATH`, `hf:ID`...)."""
        return f"{self.kind}:{self.location}"

    def records(self) -> list[Record]:
        """Every utterance, sorted; their ids are unique (`check_unique_ids` refuses a duplicate)."""
        raise NotImplementedError

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        """float32 mono samples and their rate; `AudioError` for a corrupt or empty file."""
        if record.path is None:
            raise CorpusError(f"{record.utterance_id}: this record has no audio file ({self.spec}).")
        return read_audio(record.path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


def check_unique_ids(records: Iterable[Record], what: str) -> None:
    """Refuse two records with one utterance id (they would make two rows with one `<codec>+<utterance>` id,
    and the second would take the first's place in a codec's output), naming both files."""
    seen: dict[str, Record] = {}
    for record in records:
        first = seen.setdefault(record.utterance_id, record)
        if first is not record:
            where = [r.path or f"row {r.index}" for r in (first, record)]
            raise CorpusError(f"{what}: two files have the utterance id {record.utterance_id!r}: {where[0]} and "
                              f"{where[1]}. Rename or remove one of them (ids must be unique), then run again.")
