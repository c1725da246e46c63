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
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bench import record
from bench.timing import MIN_REPEATS, interleaved
from codecfake_hf import codecs
from codecfake_hf.resynth import DEFAULT_BATCH_SECONDS, Utterance, resolve_device, resynthesize_stream

# Configs left out of the CPU table (`--codecs cpu`) on a 2-core machine, and why; `all` still runs them. The
# measured ones: one pass of bench's first utterance (5.82 s, or its first 2 s) right after loading, random weights,
# on the 2-core machine shared with other jobs (load average about 9) on 2026-12-06.
CPU_SKIP = {
    **{name: "161 M parameters (a HuBERT/WavLM base semantic model beside the DAC-style codec), one utterance at a "
             "time; several seconds per second of audio on 2 cores"
       for name in codecs.names() if codecs.spec(name).family == "xcodec"},
    "bicodec": "347 M parameters (wav2vec 2.0 XLSR-53 for the semantic tokens); RTF 11.8 on one 5.82 s utterance",
    "bigcodec": "159 M parameters; RTF 20.9 on one 5.82 s utterance",
    "dualcodec_12hz_v1": "495 M parameters (a w2v-BERT 2.0 semantic model); RTF 5.1 on one 5.82 s utterance, "
                         "31 s to load",
    **{name: "EnCodec 48 kHz (15 M parameters) runs its 1 s chunks one by one: RTF 16.6 on 2 s (24 kbps)"
       for name in codecs.names() if name.startswith("encodec_48khz")},
    # From the 2026-12-06 CPU table (bench/results/resynth.md, load average about 5 on 2 cores): loaded, but not
    # one 5.82 s loop pass within its 75 s.
    "dualcodec_25hz_v1": "a w2v-BERT 2.0 semantic model as dualcodec_12hz_v1's; 32 s to load, then not one 5.82 s "
                         "pass within 75 s",
    **{name: f"a latent diffusion decoder (50 DDIM steps with guidance, about 100 UNet evaluations a 10.24 s "
             f"window); {load} s to load, then not one 5.82 s pass within 75 s"
       for name, load in (("semanticodec_1.40kbps", 23), ("semanticodec_0.70kbps", 40), ("semanticodec_0.35kbps", 66))
       if name in codecs.names()},
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
    """The baseline: one utterance at a time through `codec.resynthesize`, nothing else.

    The codec runs from a worker thread with this thread's torch threads, as the engine's codec stage does: on a
    2-core machine busier than its cores, the same call from the main thread ran 2-8x slower than from a worker
    thread at 2 torch threads (alike at 1; bench/results/resynth.md of 2026-12-06), which a ratio must not count.
    """
    from codecfake_hf.audio import resample

    threads, failed, stop, done = torch.get_num_threads(), [], threading.Event(), threading.Event()

    def loop() -> None:
        torch.set_num_threads(threads)
        try:
            for utt in utts:
                if stop.is_set():
                    return
                wave = resample(utt.wave, utt.sample_rate, codec.sample_rate)
                codec.resynthesize(wave[None], [wave.shape[0]])
            _sync(codec.device)
        except BaseException as error:  # re-raised in the caller's thread
            failed.append(error)
        finally:
            done.set()

    start = time.perf_counter()
    worker = threading.Thread(target=loop, name="bench-loop", daemon=True)
    worker.start()
    # Wait on an event in slices, so that the caller's SIGALRM (--codec_timeout_s) still lands. Not on
    # `worker.join(timeout)`: a join that a signal's exception interrupts can mark the running thread stopped
    # (CPython 3.11, bpo-45274's handler), and the thread then ran on into interpreter shutdown, which aborted
    # ("terminate called without an active exception", after xcodec2 was stopped part-way).
    try:
        while not done.wait(0.05):
            pass
    except BaseException:  # stopped: let the utterance in flight finish, so that it loads no later measurement
        stop.set()
        done.wait()
        worker.join()
        raise
    worker.join()
    if failed:
        raise failed[0]
    return time.perf_counter() - start


def run_engine(codec, utts, batch_seconds: float | None) -> float:
    start = time.perf_counter()
    for _ in resynthesize_stream(codec, utts, batch_seconds=batch_seconds, progress=False):
        pass
    _sync(codec.device)
    return time.perf_counter() - start


def bench_codec(name: str, utts: list[Utterance], device: torch.device, batch_seconds: float | None,
                repeats: int = MIN_REPEATS, reached: dict | None = None) -> dict:
    """One row; `reached` (when given) gets the load time and the first warm-up pass's RTF as they are measured,
    so that a config stopped part-way still reports them."""
    reached = {} if reached is None else reached
    start = time.perf_counter()
    codec = codecs.load(name, random_weights=True, device=device)
    reached["load_s"] = round(time.perf_counter() - start, 1)
    audio_seconds = sum(len(u.wave) / u.sample_rate for u in utts)
    # Warm up both paths once on a short input (allocator, kernels), then time them interleaved, best of `repeats`.
    first = run_loop(codec, utts[:1])
    reached["warmup_loop_rtf"] = round(first / (len(utts[0].wave) / utts[0].sample_rate), 3)
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


class CodecTimeout(Exception):
    """A config's benchmark ran past `--codec_timeout_s`."""


def bench_codec_within(name: str, utts: list[Utterance], device: torch.device, batch_seconds: float | None,
                       repeats: int, timeout_s: float | None) -> dict:
    """`bench_codec`, stopped after `timeout_s` wall seconds (model load included) when given.

    A stopped config becomes a row that says so (`timed_out_s`), so that a table on a shared CPU reports the
    configs too slow for it instead of waiting for them. SIGALRM interrupts between torch operations.
    """
    if not timeout_s:
        return bench_codec(name, utts, device, batch_seconds, repeats)

    def stop(signum, frame):
        raise CodecTimeout

    reached: dict = {}
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return bench_codec(name, utts, device, batch_seconds, repeats, reached)
    except CodecTimeout:
        return {"codec": name, "utterances": len(utts), "timed_out_s": timeout_s, **reached}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
    if meta.get("cpu_skip"):
        lines[2:2] = ["Left out (`CPU_SKIP`, too slow or too large for a 2-core CPU; `--codecs all` runs them): "
                      + "; ".join(f"{name}: {why}" for name, why in meta["cpu_skip"].items()) + ".", ""]
    if meta.get("unfinished"):
        lines[2:2] = [f"**Unfinished**: not yet measured: {', '.join(meta['unfinished'])}.", ""]
    for r in rows:
        if "timed_out_s" in r:
            got = (f"; loaded in {r['load_s']:g} s" if "load_s" in r else "; still loading") + (
                f", first (warm-up) loop pass RTF {r['warmup_loop_rtf']:g}" if "warmup_loop_rtf" in r else "")
            lines.append(f"| {r['codec']} | {r['utterances']} | over {r['timed_out_s']:g} s (load and warm-up "
                         f"included): stopped, not measured{got} | | | | | | |")
            continue
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
    parser.add_argument("--codec_timeout_s", type=float, default=None,
                        help="stop a config after this many wall seconds and say so in its row (default: none)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    cpu = args.codecs.strip().lower() == "cpu"
    names = cpu_table() if cpu else codecs.parse_codec_list(args.codecs)
    utts = vctk_like_utterances(args.utterances)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "args": " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "batch_seconds": args.batch_seconds or DEFAULT_BATCH_SECONDS.get(device.type, DEFAULT_BATCH_SECONDS["cpu"]),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"CPU, {platform.processor() or platform.machine()}",
        **({"cpu_skip": CPU_SKIP} if cpu else {}),
    }
    stem = args.out or ("resynth-cuda" if device.type == "cuda" else "resynth")
    rows: list[dict] = []
    for i, name in enumerate(names):
        rows.append(bench_codec_within(name, utts, device, args.batch_seconds, args.repeats, args.codec_timeout_s))
        print(json.dumps(rows[-1]), flush=True)
        # Rewritten after every config, so that a long table cut short keeps what it measured (and says so).
        path = write_results(rows, {**meta, "unfinished": names[i + 1:]}, stem)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
