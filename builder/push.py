"""`python -m builder push`: upload a built folder, under its lock, only when every part in it is finished.

`hub.push_folder` uploads any dataset folder; this is the builder's side of it. A folder the builder made
has a plan and a lock: the push takes that lock for as long as it runs, so a build adding a codec to the
folder at that moment is refused (and the push is refused while a build holds it) rather than half of its
shards going up; and a folder whose plan has a part with shards on disk that is not finished (a killed
run, a codec that failed, a part gone stale) is refused, naming the parts and the fix, since its files
would be uploaded beside a card that does not declare them.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from codecfake_hf import hub
from codecfake_hf.files import FileWriteError, sha256_file
from codecfake_hf.schema import DATA_DIR

from .build import FolderLock
from .plan import Plan

logger = logging.getLogger(__name__)


def unfinished_parts(folder: Path, plan: Plan) -> list[str]:
    """The parts of `plan` with shards in `folder` that are not finished (their card entry is missing)."""
    return [part for part, state in plan.parts.items()
            if not state.get("complete") and any((folder / DATA_DIR / part).glob("*.parquet"))]


def push_dataset(folder: str | Path, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload a built dataset folder to the Hub dataset repository `repo_id` (see `hub.push`), holding the
    folder's lock; returns the repository's URL.

    Raises:
        CodecFakeError: a build holds the folder, a part is unfinished, or the push failed (one line each).
    """
    folder = Path(folder)
    if not Plan.path(folder).is_file():  # not made by the builder: nothing of ours to lock or check
        return hub.push_folder(folder, repo_id, private=private, token=token)
    lock = FolderLock(folder)
    try:
        lock.acquire()
    except FileWriteError as error:
        if error.errno != errno.EROFS:
            raise
        # A read-only folder: no build can be writing it, so there is nothing to wait for.
        logger.info("%s is read-only: pushing without its lock", folder)
    try:
        return push_held(folder, Plan.load(folder), repo_id, private=private, token=token)
    finally:
        lock.release()


def push_held(folder: Path, plan: Plan, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """`push_dataset`'s work, for a caller that holds the folder's lock (`push_dataset`; a build with
    `push_to`, which commits its card this way once its shards are up): refuse unfinished parts, push, keep the
    card the builder's own; returns the repository's URL."""
    unfinished = unfinished_parts(folder, plan)
    if unfinished:
        raise hub.PushError(
            f"`folder` {str(folder)!r} has unfinished parts ({', '.join(unfinished)}): their shards would be "
            "uploaded beside a card that does not declare them; nothing was uploaded. Finish them by running "
            "the same build again (or delete data/<part>/ of a part you do not want), then push again.")
    card = folder / "README.md"
    before = sha256_file(card) if card.is_file() else None
    try:
        return hub.push_folder(folder, repo_id, private=private, token=token)
    finally:
        _keep_card_owned(folder, plan, before)


def _keep_card_owned(folder: Path, plan: Plan, before: str | None) -> None:
    """The push writes the repository id into the card's loading snippet: the card stays the builder's own
    (what `demo` may delete) when it was before, so its recorded hash follows the new text."""
    card = folder / "README.md"
    if before is None or plan.card_sha256 != before or not card.is_file():
        return
    after = sha256_file(card)
    if after != before:
        plan.card_sha256 = after
        plan.save(folder)
