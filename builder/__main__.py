"""`python -m builder [-v] <command> [arguments]`: build, import, push, demo (each has its own `--help`).

A thin command line over `builder.build` and `codecfake_hf.hub`: each command's flags are the fields
of its request dataclass (`builder.request`), read by `transformers.HfArgumentParser` as
`python -m eval` reads its own, spelled like the fields (`--split_file`; `--split-file` works too).
A user error (`CodecFakeError`) ends in one message on stderr and exit status 2, without a traceback;
the library's messages name Python arguments (`random_weights=True`), which are shown as flags here.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import asdict, fields
from pathlib import Path

from transformers import HfArgumentParser

from codecfake_hf import redact
from codecfake_hf.errors import CodecFakeError

from .request import BuildRequest, DemoRequest, ImportRequest, PushRequest

# The commands' code (torch, datasets, the codecs) is imported only to run one: `--help` needs the requests alone.

EXIT_USER_ERROR = 2
COMMANDS = {
    "build": (BuildRequest, "resynthesise a corpus through codecs and write the dataset folder"),
    "import": (ImportRequest, "convert a folder of the original CodecFake release"),
    "push": (PushRequest, "upload a built dataset folder to the Hub"),
    "demo": (DemoRequest, "build a small dataset end to end and show how to load it"),
}
# The first argument of these commands may be given without its flag (`import PATH`, `push FOLDER`).
POSITIONAL = {"import": "path", "push": "folder"}


def program_name() -> str:
    """How the user called us, for usage lines: the console script `codecfake-build`, or `python -m builder` (in a
    checkout; `python -m codecfake_hf.builder` where it is installed)."""
    return "codecfake-build" if Path(sys.argv[0]).name == "codecfake-build" else f"python -m {__package__}"


def usage() -> str:
    prog = program_name()
    lines = [f"usage: {prog} [-v] <command> [arguments]   ({prog} <command> --help)", "",
             "Build, import and publish CodecFake datasets (genuine speech + codec resyntheses) in the Hub layout.",
             "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "options:", "  -v, --verbose  log every skipped file and decision (debug)"]
    return "\n".join(lines)


def parse(command: str, argv: list[str]):
    """The command's request dataclass, filled from `argv` (`--help` prints its fields' help and exits)."""
    request_class, _ = COMMANDS[command]
    parser = HfArgumentParser(request_class, prog=f"{program_name()} {command}", description=request_class.__doc__)
    positional = POSITIONAL.get(command)
    if positional and argv and not argv[0].startswith("-"):
        argv = [f"--{positional}", *argv]
    (request,) = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    return request


def as_flags(message: str, request_class) -> str:
    """A library message with the request's Python arguments shown as this command line's flags:
    `` `random_weights=True` `` -> `` `--random_weights` ``, `` `limit=0` `` -> `` `--limit 0` ``,
    `` `out` `` -> `` `--out` ``."""
    names = {f.name for f in fields(request_class)}

    def flag(match: re.Match) -> str:
        name, value = match["name"], match["value"]
        if name not in names:
            return match[0]
        if value is None:
            return f"`--{name}`"
        value = value.strip("\"'")
        return f"`--{name}`" if value == "True" else f"`--{name} {value}`"

    return re.sub(r"`(?P<name>[a-z_]+)(?:=(?P<value>[^`]*))?`", flag, message)


def print_report(report) -> None:
    """What a build or import wrote (a `BuildReport`), and how to load it."""
    from codecfake_hf import hub
    from codecfake_hf.schema import GENUINE

    print(f"\nDataset folder: {report.out.resolve()}")
    print(f"  shards written: {report.written}, kept from before: {report.kept}; parts: {', '.join(report.complete)}")
    if report.skipped:
        print(f"  skipped {len(report.skipped)} utterance(s):")
        for reason in report.skipped:
            print(f"    {reason}")
    for title, lines in (("source files or folders left out", report.source_skipped),
                         ("shards on disk written again", report.redone),
                         ("genuine utterances clipped to full scale", report.clipped),
                         ("parts left out of the card as stale", report.stale),
                         ("splits left out of the card: no row in them", report.empty)):
        if lines:
            print(f"  {title}: {len(lines)}")
            for line in lines:
                print(f"    {line}")
    for name, reason in report.failed.items():
        print(f"  NOT BUILT {name}: {reason}")
    if getattr(report, "pushed", None):  # `push_to`: the shards are in the repository, not in the folder
        print(f"Pushed to {report.pushed} ({report.uploaded} shard(s) committed by this run)")
        print(f'Load it with: load_dataset("{report.pushed.split("/datasets/", 1)[-1]}", "{hub.ALL_CONFIG}")')
        return
    codec = next((p for p in report.complete if p != GENUINE), hub.ALL_CONFIG)
    splits = hub.part_splits(report.out, GENUINE if codec == hub.ALL_CONFIG else codec)
    split = "test" if "test" in splits or not splits else splits[0]  # a split the folder has
    print("Load it with:")
    print("    from datasets import load_dataset")
    print(f'    ds = load_dataset("{report.out}", "{codec}", split="{split}")')


def run(command: str, request) -> int:
    from codecfake_hf import hub
    from codecfake_hf.distributed import Ranks

    from .build import build, import_release
    from .demo import run_demo
    from .push import push_dataset

    if command == "build":
        report = build(request)  # under a launcher every rank gets the whole run's report: rank 0 prints it
        if Ranks.from_environment()[0] == 0:
            print_report(report)
        return EXIT_USER_ERROR if report.failed else 0
    if command == "import":
        print_report(import_release(**asdict(request)))
        return 0
    if command == "push":
        url = push_dataset(Path(request.folder), request.repo, private=request.private)
        print(f"Pushed {request.folder} to {url}")
        print(f'Load it with: load_dataset("{request.repo}", "{hub.ALL_CONFIG}", split="test")')
        return 0
    report, fallbacks = run_demo(request.out, request.codecs, request.device)
    print_report(report)
    for line in fallbacks:
        print(f"NOTE: {line}")
    if fallbacks:
        print("NOTE: the card (README.md) says so too; these rows are a smoke test, not real CodecFake data.")
    return EXIT_USER_ERROR if report.failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = bool(argv) and argv[0] in ("-v", "--verbose")
    argv = argv[1:] if verbose else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else EXIT_USER_ERROR
    command, rest = argv[0], argv[1:]
    redact.register_tokens(rest)  # the token in use, whatever its shape, is masked from here on
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return EXIT_USER_ERROR
    request = parse(command, rest)
    from codecfake_hf.distributed import Ranks

    try:
        rank, _, world = Ranks.from_environment()
    except CodecFakeError as error:
        print(f"error: {redact.redact(str(error))}", file=sys.stderr)
        return EXIT_USER_ERROR
    where = f"[rank {rank}] " if world > 1 else ""  # under torchrun the ranks' logs interleave on one terminal
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format=f"{where}%(levelname)s %(name)s: %(message)s")
    redact.install()  # no Hub token or Authorization header in any log line, at any verbosity
    for noisy in ("httpx", "urllib3", "filelock", "fsspec", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return run(command, request)
    except CodecFakeError as error:
        print(f"error: {redact.redact(as_flags(str(error), COMMANDS[command][0]))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        # Finished shards are final; the one being written is redone by the next run.
        print("\ninterrupted: finished shards are kept; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
