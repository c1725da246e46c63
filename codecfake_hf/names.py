"""The one rule for the names that become folders, file names and config names: parts, splits, configs.

A part's name is a folder (`data/<part>/`), a glob in the card (`data/<part>/<split>-*.parquet`) and a
config name; a split's name starts every shard's file name. A name from a release file, a split file or
a plugin is therefore checked here before it touches a path: ASCII letters, digits and `_` (splits), plus
`-` and `.` inside a part's name; never `.` or `..` (which would climb out of `data/`), never a newline
(`re.match(r"^\\w+$", "test\\n")` matches: `$` allows one), and never a word the layout reserves
(`genuine` is the bona fide part, `all` the default config, `default` what `datasets` calls a config-less
folder's). `sanitise_part` turns a release's codec name into such a name; two names that sanitise to one
are refused with both (`check_distinct`), since the second would silently take the first one's folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import CodecFakeError

GENUINE = "genuine"  # the bona fide part (schema.GENUINE is this name)
ALL_CONFIG = "all"  # the card's default config: every part
RESERVED_CONFIGS = (GENUINE, ALL_CONFIG, "default")
RESERVED_SPLITS = ("all",)  # `datasets` reads split="all" as every split
MAX_LENGTH = 96

_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_SPLIT = re.compile(r"[A-Za-z0-9_]+")


class BadNameError(CodecFakeError, ValueError):
    """A part, split or config name that cannot be a folder, file name or config name."""


def check_part(name: object, what: str, *, genuine_allowed: bool = True) -> str:
    """`name` when it is a valid part name (a codec, or `genuine` where `genuine_allowed`), else `BadNameError`
    naming `what` (where the name came from)."""
    text = name if isinstance(name, str) else None
    if text is None or len(text) > MAX_LENGTH or not _PART.fullmatch(text):
        raise BadNameError(f"{what}: {name!r} is not a usable part name: a part becomes a folder data/<name>/ and a "
                         f"config name, so it takes ASCII letters, digits, `_`, `-` and `.` (not first or last), "
                         f"at most {MAX_LENGTH} characters; `.` and `..` are never one.")
    if text.lower() in RESERVED_CONFIGS and not (genuine_allowed and text == GENUINE):
        raise BadNameError(f"{what}: {name!r} is reserved ({GENUINE!r} is the bona fide part, {ALL_CONFIG!r} the "
                         "default config, 'default' what `datasets` calls a config-less folder's); a codec "
                         "cannot be named so. Rename it.")
    return text


def check_split(name: object, what: str) -> str:
    """`name` when it is a valid `datasets` split name of ours (ASCII letters, digits, `_`), else `BadNameError`."""
    text = name if isinstance(name, str) else None
    if text is None or len(text) > MAX_LENGTH or not _SPLIT.fullmatch(text) or text in RESERVED_SPLITS:
        raise BadNameError(f"{what}: split name {name!r} is not a valid `datasets` split name: use ASCII letters, "
                         "digits and underscores (no spaces, dashes or newlines; not `all`), e.g. "
                         "train/validation/test.")
    return text


def sanitise_part(name: object) -> str:
    """A release's codec name made into a part name: runs of other characters become `_`, and the ends are
    trimmed of `_`, `-` and `.` (so `..` and `.` become empty, which `check_part` then refuses)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_.-")


def check_distinct(pairs: Iterable[tuple[str, str]], what: str) -> dict[str, str]:
    """{part: original name} from (original, part) pairs; `BadNameError` naming both originals when two
    different names give one part (`codec:a` and `codec;a` both give `codec_a`)."""
    owners: dict[str, str] = {}
    for original, part in pairs:
        first = owners.setdefault(part, original)
        if first != original:
            raise BadNameError(f"{what}: the codec names {first!r} and {original!r} both become the part {part!r} "
                             "(a folder and config name takes only letters, digits, `_`, `-` and `.`); the second "
                             "would replace the first. Rename one of them.")
    return owners
