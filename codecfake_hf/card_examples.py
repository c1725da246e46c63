"""What a dataset card lets a reader hear and see: two utterances, genuine and through every codec.

`write_examples(folder, parts)` copies those rows' audio out of the Parquet shards into the dataset folder's
`examples/<utterance>/<part>.flac` (the stored FLAC bytes, unchanged), draws their spectrograms in one grid
(`examples/spectrograms.png`: a row per part, a column per utterance, each at its file's own rate) and returns
what the card links to. The folder is pushed with the dataset, so the card's links and image resolve in the
Hub repo; `load_dataset` never reads it (the card's configs name only `data/`). Every file goes through
`files.atomic_path`; files of an earlier card that this one no longer links are removed. Shards already
uploaded and gone from the folder (`builder build --push_to`) are read through a `fetch` function: then only the
first such shard of each part in the split is read, so a card costs one shard's download per part.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .files import atomic_path
from .schema import CLEAN, DATA_DIR, GENUINE, condition_of
from .splits import split_sort_key

logger = logging.getLogger(__name__)

EXAMPLES_DIR = "examples"  # in the dataset folder (and repo): the card's audio and spectrogram grid
GRID_FILE = "spectrograms.png"
UTTERANCES = 2


@dataclass
class CardExamples:
    """The examples a card shows.

    Args:
        split (str): the split the utterances come from.
        utterances (list[str]): their utterance ids.
        audio (dict[str, dict[str, str]]): part -> utterance -> the audio file, relative to the dataset folder.
        grid (str): the spectrogram grid, relative to the dataset folder.
    """

    split: str
    utterances: list[str]
    audio: dict[str, dict[str, str]] = field(default_factory=dict)
    grid: str = f"{EXAMPLES_DIR}/{GRID_FILE}"


class _Shards:
    """The shards of a folder's parts, local or uploaded (`remote`: paths no longer on disk, read through `fetch`,
    the first of each part and split only)."""

    def __init__(self, folder: Path, remote: Iterable[Path] = (), fetch: Callable[[Path], Path] | None = None):
        self.folder, self.fetch = folder, fetch
        self.remote = {Path(p) for p in remote} if fetch is not None else set()
        self.fetched: dict[Path, Path] = {}

    def splits(self) -> list[str]:
        names = {p.name for p in (self.folder / DATA_DIR / GENUINE).glob("*.parquet")}
        names |= {p.name for p in self.remote if p.parent.name == GENUINE}
        return sorted({name.split("-", 1)[0] for name in names}, key=lambda s: (s != "test", split_sort_key(s)))

    def of(self, part: str, split: str) -> list[Path]:
        local = sorted((self.folder / DATA_DIR / part).glob(f"{split}-*.parquet"))
        remote = sorted(p for p in self.remote if p.parent == self.folder / DATA_DIR / part
                        and p.name.startswith(f"{split}-") and p.suffix == ".parquet")
        return local + [self._local(p) for p in remote[:1]]

    def _local(self, path: Path) -> Path:
        if path not in self.fetched:
            self.fetched[path] = self.fetch(path)
        return self.fetched[path]


def pick_utterances(shards: _Shards, parts: Sequence[str], count: int = UTTERANCES) -> tuple[str, list[str]] | None:
    """(split, utterance ids): `count` genuine utterances of the test split (else the first split with genuine
    rows) that the most codec parts hold, the first of those by id; None without genuine rows."""
    splits = shards.splits()
    if not splits:
        return None
    split = splits[0]
    held: dict[str, int] = {}
    for part in parts:
        for path in shards.of(part, split):
            for utterance in pq.read_table(path, columns=["utterance_id"]).column(0).to_pylist():
                held[utterance] = held.get(utterance, 0) + 1
    genuine = {u for path in shards.of(GENUINE, split)
               for u in pq.read_table(path, columns=["utterance_id"]).column(0).to_pylist()}
    chosen = sorted(genuine, key=lambda u: (-held.get(u, 0), u))[:count]
    return (split, sorted(chosen)) if chosen else None


def _rows(shards: _Shards, part: str, split: str, utterances: Sequence[str]) -> dict[str, dict]:
    """utterance -> its row's stored audio ({"bytes", "path"}) in `part`."""
    found = {}
    for path in shards.of(part, split):
        table = pq.read_table(path, columns=["utterance_id", "audio"],
                              filters=[("utterance_id", "in", list(utterances))])
        for utterance, audio in zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True):
            found[utterance] = audio
    return found


def write_examples(folder: str | Path, parts: Sequence[str], *, remote: Iterable[Path] = (),
                   fetch: Callable[[Path], Path] | None = None) -> CardExamples | None:
    """Write the examples of `folder` (parts: genuine first, then the codecs) and return them; None where the
    folder has no genuine rows to pick from (then `examples/` is left as it was). Parts under a channel condition
    (`<codec>@<condition>`) are left out: one grid row per codec, however many conditions a build adds.

    Args:
        folder (str | Path): the dataset folder.
        parts (Sequence[str]): the parts the card shows.
        remote (Iterable[Path]): shards uploaded and gone from the folder (their paths in it).
        fetch (Callable[[Path], Path] | None): a remote shard's path -> a local copy of it.
    """
    folder = Path(folder)
    parts = [part for part in parts if condition_of(part) == CLEAN]
    shards = _Shards(folder, remote, fetch)
    picked = pick_utterances(shards, parts)
    if picked is None:
        return None
    split, utterances = picked
    examples = CardExamples(split=split, utterances=utterances)
    waves: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
    import soundfile as sf

    for part in parts:
        for utterance, audio in _rows(shards, part, split, utterances).items():
            if not audio or not audio.get("bytes"):
                continue
            suffix = Path(audio.get("path") or "x.flac").suffix or ".flac"
            relative = f"{EXAMPLES_DIR}/{utterance}/{part}{suffix}"
            with atomic_path(folder / relative) as tmp:
                tmp.write_bytes(audio["bytes"])
            examples.audio.setdefault(part, {})[utterance] = relative
            wave, rate = sf.read(io.BytesIO(audio["bytes"]), dtype="float32", always_2d=True)
            waves[part, utterance] = wave.mean(axis=1), rate
    _draw_grid(folder / examples.grid, parts, utterances, waves)
    written = {folder / path for files in examples.audio.values() for path in files.values()} | {folder / examples.grid}
    for stale in (folder / EXAMPLES_DIR).rglob("*"):
        if stale.is_file() and stale not in written:
            stale.unlink()
    for empty in sorted((p for p in (folder / EXAMPLES_DIR).rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(empty.iterdir()):
            empty.rmdir()
    logger.info("wrote %d example clips and %s", len(written) - 1, examples.grid)
    return examples


def _draw_grid(path: Path, parts: Sequence[str], utterances: Sequence[str],
               waves: dict[tuple[str, str], tuple[np.ndarray, int]]) -> None:
    """One spectrogram per part (row) and utterance (column), each at its own rate, dB over a common range."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(parts), len(utterances), figsize=(5 * len(utterances), 1.7 * len(parts)),
                                squeeze=False)
    try:
        for row, part in enumerate(parts):
            for column, utterance in enumerate(utterances):
                axis = axes[row][column]
                axis.set_title(f"{part} · {utterance}", loc="left", fontsize=8)
                axis.tick_params(labelsize=7)
                if (part, utterance) not in waves:
                    axis.text(0.5, 0.5, "not in this part", ha="center", va="center", transform=axis.transAxes)
                    axis.set_xticks([])
                    axis.set_yticks([])
                    continue
                wave, rate = waves[part, utterance]
                with np.errstate(divide="ignore"):  # digital silence is -inf dB: below vmin, drawn as the floor
                    axis.specgram(wave, NFFT=512, Fs=rate, noverlap=384, cmap="magma", scale="dB", vmin=-130,
                                  vmax=-20)
                axis.set_ylim(0, rate / 2)  # each file up to its own Nyquist frequency
                axis.set_yticks([0, rate / 4, rate / 2], ["0", f"{rate / 4000:g}k", f"{rate / 2000:g}k"])
                if row == len(parts) - 1:
                    axis.set_xlabel("time (s)", fontsize=8)
        figure.tight_layout()
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(figure)
