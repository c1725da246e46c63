"""`python -m builder build|push|import|demo`: a thin command line over `builder.build` and `codecfake_hf.hub`.

Each command fills `CodecFakeConfig` (or the arguments of `import_release`/`push_folder`) and runs it.
A user error (`CodecFakeError`) ends in one message on stderr and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from codecfake_hf import hub
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.schema import GENUINE

from .build import BuildReport, build, import_release
from .dataset import CodecFakeConfig
from .demo import DEFAULT_CODECS, DEFAULT_OUT, run_demo

EXIT_USER_ERROR = 2


def _add_build_flags(parser: argparse.ArgumentParser) -> None:
    defaults = CodecFakeConfig()
    parser.add_argument("--source", required=True,
                        help="genuine speech: vctk:PATH (VCTK 0.92 or 0.80 folder), folder:PATH (any folder of "
                             "audio; speaker = first sub-folder), hf:ID[:config][:split] (a Hub audio dataset), "
                             "or builtin:demo")
    parser.add_argument("--codecs", default=defaults.codecs,
                        help="`all` or comma-separated codec names/aliases, e.g. encodec_24khz,dac_16khz "
                             f"(default: {defaults.codecs}); a folder already built gets only the missing ones")
    parser.add_argument("--out", required=True,
                        help="output folder, laid out as the Hub repo (data/<codec>/<split>-NNNNN-of-NNNNN.parquet, "
                             "README.md); an interrupted build resumes when run again with the same options")
    parser.add_argument("--device", default=defaults.device,
                        help="where the codecs run: auto (CUDA when present), cpu, cuda, cuda:N "
                             f"(default: {defaults.device})")
    parser.add_argument("--split-file", default=None,
                        help="speaker -> split file (`SPEAKER SPLIT` lines, or JSON); default: the CodecFake "
                             "paper's split (validation p226,p229; test p227,p228; train the rest). Refused if "
                             "a speaker is in two splits")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N utterances per split, round-robin over its speakers (smoke runs; default: all)")
    parser.add_argument("--random-weights", action="store_true",
                        help="build each codec's official architecture with random weights instead of downloading its "
                             "checkpoint (smoke runs: the rows are not real codec fakes; the card says so)")
    parser.add_argument("--genuine-sample-rate", type=int, default=defaults.genuine_sample_rate,
                        help="rate of the genuine rows and of every codec's input, in Hz (default: "
                             f"{defaults.genuine_sample_rate}, the rate of the CodecFake release's genuine files). "
                             "Every codec resynthesises this audio, so a 24 or 44.1 kHz codec sees no input above "
                             f"{defaults.genuine_sample_rate / 2000:g} kHz, whereas the CodecFake pipeline fed those "
                             "codecs the 48 kHz VCTK originals. 0 keeps each file's own rate (48 kHz for VCTK) for "
                             "the genuine rows and every codec's input")
    parser.add_argument("--shard-size", type=int, default=defaults.shard_size,
                        help=f"utterances per Parquet shard (default: {defaults.shard_size})")
    parser.add_argument("--batch-seconds", type=float, default=defaults.batch_seconds,
                        help="padded seconds of audio per codec batch; lower it if memory runs out "
                             "(default: 60 on CUDA, 8 on CPU, where big batches run slower)")
    parser.add_argument("--mic", default=defaults.mic, choices=("mic1", "mic2"),
                        help=f"VCTK 0.92 microphone (default: {defaults.mic})")
    parser.add_argument("--speaker-pattern", default=None,
                        help="folder: sources; a regex on each file's relative path whose group `speaker` is "
                             "the speaker")
    parser.add_argument("--audio-column", default=None,
                        help="hf: sources; the audio column (default: the first Audio column)")
    parser.add_argument("--speaker-column", default=None,
                        help="hf: sources; the speaker column (default: speaker_id, speaker, client_id... if present)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m builder",
        description="Build, import and publish CodecFake datasets (genuine speech + codec resyntheses) "
                    "in the Hub layout.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped file and decision (debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{build,push,import,demo}")

    _add_build_flags(commands.add_parser(
        "build", help="resynthesise a corpus through codecs and write the dataset folder",
        description="Resynthesise a corpus through codecs; write Parquet/FLAC shards and the dataset card."))

    push = commands.add_parser("push", help="upload a built dataset folder to the Hub",
                               description="Upload a dataset folder to a Hub dataset repo (resumable). The token comes "
                                           "from HF_TOKEN or the saved login (`hf auth login`) and is never printed.")
    push.add_argument("folder", help="the dataset folder (made by build, import or demo)")
    push.add_argument("--repo", required=True, help="the Hub dataset repository, ORG/NAME (created if missing)")
    push.add_argument("--private", action="store_true", help="create the repository as private")

    imp = commands.add_parser("import", help="convert a folder of the original CodecFake release",
                              description="Convert the original release's `<codec>+<utterance>.wav` files into the "
                                          "same schema, splits and layout.")
    imp.add_argument("path", help="folder holding `<codec>+<utterance>.wav` files (searched recursively)")
    imp.add_argument("--out", required=True, help="output folder (Hub layout)")
    imp.add_argument("--split-file", default=None, help="speaker -> split file (default: the CodecFake paper's split)")
    imp.add_argument("--shard-size", type=int, default=1000, help="files per Parquet shard (default: 1000)")
    imp.add_argument("--metadata", default=None,
                     help="a VCTK copy (vctk:PATH) whose transcripts and speaker metadata fill the rows "
                          "(default: none; text and speaker metadata stay empty)")

    demo = commands.add_parser("demo", help="build a small dataset end to end and show how to load it",
                               description="Build a small dataset with two codecs: official weights and a public "
                                           "speech set where reachable, else random weights and built-in synthetic "
                                           "input.")
    demo.add_argument("--out", default=DEFAULT_OUT,
                      help=f"output folder, rebuilt from scratch (default: {DEFAULT_OUT})")
    demo.add_argument("--codecs", default=DEFAULT_CODECS, help=f"codecs to run (default: {DEFAULT_CODECS})")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    return parser


def config_from_args(args: argparse.Namespace) -> CodecFakeConfig:
    return CodecFakeConfig(
        source=args.source, codecs=args.codecs, out=args.out, split_file=args.split_file, limit=args.limit,
        device=args.device, random_weights=args.random_weights,
        genuine_sample_rate=args.genuine_sample_rate or None, shard_size=args.shard_size,
        batch_seconds=args.batch_seconds, mic=args.mic, speaker_pattern=args.speaker_pattern,
        audio_column=args.audio_column, speaker_column=args.speaker_column,
    )


def print_report(report: BuildReport) -> None:
    print(f"\nDataset folder: {report.out.resolve()}")
    print(f"  shards written: {report.written}, kept from before: {report.kept}; parts: {', '.join(report.complete)}")
    if report.skipped:
        print(f"  skipped {len(report.skipped)} utterance(s):")
        for reason in report.skipped:
            print(f"    {reason}")
    for name, reason in report.failed.items():
        print(f"  NOT BUILT {name}: {reason}")
    codec = next((p for p in report.complete if p != GENUINE), hub.ALL_CONFIG)
    print("Load it with:")
    print("    from datasets import load_dataset")
    print(f'    ds = load_dataset("{report.out}", "{codec}", split="test")')


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "urllib3", "filelock", "fsspec", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "build":
            report = build(config_from_args(args))
            print_report(report)
            return EXIT_USER_ERROR if report.failed else 0
        if args.command == "import":
            report = import_release(args.path, args.out, split_file=args.split_file, shard_size=args.shard_size,
                                    metadata=args.metadata)
            print_report(report)
            return 0
        if args.command == "push":
            url = hub.push_folder(Path(args.folder), args.repo, private=args.private)
            print(f"Pushed {args.folder} to {url}")
            print(f'Load it with: load_dataset("{args.repo}", "{hub.ALL_CONFIG}", split="test")')
            return 0
        report, fallbacks = run_demo(args.out, args.codecs, args.device)
        print_report(report)
        for line in fallbacks:
            print(f"NOTE: {line}")
        if fallbacks:
            print("NOTE: the card (README.md) says so too; these rows are a smoke test, not real CodecFake data.")
        return EXIT_USER_ERROR if report.failed else 0
    except CodecFakeError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        # Finished shards are final; the one being written is redone by the next run.
        print("\ninterrupted: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
