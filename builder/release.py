"""A folder of the original CodecFake release: `<codec>+<utterance>.wav`, genuine ones as `genuine+...`.

The release (codecfake.github.io; its wav archives and demo page) names every file after the codec
config that made it and the VCTK utterance it came from, e.g. `encodec_24khz+p225_273.wav`; each is
16-bit PCM at its codec's own rate. The speaker is the utterance id's prefix (`p225`).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from pathlib import Path

from codecfake_hf.codecs import registry
from codecfake_hf.corpus import CorpusError, Record, check_unique_ids
from codecfake_hf.errors import UnknownCodecError
from codecfake_hf.schema import GENUINE

logger = logging.getLogger(__name__)

# `<codec>+<utterance>.wav`: the row id (`codecfake_hf.schema.row_id`) plus an extension.
FILE_NAME = re.compile(r"^(?P<codec>[^+/]+)\+(?P<utt>(?P<speaker>[A-Za-z]+\d+)_[\w-]+)\.(wav|flac)$")


def scan_release(root: str | Path) -> tuple[dict[str, list[Record]], list[str]]:
    """{part: records} of a release folder (part: `genuine` or a registry codec name), and what was skipped.

    Files whose name is not `<codec>+<utterance>.wav`, or whose codec the registry does not know,
    are skipped and listed with the reason (logged as warnings); the rest are imported.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"`import` folder {str(root)!r}: no such folder. Pass the folder holding the "
                          "release's `<codec>+<utterance>.wav` files.")
    parts: dict[str, list[Record]] = defaultdict(list)
    skipped = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        match = FILE_NAME.match(path.name)
        if match is None:
            if path.suffix.lower() in (".wav", ".flac"):
                skipped.append(f"{path.name}: not named `<codec>+<utterance>.wav`")
            continue
        codec = match["codec"]
        if codec != GENUINE:
            try:
                codec = registry.resolve(codec)
            except UnknownCodecError as error:
                skipped.append(f"{path.name}: {error}")
                continue
        parts[codec].append(Record(utterance_id=match["utt"], speaker_id=match["speaker"], path=str(path)))
    for reason in skipped:
        logger.warning("import: skipped %s", reason)
    for codec, records in parts.items():  # the same file in two folders, or under an alias and its name
        check_unique_ids(records, f"`import` folder {str(root)!r}, codec {codec}")
    if not parts:
        raise CorpusError(f"`import` folder {str(root)!r} holds no `<codec>+<utterance>.wav` files "
                          f"({len(skipped)} other audio files skipped).")
    return dict(parts), skipped
