"""Benchmark: how long `--help` takes, for every command of both command lines, against the eager path.

Each command's `--help` runs as a user runs it (`python -m eval score --help`, a new interpreter each time), and
beside it, in the same command, the path every `--help` took before issue 24: import the command's module
(datasets, torch, the models) and build its parser there. Wall seconds, best and median of `--repeat` runs, the
eager path first; the first run of all follows a removal of this checkout's `__pycache__` folders (a cold
checkout's bytecode, where Python writes any; the OS's file cache stays warm). Results:
`bench/results/help-<machine>.md` and `.json`.

    python -m bench.help [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import record

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 2.0

# builder/__init__.py and __main__.py imported the build, the demo and the Hub code at the top
BUILDER_EAGER = "import builder.build, builder.demo, codecfake_hf.hub; from builder.__main__ import main"
# command line, command -> the eager path: the statement that imported the command's module and printed its help
EAGER = {
    ("eval", "finetune"): "from eval.finetune import parse_args; parse_args(['--help'])",
    ("eval", "score"): "from eval.score import main; main(['--help'])",
    ("eval", "protocol"): "from eval.protocols import main; main(['--help'])",
    ("eval", "card"): "from eval.score import card_main; card_main(['--help'])",
    ("eval", "convert-aasist"): "from eval.convert import main; main(['--help'])",
    ("eval", "app"): "import eval.app; from eval.app import main; main(['--help'])",
    **{("builder", command): f"{BUILDER_EAGER}; main(['{command}', '--help'])"
       for command in ("build", "import", "push", "demo")},
}


def seconds(argv: list[str]) -> float:
    """Wall seconds of one run (output discarded; a failure stops the benchmark)."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def clear_bytecode() -> int:
    """Remove this checkout's `__pycache__` folders (not the venv's); returns how many."""
    folders = [p for name in ("codecfake_hf", "builder", "eval") for p in (ROOT / name).rglob("__pycache__")]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.help", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each path (default 5)")
    parser.add_argument("--machine", default="cpu", help="results file suffix (default cpu)")
    args = parser.parse_args(argv)

    cleared = clear_bytecode()
    cold = seconds([sys.executable, "-m", "eval", "score", "--help"])
    rows = []
    for (program, command), eager in EAGER.items():
        eager_times, lazy_times = [], []
        for _ in range(args.repeat):  # interleaved, so that load from other jobs hits both paths alike
            eager_times.append(seconds([sys.executable, "-c", eager]))
            lazy_times.append(seconds([sys.executable, "-m", program, command, "--help"]))
        rows.append({"program": program, "command": command,
                     "eager_best": round(min(eager_times), 3),
                     "eager_median": round(statistics.median(eager_times), 3),
                     "lazy_best": round(min(lazy_times), 3), "lazy_median": round(statistics.median(lazy_times), 3),
                     "speedup_median": round(statistics.median(eager_times) / statistics.median(lazy_times), 2)})
        print(rows[-1])
    load = os.getloadavg()
    data = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "repeat": args.repeat,
            "load_average_after": [round(x, 2) for x in load], "goal_seconds": GOAL_SECONDS,
            "cold_score_help_seconds": round(cold, 3), "pycache_folders_removed": cleared,
            "writes_bytecode": not os.environ.get("PYTHONDONTWRITEBYTECODE"), "rows": rows}
    lines = [f"# `--help` of every command ({args.machine}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()})",
             "", f"Wall seconds per run, best / median of {args.repeat} (a new interpreter each run). Eager: the "
             "command's module imported and its parser built there (every `--help` before issue 24); lazy: "
             "`python -m <program> <command> --help` now (only the arguments' module and HfArgumentParser; "
             "finetune and protocol read TrainingArguments' help from `eval/training_arguments.json`).", "",
             "| command | eager best | eager median | lazy best | lazy median | median speed-up |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| `{row['program']} {row['command']}` | {row['eager_best']:.2f} | {row['eager_median']:.2f} | "
                     f"{row['lazy_best']:.2f} | {row['lazy_median']:.2f} | {row['speedup_median']:.2f}x |")
    worst = max(row["lazy_median"] for row in rows)
    bytecode = ("this environment writes no bytecode (PYTHONDONTWRITEBYTECODE), so every run above compiled the "
                "checkout's modules afresh, as on a cold checkout" if os.environ.get("PYTHONDONTWRITEBYTECODE") else
                f"the first `eval score --help` after removing the checkout's {cleared} `__pycache__` folders took "
                f"{cold:.2f} s")
    lines += ["", f"Slowest lazy median: {worst:.2f} s (goal: under {GOAL_SECONDS:g} s); {bytecode}. Load average "
              f"after the run: {', '.join(f'{x:.2f}' for x in load)} (the machine is shared; the ratios hold better "
              "than the seconds)."]
    path = record(f"help-{args.machine}", data, lines)
    print(path.read_text())
    return data


if __name__ == "__main__":
    main()
