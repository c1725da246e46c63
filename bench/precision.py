"""Benchmark: how far each `--precision` (tf32, bf16) takes every codec's output from fp32, and its speed.

Same codec (official architecture, random weights seeded from its name: the same model in every run),
same input, same process: the fp32 output is the reference, and each other precision is measured
against it by relative L2 (||y - y_fp32|| / ||y_fp32||), SNR (dB, fp32 output as signal, the
difference as noise) and the largest PCM16 step apart after the ±0.99 clamp the rows get. Inputs are
the real VCTK clips of `../shared/data/codecfake-demo/` (or speech-like signals without it), cut to
`--seconds`, one at a time (no batching, so batch shape plays no part).

On a CPU, `tf32` is a no-op (CPUs have no TF32; tests/test_precision.py checks that its numbers equal
fp32's), so it is measured only on CUDA unless asked for. Random weights: a trained model's
activations differ, and a bfloat16 rounding that flips a quantiser's nearest codeword changes a whole
frame, so treat these as the size of the effect, to be re-measured with the official weights.

    python -m bench.precision                        # all codecs on this machine's device
    python -m bench.precision --codecs encodec_24khz,dac_16khz --seconds 4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from codecfake_hf import codecs
from codecfake_hf.audio import read_audio, resample, to_pcm16
from codecfake_hf.resynth import resolve_device

from . import record
from .resynth import vctk_like_utterances
from .timing import MIN_REPEATS, interleaved

SHARED = Path(os.environ.get("CODECFAKE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def input_clips(count: int, seconds: float) -> tuple[list[np.ndarray], int, str]:
    """`count` clips of at most `seconds` at 16 kHz: the demo's real VCTK clips, else speech-like signals."""
    files = sorted((SHARED / "data" / "codecfake-demo").glob("genuine+*.wav"))[:count]
    if files:
        clips = [resample(*read_audio(f), 16000) for f in files]
        source = "real VCTK clips (" + ", ".join(f.stem.split("+")[1] for f in files) + ")"
    else:
        clips = [u.wave for u in vctk_like_utterances(count)]
        source = "speech-like signals (bench.resynth.vctk_like_utterances)"
    return [c[: int(seconds * 16000)] for c in clips], 16000, source


def _run(codec, waves: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    start = time.perf_counter()
    outputs = []
    for wave in waves:
        out, lengths = codec.resynthesize(wave[None], [wave.shape[0]])
        outputs.append(out[0, : int(lengths[0])].numpy())
    if codec.device.type == "cuda":
        torch.cuda.synchronize()
    return outputs, time.perf_counter() - start


def deviation(outputs: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """rel. L2, SNR (dB) and the largest PCM16 step apart, over all clips together."""
    y = np.concatenate(outputs).astype(np.float64)
    ref = np.concatenate(reference).astype(np.float64)
    error = float(np.linalg.norm(y - ref))
    rel = error / max(float(np.linalg.norm(ref)), 1e-30)
    pcm = np.abs(to_pcm16(y).astype(np.int32) - to_pcm16(ref).astype(np.int32)).max()
    return {"rel_l2": float(f"{rel:.3g}"), "snr_db": round(-20 * math.log10(rel), 1) if rel > 0 else math.inf,
            "max_pcm16_steps": int(pcm)}


def bench_codec(name: str, clips: list[np.ndarray], rate: int, device: torch.device,
                precisions: list[str], repeats: int = MIN_REPEATS) -> list[dict]:
    codec = codecs.load(name, random_weights=True, device=device)
    waves = [resample(c, rate, codec.sample_rate) for c in clips]
    seconds = sum(w.shape[0] for w in waves) / codec.sample_rate
    variants = {"fp32": codec}
    rows = []
    for precision in precisions:
        variant = codec.with_precision(precision)  # the same model at another precision
        try:
            _run(variant, [waves[0][: codec.sample_rate]])  # warm-up (allocator, kernels); a failing one says so
        except (RuntimeError, TypeError, ValueError) as error:
            rows.append({"codec": name, "precision": precision, "error": str(error).splitlines()[0]})
            continue
        variants[precision] = variant
    _run(codec, [waves[0][: codec.sample_rate]])
    # Every precision interleaved with fp32, best of `repeats`; fp32's outputs must be the same in every run
    # (fp32 is exact and repeatable).
    times, outputs = interleaved({p: (lambda v=v: _run(v, waves)[0]) for p, v in variants.items()}, repeats)
    reference = outputs["fp32"]
    again = _run(codec, waves)[0]
    repeatable = all(np.array_equal(a, b) for a, b in zip(again, reference, strict=True))
    fp32_time = min(times["fp32"])
    for precision in [p for p in variants if p != "fp32"]:
        elapsed = min(times[precision])
        rows.append({"codec": name, "precision": precision, **deviation(outputs[precision], reference),
                     "seconds": round(elapsed, 2), "audio_seconds": round(seconds, 2),
                     "speedup": round(fp32_time / elapsed, 2)})
    return [{"codec": name, "precision": "fp32", "rel_l2": 0.0, "snr_db": math.inf, "max_pcm16_steps": 0,
             "seconds": round(fp32_time, 2), "speedup": 1.0, "audio_seconds": round(seconds, 2),
             "repeatable": repeatable}, *rows]


def write_results(rows: list[dict], meta: dict, stem: str) -> Path:
    lines = [
        f"# Precision: deviation from fp32 per codec ({meta['device_name']})",
        "",
        f"Recorded {meta['date']} by `python -m bench.precision {meta['args']}`; torch {meta['torch']}, "
        f"{meta['threads']} threads. Official architectures, random weights seeded from the codec name "
        f"(seed 0); input: {meta['source']}, {meta['seconds']} s each, one at a time. rel. L2 = "
        "||y - y_fp32|| / ||y_fp32|| over all clips; SNR = -20 log10(rel. L2); PCM16 = largest difference "
        "in 16-bit steps after the ±0.99 clamp; speedup = fp32 time / this precision's time, same process, each "
        f"the best of {meta['repeats']} interleaved runs.",
        "",
        meta["note"],
        "",
        "| codec | precision | rel. L2 | SNR dB | max PCM16 steps | seconds | speedup |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['codec']} | {r['precision']} | failed: {r['error']} | | | | |")
        elif r["precision"] == "fp32":
            same = "0 (a second run: identical)" if r["repeatable"] else "**a second run differed**"
            lines.append(f"| {r['codec']} | fp32 | {same} | | | {r['seconds']} | 1x |")
        else:
            lines.append(f"| {r['codec']} | {r['precision']} | {r['rel_l2']:.3g} | {r['snr_db']} "
                         f"| {r['max_pcm16_steps']} | {r['seconds']} | {r['speedup']}x |")
    return record(stem, {"meta": meta, "rows": rows}, lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codecs", default="all", help="`all` or comma-separated names (default: %(default)s)")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated precisions to compare with fp32 (default: tf32,bf16 on CUDA; bf16 "
                             "on CPU, where tf32 is a no-op)")
    parser.add_argument("--clips", type=int, default=2, help="input clips (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of each clip (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="`auto`, `cpu`, `cuda` (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help="interleaved runs of each precision; the best counts (default: %(default)s)")
    parser.add_argument("--out", default=None, help="results file stem in bench/results/ (default: precision-DEVICE)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    precisions = (args.precisions.split(",") if args.precisions
                  else ["tf32", "bf16"] if device.type == "cuda" else ["bf16"])
    clips, rate, source = input_clips(args.clips, args.seconds)
    rows = []
    for name in codecs.parse_codec_list(args.codecs):
        for row in bench_codec(name, clips, rate, device, precisions, args.repeats):
            print(json.dumps(row), flush=True)
            rows.append(row)
    on_cpu = device.type == "cpu" and "tf32" not in precisions
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "args": " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "source": source, "seconds": args.seconds,
        "repeats": args.repeats,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"CPU, {platform.processor() or platform.machine()}",
        "note": ("tf32 is not in this table: a CPU has no TF32, so `--precision tf32` gives exactly fp32's numbers "
                 "here (tests/test_precision.py checks it); measure it on a CUDA device. " if on_cpu else "")
        + "bf16 runs the convolution, linear and recurrent layers under bfloat16 autocast, float32 between them "
          "(codecfake_hf.codecs.base.BF16_LAYERS). Weights are random: a trained model's deviation differs, and a "
          "rounding that flips a quantiser's nearest codeword changes a whole frame.",
    }
    stem = args.out or f"precision-{device.type}"
    print(f"wrote {write_results(rows, meta, stem)}")


if __name__ == "__main__":
    main()
