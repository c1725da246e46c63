"""Writing files atomically: a unique temporary name, then a rename, so a file is either whole or absent.

Every writer of the project goes through `atomic_path` (dataset shards, the build plan, cards, results,
matrices, plots). The temporary name is unique (`tempfile`), not a fixed `<name>.tmp`: several ranks of a
distributed run may write into one folder at once, and two of them must never share a temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"  # every temporary file ends so (the model push ignores `*.tmp`)


def _process_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; restored at once
    os.umask(mask)
    return mask


# `tempfile.mkstemp` creates files readable by their owner only; a written file gets the mode a plain
# `open(path, "w")` would give it. Read once, at import: reading the umask briefly changes it.
FILE_MODE = 0o666 & ~_process_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, tmp_dir: str | os.PathLike | None = None) -> Iterator[Path]:
    """A unique temporary path to write; on success it is renamed to `path`, on any failure it is removed.

    Args:
        path (str | os.PathLike): the file to (re)place; its folder is created.
        tmp_dir (str | os.PathLike | None): where the temporary file lives until the rename; it must be
            on the same file system as `path`. None: beside `path`. (The builder keeps a shard's
            temporary file in its state folder, which is never uploaded.)

    Yields:
        Path: the temporary file (created empty), to be written by the caller under its own name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(handle)
    tmp = Path(name)
    try:
        os.chmod(tmp, FILE_MODE)
        yield tmp
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: a stopped run leaves no temporary file behind
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically (`atomic_path`); returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, value: Any, *, indent: int = 2) -> Path:
    """`value` as indented JSON (non-JSON values through `str`), written with `write_text_atomic`."""
    return write_text_atomic(path, json.dumps(value, indent=indent, default=str, ensure_ascii=False) + "\n")
