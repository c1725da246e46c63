"""Benchmarks; each records its results under bench/results/ through `record`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def record(stem: str | Path, data: dict[str, Any], lines: list[str]) -> Path:
    """Write `<stem>.json` (the numbers) and `<stem>.md` (the table people read), each atomically.

    A bare `stem` goes under bench/results/; a path is used as it is. Returns the Markdown file's path. The
    machine's load at the end of the run is added to both (`bench.timing.machine`), and a record taken while the
    machine was busier than its cores says so under its title.
    """
    from bench.timing import load_note, machine
    from codecfake_hf.files import write_json_atomic, write_text_atomic

    state = machine()
    data = {**data, "recorded_on": state}
    lines = [*lines[:1], "", load_note(state), *lines[1:]] if lines else [load_note(state)]
    stem = Path(stem) if Path(stem).parent != Path(".") else RESULTS / stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stem.with_suffix(".json"), data)
    path = stem.with_suffix(".md")
    write_text_atomic(path, "\n".join(lines).rstrip("\n") + "\n")
    return path
