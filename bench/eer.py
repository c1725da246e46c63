"""Benchmark: `codecfake_hf.metrics.compute_eer` against the straightforward published code, on 10M scores.

The reference is the ASVspoof evaluation code's algorithm written out plainly: concatenate bona fide and
spoof scores, stable `argsort`, cumulative sums, |FRR − FAR| at every position, `argmin`. Both run in
the same process on the same arrays; every repeat checks that both give the same EER and threshold
(bit for bit). Two score sets: continuous scores (no ties), and the same scores rounded to 3 decimals
(tie-heavy, like saturated probabilities). The class ratio is CodecFake's (1 genuine : 15 codecs).
Results go to `bench/results/eer.md` (a table) and `bench/results/eer.json`.

    python -m bench.eer                 # 10M scores, 3 repeats
    python -m bench.eer --scores 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench import RESULTS, record
from bench.timing import MIN_REPEATS, interleaved, machine
from codecfake_hf.metrics import compute_eer, compute_min_dcf


def published_det_curve(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ASVspoof 2019/2021/5's `compute_det_curve`, transcribed: stable sort of bona fide then spoof scores.

    Also the oracle of tests/test_metrics.py, so the benchmark's reference is the tested one.
    """
    n = bonafide.size + spoof.size
    scores = np.concatenate((bonafide, spoof))
    labels = np.concatenate((np.ones(bonafide.size), np.zeros(spoof.size)))
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    bona_sums = np.cumsum(labels)
    spoof_sums = spoof.size - (np.arange(1, n + 1) - bona_sums)
    frr = np.concatenate(([0], bona_sums / bonafide.size))
    far = np.concatenate(([1], spoof_sums / spoof.size))
    thresholds = np.concatenate(([scores[order[0]] - 0.001], scores[order]))
    return frr, far, thresholds


def published_eer(bonafide: np.ndarray, spoof: np.ndarray) -> tuple[float, float]:
    """ASVspoof's `compute_eer` over `published_det_curve`: the first position minimising |FRR − FAR|."""
    frr, far, thresholds = published_det_curve(bonafide, spoof)
    index = np.argmin(np.abs(frr - far))
    return float(np.mean((frr[index], far[index]))), float(thresholds[index])


def score_sets(total: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bona fide ~ N(2, 1) and spoof ~ N(0, 1) log-odds at 1:15, continuous and rounded to 3 decimals."""
    rng = np.random.default_rng(seed)
    n_bona = total // 16
    bonafide = rng.normal(2.0, 1.0, n_bona)
    spoof = rng.normal(0.0, 1.0, total - n_bona)
    return {"continuous (no ties)": (bonafide, spoof),
            "rounded to 1e-3 (ties)": (np.round(bonafide, 3), np.round(spoof, 3))}


def timed(function, *args, repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return times, result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.eer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scores", type=int, default=10_000_000, help="Total scores per set. Default: 10M.")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help="Interleaved timed runs of each function; the best counts. Default: 3.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the score sets. Default: 0.")
    parser.add_argument("--output", default=str(RESULTS / "eer"), help="Result path without suffix.")
    args = parser.parse_args(argv)

    rows = []
    for name, (bonafide, spoof) in score_sets(args.scores, args.seed).items():
        times, results = interleaved({"ours": lambda b=bonafide, s=spoof: compute_eer(b, s),
                                      "reference": lambda b=bonafide, s=spoof: published_eer(b, s)}, args.repeats)
        ours_times, ref_times, ours, ref = times["ours"], times["reference"], results["ours"], results["reference"]
        if ours != ref:
            raise SystemExit(f"{name}: compute_eer gave {ours}, the reference {ref}")
        dcf_times, min_dcf = timed(compute_min_dcf, bonafide, spoof, repeats=1)
        rows.append({
            "scores": name, "n_bonafide": int(bonafide.size), "n_spoof": int(spoof.size),
            "eer": ours[0], "threshold": ours[1], "identical": True, "min_dcf": min_dcf[0],
            "compute_eer_s": min(ours_times), "reference_s": min(ref_times),
            "speedup": min(ref_times) / min(ours_times), "compute_min_dcf_s": dcf_times[0],
            "compute_eer_all_s": ours_times, "reference_all_s": ref_times,
        })
        print(f"{name}: compute_eer {min(ours_times):.3f} s, reference {min(ref_times):.3f} s "
              f"(x{rows[-1]['speedup']:.1f}), EER {100 * ours[0]:.4f} %, identical")

    report = {
        "benchmark": "compute_eer vs the straightforward published algorithm (stable argsort), same process, "
                     "interleaved",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(), "numpy": np.__version__},
        "repeats": args.repeats,
        "results": rows,
    }
    lines = [
        f"# compute_eer on {args.scores:,} scores",
        "",
        f"{report['benchmark']}; best of {args.repeats} runs each; both results checked identical (EER and "
        f"threshold, bit for bit). {report['date']}, {report['machine']['platform']}, "
        f"{report['machine']['cores']} CPUs, numpy {np.__version__}. Reproduce: `python -m bench.eer`.",
        "",
        "| scores | bona fide | spoof | EER (%) | compute_eer (s) | reference (s) | speed-up | minDCF (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['scores']} | {row['n_bonafide']:,} | {row['n_spoof']:,} | {100 * row['eer']:.4f} | "
                     f"{row['compute_eer_s']:.3f} | {row['reference_s']:.3f} | ×{row['speedup']:.1f} | "
                     f"{row['compute_min_dcf_s']:.3f} |")
    lines += ["", "compute_eer sorts each class with `np.sort` and finds the FRR = FAR crossing by binary search "
              "(exact integer comparisons); the reference does a stable argsort of all scores and builds the "
              "whole curve. minDCF needs the whole curve (n + 1 points); it builds it from the same two sorts, merged "
              "with `searchsorted`, instead of a stable argsort.", ""]
    record(Path(args.output), report, lines)
    return report


if __name__ == "__main__":
    main()
