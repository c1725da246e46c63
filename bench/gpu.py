"""Benchmark: the GPU projection, in one script that fits in 8 minutes of one H100 or H200.

1. Per codec config (official architecture, random weights): the engine's real-time factor in fp32, tf32 and bf16
   on speech-like audio, the precisions interleaved and each the best of `--repeats` runs.
2. End to end: `builder build --recipe paper` on a VCTK-shaped tree (48 kHz FLAC, VCTK 0.92 layout), with one
   process and with two processes on the one GPU (`torchrun --nproc_per_node 2`), against the engine alone on the
   same audio: how much of the build hides behind the codec.
3. The projection to the whole dataset: VCTK's 44 hours of speech through every config, in GPU-hours, from the
   fp32 RTFs and the measured build/engine ratio (the paper's 15 configs apart, whose goal is < 2 H200-hours).

Configs are measured until `--budget_s` is spent (the ones left are listed as not measured). `--dry_run` runs the
same code on the CPU at toy sizes (two small configs, a 4-utterance tree, one precision) so that CI checks the
script; its numbers project nothing. Results go to `bench/results/gpu-<device>.md` and `.json`.

    python -m bench.gpu                       # on the lent GPU: every config, 8 minutes
    python -m bench.gpu --dry_run --out /tmp/gpu-dry
"""

from __future__ import annotations

import argparse
import os
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
from bench.timing import MIN_REPEATS, interleaved
from codecfake_hf import codecs
from codecfake_hf.codecs.base import PRECISIONS
from codecfake_hf.resynth import Utterance, resolve_device, resynthesize_stream

ROOT = Path(__file__).resolve().parents[1]
VCTK_HOURS = 44.0  # VCTK 0.92: about 44 hours of speech (110 speakers, ~400 sentences each)
# The dry run's configs: small and quick on a CPU.
DRY_CODECS = ("encodec_24khz", "encodec_24khz_6kbps")
# The tree's speakers: the paper's validation (p226, p229) and test (p227, p228) speakers and two train speakers.
TREE_SPEAKERS = ("p225", "p226", "p227", "p228", "p229", "p230")


def write_vctk_tree(root: Path, per_speaker: int, seconds: float) -> Path:
    """A VCTK 0.92-shaped tree: 48 kHz FLAC per speaker and mic1, transcripts and `speaker-info.txt`."""
    rate = 48000
    utts = vctk_like_utterances(len(TREE_SPEAKERS) * per_speaker, rate=rate, seed=7)
    for i, utt in enumerate(utts):
        speaker = TREE_SPEAKERS[i % len(TREE_SPEAKERS)]
        name = f"{speaker}_{i // len(TREE_SPEAKERS) + 1:03d}"
        wave = utt.wave[: int(seconds * rate)]
        (root / "wav48_silence_trimmed" / speaker).mkdir(parents=True, exist_ok=True)
        sf.write(root / "wav48_silence_trimmed" / speaker / f"{name}_mic1.flac", wave, rate, subtype="PCM_16")
        (root / "txt" / speaker).mkdir(parents=True, exist_ok=True)
        (root / "txt" / speaker / f"{name}.txt").write_text("Please call Stella.\n")
    info = ["ID  AGE  GENDER  ACCENTS  REGION COMMENTS"]
    info += [f"{speaker}  23  F    English  Southern England" for speaker in TREE_SPEAKERS]
    (root / "speaker-info.txt").write_text("\n".join(info) + "\n")
    return root


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def engine_rtfs(name: str, device: torch.device, precisions: list[str], utts: list[Utterance],
                repeats: int) -> dict:
    """The engine's RTF on `utts` per precision (interleaved, best of `repeats`), official size, random weights."""
    start = time.perf_counter()
    codec = codecs.load(name, random_weights=True, device=device)
    load_s = time.perf_counter() - start
    audio_s = sum(u.wave.shape[0] / u.sample_rate for u in utts)
    variants = {p: codec.with_precision(p) for p in precisions}

    def run(variant) -> None:
        for _ in resynthesize_stream(variant, utts, progress=False):
            pass
        _sync(device)

    if device.type == "cuda":  # warm-up: allocator, kernels, autotuning
        for variant in variants.values():
            run(variant)
    times, _ = interleaved({p: (lambda v=v: run(v)) for p, v in variants.items()}, repeats)
    parameters = sum(p.numel() for p in codec.model.parameters())
    codec_batch_exact = codec.batch_exact
    del codec, variants
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"codec": name, "parameters": parameters, "load_s": round(load_s, 2), "audio_s": round(audio_s, 2),
            "batch_exact": codec_batch_exact,
            **{f"rtf_{p}": round(min(times[p]) / audio_s, 5) for p in precisions}}


def build_seconds(tree: Path, out: Path, name: str, device: str, nproc: int) -> float:
    """Wall seconds of `builder build --recipe paper --random_weights` (start-up and model load included)."""
    shutil.rmtree(out, ignore_errors=True)
    launcher = ([str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node", str(nproc)]
                if nproc > 1 else [sys.executable])
    env = {**os.environ, "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(key, None)
    start = time.perf_counter()
    done = subprocess.run([*launcher, "-m", "builder", "build", "--source", f"vctk:{tree}", "--codecs", name,
                           "--out", str(out), "--device", device, "--random_weights", "--recipe", "paper"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"builder build ({nproc} process(es)) failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def engine_seconds_on_tree(tree: Path, name: str, device: torch.device) -> float:
    """The engine alone on the tree's audio at the codec's rate (read and resampled beforehand, not timed)."""
    from codecfake_hf.audio import read_audio, resample

    codec = codecs.load(name, random_weights=True, device=device)
    utts = []
    for path in sorted(tree.glob("wav48_silence_trimmed/*/*.flac")):
        wave, rate = read_audio(path)
        utts.append(Utterance(path.stem, resample(wave, rate, codec.sample_rate), codec.sample_rate))
    start = time.perf_counter()
    for _ in resynthesize_stream(codec, utts, progress=False):
        pass
    _sync(device)
    return time.perf_counter() - start


def project(rows: list[dict], build_over_engine: float, two_proc_speedup: float) -> dict:
    """GPU-hours for VCTK's 44 hours through each measured config: fp32 RTF × 44 h / (build/engine), and with two
    processes per GPU; the paper's 15 and every measured config summed."""
    paper = set(codecs.registry.RELEASE_NAMES)
    per = {r["codec"]: r["rtf_fp32"] * VCTK_HOURS / max(build_over_engine, 1e-9) for r in rows if "rtf_fp32" in r}
    total = sum(per.values())
    paper_total = sum(hours for name, hours in per.items() if name in paper)
    return {"per_config_gpu_hours": {k: round(v, 3) for k, v in per.items()},
            "paper_gpu_hours_1proc": round(paper_total, 3), "all_measured_gpu_hours_1proc": round(total, 3),
            "paper_gpu_hours_2proc": round(paper_total / two_proc_speedup, 3),
            "all_measured_gpu_hours_2proc": round(total / two_proc_speedup, 3),
            "paper_configs_measured": sorted(paper & set(per)), "paper_configs_missing": sorted(paper - set(per))}


def configs(names: str | None, dry_run: bool = False) -> list[str]:
    """The configs to measure: `names` (`all` or a list), else every registered config (`codecs.names()`, so a
    config added to the registry joins the script), or the dry run's two small ones."""
    if dry_run and not names:
        return list(DRY_CODECS)
    return codecs.parse_codec_list(names or "all")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry_run", action="store_true", help="toy sizes on the CPU: checks the script only")
    parser.add_argument("--codecs", default=None, help="`all` or names (default: all; the dry run: two small ones)")
    parser.add_argument("--budget_s", type=float, default=420.0, help="stop starting configs after this many s")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per config and precision (default 30 s)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="interleaved runs; the best counts")
    parser.add_argument("--e2e_codec", default="encodec_24khz", help="the config of the end-to-end builds")
    parser.add_argument("--out", default=None, help="results stem (default: gpu-<device>; dry run: gpu-dry-run)")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    device = torch.device("cpu") if args.dry_run else resolve_device("auto")
    if device.type != "cuda" and not args.dry_run:
        raise SystemExit("bench.gpu measures a GPU and none is here; run it where one is, or pass --dry_run")
    names = configs(args.codecs, args.dry_run)
    precisions = ["fp32"] if args.dry_run else list(PRECISIONS)
    seconds = 2.0 if args.dry_run else args.seconds
    utts = vctk_like_utterances(64, seed=3)
    chosen, total = [], 0.0
    for utt in utts:  # VCTK-like lengths up to the budget of audio
        if total >= seconds:
            break
        chosen.append(utt)
        total += utt.wave.shape[0] / utt.sample_rate

    rows, skipped = [], []
    for name in names:
        if time.perf_counter() - began > args.budget_s * 0.6:  # keep time for the end-to-end builds
            skipped.append(name)
            continue
        try:
            rows.append(engine_rtfs(name, device, precisions, chosen, args.repeats))
        except Exception as error:  # one config's failure (memory, a kernel) is recorded, the others go on
            rows.append({"codec": name, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"})
        print(rows[-1], flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        tree = write_vctk_tree(Path(tmp) / "VCTK", per_speaker=1 if args.dry_run else 8,
                               seconds=1.5 if args.dry_run else 6.0)
        name = codecs.resolve(DRY_CODECS[0] if args.dry_run else args.e2e_codec)
        engine = engine_seconds_on_tree(tree, name, device)
        one = build_seconds(tree, Path(tmp) / "out1", name, device.type, nproc=1)
        two = build_seconds(tree, Path(tmp) / "out2", name, device.type, nproc=2)
        audio_s = sum(sf.info(p).duration for p in tree.glob("wav48_silence_trimmed/*/*.flac"))
    e2e = {"codec": name, "audio_s": round(audio_s, 2), "engine_s": round(engine, 3), "build_1proc_s": round(one, 2),
           "build_2proc_s": round(two, 2), "build_over_engine": round(engine / one, 4),
           "two_over_one_proc": round(one / two, 3)}
    projection = project(rows, e2e["build_over_engine"], e2e["two_over_one_proc"])
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "dry_run": args.dry_run,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "torch": torch.__version__, "precisions": precisions, "seconds_per_config": round(total, 2),
        "rows": rows, "not_measured": skipped, "end_to_end": e2e, "projection": projection,
        "wall_s": round(time.perf_counter() - began, 1),
    }
    lines = [
        f"# GPU projection ({report['device']}{', DRY RUN: toy sizes, no projection' if args.dry_run else ''})",
        "",
        f"Recorded {report['date']} by `python -m bench.gpu{' --dry_run' if args.dry_run else ''}` in "
        f"{report['wall_s']} s; torch {report['torch']}. Engine RTF = compute seconds per second of audio "
        f"({report['seconds_per_config']} s of speech-like audio per config, official architecture, random "
        f"weights; precisions interleaved, best of {args.repeats}).",
        "",
        "| config | parameters | " + " | ".join(f"RTF {p}" for p in precisions) + " |",
        "|---|---:|" + "---:|" * len(precisions),
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['codec']} | failed: {row['error']} |" + " |" * len(precisions))
        else:
            lines.append(f"| {row['codec']} | {row['parameters'] / 1e6:.1f} M | "
                         + " | ".join(str(row[f"rtf_{p}"]) for p in precisions) + " |")
    if skipped:
        lines += ["", f"Not measured within the budget ({args.budget_s:g} s): {', '.join(skipped)}."]
    lines += ["", f"End to end (`builder build --recipe paper`, `{name}`, {e2e['audio_s']} s of 48 kHz audio): "
              f"engine alone {e2e['engine_s']} s; one process {e2e['build_1proc_s']} s, two processes on the one "
              f"device {e2e['build_2proc_s']} s (start-up and model load included). build/engine throughput "
              f"{e2e['build_over_engine']}, two/one processes {e2e['two_over_one_proc']}x.", ""]
    if not args.dry_run:
        lines += [f"Projection, VCTK's {VCTK_HOURS:g} hours: the paper's 15 configs "
                  f"{projection['paper_gpu_hours_1proc']} GPU-hours in one process per GPU, "
                  f"{projection['paper_gpu_hours_2proc']} in two (goal < 2 H200-hours); every measured config "
                  f"{projection['all_measured_gpu_hours_1proc']} / {projection['all_measured_gpu_hours_2proc']}."]
        if projection["paper_configs_missing"]:
            lines.append(f"Paper configs not measured: {', '.join(projection['paper_configs_missing'])}.")
    stem = args.out or ("gpu-dry-run" if args.dry_run else f"gpu-{report['device'].split()[-1].lower()}")
    print(f"wrote {record(stem, report, lines)}")
    return report


if __name__ == "__main__":
    main()
