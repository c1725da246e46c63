"""Speaker-disjoint splits: the CodecFake paper's VCTK split, a speaker -> split file, or seeded ratios.

A split is a function of the speaker alone, so no speaker can be in two splits: that is what makes
the splits disjoint by construction. A split file that names a speaker twice with different splits
is refused rather than resolved.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from .errors import CodecFakeError
from .names import BadNameError, check_split

logger = logging.getLogger(__name__)

# The CodecFake paper (Wu et al., Interspeech 2024): validation p226, p229; test p227, p228; train the rest.
PAPER_SPLIT = {"p226": "validation", "p229": "validation", "p227": "test", "p228": "test"}
DEFAULT_SPLIT = "train"
SPLIT_ORDER = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)  # train, validation, test shares of the speakers of a non-VCTK source


class SplitError(CodecFakeError):
    """A split file that cannot be used: unreadable, malformed, or not speaker-disjoint."""


class SpeakerSplit:
    """Which split each speaker's utterances go to.

    Args:
        assignments (Mapping[str, str]): speaker -> split name.
        default (str): the split of speakers not in `assignments` (`train`, as in the paper).
    """

    def __init__(self, assignments: Mapping[str, str], default: str = DEFAULT_SPLIT):
        for speaker, split in {**assignments, "*": default}.items():
            try:  # a split's name starts every shard's file name: `names` keeps it one safe token
                check_split(split, f"speaker {speaker!r}")
            except BadNameError as error:
                raise SplitError(str(error)) from None
        self.assignments = dict(assignments)
        self.default = default

    @classmethod
    def paper(cls) -> SpeakerSplit:
        """The CodecFake paper's split of VCTK."""
        return cls(PAPER_SPLIT)

    @classmethod
    def by_ratio(cls, speakers: Iterable[str], ratios: tuple[float, float, float] = DEFAULT_RATIOS,
                 seed: int = 0) -> SpeakerSplit:
        """A seeded random split of `speakers` into train/validation/test by `ratios` (of speakers, not
        utterances), for a source that is not VCTK and has no split file.

        Every split whose ratio is above 0 gets at least one speaker while there are speakers enough; the
        speakers are sorted before the seeded shuffle, so the same speakers and seed give the same split.
        """
        ratios = check_ratios(ratios)
        order = sorted(set(speakers))
        rng = np.random.default_rng(seed)
        order = [order[i] for i in rng.permutation(len(order))]
        share = dict(zip(SPLIT_ORDER, ratios, strict=True))
        # One speaker at least for each split with a share, as far as the speakers go: train, then test.
        minimum, left = {}, len(order)
        for split in ("train", "test", "validation"):
            minimum[split] = 1 if share[split] > 0 and left > 0 else 0
            left -= minimum[split]
        counts = {split: max(int(round(share[split] * len(order))), minimum[split]) for split in ("validation", "test")}
        for split in ("validation", "test"):  # never below train's minimum
            excess = counts["validation"] + counts["test"] + minimum["train"] - len(order)
            counts[split] -= max(0, min(excess, counts[split] - minimum[split]))
        counts["train"] = len(order) - counts["validation"] - counts["test"]
        assignments, start = {}, 0
        for split in ("validation", "test", "train"):
            for speaker in order[start:start + counts[split]]:
                assignments[speaker] = split
            start += counts[split]
        logger.info("ratio split %s (seed %d) of %d speakers: %s", ratios, seed, len(order),
                    {split: sum(v == split for v in assignments.values()) for split in SPLIT_ORDER})
        return cls({speaker: split for speaker, split in assignments.items() if split != DEFAULT_SPLIT})

    @classmethod
    def by_ratio_per_group(cls, groups: Mapping[str, Iterable[str]],
                           ratios: tuple[float, float, float] = DEFAULT_RATIOS, seed: int = 0) -> SpeakerSplit:
        """`by_ratio` within each group of speakers (each language's), so that every split holds every group that
        has speakers enough; still one split per speaker. A speaker in two groups (one reader in two languages)
        is split with the first group, by sorted name, and left out of the later ones."""
        assignments: dict[str, str] = {}
        placed: set[str] = set()
        for name in sorted(groups):
            speakers = sorted(set(groups[name]) - placed)
            placed.update(speakers)
            if speakers:
                assignments.update(cls.by_ratio(speakers, ratios, seed).assignments)
        return cls(assignments)

    @classmethod
    def from_file(cls, path: str | Path) -> SpeakerSplit:
        """Read a split file; `SplitError` names the speaker that is in two splits.

        Formats: text, one `SPEAKER SPLIT` pair per line (spaces, tabs or a comma; `#` comments;
        `* SPLIT` sets the split of unlisted speakers, default `train`); or JSON, either
        `{"SPLIT": ["SPEAKER", ...]}` or `{"SPEAKER": "SPLIT"}`.
        """
        path = Path(path)
        if not path.is_file():
            raise SplitError(f"`split_file` {str(path)!r}: no such file.")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise SplitError(f"`split_file` {str(path)!r} is not UTF-8 text (byte {error.start}: "
                             f"{error.object[error.start:error.start + 1]!r}); save it as UTF-8.") from None
        except OSError as error:
            raise SplitError(f"`split_file` {str(path)!r} cannot be read ({error.strerror}).") from None
        pairs = list(_json_pairs(text, path) if text.lstrip().startswith("{") else _text_pairs(text, path))
        assignments: dict[str, str] = {}
        default = DEFAULT_SPLIT
        for speaker, split in pairs:
            if speaker == "*":
                default = split
                continue
            if speaker in assignments and assignments[speaker] != split:
                raise SplitError(
                    f"`split_file` {str(path)!r} puts speaker {speaker!r} in both {assignments[speaker]!r} and "
                    f"{split!r}; splits must be speaker-disjoint. Give each speaker one split."
                )
            assignments[speaker] = split
        if not assignments:
            raise SplitError(f"`split_file` {str(path)!r} assigns no speaker; add `SPEAKER SPLIT` lines "
                             "(or JSON, `{\"SPLIT\": [\"SPEAKER\", ...]}`).")
        logger.info("split file %s: %d speakers assigned, others -> %s", path, len(assignments), default)
        return cls(assignments, default)

    def check_speakers(self, speakers: Iterable[str], what: str) -> list[str]:
        """The split's speakers that are not among `speakers` (logged); `SplitError` when none of them is,
        since then every utterance would silently go to the default split."""
        present = set(speakers)
        unknown = sorted(set(self.assignments) - present)
        if self.assignments and len(unknown) == len(self.assignments):
            shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise SplitError(f"the split file names only speakers that are not in {what} ({shown}); every "
                             f"utterance would go to {self.default!r}. Use the speaker ids of this source "
                             f"(e.g. {', '.join(sorted(present)[:3])}).")
        if unknown:
            logger.warning("split file: %d speaker(s) not in %s: %s", len(unknown), what, ", ".join(unknown[:10]))
        return unknown

    def split_of(self, speaker: str) -> str:
        return self.assignments.get(speaker, self.default)

    def group(self, speakers: Iterable[str]) -> dict[str, list[str]]:
        """{split: sorted speakers} for the given speakers, splits in train/validation/test order."""
        groups: dict[str, list[str]] = {}
        for speaker in sorted(set(speakers)):
            groups.setdefault(self.split_of(speaker), []).append(speaker)
        return dict(sorted(groups.items(), key=lambda kv: split_sort_key(kv[0])))

    def to_dict(self) -> dict:
        return {"assignments": dict(sorted(self.assignments.items())), "default": self.default}

    @classmethod
    def from_dict(cls, data: Mapping) -> SpeakerSplit:
        return cls(data["assignments"], data.get("default", DEFAULT_SPLIT))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpeakerSplit) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SpeakerSplit({self.assignments}, default={self.default!r})"


def parse_ratios(text: str) -> tuple[float, float, float]:
    """`"0.8,0.1,0.1"` -> (0.8, 0.1, 0.1): train, validation, test shares of the speakers (summing to 1)."""
    try:
        values = tuple(float(part) for part in str(text).split(","))
    except ValueError:
        raise SplitError(f"`split_ratios` {text!r} is not three numbers: give train,validation,test shares of the "
                         "speakers, e.g. 0.8,0.1,0.1.") from None
    return check_ratios(values)


def check_ratios(values) -> tuple[float, float, float]:
    values = tuple(values)
    # NaN compares false with everything (`nan < 0` and `abs(nan - 1) > 1e-6` are both False): finite first.
    if (len(values) != 3 or not all(math.isfinite(v) for v in values) or any(v < 0 for v in values)
            or abs(sum(values) - 1) > 1e-6 or values[0] <= 0):
        raise SplitError(f"`split_ratios` {','.join(f'{v:g}' for v in values)} must be three shares train,"
                         "validation,test that are not negative, give train some, and sum to 1 (e.g. 0.8,0.1,0.1).")
    return values  # type: ignore[return-value]


def split_sort_key(split: str) -> tuple[int, str]:
    """train, validation, test first, in that order, then other names alphabetically."""
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def _text_pairs(text: str, path: Path) -> Iterable[tuple[str, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f for f in re.split(r"[\s,]+", line) if f]
        if len(fields) != 2:
            raise SplitError(f"`split_file` {str(path)!r} line {number}: expected `SPEAKER SPLIT`, got {line!r}.")
        yield fields[0], fields[1]


def _json_pairs(text: str, path: Path) -> Iterable[tuple[str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SplitError(f"`split_file` {str(path)!r} is not valid JSON: {error}") from None
    for key, value in data.items():
        if isinstance(value, list):  # {"split": [speakers]}
            for speaker in value:
                yield str(speaker), key
        elif isinstance(value, str):  # {"speaker": "split"}
            yield key, value
        else:
            raise SplitError(f"`split_file` {str(path)!r}: {key!r} maps to {value!r}; expected a split name "
                             "or a list of speakers.")
