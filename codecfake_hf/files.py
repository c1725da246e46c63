"""Writing files atomically: a unique temporary name, then a rename, so a file is either whole or absent.

Every writer of the project goes through `atomic_path` (dataset shards, the build plan, cards, results,
matrices, plots). The temporary name is unique (`tempfile`), not a fixed `<name>.tmp`: several ranks of a
distributed run may write into one folder at once, and two of them must never share a temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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


@contextlib.contextmanager
def atomic_files(folder: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder inside `folder` for a writer that saves several files under fixed names
    (`save_pretrained`); on success each file is renamed into `folder` (whole or absent, as `atomic_path`
    gives), on any failure the temporary folder is removed and `folder` keeps what it held.

    Args:
        folder (str | os.PathLike): the folder to write into; created.

    Yields:
        Path: the empty temporary folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging.", suffix=TEMP_SUFFIX))
    try:
        yield staging
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = folder / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(path, FILE_MODE)
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically (`atomic_path`); returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, value: Any, *, indent: int = 2) -> Path:
    """`value` as indented JSON (non-JSON values through `str`), written with `write_text_atomic`."""
    return write_text_atomic(path, json.dumps(value, indent=indent, default=str, ensure_ascii=False) + "\n")
