"""Benchmark: how much of a build hides behind the codec, and how to spend a machine's cores.

Two ratios, each measured in one run of this script on the same utterances (speech-like signals,
2-8 s, 16-bit WAV files at 16 kHz in a `folder:` source, like the CodecFake release's genuine files):

1. End to end against the engine alone. `builder build` (genuine rows: read, resample, FLAC, Parquet;
   codec rows: genuine rows decoded, the engine, FLAC, Parquet; the card) against
   `resynthesize_stream` alone on the same audio with the same codec object, in this process. The
   ratio is the engine's time over the build's: 1.0 means every step but the codec is hidden. Both
   the pipelined engine (the default) and the sequential one (`workers=0`) are timed. With `overhead`, the
   same two with the codec's resynthesis replaced by an identity: the build's own work, in seconds, where
   no codec hides it.
2. Two processes with one thread each (`torchrun --nproc_per_node 2`, gloo) against one process with
   two threads (`python -m builder build`), as subprocesses, wall time including start-up and
   loading the model (what a user waits for).

The codec has its official architecture with random weights (speed does not depend on the weights).
Results go to `bench/results/pipeline-cpu.md` and `pipeline-cpu.json`.

    python -m bench.pipeline                      # EnCodec 24 kHz, 12 utterances, best of 3
    python -m bench.pipeline --codec descript-audio-codec-16khz --utterances 8
    python -m bench.pipeline --parts pipelined,overhead   # the default engine vs its build; the build's own work
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import soundfile as sf
import torch

from bench import record
from bench.resynth import vctk_like_utterances
from bench.timing import MIN_REPEATS, best, interleaved, machine
from builder import build
from builder.request import BuildRequest
from codecfake_hf import codecs, resynth
from codecfake_hf.audio import read_audio
from codecfake_hf.resynth import Utterance, resynthesize_stream

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = 4  # the utterances are spread over this many speakers (all in the train split)
PARTS = ("pipelined", "sequential", "overhead", "cli")  # what `--parts` may name: the tables' rows


def write_source(folder: Path, count: int) -> Path:
    """`count` speech-like utterances as 16 kHz 16-bit WAV files, `<speaker>/<utterance>.wav`."""
    for i, utt in enumerate(vctk_like_utterances(count, rate=16000, seed=1)):
        speaker = folder / f"s{i % SPEAKERS}"
        speaker.mkdir(parents=True, exist_ok=True)
        sf.write(speaker / f"{utt.id}.wav", utt.wave, 16000, subtype="PCM_16")
    return folder


def time_engine(codec, source: Path, workers: int) -> float:
    """The engine alone on the genuine audio (read beforehand, not timed), as a build feeds it."""
    utts = [Utterance(p.stem, *read_audio(p)) for p in sorted(source.glob("*/*.wav"))]
    start = time.perf_counter()
    for _ in resynthesize_stream(codec, utts, progress=False, workers=workers):
        pass
    return time.perf_counter() - start


def time_build(codec, source: Path, out: Path, shard_size: int, workers: int) -> float:
    """`builder build` in this process with the same codec object (so no model load is timed)."""
    shutil.rmtree(out, ignore_errors=True)
    saved = resynth.DEFAULT_WORKERS
    resynth.DEFAULT_WORKERS = workers
    try:
        request = BuildRequest(source=f"folder:{source}", codecs=codec.name, out=str(out), device="cpu",
                               shard_size=shard_size)
        start = time.perf_counter()
        build(request, codec_factory=lambda *_: codec, progress=False)
        return time.perf_counter() - start
    finally:
        resynth.DEFAULT_WORKERS = saved


def time_cli(source: Path, out: Path, codec: str, shard_size: int, nproc: int, threads: int) -> float:
    """A `builder build --random-weights` subprocess: `torchrun` with `nproc` ranks, or plain python for 0."""
    shutil.rmtree(out, ignore_errors=True)
    launcher = ([str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node", str(nproc)]
                if nproc else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(name, None)
    start = time.perf_counter()
    subprocess.run([*launcher, "-m", "builder", "build", "--source", f"folder:{source}", "--codecs", codec,
                    "--out", str(out), "--device", "cpu", "--random-weights", "--shard-size", str(shard_size)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", default="encodec_24khz", help="the codec (default: %(default)s)")
    parser.add_argument("--utterances", type=int, default=12, help="utterances (default: %(default)s)")
    parser.add_argument("--shard-size", type=int, default=6, help="utterances per shard (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help="interleaved runs of each side, best counts (default: %(default)s)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated subset of " + ", ".join(PARTS) + " (default: all)")
    parser.add_argument("--out", default="pipeline-cpu", help="results file stem in bench/results/")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts {args.parts!r}: name some of {', '.join(PARTS)}")

    name = codecs.resolve(args.codec)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        tmp = Path(tmp)
        source = write_source(tmp / "source", args.utterances)
        audio_seconds = sum(sf.info(p).duration for p in source.glob("*/*.wav"))
        torch.manual_seed(0)
        codec = codecs.load(name, random_weights=True, device="cpu")
        load_at_start = machine()["load_average"]
        # Warm-up, untimed: the allocator, the kernels, the page cache, and the modules a build imports on first use
        # (the card's spectrogram grid: matplotlib), so that no side's first run pays for what the other's did not.
        time_engine(codec, source, resynth.DEFAULT_WORKERS)
        if {"pipelined", "sequential", "overhead"} & set(parts):
            time_build(codec, source, tmp / "out-warm-up", args.shard_size, resynth.DEFAULT_WORKERS)
        # Each side of a ratio interleaved with the other (bench.timing), best of `--repeats`: on a shared machine
        # the best is the run least disturbed by other work, and both sides see the same background load.
        sides = {}
        for part, workers in (("pipelined", resynth.DEFAULT_WORKERS), ("sequential", 0)):
            if part in parts:
                sides[f"engine_{part}"] = lambda w=workers, c=codec: time_engine(c, source, w)
                sides[f"build_{part}"] = lambda w=workers, p=part, c=codec: time_build(c, source, tmp / f"out-{p}",
                                                                                      args.shard_size, w)
        if "overhead" in parts:
            # The same codec object with its resynthesis shadowed by an identity: what is left of each side is the
            # work around the codec (reading, resampling, PCM16, and in the build FLAC, Parquet, the card).
            hollow = copy.copy(codec)
            hollow.resynthesize = lambda waves, lengths: (waves.clone(), lengths)
            sides["engine_overhead"] = lambda c=hollow: time_engine(c, source, resynth.DEFAULT_WORKERS)
            sides["build_overhead"] = lambda c=hollow: time_build(c, source, tmp / "out-overhead", args.shard_size,
                                                                  resynth.DEFAULT_WORKERS)
        runs: dict[str, list[float]] = {}
        if sides:
            times, _ = interleaved(sides, args.repeats)
            seconds.update(best(times))
            runs.update(times)
        del codec, sides  # the subprocesses below load their own
        hollow = None
        if "cli" in parts:
            times, _ = interleaved({
                "cli_2x1": lambda: time_cli(source, tmp / "out-2x1", name, args.shard_size, nproc=2, threads=1),
                "cli_1x2": lambda: time_cli(source, tmp / "out-1x2", name, args.shard_size, nproc=0, threads=2),
            }, args.repeats)
            seconds.update(best(times))
            runs.update(times)
    n = args.utterances
    row: dict = {"codec": name, "utterances": n, "audio_seconds": round(audio_seconds, 2),
                 "shard_size": args.shard_size, "repeats": args.repeats, "parts": parts,
                 "runs_seconds": {side: [round(t, 3) for t in values] for side, values in runs.items()}}
    for part, key in (("pipelined", ""), ("sequential", "_sequential")):
        if part in parts:
            engine, e2e = seconds[f"engine_{part}"], seconds[f"build_{part}"]
            row.update({f"engine{key}_seconds": round(engine, 3), f"build{key}_seconds": round(e2e, 3),
                        f"engine{key}_utt_per_s": round(n / engine, 3), f"build{key}_utt_per_s": round(n / e2e, 3),
                        f"build_over_engine{key}": round(engine / e2e, 3),
                        # each round's own ratio (its two sides ran back to back): their median, beside the best's
                        f"build_over_engine{key}_per_round": [round(e / b, 3) for e, b in zip(
                            runs[f"engine_{part}"], runs[f"build_{part}"], strict=True)]})
    if "overhead" in parts:
        extra = seconds["build_overhead"] - seconds["engine_overhead"]
        row.update({"engine_overhead_seconds": round(seconds["engine_overhead"], 3),
                    "build_overhead_seconds": round(seconds["build_overhead"], 3),
                    "build_extra_seconds": round(extra, 3)})
        if "pipelined" in parts:  # the ratio if the build's own work added its time to the codec's, no more
            row["build_over_engine_extra_only"] = round(seconds["engine_pipelined"] / (seconds["engine_pipelined"]
                                                                                       + extra), 3)
    if "cli" in parts:
        row.update({"cli_2proc_1thread_seconds": round(seconds["cli_2x1"], 2),
                    "cli_1proc_2threads_seconds": round(seconds["cli_1x2"], 2),
                    "two_procs_over_two_threads": round(seconds["cli_1x2"] / seconds["cli_2x1"], 3)})
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "args": " ".join(argv if argv is not None else sys.argv[1:]),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "workers": resynth.DEFAULT_WORKERS, "machine": f"CPU, {platform.processor() or platform.machine()}",
        "load_at_start": load_at_start, "load_at_end": machine()["load_average"],
    }
    print(json.dumps(row, indent=1))
    print(f"wrote {write_results(row, meta, args.out)}")
    return row


def write_results(row: dict, meta: dict, stem: str) -> Path:
    parts = row["parts"]
    title = [*(["end-to-end build vs the engine alone"] if {"pipelined", "sequential"} & set(parts) else []),
             *(["2 processes x 1 thread vs 1 process x 2 threads"] if "cli" in parts else [])]
    lines = [
        f"# Pipeline: {'; '.join(title)} ({meta['machine']}, {meta['cpus']} cores)",
        "",
        f"Recorded {meta['date']} by `python -m bench.pipeline {meta['args']}`; torch {meta['torch']}, "
        f"{meta['threads']} torch threads, {meta['workers']} engine workers. Codec `{row['codec']}` with its "
        f"official architecture and random weights; {row['utterances']} speech-like utterances, "
        f"{row['audio_seconds']} s of 16 kHz audio, {row['shard_size']} per shard. Each time is the best of "
        f"{row['repeats']} runs, the two sides of a ratio interleaved (bench.timing). Measured: "
        f"{', '.join(parts)}. Load average (1, 5, 15 min) {meta['load_at_start']} before the first run, "
        f"{meta['load_at_end']} after the last; a load above {meta['cpus']} means other work shared the cores. "
        "Every run's seconds, in order: "
        + "; ".join(f"{side} {values}" for side, values in row["runs_seconds"].items()) + ".",
    ]
    if "pipelined" in parts or "sequential" in parts:
        lines += [
            "",
            "## End to end against the engine alone (same process, same codec object, same audio)",
            "",
            "| engine | engine s | `builder build` s | engine utt/s | build utt/s | build throughput / engine |",
            "|---|---|---|---|---|---|",
        ]
        for part, key, label in (("pipelined", "", "pipelined (default)"),
                                 ("sequential", "_sequential", "sequential (`workers=0`)")):
            if part in parts:
                lines.append(f"| {label} | {row[f'engine{key}_seconds']} | {row[f'build{key}_seconds']} "
                             f"| {row[f'engine{key}_utt_per_s']} | {row[f'build{key}_utt_per_s']} "
                             f"| **{row[f'build_over_engine{key}']}** |")
        lines += [
            "",
            "The build's time includes writing the genuine part (read, resample, FLAC, Parquet), decoding the "
            "genuine rows as the codec's input, the Parquet writes and the card; the ratio says how much of that "
            "hides behind the codec. Each round's own ratio (engine s / build s of the same round): "
            + "; ".join(f"{part} {row[f'build_over_engine{key}_per_round']}" for part, key in
                        (("pipelined", ""), ("sequential", "_sequential")) if part in parts)
            + " (median " + "; ".join(f"{part} {statistics.median(row[f'build_over_engine{key}_per_round']):.3f}"
                                      for part, key in (("pipelined", ""), ("sequential", "_sequential"))
                                      if part in parts) + ").",
        ]
    if "overhead" in parts:
        lines += [
            "",
            "## The build's own work (the codec's resynthesis replaced by an identity, same object otherwise)",
            "",
            "| engine s | `builder build` s | build - engine s |",
            "|---|---|---|",
            f"| {row['engine_overhead_seconds']} | {row['build_overhead_seconds']} "
            f"| **{row['build_extra_seconds']}** |",
            "",
            "What the build does beyond the engine, timed where no codec hides it: the genuine part (read, resample, "
            "FLAC, Parquet), FLAC of the outputs, the Parquet writes, the shard records and the card (its example "
            "clips and spectrogram grid)."
            + (f" Added to the engine's best time above, it would give a ratio of "
               f"**{row['build_over_engine_extra_only']}**." if "build_over_engine_extra_only" in row else ""),
        ]
    if "cli" in parts:
        lines += [
            "",
            "## Two processes x one thread against one process x two threads (`builder build --random-weights`)",
            "",
            "| launch | wall s (start-up and model load included) |",
            "|---|---|",
            f"| `OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 -m builder build ...` "
            f"| {row['cli_2proc_1thread_seconds']} |",
            f"| `OMP_NUM_THREADS=2 python -m builder build ...` | {row['cli_1proc_2threads_seconds']} |",
            f"| speed of 2 x 1 over 1 x 2 | **{row['two_procs_over_two_threads']}** |",
        ]
    return record(stem, {"meta": meta, "row": row}, lines)


if __name__ == "__main__":
    main()
