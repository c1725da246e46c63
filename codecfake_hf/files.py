"""Writing files atomically, inside the folder they belong to, and deleting only what we wrote.

Every writer of the project goes through `atomic_path` (dataset shards, the build plan, cards, results,
matrices, plots). The temporary name is unique (`tempfile`), not a fixed `<name>.tmp`: several ranks of a
distributed run may write into one folder at once, and two of them must never share a temporary file.

Three guards sit here so that every writer has them:

- containment: with `within=`, a path that resolves outside that folder (through `..`, or a symlinked
  folder that leads elsewhere) is refused before anything is written or deleted (`contained`);
- ownership: `remove_owned` deletes a file only when its whole-file SHA-256 (`sha256_file`, streamed) is
  the one recorded when the tool wrote it, so a file a user replaced is never deleted;
- OS errors: a read-only file system, a permission refused, a file-size limit, a full disk or quota, or a
  folder where a file belongs end in one `FileWriteError` naming the path and the fix (`write_error`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import CodecFakeError

TEMP_SUFFIX = ".tmp"  # every temporary file ends so (the model push ignores `*.tmp`)
HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a file


class FileWriteError(CodecFakeError):
    """A file or folder the project cannot write (read-only, permissions, size limit, full disk, a folder in
    the way), or a path outside the folder it must stay in.

    Args:
        message (str): the one line shown to the user.
        errno (int | None): the OS error's number, when an OS error was the cause.
        strerror (str | None): the OS error's text.
    """

    def __init__(self, message: str, errno: int | None = None, strerror: str | None = None):
        super().__init__(message)
        self.errno, self.strerror = errno, strerror


class UnsafePathError(FileWriteError):
    """A path that resolves outside the folder it must stay in (`..`, or a symlink that leads out)."""


def _process_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; restored at once
    os.umask(mask)
    return mask


# `tempfile.mkstemp` creates files readable by their owner only; a written file gets the mode a plain
# `open(path, "w")` would give it. Read once, at import: reading the umask briefly changes it.
FILE_MODE = 0o666 & ~_process_umask()

# What each OS error means for a writer, and what the user can do about it.
_OS_ERRORS = {
    errno.EROFS: ("is on a read-only file system", "choose a folder on a writable disk, or remount it read-write"),
    errno.EACCES: ("may not be written (permission denied)",
                   "choose a folder you may write, or fix its permissions"),
    errno.EPERM: ("may not be written (operation not permitted)",
                  "choose a folder you may write, or fix its permissions"),
    errno.EFBIG: ("would exceed the largest file this process may write (`ulimit -f`, or the file system's limit)",
                  "raise the limit (`ulimit -f unlimited`) or write to another file system"),
    errno.ENOSPC: ("cannot be written: the disk is full", "free some space"),
    errno.EDQUOT: ("cannot be written: the disk quota is exhausted", "free some space or raise the quota"),
    errno.EISDIR: ("is a folder where a file belongs", "move that folder away"),
    errno.ENOTDIR: ("has a file where a folder belongs on its way", "move that file away"),
}


def write_error(error: OSError, path: str | os.PathLike) -> FileWriteError | OSError:
    """One `FileWriteError` naming `path`, the cause and the fix for the OS errors a user can meet while
    writing (`_OS_ERRORS`); any other OSError is returned as it was."""
    known = _OS_ERRORS.get(error.errno)
    if known is None:
        return error
    what, fix = known
    # A file in the way of a folder is named by the call that met it; anything else by the file being written
    # (a rename's own `filename` is the temporary file, which the user never sees).
    where = error.filename if error.errno == errno.ENOTDIR and error.filename else path
    return FileWriteError(f"{os.fsdecode(where)} {what}; {fix}.", error.errno, error.strerror)


@contextlib.contextmanager
def os_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn the OS errors of `_OS_ERRORS` raised inside the block into one `FileWriteError` naming `path`."""
    try:
        yield
    except OSError as error:
        raise write_error(error, path) from None


def contained(path: str | os.PathLike, within: str | os.PathLike) -> Path:
    """`path` when it resolves inside the folder `within` (symlinks followed, the folder itself excluded),
    else `UnsafePathError`. Nothing needs to exist yet; a path whose existing part is a symlink leading out
    of the folder is refused like a `..`."""
    root = Path(os.path.realpath(within))
    resolved = Path(os.path.realpath(path))
    if resolved == root or not resolved.is_relative_to(root):
        raise UnsafePathError(
            f"{os.fsdecode(path)} resolves to {os.fsdecode(resolved)}, outside {os.fsdecode(within)}; nothing is "
            "written or deleted outside the output folder. Remove the symlink or the `..` that leads out.")
    return Path(path)


def make_folder(path: str | os.PathLike, *, within: str | os.PathLike | None = None) -> Path:
    """`mkdir -p path` (inside `within` when given) and a probe that a file can be created in it (an existing
    folder on a read-only disk makes no error until the first write), its OS errors as one `FileWriteError`."""
    if within is not None:
        contained(path, within)
    with os_errors(path):
        Path(path).mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path, prefix=".probe.", suffix=TEMP_SUFFIX)
        os.close(handle)
        os.unlink(probe)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, tmp_dir: str | os.PathLike | None = None,
                within: str | os.PathLike | None = None) -> Iterator[Path]:
    """A unique temporary path to write; on success it is renamed to `path`, on any failure it is removed.

    Args:
        path (str | os.PathLike): the file to (re)place; its folder is created.
        tmp_dir (str | os.PathLike | None): where the temporary file lives until the rename; it must be
            on the same file system as `path`. None: beside `path`. (The builder keeps a shard's
            temporary file in its state folder, which is never uploaded.)
        within (str | os.PathLike | None): the folder `path` (and `tmp_dir`) must stay in; a path that
            resolves outside it is refused before anything is written (`UnsafePathError`).

    Yields:
        Path: the temporary file (created empty), to be written by the caller under its own name.

    Raises:
        FileWriteError: the OS refused the write (read-only, permissions, size limit, full disk, a folder
            where the file belongs), naming the path and the fix; the temporary file is gone.
    """
    path = Path(path)
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    if within is not None:
        contained(path, within)
        contained(folder / "x", within)
    with os_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(handle)
    tmp = Path(name)
    try:
        os.chmod(tmp, FILE_MODE)
        yield tmp
        os.replace(tmp, path)
    except OSError as error:  # the writer's or the rename's: one message naming the file
        tmp.unlink(missing_ok=True)
        raise write_error(error, path) from None
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


def write_text_atomic(path: str | os.PathLike, text: str, *, within: str | os.PathLike | None = None) -> Path:
    """Write `text` (UTF-8) to `path` atomically (`atomic_path`); returns the path."""
    with atomic_path(path, within=within) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# A lone surrogate: how Python spells a byte of a file name that is not UTF-8 (`os.fsdecode`'s surrogateescape).
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(value: Any, *, indent: int = 2) -> str:
    """`value` as indented JSON (non-JSON values through `str`), readable UTF-8. A lone surrogate (a file name
    that is not UTF-8) is written as its `\\udcXX` escape, which `json.loads` reads back to the same string,
    so such a name round-trips instead of failing the write."""
    text = json.dumps(value, indent=indent, default=str, ensure_ascii=False)
    return _SURROGATE.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def write_json_atomic(path: str | os.PathLike, value: Any, *, indent: int = 2,
                      within: str | os.PathLike | None = None) -> Path:
    """`value` as JSON (`json_text`), written with `write_text_atomic`."""
    return write_text_atomic(path, json_text(value, indent=indent) + "\n", within=within)


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a whole file, read in `HASH_CHUNK` pieces (any size, constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """The SHA-256 of `text` as `write_text_atomic` writes it (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ownership_problem(path: str | os.PathLike, within: str | os.PathLike, sha256: str | None) -> str | None:
    """Why `path` may not be deleted as a file this tool wrote (None: it may): outside `within`, a symlink, not
    a file, or content other than what was recorded (`sha256`; None: nothing was recorded)."""
    path = Path(path)
    try:
        contained(path, within)
    except UnsafePathError:
        return f"it resolves to {os.path.realpath(path)}, outside {within}"
    if path.is_symlink():
        return "it is a symlink, which this tool never writes"
    if not path.is_file():
        return "it is not a file"
    if sha256 is None:
        return "this tool has no record of writing it"
    try:
        if sha256_file(path) != sha256:
            return "its content changed since this tool wrote it"
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    return None


def remove_owned(path: str | os.PathLike, within: str | os.PathLike, sha256: str | None) -> None:
    """Delete `path` only when `ownership_problem` finds none (else `FileWriteError`, nothing deleted)."""
    problem = ownership_problem(path, within, sha256)
    if problem is not None:
        raise FileWriteError(f"{os.fsdecode(path)} was not deleted: {problem}.")
    with os_errors(path):
        Path(path).unlink()
