"""Any folder of audio files: speaker from the sub-folder (or a pattern), transcript from a `.txt` beside."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import regex  # `timeout=`: a user's pattern cannot hang the build (the stdlib `re` has no time limit)

from .base import Corpus, CorpusError, Record, check_unique_ids

# What soundfile (libsndfile) reads, plus what FFmpeg reads through torchcodec (see audio.read_audio).
# Static on purpose: a folder of mixed files should give the same rows on every machine.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".m4a", ".aiff", ".aif")
# Time limit of `speaker_pattern` on one path: a catastrophic-backtracking pattern fails instead of hanging.
PATTERN_SECONDS = 1.0


class AudioFolder(Corpus):
    """Every audio file under a folder, sorted by path.

    Symlinked folders and files are followed (a symlink loop is cut and reported); a folder that
    cannot be read and a dangling link are reported too (`skipped`), never dropped without a word.

    Args:
        root (str | Path): the folder.
        speaker_pattern (str | None): a regular expression searched in each file's path relative to
            `root` (with `/`), whose group `speaker` (or first group) is the speaker; it runs with a
            time limit of `PATTERN_SECONDS` per path (a pattern that backtracks without end is refused).
            None: the first sub-folder is the speaker (`root/<speaker>/.../file.wav`); files directly in
            `root` get speaker `unknown`.
    """

    kind = "folder"

    def __init__(self, root: str | Path, speaker_pattern: str | None = None):
        super().__init__(str(Path(root).resolve()))  # resolved: a resumed build compares sources
        self.root = Path(root)
        if not self.root.is_dir():
            raise CorpusError(f"`folder:` source {str(self.root)!r}: no such folder. Pass a folder that holds the "
                              "audio files (in sub-folders per speaker, or with `speaker_pattern`).")
        try:
            self.pattern = regex.compile(speaker_pattern) if speaker_pattern else None
        except regex.error as error:
            raise CorpusError(f"`speaker_pattern` {speaker_pattern!r} is not a regular expression: {error}") from None
        self.description = f"audio files of {self.root.name}/"

    def records(self) -> list[Record]:
        self.skipped = []
        files = self._audio_files()
        if not files:
            raise CorpusError(f"`folder:` source {str(self.root)!r}: no audio files "
                              f"({', '.join(AUDIO_EXTENSIONS)}) found in it or below it"
                              + (f" ({len(self.skipped)} skipped: {self.skipped[0]})" if self.skipped else "") + ".")
        relatives = [path.relative_to(self.root).as_posix() for path in files]
        ids = _utterance_ids(relatives)
        records = []
        for path, relative, utt in zip(files, relatives, ids, strict=True):
            text_file = path.with_suffix(".txt")
            records.append(Record(
                utterance_id=utt,
                speaker_id=self._speaker(relative),
                path=str(path),
                text=text_file.read_text(encoding="utf-8", errors="replace").strip() if text_file.is_file() else "",
            ))
        check_unique_ids(records, f"`folder:` source {str(self.root)!r}")
        return records

    def _audio_files(self) -> list[Path]:
        """Audio files under `root`, following symlinks; loops, dangling links and unreadable folders reported."""
        files = []
        visited = set()

        def unreadable(error: OSError) -> None:
            self._skip(error.filename, f"folder not readable ({error.strerror}); its files are left out")

        for folder, subfolders, names in os.walk(self.root, onerror=unreadable, followlinks=True):
            real = os.path.realpath(folder)
            if real in visited:  # a symlink back to a folder already walked
                self._skip(folder, f"symlink loop (it leads back to {real}); not walked twice")
                subfolders[:] = []
                continue
            visited.add(real)
            subfolders.sort()
            for name in sorted(names + [d for d in subfolders if not os.path.exists(os.path.join(folder, d))]):
                path = Path(folder) / name
                if _not_utf8(os.path.relpath(path, self.root)):
                    # Its id would be a row id, which Arrow and the Hub hold as UTF-8: renaming is the fix.
                    self._skip(os.fsencode(path), "its name is not UTF-8 text; rename it")
                elif not path.exists():
                    self._skip(path, f"dangling link (it points to {os.readlink(path)!r}, which does not exist)")
                elif path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                    if not os.access(path, os.R_OK):
                        self._skip(path, "file not readable (permissions)")
                        continue
                    files.append(path)
        return sorted(files)

    def _speaker(self, relative: str) -> str:
        if self.pattern is not None:
            try:
                match = self.pattern.search(relative, timeout=PATTERN_SECONDS)
            except TimeoutError:
                raise CorpusError(f"`speaker_pattern` {self.pattern.pattern!r} took over {PATTERN_SECONDS:g} s on "
                                  f"{relative!r} (it backtracks without end); simplify it, e.g. "
                                  "`^(?P<speaker>[^/]+)/`.") from None
            if match is None:
                raise CorpusError(f"`speaker_pattern` {self.pattern.pattern!r} does not match {relative!r}; "
                                  "give a pattern that matches every file (group `speaker` is the speaker).")
            speaker = match.groupdict().get("speaker") or (match.group(1) if match.groups() else match.group(0))
            if not speaker:  # a pattern that matches the empty string would put every file under one speaker ''
                raise CorpusError(f"`speaker_pattern` {self.pattern.pattern!r} gives an empty speaker for "
                                  f"{relative!r}; give a pattern whose group `speaker` matches at least one "
                                  "character, e.g. `^(?P<speaker>[^/]+)/`.")
            return speaker
        return relative.split("/", 1)[0] if "/" in relative else "unknown"


def _not_utf8(name: str) -> bool:
    """Whether a file name read from the disk held bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _utterance_ids(relatives: list[str]) -> list[str]:
    """File names as ids when they are unique (as in VCTK); else the relative paths with `/` as `_`, and where
    two paths still give one id (`a/b_c.wav`, `a_b/c.wav`), each of those gets a short hash of its path."""
    stems = [relative.rsplit("/", 1)[-1].rsplit(".", 1)[0] for relative in relatives]
    if len(set(stems)) == len(stems):
        return stems
    ids = [relative.rsplit(".", 1)[0].replace("/", "_") for relative in relatives]
    counts = Counter(ids)
    return [utt if counts[utt] == 1 else f"{utt}-{hashlib.sha1(relative.encode()).hexdigest()[:8]}"
            for utt, relative in zip(ids, relatives, strict=True)]
