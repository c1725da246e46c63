"""How every benchmark times a ratio: both sides interleaved (A, B, A, B, ...), best of at least three, with the
machine's load recorded and a record taken on a machine busier than its cores marked as such.

Interleaving puts both sides under the same background load (a neighbour's build that starts half-way affects
both), and the best of several runs is the least disturbed; a ratio of two best times is then what the code
does, not what the machine was doing.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MIN_REPEATS = 3


def machine() -> dict[str, Any]:
    """This machine's CPU, cores and load averages (1, 5, 15 min) now, and whether it is busier than its cores.

    The CPU's model and widest vector extension are recorded because the same lent machine is not always the same
    host: a sort's speed, for one, depends on whether AVX-512 is there.
    """
    cores = os.cpu_count() or 1
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu": cpu_model(), "cores": cores, "load_average": load, "busy": bool(load and load[0] > cores)}


def cpu_model() -> str | None:
    """`<model name> (<widest of avx512f, avx2, avx, sse4_2>)` from /proc/cpuinfo; None where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    simd = next((flag for flag in ("avx512f", "avx2", "avx", "sse4_2") if flag in flags), None)
    model = fields.get("model name") or fields.get("Model") or fields.get("CPU part")
    return f"{model} ({simd})" if model and simd else model


def interleaved(sides: Mapping[str, Callable[[], Any]],
                repeats: int = MIN_REPEATS) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Wall seconds of each side over `repeats` rounds, the sides run one after another within each round.

    Returns `({side: [seconds per round]}, {side: what its last run returned})`; the best (`min`) of a side's
    seconds is the figure a ratio uses.
    """
    if repeats < MIN_REPEATS:
        raise ValueError(f"repeats={repeats}: a ratio is the best of at least {MIN_REPEATS} interleaved runs")
    times: dict[str, list[float]] = {name: [] for name in sides}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, run in sides.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    return times, results


def best(times: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: min(values) for name, values in times.items()}


def load_note(state: Mapping[str, Any]) -> str:
    """The sentence a results table carries about the machine's load."""
    load, cores = state.get("load_average"), state.get("cores")
    cpu = f", {state['cpu']}" if state.get("cpu") else ""
    text = f"Load average {load} on {cores} cores{cpu}."
    if state.get("busy"):
        text += (" **Busier than its cores while measured**: absolute times are inflated; the interleaved ratios "
                 "are less affected, but rerun on an idle machine before relying on them.")
    return text
