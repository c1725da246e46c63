"""The CodecFake paper's baseline row: the official ASVspoof 2019-trained AASIST and AASIST-L on CodecFake audio.

Every step is the project's own command line, as a user runs it:

    python -m builder import ../shared/data/codecfake-demo --out WORK/demo          # the 48 release clips
    python -m eval convert-aasist --checkpoint AASIST.pth --model_config AASIST.conf --output_dir WORK/AASIST
    python -m eval score --model_name_or_path WORK/AASIST --dataset_name WORK/demo --split train ...

(the demo speakers p225, p295 and p318 are all training speakers of the paper's split). Per codec it records
how many clips the detector accepts as bona fide (bona fide log-odds > 0, upstream's argmax) and the EER of
that codec's clips against the genuine ones, and it checks the scores against the upstream logits of
`../shared/detector-fixtures/aasist/` (same clips; the import resamples 24/44.1 kHz clips through
`datasets`' Audio cast, the fixture through soxr, so agreement is close, not exact). Results go to
`bench/results/aasist-baseline.md` and `.json`.

    python -m bench.aasist_baseline [--work_dir DIR] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from bench import record

CHECKPOINTS = ("AASIST", "AASIST-L")


def agreement(scores: dict, reference: dict, manifest: dict) -> dict:
    """Largest |log-odds difference| to the upstream fixture, by kind of clip: 16 kHz codec clips (the same
    samples), genuine clips (the release's 32-bit float WAVs, stored as 24-bit PCM by the import),
    and 24/44.1 kHz clips (resampled by `datasets`' Audio cast here, by soxr in the fixture)."""
    resampled = {name.rsplit(".", 1)[0] for name in manifest["resampled"]}
    groups = {"codec_16khz": [], "genuine": [], "resampled": []}
    for row_id, value in reference.items():
        kind = ("resampled" if row_id in resampled else "genuine" if row_id.startswith("genuine+")
                else "codec_16khz")
        groups[kind].append(abs(scores[row_id] - value))
    return {kind: max(values) for kind, values in groups.items() if values}


def run(shared: Path, work: Path) -> dict:
    from builder.__main__ import main as builder_main
    from codecfake_hf.schema import GENUINE, part_order
    from eval.__main__ import main as eval_main

    fixtures = shared / "detector-fixtures" / "aasist"
    demo = work / "demo"
    if not (demo / "README.md").is_file():
        assert builder_main(["import", str(shared / "data" / "codecfake-demo"), "--out", str(demo)]) == 0
    manifest = json.loads((fixtures / "manifest.json").read_text())
    report: dict = {"dataset": "CodecFake demo clips (../shared/data/codecfake-demo, 3 utterances x 16 parts), "
                               "imported with `python -m builder import`", "models": {}}
    for name in CHECKPOINTS:
        model_dir, score_dir = work / name, work / f"{name}-scores"
        assert eval_main(["convert-aasist", "--checkpoint", str(fixtures / f"{name}.pth"), "--model_config",
                          str(fixtures / f"{name}.model_config.json"), "--output_dir", str(model_dir)]) == 0
        start = time.perf_counter()
        assert eval_main(["score", "--model_name_or_path", str(model_dir), "--dataset_name", str(demo),
                          "--split", "train", "--output_dir", str(score_dir), "--device", "cpu",
                          "--batch_size", "8", "--update_model_card", "false"]) == 0
        seconds = time.perf_counter() - start
        results = json.loads((score_dir / "results.json").read_text())
        lines = [line.split() for line in (score_dir / "scores.txt").read_text().splitlines()]
        scores = {utt: float(score) for utt, _, _, score in lines}
        upstream = np.load(fixtures / f"logits_{name}.npy")  # column 1 bona fide, column 0 spoof
        reference = {row_id: float(logit[1] - logit[0]) for row_id, logit in zip(manifest["ids"], upstream,
                                                                                 strict=True)}
        differences = agreement(scores, reference, manifest)
        per_codec = {}
        for codec in part_order({utt.split("+")[0] for utt in scores}):
            ours = [scores[utt] for utt in scores if utt.startswith(codec + "+")]
            theirs = [reference[utt] for utt in reference if utt.startswith(codec + "+")]
            entry = {"clips": len(ours), "accepted_as_bonafide": int(sum(s > 0 for s in ours)),
                     "accepted_upstream_fixture": int(sum(s > 0 for s in theirs))}
            if codec != GENUINE:
                entry["eer"] = results["per_codec"][codec]["eer"]
            per_codec[codec] = entry
        fakes = [entry for codec, entry in per_codec.items() if codec != GENUINE]
        report["models"][name] = {
            "checkpoint": f"clovaai/aasist models/weights/{name}.pth (ASVspoof 2019 LA)",
            "per_codec": per_codec,
            "codec_clips_accepted": sum(entry["accepted_as_bonafide"] for entry in fakes),
            "codec_clips": sum(entry["clips"] for entry in fakes),
            "pooled_eer": results["pooled"]["eer"],
            "max_abs_log_odds_diff_vs_upstream_fixture": differences,
            "score_seconds_cpu": round(seconds, 1),
        }
    report["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
                         "threads": torch.get_num_threads()}
    report["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    return report


def markdown(report: dict) -> str:
    names = list(report["models"])
    codecs = list(report["models"][names[0]]["per_codec"])
    lines = ["# Baseline: the ASVspoof 2019-trained AASIST and AASIST-L on CodecFake audio", "",
             f"{report['dataset']}. Official clovaai/aasist checkpoints, converted with `python -m eval "
             "convert-aasist`, scored with `python -m eval score` (first 64,600 samples at 16 kHz). "
             "*Accepted*: clips whose bona fide log-odds is > 0 (upstream's argmax decision); EER: that codec's "
             "3 clips against the 3 genuine ones (a tiny sample: read it as a sign, not a measurement).", "",
             "| codec | " + " | ".join(f"{n} accepted | {n} EER (%)" for n in names) + " |",
             "|---|" + "---:|---:|" * len(names)]
    for codec in codecs:
        cells = []
        for name in names:
            entry = report["models"][name]["per_codec"][codec]
            cells.append(f"{entry['accepted_as_bonafide']}/{entry['clips']}")
            cells.append(f"{100 * entry['eer']:.1f}" if "eer" in entry else "")
        lines.append(f"| {codec} | " + " | ".join(cells) + " |")
    lines.append("| **all codec clips** | " + " | ".join(
        f"**{m['codec_clips_accepted']}/{m['codec_clips']}** | **{100 * m['pooled_eer']:.1f}**"
        for m in report["models"].values()) + " |")
    lines += ["", "Agreement with the upstream model's logits on the same clips "
              "(`../shared/detector-fixtures/aasist/`), largest |log-odds difference|: " + "; ".join(
                  f"{name}: 16 kHz codec clips {d['codec_16khz']:.1g} (the same samples; scores.txt keeps 6 "
                  f"decimals), genuine clips {d['genuine']:.1g} (the release's float WAVs are stored "
                  f"as 24-bit PCM), 24/44.1 kHz clips {d['resampled']:.1g} (datasets' resampler here, soxr there)"
                  for name, m in report["models"].items()
                  for d in [m["max_abs_log_odds_diff_vs_upstream_fixture"]])
              + "; every accept/reject decision equal: " + str(all(
                  e["accepted_as_bonafide"] == e["accepted_upstream_fixture"]
                  for m in report["models"].values() for e in m["per_codec"].values())) + ".",
              "", f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, torch "
              f"{report['machine']['torch']}; scoring time " + ", ".join(
                  f"{name} {m['score_seconds_cpu']} s" for name, m in report["models"].items())
              + f" (48 clips, CPU). {report['date']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.aasist_baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default=os.environ.get("CODECFAKE_SHARED", Path(__file__).parents[2] / "shared"),
                        type=Path, help="the shared fixtures folder (default: ../shared or $CODECFAKE_SHARED)")
    parser.add_argument("--work_dir", type=Path, default=None, help="where the import, models and scores go "
                                                                     "(default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = run(args.shared, args.work_dir or Path(tmp))
    record("aasist-baseline", report, markdown(report).splitlines())
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
