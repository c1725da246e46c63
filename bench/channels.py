"""Benchmark: what a channel condition costs per second of audio, against a codec's own resynthesis of it.

Same process, same audio: real VCTK speech (the demo clips, at 16 kHz), each condition (`codecfake_hf.channels`,
FFmpeg's encoders through PyAV) and one codec (official architecture, random weights) timed interleaved, best of
`--repeats`. A condition row of a build runs the condition on the codec row it derives from (no second codec run),
so its cost is this ratio of the codec's. Results go to `bench/results/channels-cpu.md` and `.json`.

    python -m bench.channels                           # every condition against encodec_24khz
    python -m bench.channels --codec descript-audio-codec-16khz --conditions opus_16k,g711_mulaw
"""

from __future__ import annotations

import argparse
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bench import record
from bench.timing import MIN_REPEATS, interleaved
from codecfake_hf import channels, codecs
from codecfake_hf.audio import read_audio, resample

CLIPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "clips"


def speech() -> tuple[np.ndarray, int]:
    """The three shipped VCTK clips, concatenated (16 kHz, about 13.5 s)."""
    waves = [read_audio(path)[0] for path in sorted(CLIPS.glob("genuine+*.wav"))]
    return np.concatenate(waves).astype(np.float32), 16000


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.channels", description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", default="encodec_24khz", help="the codec to compare with (default: %(default)s)")
    parser.add_argument("--conditions", default=None, help="comma-separated conditions (default: every one)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS, help="interleaved runs; the best counts")
    parser.add_argument("--out", default="channels-cpu", help="results stem in bench/results/")
    args = parser.parse_args(argv)

    wave, rate = speech()
    seconds = wave.shape[0] / rate
    codec = codecs.load(args.codec, random_weights=True)
    codec_input = resample(wave, rate, codec.sample_rate)
    names = channels.parse_condition_list(args.conditions) if args.conditions else channels.names()
    for name in names:  # warm-up: imports, encoder initialisation, each condition's delay measurement
        channels.apply(name, wave[:rate], rate)
    codec.resynthesize(codec_input[None, : codec.sample_rate], [codec.sample_rate])
    sides = {"codec": lambda: codec.resynthesize(codec_input[None], [codec_input.shape[0]])}
    sides.update({name: (lambda n=name: channels.apply(n, wave, rate)) for name in names})
    times, _ = interleaved(sides, args.repeats)
    codec_s = min(times["codec"])
    rows = [{"condition": name, "seconds": round(min(times[name]), 4),
             "per_audio_second_ms": round(1000 * min(times[name]) / seconds, 3),
             "of_codec": round(min(times[name]) / codec_s, 4)} for name in names]
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "codec": codec.name,
              "codec_seconds": round(codec_s, 4), "audio_seconds": round(seconds, 2), "repeats": args.repeats,
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "processor": platform.processor() or platform.machine(), "rows": rows}
    lines = [f"# Channel conditions: cost per audio second, against `{codec.name}` ({report['processor']})", "",
             f"Recorded {report['date']} by `python -m bench.channels`; {seconds:.1f} s of real VCTK speech at 16 kHz "
             f"(the shipped demo clips); `{codec.name}` (official architecture, random weights, torch "
             f"{report['torch']}, {report['threads']} threads) takes {codec_s:.3f} s on it. Every side interleaved, "
             f"best of {args.repeats}; a condition's share of the codec's time is what it adds to a codec row.", "",
             "| condition | seconds | ms per audio second | share of the codec's time |", "|---|---:|---:|---:|"]
    lines += [f"| `{r['condition']}` | {r['seconds']} | {r['per_audio_second_ms']} | {r['of_codec']:.3f} |"
              for r in rows]
    print("\n".join(lines))
    print(f"wrote {record(args.out, report, lines)}")
    return report


if __name__ == "__main__":
    main()
