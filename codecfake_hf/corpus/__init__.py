"""Sources of genuine speech: VCTK (0.80 and 0.92 layouts), AISHELL-3, any folder of audio, any Hub audio dataset,
or several of them at once (`vctk:PATH,aishell3:PATH`).

    >>> from codecfake_hf.corpus import open_source
    >>> corpus = open_source("vctk:/data/VCTK-Corpus-0.92")
    >>> records = corpus.records()             # sorted Record(utterance_id, speaker_id, text, ...)
    >>> wave, rate = corpus.read(records[0])   # float32 mono

Readers only read: none of them touches the network except `hf:`, through `datasets` itself.
"""

from __future__ import annotations

from pathlib import Path

from .aishell3 import AISHELL3
from .base import Corpus, CorpusError, Record, check_unique_ids
from .folder import AudioFolder
from .hfdataset import HubDataset
from .hfstream import StreamedHubDataset
from .mixed import MixedSources, split_sources
from .synthetic import SyntheticSpeech
from .vctk import VCTK

__all__ = [
    "AISHELL3", "VCTK", "AudioFolder", "Corpus", "CorpusError", "HubDataset", "MixedSources", "Record",
    "StreamedHubDataset", "SyntheticSpeech", "check_unique_ids", "open_source",
]

SCHEMES = ("vctk", "folder", "hf", "builtin", "aishell3")


def open_source(
    source: str,
    *,
    mic: str = "mic1",
    speaker_pattern: str | None = None,
    audio_column: str | None = None,
    speaker_column: str | None = None,
    streaming: bool = False,
) -> Corpus:
    """Open a corpus from its source string.

    Args:
        source (str): `vctk:PATH` (either VCTK layout), `aishell3:PATH` (AISHELL-3, Mandarin), `folder:PATH` (any
            folder of audio files), `hf:ID[:config][:split]` (a Hub dataset, or a local folder `datasets` loads),
            `builtin:demo` (synthetic speech-like utterances), or a bare PATH (VCTK when it has VCTK's layout, else
            a folder); several of these joined by commas (`vctk:A,aishell3:B`) are read as one mixed source.
        mic (str): VCTK 0.92 microphone, `mic1` or `mic2`.
        speaker_pattern (str | None): `folder:` only; regex whose group `speaker` names the speaker.
        audio_column (str | None): `hf:` only; the audio column (None: the first `Audio` column).
        speaker_column (str | None): `hf:` only; the speaker column (None: found by its usual names).
        streaming (bool): `hf:` only; read the dataset as a stream (`StreamedHubDataset`: nothing stored on disk)
            rather than loading it whole (`HubDataset`: `datasets` converts it to Arrow files in its cache). A mixed
            source loads its `hf:` parts whole.
    """
    parts = split_sources(str(source), SCHEMES)
    if len(parts) > 1:  # its `hf:` parts are loaded whole: a shard's streamed window is read for one source only
        return MixedSources([open_source(part, mic=mic, speaker_pattern=speaker_pattern, audio_column=audio_column,
                                         speaker_column=speaker_column) for part in parts])
    scheme, sep, rest = str(source).partition(":")
    if not sep or scheme not in SCHEMES:
        path = Path(source)
        if not path.exists():
            raise CorpusError(f"`source` {source!r}: no such folder, and not one of "
                              f"{', '.join(s + ':' for s in SCHEMES)} (e.g. `vctk:PATH`, `hf:ORG/NAME`; several "
                              "joined by commas).")
        try:
            return VCTK(path, mic=mic)
        except CorpusError:
            return AudioFolder(path, speaker_pattern)
    if not rest:
        raise CorpusError(f"`source` {source!r}: nothing after `{scheme}:`; add the path or id it names, "
                          "e.g. `vctk:/data/VCTK-Corpus-0.92` or `hf:ORG/NAME`.")
    if scheme == "vctk":
        return VCTK(rest, mic=mic)
    if scheme == "aishell3":
        return AISHELL3(rest)
    if scheme == "folder":
        return AudioFolder(rest, speaker_pattern)
    if scheme == "builtin":
        if rest != "demo":
            raise CorpusError(f"`source` {source!r}: the only built-in source is `builtin:demo`.")
        return SyntheticSpeech()
    dataset_id, _, tail = rest.partition(":")
    config, _, split = tail.partition(":")
    reader = StreamedHubDataset if streaming else HubDataset
    return reader(dataset_id, config or None, split or None, audio_column, speaker_column)
