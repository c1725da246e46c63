"""Benchmark: the default test suite in one pytest process against `make test`'s one worker per core.

Both runs are `python -m pytest -q` on this checkout, back to back in this command: first one process
(torch on one thread, as tests/conftest.py sets), then `-n auto` (pytest-xdist: one such process per core).
Each wall time includes start-up and collection. Results go to `bench/results/suite-<machine>.md` and `.json`.

    python -m bench.suite
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import record

ROOT = Path(__file__).resolve().parents[1]


def run(*flags: str) -> dict:
    """One pytest run of the default suite: wall seconds and the summary line's counts."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return {"flags": " ".join(flags) or "(none)", "seconds": round(seconds, 1), "exit_status": done.returncode,
            "summary": summary, **counts}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="suite-cpu", help="Results file stem in bench/results/. Default: suite-cpu.")
    args = parser.parse_args(argv)
    serial, parallel = run(), run("-n", "auto")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "runs": [serial, parallel],
        "speedup": round(serial["seconds"] / parallel["seconds"], 2),
    }
    lines = [
        f"# Default test suite: one process vs `make test` (-n auto) ({report['machine']})",
        "",
        f"Recorded {report['date']} by `python -m bench.suite`: both runs back to back in one command, on the same "
        "checkout; wall time includes start-up and collection.",
        "",
        "| pytest flags | wall s | summary |",
        "|---|---:|---|",
        *[f"| `{r['flags']}` | {r['seconds']} | {r['summary']} |" for r in report["runs"]],
        "",
        f"`-n auto` is **{report['speedup']}x** as fast as one process.",
    ]
    print("\n".join(lines))
    print(f"wrote {record(args.out, report, lines)}")
    return report


if __name__ == "__main__":
    main()
