"""Searching files for Hub tokens before they are uploaded: every byte of every file, any size.

`push` calls `find_token` on each file it would upload. A file is read in pieces (constant memory, any
size), each piece searched together with the end of the one before, so a token cut by a piece boundary
is still found. A Parquet file is also read through pyarrow: its pages are compressed (snappy by
default), so a token in a text column or inside a FLAC file's metadata is not in the file's raw bytes;
every binary and string value of every column (struct fields and lists included) is searched as
pyarrow decodes it, a row group at a time.

What is searched for: the token in use and every registered secret (`redact`), whatever their shape,
and anything shaped like a Hub token (`hf_` followed by at least `SHAPE_LENGTH` letters or digits).
A real token has 34 after `hf_`; shorter shapes are not searched for, since audio bytes hold a random
`hf_` + 8 letters about once in 2 GB and a push of a large dataset would then be refused for nothing,
while 34 letters or digits at random come about once in 10^21 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import redact

SHAPE_LENGTH = 34
TOKEN_SHAPE = re.compile(rb"hf_[A-Za-z0-9]{%d,}" % SHAPE_LENGTH)
CHUNK = 8 << 20  # bytes read at a time
ROWS_PER_BATCH = 64  # Parquet rows decoded at a time (a row of FLAC audio is about 100 KB)


class Scanner:
    """Searches bytes for the token in use, the registered secrets and token shapes.

    Args:
        token (str | None): the token in use (searched for whatever its shape).
    """

    def __init__(self, token: str | None = None):
        secrets = {*redact.registered_secrets(), *([token] if token else [])}
        self.needles = [secret.encode() for secret in sorted(secrets, key=len, reverse=True)]
        # Searched again with the next piece: enough to hold any needle, or a token shape, cut in two.
        self.overlap = max([len(needle) for needle in self.needles] + [SHAPE_LENGTH + 3])

    def found(self, data: bytes | memoryview) -> bool:
        data = bytes(data)
        return bool(TOKEN_SHAPE.search(data)) or any(needle in data for needle in self.needles)

    def stream(self, pieces: Iterator[bytes]) -> bool:
        """Whether the concatenation of `pieces` holds a token (searched piece by piece, with overlap)."""
        tail = b""
        for piece in pieces:
            window = tail + piece
            if self.found(window):
                return True
            tail = window[-self.overlap:]
        return False


def find_token(path: str | Path, token: str | None = None, *, progress=None) -> bool:
    """Whether the file at `path` holds the token in use, a registered secret or a token shape: in its bytes,
    and for a `.parquet` file also in every value of every column as pyarrow decodes it.

    Args:
        path (str | Path): the file.
        token (str | None): the token in use.
        progress: a tqdm bar advanced by the bytes read, or None.
    """
    scanner = Scanner(token)
    if scanner.stream(_pieces(Path(path), progress)):
        return True
    if Path(path).suffix == ".parquet":
        return scanner.stream(_parquet_values(Path(path)))
    return False


def _pieces(path: Path, progress) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while piece := file.read(CHUNK):
            if progress is not None:
                progress.update(len(piece))
            yield piece


def _parquet_values(path: Path) -> Iterator[bytes]:
    """The decoded bytes of every binary or string value of a Parquet file, a batch of rows at a time; nothing
    when pyarrow cannot read it (its raw bytes were searched all the same)."""
    try:
        file = pq.ParquetFile(path)
        batches = file.iter_batches(batch_size=ROWS_PER_BATCH)
        for batch in batches:
            for column in batch.columns:
                yield from _array_bytes(column)
            yield b"\0" * SHAPE_LENGTH  # rows of different batches are not one string
    except (pa.ArrowException, OSError, ValueError):
        return


def _array_bytes(array: pa.Array) -> Iterator[bytes]:
    """The data of an Arrow array's binary and string values (struct fields, list items and dictionaries
    followed); a value boundary is a NUL, so two values never make one token."""
    kind = array.type
    if pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _array_bytes(array.field(i))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        yield from _array_bytes(array.flatten())
    elif pa.types.is_dictionary(kind):
        yield from _array_bytes(array.dictionary)
    elif (pa.types.is_binary(kind) or pa.types.is_string(kind) or pa.types.is_large_binary(kind)
          or pa.types.is_large_string(kind)):
        for value in array:
            data = value.as_buffer() if value.is_valid else None
            if data is not None:
                yield data.to_pybytes() + b"\0"
