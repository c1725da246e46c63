"""`python -m eval <command> [arguments]` (installed: `codecfake-eval`): finetune, score, protocol, card,
convert-aasist.

Each command has its own `--help`.
"""

from __future__ import annotations

import sys

from codecfake_hf import redact
from codecfake_hf.errors import CodecFakeError

from . import program_name

COMMANDS = {
    "finetune": "fine-tune an audio classifier (Trainer) on a CodecFake dataset",
    "score": "score a trained model on a split: score file, results.json, EER/minDCF table, DET plots",
    "protocol": "run a protocol (paper: train×test EER matrix; all; leave-one-out)",
    "card": "rebuild a model folder's README.md (EER in model-index) and optionally push it",
    "convert-aasist": "convert an official clovaai/aasist checkpoint (AASIST.pth, AASIST-L.pth) to a model folder",
}


def usage() -> str:
    prog = program_name()
    lines = [f"usage: {prog} <command> [arguments]   ({prog} <command> --help)", "", "commands:"]
    lines += [f"  {name:<14} {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    redact.install()  # no Hub token in any log line, at any verbosity
    command, rest = argv[0], argv[1:]
    redact.register_tokens(rest)  # the token in use (--token, --hub_token, HF_TOKEN, the login), whatever its shape
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        if command == "finetune":
            from .finetune import main as run
        elif command == "score":
            from .score import main as run
        elif command == "protocol":
            from .protocols import main as run
        elif command == "convert-aasist":
            from .convert import main as run
        else:
            from .score import card_main as run
        run(rest)
    except CodecFakeError as error:  # a user's mistake: one message, no traceback
        print(f"error: {redact.redact(str(error))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
