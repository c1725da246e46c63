"""Any folder of audio files: speaker from the sub-folder (or a pattern), transcript from a `.txt` beside."""

from __future__ import annotations

import re
from pathlib import Path

from .base import Corpus, CorpusError, Record

# What soundfile (libsndfile) reads, plus what FFmpeg reads through torchcodec (see audio.read_audio).
# Static on purpose: a folder of mixed files should give the same rows on every machine.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".m4a", ".aiff", ".aif")


class AudioFolder(Corpus):
    """Every audio file under a folder, sorted by path.

    Args:
        root (str | Path): the folder.
        speaker_pattern (str | None): a regular expression searched in each file's path relative to
            `root` (with `/`), whose group `speaker` (or first group) is the speaker. None: the first
            sub-folder is the speaker (`root/<speaker>/.../file.wav`); files directly in `root` get
            speaker `unknown`.
    """

    kind = "folder"

    def __init__(self, root: str | Path, speaker_pattern: str | None = None):
        super().__init__(str(Path(root).resolve()))  # resolved: a resumed build compares sources
        self.root = Path(root)
        if not self.root.is_dir():
            raise CorpusError(f"`folder:` source {str(self.root)!r}: no such folder. Pass a folder that holds the "
                              "audio files (in sub-folders per speaker, or with `speaker_pattern`).")
        try:
            self.pattern = re.compile(speaker_pattern) if speaker_pattern else None
        except re.error as error:
            raise CorpusError(f"`speaker_pattern` {speaker_pattern!r} is not a regular expression: {error}") from None
        self.description = f"audio files of {self.root.name}/"

    def records(self) -> list[Record]:
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
        if not files:
            raise CorpusError(f"`folder:` source {str(self.root)!r}: no audio files "
                              f"({', '.join(AUDIO_EXTENSIONS)}) found in it or below it.")
        stems = [p.stem for p in files]
        unique = len(set(stems)) == len(stems)
        records = []
        for path in files:
            relative = path.relative_to(self.root).as_posix()
            # File names are the ids when they are unique (as in VCTK); else the relative path is.
            utt = path.stem if unique else relative.rsplit(".", 1)[0].replace("/", "_")
            text_file = path.with_suffix(".txt")
            records.append(Record(
                utterance_id=utt,
                speaker_id=self._speaker(relative),
                path=str(path),
                text=text_file.read_text(encoding="utf-8", errors="replace").strip() if text_file.is_file() else "",
            ))
        return records

    def _speaker(self, relative: str) -> str:
        if self.pattern is not None:
            match = self.pattern.search(relative)
            if match is None:
                raise CorpusError(f"`speaker_pattern` {self.pattern.pattern!r} does not match {relative!r}; "
                                  "give a pattern that matches every file (group `speaker` is the speaker).")
            return match.groupdict().get("speaker") or (match.group(1) if match.groups() else match.group(0))
        return relative.split("/", 1)[0] if "/" in relative else "unknown"
