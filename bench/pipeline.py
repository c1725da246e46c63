"""Benchmark: how much of a build hides behind the codec, and how to spend a machine's cores.

Two ratios, each measured in one run of this script on the same utterances (speech-like signals,
2-8 s, 16-bit WAV files at 16 kHz in a `folder:` source, like the CodecFake release's genuine files):

1. End to end against the engine alone. `builder build` (genuine rows: read, resample, FLAC, Parquet;
   codec rows: genuine rows decoded, the engine, FLAC, Parquet; the card) against
   `resynthesize_stream` alone on the same audio with the same codec object, in this process. The
   ratio is the engine's time over the build's: 1.0 means every step but the codec is hidden. Both
   the pipelined engine (the default) and the sequential one (`workers=0`) are timed.
2. Two processes with one thread each (`torchrun --nproc_per_node 2`, gloo) against one process with
   two threads (`python -m builder build`), as subprocesses, wall time including start-up and
   loading the model (what a user waits for).

The codec has its official architecture with random weights (speed does not depend on the weights).
Results go to `bench/results/pipeline-cpu.md` and `pipeline-cpu.json`.

    python -m bench.pipeline                      # EnCodec 24 kHz, 12 utterances, best of 2
    python -m bench.pipeline --codec descript-audio-codec-16khz --utterances 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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
from bench.timing import MIN_REPEATS
from builder import build
from builder.request import BuildRequest
from codecfake_hf import codecs, resynth
from codecfake_hf.audio import read_audio
from codecfake_hf.resynth import Utterance, resynthesize_stream

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = 4  # the utterances are spread over this many speakers (all in the train split)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", default="encodec_24khz", help="the codec (default: %(default)s)")
    parser.add_argument("--utterances", type=int, default=12, help="utterances (default: %(default)s)")
    parser.add_argument("--shard-size", type=int, default=6, help="utterances per shard (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help="interleaved runs of each side, best counts (default: %(default)s)")
    parser.add_argument("--out", default="pipeline-cpu", help="results file stem in bench/results/")
    args = parser.parse_args(argv)

    name = codecs.resolve(args.codec)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        tmp = Path(tmp)
        source = write_source(tmp / "source", args.utterances)
        audio_seconds = sum(sf.info(p).duration for p in source.glob("*/*.wav"))
        torch.manual_seed(0)
        codec = codecs.load(name, random_weights=True, device="cpu")
        time_engine(codec, source, resynth.DEFAULT_WORKERS)  # warm-up: allocator, kernels, page cache
        # Each pair runs back to back, `--repeats` times, interleaved; the best time of each side counts
        # (on a shared machine the best is the one least disturbed by other work).
        engine, e2e, engine_seq, e2e_seq, two_by_one, one_by_two = ([] for _ in range(6))
        for _ in range(args.repeats):
            engine.append(time_engine(codec, source, resynth.DEFAULT_WORKERS))
            e2e.append(time_build(codec, source, tmp / "out-pipelined", args.shard_size, resynth.DEFAULT_WORKERS))
            engine_seq.append(time_engine(codec, source, 0))
            e2e_seq.append(time_build(codec, source, tmp / "out-sequential", args.shard_size, 0))
        del codec
        for _ in range(args.repeats):
            two_by_one.append(time_cli(source, tmp / "out-2x1", name, args.shard_size, nproc=2, threads=1))
            one_by_two.append(time_cli(source, tmp / "out-1x2", name, args.shard_size, nproc=0, threads=2))
        engine, e2e, engine_seq, e2e_seq, two_by_one, one_by_two = map(
            min, (engine, e2e, engine_seq, e2e_seq, two_by_one, one_by_two))
    n = args.utterances
    row = {
        "codec": name, "utterances": n, "audio_seconds": round(audio_seconds, 2), "shard_size": args.shard_size,
        "repeats": args.repeats, "engine_seconds": round(engine, 3), "engine_sequential_seconds": round(engine_seq, 3),
        "build_seconds": round(e2e, 3), "build_sequential_seconds": round(e2e_seq, 3),
        "engine_utt_per_s": round(n / engine, 3), "build_utt_per_s": round(n / e2e, 3),
        "build_over_engine": round(engine / e2e, 3),
        "build_over_engine_sequential": round(engine_seq / e2e_seq, 3),
        "cli_2proc_1thread_seconds": round(two_by_one, 2), "cli_1proc_2threads_seconds": round(one_by_two, 2),
        "two_procs_over_two_threads": round(one_by_two / two_by_one, 3),
    }
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "args": " ".join(argv if argv is not None else sys.argv[1:]),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "workers": resynth.DEFAULT_WORKERS, "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": f"CPU, {platform.processor() or platform.machine()}",
    }
    print(json.dumps(row, indent=1))
    print(f"wrote {write_results(row, meta, args.out)}")


def write_results(row: dict, meta: dict, stem: str) -> Path:
    lines = [
        f"# Pipeline: end-to-end build vs the engine alone; 2 processes x 1 thread vs 1 process x 2 threads "
        f"({meta['machine']}, {meta['cpus']} cores)",
        "",
        f"Recorded {meta['date']} by `python -m bench.pipeline {meta['args']}`; torch {meta['torch']}, "
        f"{meta['threads']} torch threads, {meta['workers']} engine workers; 1-minute load average at the end "
        f"{meta['load_average_1min']} (the machine is shared, so absolute times are noisy; each ratio's two "
        "sides ran back to back in this one run). Codec `{codec}` with its official architecture and random "
        "weights; {utterances} speech-like utterances, {audio_seconds} s of 16 kHz audio, {shard_size} per "
        "shard. Each time is the best of {repeats} runs, the two sides of a ratio interleaved.".format(**row),
        "",
        "## End to end against the engine alone (same process, same codec object, same audio)",
        "",
        "| engine | engine s | `builder build` s | engine utt/s | build utt/s | build throughput / engine |",
        "|---|---|---|---|---|---|",
        f"| pipelined (default) | {row['engine_seconds']} | {row['build_seconds']} | {row['engine_utt_per_s']} "
        f"| {row['build_utt_per_s']} | **{row['build_over_engine']}** |",
        f"| sequential (`workers=0`) | {row['engine_sequential_seconds']} | {row['build_sequential_seconds']} "
        f"| {round(row['utterances'] / row['engine_sequential_seconds'], 3)} "
        f"| {round(row['utterances'] / row['build_sequential_seconds'], 3)} "
        f"| **{row['build_over_engine_sequential']}** |",
        "",
        "The build's time includes writing the genuine part (read, resample, FLAC, Parquet), decoding the "
        "genuine rows as the codec's input, the Parquet writes and the card; the ratio says how much of that "
        "hides behind the codec.",
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
