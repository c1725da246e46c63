"""The CSTR VCTK corpus, in its 0.80 and 0.92 layouts: utterances, transcripts and speaker metadata.

Provenance: CSTR VCTK Corpus: English Multi-speaker Corpus for CSTR Voice Cloning Toolkit, Centre for
Speech Technology Research (CSTR), University of Edinburgh; 110 speakers of English with various
accents, about 400 sentences each, recorded at 48 kHz. Version 0.92 (2019) ships
`wav48_silence_trimmed/pXXX/pXXX_NNN_mic{1,2}.flac` (two microphones, leading and trailing silence
trimmed); version 0.80 ships `wav48/pXXX/pXXX_NNN.wav`. Both have `txt/pXXX/pXXX_NNN.txt` and
`speaker-info.txt`. Download: https://datashare.ed.ac.uk/handle/10283/3443 (0.92),
https://datashare.ed.ac.uk/handle/10283/2651 (0.80). This module only reads a local copy.

License: Creative Commons Attribution 4.0 International (CC BY 4.0).

Known defects, handled here: p315 has no transcripts (its rows keep an empty `text`); p280 has no
mic2 recordings in 0.92 (asking for mic2 skips p280, logged); 0.80's `speaker-info.txt` writes IDs
without the `p` (`225`) and 0.92 with it (`p225`), and 0.92 adds a COMMENTS column in parentheses;
0.92 has speaker `s5`, whose files are named `s5_NNN`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from .base import Corpus, CorpusError, Record, check_unique_ids

logger = logging.getLogger(__name__)

URL_092 = "https://datashare.ed.ac.uk/handle/10283/3443"
URL_080 = "https://datashare.ed.ac.uk/handle/10283/2651"
LICENSE = "cc-by-4.0"
ATTRIBUTION = (
    "CSTR VCTK Corpus (version 0.92/0.80), Centre for Speech Technology Research (CSTR), University of "
    "Edinburgh, licensed under Creative Commons Attribution 4.0 International (CC BY 4.0)."
)
CITATION = """@misc{yamagishi2019vctk,
  author    = {Yamagishi, Junichi and Veaux, Christophe and MacDonald, Kirsten},
  title     = {{CSTR VCTK Corpus}: English Multi-speaker Corpus for {CSTR} Voice Cloning Toolkit (version 0.92)},
  publisher = {University of Edinburgh. The Centre for Speech Technology Research (CSTR)},
  year      = {2019},
  doi       = {10.7488/ds/2645}
}"""

LAYOUTS = {
    # layout name -> (audio folder, file name pattern capturing the utterance id and the mic)
    "0.92": ("wav48_silence_trimmed", re.compile(r"^(?P<utt>[a-z]+\d+_\d+)_(?P<mic>mic[12])\.flac$")),
    "0.80": ("wav48", re.compile(r"^(?P<utt>[a-z]+\d+_\d+)\.wav$")),
}
MICS = ("mic1", "mic2")


def detect_layout(root: Path) -> str:
    """`0.92` or `0.80`, from the audio folder present in `root`; CorpusError naming what was expected."""
    if not root.is_dir():
        raise CorpusError(f"`vctk:` source {str(root)!r}: no such folder. Pass the folder that holds "
                          "`wav48_silence_trimmed/` (VCTK 0.92) or `wav48/` (VCTK 0.80); VCTK is downloaded from "
                          f"{URL_092} (0.92) or {URL_080} (0.80).")
    for layout, (folder, _) in LAYOUTS.items():
        if (root / folder).is_dir():
            return layout
    found = sorted(p.name for p in root.iterdir())[:8]
    raise CorpusError(
        f"`vctk:` source {str(root)!r} is not a VCTK folder: expected `wav48_silence_trimmed/` (VCTK 0.92) or "
        f"`wav48/` (VCTK 0.80) inside it, with `txt/` and `speaker-info.txt`; found {found or 'nothing'}. "
        "For any other folder of audio files use `folder:PATH`."
    )


def parse_speaker_info(path: Path) -> dict[str, dict]:
    """`speaker-info.txt` -> {speaker_id: {gender, age, accent, region}}; IDs get their `p` back (0.80)."""
    if not path.is_file():
        logger.info("%s: not found; rows get no speaker metadata", path)
        return {}
    speakers: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
        line = re.sub(r"\(.*?\)", "", line).strip()  # 0.92's COMMENTS column, e.g. "(mic2 files unavailable)"
        parts = line.split()
        if len(parts) < 3:
            continue
        speaker = parts[0] if not parts[0].isdigit() else f"p{parts[0]}"
        age = _age(parts[1])
        if age is None:
            logger.warning("%s: speaker %s: age %r is not a number of years; left empty", path, speaker, parts[1])
        speakers[speaker] = {
            "age": age,
            "gender": parts[2],
            "accent": parts[3] if len(parts) > 3 else "",
            "region": " ".join(parts[4:]),
        }
    return speakers


def _age(text: str) -> int | None:
    """An age in years (0-150), else None: `isdigit()` accepts `²` and `٢٣`, which `int` refuses or misreads,
    and an age beyond int32 would stop the Parquet writer."""
    return int(text) if re.fullmatch(r"[0-9]{1,3}", text) and int(text) <= 150 else None


class VCTK(Corpus):
    """A local copy of VCTK, either layout (found from the folders present).

    Args:
        root (str | Path): the corpus folder (holding `wav48_silence_trimmed/` or `wav48/`).
        mic (str): `mic1` (default) or `mic2`; used by the 0.92 layout only (0.80 has one microphone).
    """

    kind = "vctk"
    language = "en"  # "English Multi-speaker Corpus"
    license = LICENSE
    attribution = ATTRIBUTION
    citation = CITATION

    def __init__(self, root: str | Path, mic: str = "mic1"):
        super().__init__(str(Path(root).resolve()))  # resolved: a resumed build compares sources
        if mic not in MICS:
            raise CorpusError(f"`mic` must be one of {', '.join(MICS)}, got {mic!r}.")
        self.root = Path(root)
        self.layout = detect_layout(self.root)
        self.mic = mic
        self.description = f"VCTK {self.layout}" + (f" ({mic})" if self.layout == "0.92" else "")
        logger.info("%s: VCTK %s layout", self.root, self.layout)

    def records(self) -> list[Record]:
        self.skipped = []
        folder, pattern = LAYOUTS[self.layout]
        speakers = parse_speaker_info(self.root / "speaker-info.txt")
        records = []
        for speaker_dir in self._speaker_dirs(self.root / folder):
            try:
                files = sorted(speaker_dir.iterdir())
            except OSError as error:
                self._skip(speaker_dir, f"folder not readable ({error.strerror}); speaker left out")
                continue
            kept = 0
            for path in files:
                match = pattern.match(path.name)
                if match is None:
                    logger.debug("%s: skipped, not a VCTK audio file name", path)
                    continue
                if match.groupdict().get("mic", self.mic) != self.mic:
                    continue
                utt = match["utt"]
                if not utt.startswith(speaker_dir.name + "_"):
                    # A VCTK file name names its speaker: a copy in another speaker's folder would give one
                    # utterance two speakers (and two splits).
                    self._skip(path, f"misplaced: a file of speaker {utt.split('_')[0]} in {speaker_dir.name}/")
                    continue
                if not path.exists():
                    self._skip(path, f"dangling link (it points to {os.readlink(path)!r}, which does not exist)")
                    continue
                records.append(Record(
                    utterance_id=utt,
                    speaker_id=speaker_dir.name,
                    path=str(path),
                    text=self._transcript(speaker_dir.name, utt),
                    language=self.language,
                    **speakers.get(speaker_dir.name, {}),
                ))
                kept += 1
            if not kept:
                logger.info("%s: no %s recordings; speaker skipped (p280 has no mic2 in VCTK 0.92)",
                            speaker_dir, self.mic)
        if not records:
            raise CorpusError(f"`vctk:` source {str(self.root)!r}: no audio files found under {folder}/.")
        check_unique_ids(records, f"`vctk:` source {str(self.root)!r}")
        return records

    def _speaker_dirs(self, audio: Path) -> list[Path]:
        """The speaker folders (symlinked ones followed); dangling links reported."""
        dirs = []
        for path in sorted(audio.iterdir()):
            if path.is_dir():
                dirs.append(path)
            elif path.is_symlink() and not path.exists():
                self._skip(path, f"dangling link (it points to {os.readlink(path)!r}); speaker left out")
        return dirs

    def _transcript(self, speaker: str, utt: str) -> str:
        path = self.root / "txt" / speaker / f"{utt}.txt"
        if not path.is_file():  # p315 has no transcripts at all; a few others miss single files
            logger.debug("%s: no transcript; text left empty", path)
            return ""
        return path.read_text(encoding="utf-8", errors="replace").strip()
