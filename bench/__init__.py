"""Benchmarks; each records its results under bench/results/ through `record`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def record(stem: str | Path, data: dict[str, Any], lines: list[str]) -> Path:
    """Write `<stem>.json` (the numbers) and `<stem>.md` (the table people read), each atomically.

    A bare `stem` goes under bench/results/; a path is used as it is. Returns the Markdown file's path.
    """
    from codecfake_hf.files import write_json_atomic, write_text_atomic

    stem = Path(stem) if Path(stem).parent != Path(".") else RESULTS / stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stem.with_suffix(".json"), data)
    path = stem.with_suffix(".md")
    write_text_atomic(path, "\n".join(lines).rstrip("\n") + "\n")
    return path
