"""AISHELL-3 (Mandarin): utterances, character transcripts and speaker metadata of a local copy.

Provenance: AISHELL-3, a multi-speaker Mandarin corpus by Beijing Shell Shell Technology Co., Ltd. (OpenSLR 93,
https://www.openslr.org/93/): about 85 hours from 218 native speakers of Mandarin, 88,035 utterances, mono 16-bit
WAV at 44.1 kHz. The archive `data_aishell3.tgz` unpacks to

    spk-info.txt                          `#` comment lines, then `<SPK>\t<age group>\t<gender>\t<accent>`
    train/content.txt, test/content.txt   `<SPK><NNNN>.wav\t<hanzi> <pinyin> <hanzi> <pinyin> ...`
    train/wav/<SPK>/<SPK><NNNN>.wav, test/wav/<SPK>/<SPK><NNNN>.wav

with speaker ids such as `SSB0005` and utterance ids such as `SSB00050001`. Age is given as a group (A: under 14,
B: 14-25, C: 26-40, D: over 40), not in years; the rows' `age` column holds years, so it stays empty and the group
is not carried. Gender is `female`/`male` (stored as `F`/`M`, VCTK's spelling), accent `north`/`south`/`others`.
The corpus's own train/test division is not kept: our splits are made by speaker, as for any source.
This module only reads a local copy.

License: Apache License 2.0 (as OpenSLR 93 states).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .base import Corpus, CorpusError, Record, check_unique_ids

logger = logging.getLogger(__name__)

URL = "https://www.openslr.org/93/"
LICENSE = "apache-2.0"
ATTRIBUTION = ("AISHELL-3, Beijing Shell Shell Technology Co., Ltd. (OpenSLR 93, https://www.openslr.org/93/), "
               "licensed under the Apache License 2.0.")
CITATION = """@inproceedings{shi2021aishell3,
  author    = {Shi, Yao and Bu, Hui and Xu, Xin and Zhang, Shaoji and Li, Ming},
  title     = {{AISHELL-3}: A Multi-Speaker Mandarin {TTS} Corpus},
  booktitle = {Proc. Interspeech 2021},
  pages     = {2756--2760},
  year      = {2021},
  doi       = {10.21437/Interspeech.2021-755}
}"""
SUBSETS = ("train", "test")  # the corpus's own folders, both read
FILE_NAME = re.compile(r"^(?P<utt>(?P<speaker>[A-Z]+\d{4})\d{4})\.wav$")
GENDERS = {"female": "F", "male": "M"}


def parse_speaker_info(path: Path) -> dict[str, dict]:
    """`spk-info.txt` -> {speaker: {gender, accent}}; comment lines (`#`) and short lines skipped."""
    if not path.is_file():
        logger.info("%s: not found; rows get no speaker metadata", path)
        return {}
    speakers: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if not fields or line.lstrip().startswith("#") or len(fields) < 4:
            continue
        speaker, _age_group, gender, accent = fields[:4]
        speakers[speaker] = {"gender": GENDERS.get(gender.lower(), gender), "accent": accent}
    return speakers


def parse_content(path: Path) -> dict[str, str]:
    """`content.txt` -> {utterance id: the hanzi transcript}: each line is the file name, a tab, then hanzi and
    pinyin tokens in turn (`广 guang3 州 zhou1`); the characters are joined without spaces, as Chinese is written."""
    if not path.is_file():
        logger.info("%s: not found; its utterances get no transcript", path)
        return {}
    texts = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, tokens = line.partition("\t")
        match = FILE_NAME.match(name.strip())
        if match is None:
            continue
        texts[match["utt"]] = "".join(tokens.split()[0::2])
    return texts


class AISHELL3(Corpus):
    """A local copy of AISHELL-3 (the folder holding `train/`, `test/` and `spk-info.txt`).

    Args:
        root (str | Path): the corpus folder (`data_aishell3/` once unpacked).
    """

    kind = "aishell3"
    language = "zh"  # Mandarin Chinese
    license = LICENSE
    attribution = ATTRIBUTION
    citation = CITATION
    description = "AISHELL-3 (Mandarin)"

    def __init__(self, root: str | Path):
        super().__init__(str(Path(root).resolve()))  # resolved: a resumed build compares sources
        self.root = Path(root)
        if not self.root.is_dir():
            raise CorpusError(f"`aishell3:` source {str(self.root)!r}: no such folder. Pass the folder that holds "
                              f"`train/wav/` and `test/wav/` (AISHELL-3 unpacked; download: {URL}).")
        self.subsets = [name for name in SUBSETS if (self.root / name / "wav").is_dir()]
        if not self.subsets:
            found = sorted(p.name for p in self.root.iterdir())[:8]
            raise CorpusError(f"`aishell3:` source {str(self.root)!r} is not an AISHELL-3 folder: expected "
                              f"`train/wav/<SPK>/` or `test/wav/<SPK>/` inside it, with `content.txt` beside `wav/`; "
                              f"found {found or 'nothing'}. For any other folder of audio files use `folder:PATH`.")

    def records(self) -> list[Record]:
        self.skipped = []
        speakers = parse_speaker_info(self.root / "spk-info.txt")
        records = []
        for subset in self.subsets:
            texts = parse_content(self.root / subset / "content.txt")
            for speaker_dir in sorted(p for p in (self.root / subset / "wav").iterdir() if p.is_dir()):
                try:
                    files = sorted(speaker_dir.iterdir())
                except OSError as error:
                    self._skip(speaker_dir, f"folder not readable ({error.strerror}); speaker left out")
                    continue
                for path in files:
                    match = FILE_NAME.match(path.name)
                    if match is None:
                        logger.debug("%s: skipped, not an AISHELL-3 audio file name", path)
                        continue
                    if match["speaker"] != speaker_dir.name:  # the file name names its speaker
                        self._skip(path, f"misplaced: a file of speaker {match['speaker']} in {speaker_dir.name}/")
                        continue
                    if not path.exists():
                        self._skip(path, "dangling link")
                        continue
                    records.append(Record(utterance_id=match["utt"], speaker_id=speaker_dir.name, path=str(path),
                                          text=texts.get(match["utt"], ""), language=self.language,
                                          **speakers.get(speaker_dir.name, {})))
        if not records:
            raise CorpusError(f"`aishell3:` source {str(self.root)!r}: no audio files `<SPK><NNNN>.wav` found under "
                              f"{', '.join(f'{s}/wav/' for s in self.subsets)}.")
        records.sort(key=lambda r: r.utterance_id)
        check_unique_ids(records, f"`aishell3:` source {str(self.root)!r}")
        return records
