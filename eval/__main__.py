"""`python -m eval <command> [arguments]` (installed: `codecfake-eval`): finetune, score, protocol, card,
convert-aasist, export, app.

Each command has its own `--help`, answered from `eval/arguments.py` alone: the command's module (datasets,
torch, the models) is imported only to run it.
"""

from __future__ import annotations

import sys

from codecfake_hf import redact
from codecfake_hf.errors import CodecFakeError

from . import program_name

COMMANDS = {
    "finetune": "fine-tune an audio classifier (Trainer) on a CodecFake dataset",
    "score": "score a trained model on a split: score file, results.json, minDCF/actDCF/Cllr/EER tables, DET plots",
    "protocol": "run a protocol (paper, all, leave-one-out, family, leave-one-family-out, held-out-cell, channels)",
    "card": "rebuild a model folder's README.md (EER in model-index) and optionally push it",
    "convert-aasist": "convert an official clovaai/aasist checkpoint (AASIST.pth, AASIST-L.pth) to a model folder",
    "export": "write a score run as a Speech Anti-Spoofing Arena submission (scores file, SHA-256, YAML)",
    "app": "try a detector in the browser (Gradio), or write and push it as a Hugging Face Space",
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
    command, rest = argv[0], argv[1:]
    redact.register_tokens(rest)  # the token in use (--token, --hub_token, HF_TOKEN, the login), whatever its shape
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    if "-h" in rest or "--help" in rest:  # argparse prints the help and exits 0, as the command would
        from .arguments import help_parser

        help_parser(command, program_name()).parse_args(rest)
    redact.install()  # no Hub token in any log line, at any verbosity
    try:
        if command == "finetune":
            from .finetune import main as run
        elif command == "score":
            from .score import main as run
        elif command == "protocol":
            from .protocols import main as run
        elif command == "convert-aasist":
            from .convert import main as run
        elif command == "export":
            from .export import main as run
        elif command == "app":
            from .app import main as run
        else:
            from .score import card_main as run
        run(rest)
    except CodecFakeError as error:  # a user's mistake: one message, no traceback
        print(f"error: {redact.redact(str(error))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
