"""The one rule for the names that become folders, file names and config names: parts, splits, configs.

A part's name is a folder (`data/<part>/`), a glob in the card (`data/<part>/<split>-*.parquet`) and a
config name; a split's name starts every shard's file name. A name from a release file, a split file or
a plugin is therefore checked here before it touches a path: ASCII letters, digits and `_` (splits), plus
`-` and `.` inside a part's name; never `.` or `..` (which would climb out of `data/`), never a newline
(`re.match(r"^\\w+$", "test\\n")` matches: `$` allows one), and never a word the layout reserves
(`genuine` is the bona fide part, `all` the default config, `default` what `datasets` calls a config-less
folder's, `all-conditions` the config of every part under every channel condition). A part under a channel
condition is `<part>@<condition>` (`encodec_24khz@opus_16k`), a chain of conditions joined by `+`
(`genuine@opus_16k+mp3_64k`): the part and each link follow the part rule, so `@` and `+` never open a path
either. `sanitise_part` turns a release's codec name into such a name; two names that sanitise to one
are refused with both (`check_distinct`), since the second would silently take the first one's folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import CodecFakeError

GENUINE = "genuine"  # the bona fide part (schema.GENUINE is this name)
ALL_CONFIG = "all"  # the card's default config: every clean part
ALL_CONDITIONS_CONFIG = "all-conditions"  # every part, clean and under each channel condition
RESERVED_CONFIGS = (GENUINE, ALL_CONFIG, ALL_CONDITIONS_CONFIG, "default")
CONDITION_SEPARATOR = "@"  # `<part>@<condition>` (schema.CONDITION_SEPARATOR is this)
CHAIN_SEPARATOR = "+"  # `<condition>+<condition>`: a chain of channel conditions
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
    base, _, condition = (text or "").partition(CONDITION_SEPARATOR)
    links = condition.split(CHAIN_SEPARATOR) if CONDITION_SEPARATOR in (text or "") else []
    if (text is None or len(base) > MAX_LENGTH or len(condition) > MAX_LENGTH
            or not all(_PART.fullmatch(piece) for piece in [base, *links])):
        raise BadNameError(f"{what}: {name!r} is not a usable part name: a part becomes a folder data/<name>/ and a "
                         f"config name, so it takes ASCII letters, digits, `_`, `-` and `.` (not first or last), "
                         f"at most {MAX_LENGTH} characters, then optionally `@<condition>` (links of the same "
                         f"characters joined by `+`); `.` and `..` are never one.")
    if base.lower() in RESERVED_CONFIGS and not (genuine_allowed and base == GENUINE):
        raise BadNameError(f"{what}: {name!r} is reserved ({GENUINE!r} is the bona fide part, {ALL_CONFIG!r} the "
                         f"default config, {ALL_CONDITIONS_CONFIG!r} every channel condition's, 'default' what "
                         "`datasets` calls a config-less folder's); a codec cannot be named so. Rename it.")
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
