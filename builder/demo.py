"""`python -m builder demo`: a small dataset end to end, with whatever can be reached from this machine.

Preferred: official codec weights (Hub or its cache) and a small public speech set
(`hf-internal-testing/librispeech_asr_dummy`, 73 LibriSpeech utterances). Where the Hub cannot be
reached, each codec falls back to its official architecture with random weights, and the input to
the project's built-in synthetic speech-like utterances; the output and the card say so.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from huggingface_hub import HfApi, constants

from codecfake_hf import codecs
from codecfake_hf.codecs import Codec
from codecfake_hf.corpus import Corpus, CorpusError, Record, open_source
from codecfake_hf.errors import WeightsUnavailableError
from codecfake_hf.files import write_text_atomic
from codecfake_hf.schema import STATE_DIR

from .build import DEMO_SPLIT_FILE, BuildReport, build, clear_build
from .request import DEMO_CODECS, DEMO_OUT, BuildRequest

logger = logging.getLogger(__name__)

SPEECH_SET = "hf:hf-internal-testing/librispeech_asr_dummy:clean:validation"
UTTERANCES_PER_SPLIT = 4
# LibriSpeech utterances run to 20 s or more; the demo keeps their first seconds so that it stays short.
MAX_SECONDS = 4.0


def _speech_set_name() -> str:
    """`SPEECH_SET` without its `hf:` scheme: `ID:config:split`."""
    return SPEECH_SET.removeprefix("hf:")


def hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the Hub answers at all (one metadata request); False at once when HF_HUB_OFFLINE is set."""
    if constants.HF_HUB_OFFLINE:
        return False
    try:
        HfApi().dataset_info(_speech_set_name().split(":")[0], timeout=timeout)
    except Exception as error:  # connection refused, DNS failure, timeout, HTTP error: all "not reachable"
        logger.info("the Hub is not reachable (%s): using the cache only", type(error).__name__)
        return False
    return True


@contextlib.contextmanager
def offline_unless_reachable() -> Iterator[bool]:
    """Offline mode (cache only) for the demo's run when the Hub does not answer.

    Without it every file lookup would go through huggingface_hub's retries with back-off (about 30 s
    per file), which is most of the demo's time on a machine without internet.
    """
    if hub_reachable():
        yield True
        return
    saved = (os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        if saved[0] is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved[0]
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved[1], saved[2]


class ClippedCorpus(Corpus):
    """A corpus whose audio is cut to its first `seconds` (the demo's public speech set).

    Args:
        corpus (Corpus): the corpus read.
        seconds (float): the longest audio kept.
    """

    def __init__(self, corpus: Corpus, seconds: float):
        super().__init__(corpus.location)
        self.corpus, self.seconds = corpus, seconds
        self.kind = corpus.kind
        self.license, self.attribution, self.citation = corpus.license, corpus.attribution, corpus.citation
        self.description = f"{corpus.description}, each utterance cut to its first {seconds:g} s"

    def records(self) -> list[Record]:
        return self.corpus.records()

    def read(self, record: Record) -> tuple[np.ndarray, int]:
        wave, rate = self.corpus.read(record)
        return wave[: int(self.seconds * rate)], rate


@dataclass
class DemoCodecs:
    """The demo's codec factory: official weights where reachable, else random weights, remembered."""

    fallbacks: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str, device: torch.device, random_weights: bool) -> Codec:
        if not random_weights:
            try:
                return codecs.load(name, device=device)
            except WeightsUnavailableError as error:
                self.fallbacks[name] = str(error).split(". Fix:")[0]
                logger.warning("%s: official weights unreachable; using random weights", name)
        return codecs.load(name, random_weights=True, device=device)


def open_demo_input(out: Path) -> tuple[Corpus, str | None, str]:
    """The public speech set when reachable (with a split file giving each split speakers), else built-in."""
    try:
        corpus = open_source(SPEECH_SET)
    except CorpusError as error:
        logger.info("demo input: %s", error)
        return open_source("builtin:demo"), None, (
            f"Input: the project's built-in synthetic speech-like utterances (not real speech), because the public "
            f"speech set `{_speech_set_name()}` could not be reached from this machine."
        )
    speakers = sorted({r.speaker_id for r in corpus.records()})
    split_file = out / STATE_DIR / DEMO_SPLIT_FILE
    split_file.parent.mkdir(parents=True, exist_ok=True)
    # LibriSpeech speakers are not VCTK's: the first speaker to test, the second to validation (when
    # there are three or more), the others to train.
    lines = [f"{speakers[0]} test"] + ([f"{speakers[1]} validation"] if len(speakers) > 2 else []) + ["* train"]
    write_text_atomic(split_file, "\n".join(lines) + "\n")
    corpus.license = "cc-by-4.0"
    corpus.attribution = f"LibriSpeech ASR corpus (Panayotov et al., 2015), CC BY 4.0, via {_speech_set_name()}."
    return ClippedCorpus(corpus, MAX_SECONDS), str(split_file), (
        f"Input: `{_speech_set_name()}` (LibriSpeech, CC BY 4.0), first {MAX_SECONDS:g} s of each utterance.")


def run_demo(out: str | Path = DEMO_OUT, codec_names: str = DEMO_CODECS, device: str = "auto",
             progress: bool = True) -> tuple[BuildReport, list[str]]:
    """Build the demo dataset into `out` (rebuilt from scratch); returns the report and what it fell back to."""
    out = Path(out)
    # Starting over deletes only what an earlier build recorded writing there, under the folder's lock; a file,
    # a folder of someone else's files, or a folder being built right now is refused untouched.
    clear_build(out)
    factory = DemoCodecs()
    with offline_unless_reachable():
        corpus, split_file, input_note = open_demo_input(out)
        request = BuildRequest(source=corpus.spec, codecs=codec_names, out=str(out), split_file=split_file,
                               limit=UTTERANCES_PER_SPLIT, device=device, shard_size=UTTERANCES_PER_SPLIT)
        notes = [f"Built by `python -m builder demo`. {input_note}"]
        report = build(request, codec_factory=factory, corpus=corpus, progress=progress, card_notes=notes)
    fallbacks = [input_note] if split_file is None else []
    if factory.fallbacks:
        fallbacks.append("Codecs: official weights unreachable, so random weights (official architecture) for "
                         + ", ".join(factory.fallbacks) + ".")
    return report, fallbacks
