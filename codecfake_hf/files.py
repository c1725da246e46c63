"""Writing result files atomically: a temp name beside the target, then a rename."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` through `path.tmp` and a rename, so a killed run never leaves half a
    file where a whole one was (or was expected); returns the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_json_atomic(path: str | os.PathLike, value: Any, *, indent: int = 2) -> Path:
    """`value` as indented JSON (non-JSON values through `str`), written with `write_text_atomic`."""
    return write_text_atomic(path, json.dumps(value, indent=indent, default=str, ensure_ascii=False) + "\n")
