"""Several sources read as one: `--source vctk:/data/VCTK,aishell3:/data/data_aishell3` (a mixed-language build).

Each record keeps the index of the source it came from (`Record.source`), so reading one goes to that source, on
any rank, from the plan alone. Utterance ids must be unique across the sources (they are row ids); a speaker id
found in two sources is refused, since two people would become one speaker (and the splits, made by speaker,
could no longer keep them apart).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from .base import Corpus, CorpusError, Record, check_unique_ids

# Sources are separated by a comma followed by the next source's scheme (`,hf:`, `,vctk:`), so that a comma inside
# a path or a Hub id stays part of it.
SEPARATOR = r",(?=(?:{schemes}):)"


def split_sources(source: str, schemes: tuple[str, ...]) -> list[str]:
    """`"vctk:A,aishell3:B"` -> `["vctk:A", "aishell3:B"]`; a source without such a comma is one source."""
    pattern = SEPARATOR.format(schemes="|".join(map(re.escape, schemes)))
    return [part for part in re.split(pattern, source)]


class MixedSources(Corpus):
    """The records of several corpora, each read by its own reader.

    Args:
        corpora (list[Corpus]): the sources, in the order given (at least two).
    """

    kind = "mixed"

    def __init__(self, corpora: list[Corpus]):
        if len(corpora) < 2:
            raise CorpusError("a mixed source needs at least two sources, e.g. `vctk:PATH,aishell3:PATH`.")
        self.corpora = list(corpora)
        super().__init__(",".join(corpus.spec for corpus in self.corpora))
        self.description = " + ".join(corpus.description or corpus.spec for corpus in self.corpora)
        licences = {corpus.license or "unknown" for corpus in self.corpora}
        # One licence when every source has it; else none is claimed for the whole (the card says `unknown` and how
        # to state one), while each source's attribution below names its own.
        self.license = licences.pop() if len(licences) == 1 else ""
        self.attribution = " ".join(corpus.attribution for corpus in self.corpora if corpus.attribution)
        self.citation = "\n\n".join(corpus.citation for corpus in self.corpora if corpus.citation)

    @property
    def spec(self) -> str:
        return self.location

    def records(self) -> list[Record]:
        self.skipped = []
        records, owner = [], {}
        for index, corpus in enumerate(self.corpora):
            own = corpus.records()
            self.skipped += corpus.skipped
            for record in own:
                first = owner.setdefault(record.speaker_id, index)
                if first != index:
                    raise CorpusError(
                        f"speaker {record.speaker_id!r} is in two sources of the mixed source, "
                        f"{self.corpora[first].spec} and {corpus.spec}; speaker ids must differ between sources "
                        "(splits are made by speaker). Build them apart, or give one source other speaker ids.")
            records += [replace(record, source=index) for record in own]
        check_unique_ids(records, f"the mixed source {self.spec}")
        return records

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        if record.source is None or not 0 <= record.source < len(self.corpora):
            raise CorpusError(f"{record.utterance_id}: the record names no source of {self.spec} "
                              f"(source {record.source!r}).")
        return self.corpora[record.source].read(record)
