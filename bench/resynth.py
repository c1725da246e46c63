"""Benchmark: the batched engine against a batch-size-1 loop (how the CodecFake pipeline ran).

Same codec, same device, same process, on VCTK-like lengths (2-8 s of speech-like audio). Models
have the official architecture with random weights (no Hub access needed); speed does not depend on
the weights' values. Results go to `bench/results/resynth.md` (a table) and `resynth.json`.

    python -m bench.resynth                          # EnCodec 24 kHz, the issue's headline ratio
    python -m bench.resynth --codecs all --utterances 8
    python -m bench.resynth --codecs cpu             # the CPU table: every config but CPU_SKIP's
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bench import record
from bench.timing import MIN_REPEATS, interleaved
from codecfake_hf import codecs
from codecfake_hf.resynth import DEFAULT_BATCH_SECONDS, Utterance, resolve_device, resynthesize_stream

# Configs left out of the CPU table (`--codecs cpu`) on a 2-core machine, and why; `all` still runs them.
CPU_SKIP = {
    name: "161 M parameters (a HuBERT/WavLM base semantic model beside the DAC-style codec), one utterance at a "
          "time; several seconds per second of audio on 2 cores (bench/results/resynth-cpu-all.md)"
    for name in codecs.names() if codecs.spec(name).family == "xcodec"
}


def cpu_table() -> list[str]:
    """Every codec config but those in `CPU_SKIP`."""
    return [name for name in codecs.names() if name not in CPU_SKIP]


def vctk_like_utterances(count: int, rate: int = 16000, seed: int = 0) -> list[Utterance]:
    """Deterministic speech-like signals (voiced harmonics + noise, syllable envelope), 2-8 s long."""
    rng = np.random.default_rng(seed)
    utts = []
    for i in range(count):
        seconds = float(rng.uniform(2.0, 8.0))
        t = np.arange(int(seconds * rate)) / rate
        f0 = 110 + 60 * rng.random() + 20 * np.sin(2 * np.pi * 0.5 * t)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t + rng.random() * 6))
        wave = 0.1 * voiced * envelope + 0.01 * rng.standard_normal(t.size)
        utts.append(Utterance(f"bench_{i:03d}", wave.astype(np.float32), rate))
    return utts


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_loop(codec, utts) -> float:
    """The baseline: one utterance at a time through `codec.resynthesize`, nothing else."""
    from codecfake_hf.audio import resample

    start = time.perf_counter()
    for utt in utts:
        wave = resample(utt.wave, utt.sample_rate, codec.sample_rate)
        codec.resynthesize(wave[None], [wave.shape[0]])
    _sync(codec.device)
    return time.perf_counter() - start


def run_engine(codec, utts, batch_seconds: float | None) -> float:
    start = time.perf_counter()
    for _ in resynthesize_stream(codec, utts, batch_seconds=batch_seconds, progress=False):
        pass
    _sync(codec.device)
    return time.perf_counter() - start


def bench_codec(name: str, utts: list[Utterance], device: torch.device, batch_seconds: float | None,
                repeats: int = MIN_REPEATS) -> dict:
    codec = codecs.load(name, random_weights=True, device=device)
    audio_seconds = sum(len(u.wave) / u.sample_rate for u in utts)
    # Warm up both paths once on a short input (allocator, kernels), then time them interleaved, best of `repeats`.
    run_loop(codec, utts[:1])
    run_engine(codec, utts[:2], batch_seconds)
    times, _ = interleaved({"loop": lambda: run_loop(codec, utts),
                            "engine": lambda: run_engine(codec, utts, batch_seconds)}, repeats)
    loop, engine = min(times["loop"]), min(times["engine"])
    return {
        "codec": name,
        "utterances": len(utts),
        "audio_seconds": round(audio_seconds, 2),
        "batch_exact": codec.batch_exact,
        "loop_seconds": round(loop, 3),
        "engine_seconds": round(engine, 3),
        "loop_rtf": round(loop / audio_seconds, 4),
        "engine_rtf": round(engine / audio_seconds, 4),
        "loop_utt_per_s": round(len(utts) / loop, 3),
        "engine_utt_per_s": round(len(utts) / engine, 3),
        "speedup": round(loop / engine, 2),
        "repeats": repeats,
        "loop_all_seconds": [round(t, 3) for t in times["loop"]],
        "engine_all_seconds": [round(t, 3) for t in times["engine"]],
    }


def write_results(rows: list[dict], meta: dict, stem: str) -> Path:
    lines = [
        f"# Resynthesis: batched engine vs batch-size-1 loop ({meta['device_name']})",
        "",
        f"Recorded {meta['date']} by `python -m bench.resynth {meta['args']}`; torch {meta['torch']}, "
        f"{meta['threads']} threads, batch budget {meta['batch_seconds']} s of padded audio. Official "
        "architectures with random weights; VCTK-like lengths (2-8 s). RTF = compute seconds per second "
        "of audio (lower is faster); speedup = loop time / engine time, both in this process, interleaved, "
        f"best of {meta['repeats']} each.",
        "",
        "| codec | utts | audio s | loop RTF | engine RTF | loop utt/s | engine utt/s | speedup | exact batches |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['codec']} | {r['utterances']} | {r['audio_seconds']} | {r['loop_rtf']} | {r['engine_rtf']} "
            f"| {r['loop_utt_per_s']} | {r['engine_utt_per_s']} | **{r['speedup']}x** "
            f"| {'yes' if r['batch_exact'] else 'no: one at a time'} |"
        )
    return record(stem, {"meta": meta, "rows": rows}, lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codecs", default="encodec_24khz",
                        help="`all`, `cpu` (all but the configs too large for a 2-core CPU, CPU_SKIP) or "
                             "comma-separated names (default: %(default)s)")
    parser.add_argument("--utterances", type=int, default=16, help="utterances per codec (default: %(default)s)")
    parser.add_argument("--batch-seconds", type=float, default=None,
                        help="engine batch budget (default: the engine's for the device: 60 on CUDA, 8 on CPU)")
    parser.add_argument("--device", default="auto",
                        help="`auto` (CUDA when present), `cpu`, `cuda` (default: %(default)s)")
    parser.add_argument("--out", default=None, help="results file stem in bench/results/ (default: resynth[-cuda])")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help="interleaved runs of each side; the best counts (default: %(default)s)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    names = cpu_table() if args.codecs.strip().lower() == "cpu" else codecs.parse_codec_list(args.codecs)
    utts = vctk_like_utterances(args.utterances)
    rows = []
    for name in names:
        row = bench_codec(name, utts, device, args.batch_seconds, args.repeats)
        print(json.dumps(row), flush=True)
        rows.append(row)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "args": " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "batch_seconds": args.batch_seconds or DEFAULT_BATCH_SECONDS.get(device.type, DEFAULT_BATCH_SECONDS["cpu"]),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"CPU, {platform.processor() or platform.machine()}",
    }
    stem = args.out or ("resynth-cuda" if device.type == "cuda" else "resynth")
    print(f"wrote {write_results(rows, meta, stem)}")


if __name__ == "__main__":
    main()
