"""What a build does differently for a streamed source (`codecfake_hf.corpus.StreamedHubDataset`).

A stream has no random access: each shard that reads the source (the genuine shards, and under the `paper`
recipe the codecs fed the source as read) first streams its records' encoded audio into memory
(`StreamedHubDataset.fetched`), one shard at a time, and frees it once the shard is written. Only rank 0 lists
the records (the metadata pass); the other ranks take from it where each unit of the stream starts.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from codecfake_hf.corpus import Corpus, Record, StreamedHubDataset
from codecfake_hf.recipe import from_source

if TYPE_CHECKING:
    from codecfake_hf.codecs import Codec
    from codecfake_hf.distributed import Ranks


def share_layout(corpus: Corpus | None, ranks: Ranks) -> None:
    """Give every rank rank 0's layout of a streamed source (a collective: every rank calls it)."""
    if isinstance(corpus, StreamedHubDataset):
        corpus.adopt_layout(ranks.broadcast(corpus.layout()))


def source_window(corpus: Corpus | None, records: list[Record], codec: Codec | None, recipe: str,
                  genuine_sample_rate: int | None) -> contextlib.AbstractContextManager:
    """The context a shard of `records` is written in: for a streamed source, with the audio it reads from the
    source held in memory; else nothing (the corpus reads its files itself).

    Args:
        corpus (Corpus | None): the build's source.
        records (list[Record]): the shard's records.
        codec (Codec | None): the shard's codec; None for a genuine shard.
        recipe (str): the plan's recipe (a codec fed the source as read needs the source's audio).
        genuine_sample_rate (int | None): the genuine rows' rate.
    """
    if not isinstance(corpus, StreamedHubDataset):
        return contextlib.nullcontext()
    if codec is not None and not from_source(recipe, codec.sample_rate, genuine_sample_rate):
        return contextlib.nullcontext()  # fed the genuine shard's rows: no source audio needed
    return corpus.fetched(records)
