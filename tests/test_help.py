"""Issue 24: `--help` of every command imports neither torch nor datasets (bench/help.py measures the seconds), and
the TrainingArguments flags that finetune and protocol print from eval/training_arguments.json are the real ones."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest
from conftest import ROOT

from eval.arguments import COMMAND_ARGUMENTS, TRAINING_HELP_FILE, help_parser, parser

# Run in a new interpreter: the command line's --help, then which heavy packages it imported.
PROBE = """
import sys
from {program}.__main__ import main
try:
    main({argv!r})
except SystemExit as done:
    assert done.code in (0, None), done.code
print(sorted(name for name in ("torch", "datasets", "gradio", "matplotlib") if name in sys.modules))
"""


@pytest.mark.parametrize("program, argv", [
    *(("eval", [command, "--help"]) for command in COMMAND_ARGUMENTS),
    *(("builder", [command, "--help"]) for command in ("build", "import", "push", "demo")),
])
def test_help_imports_no_torch_nor_datasets(program, argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(program=program, argv=argv)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "[]"
    assert f" {argv[0]} " in done.stdout.splitlines()[0]  # "usage: python -m eval score ..."


def test_the_recorded_training_arguments_are_those_of_the_pinned_transformers():
    recorded = json.loads(TRAINING_HELP_FILE.read_text())
    assert recorded["transformers"] == importlib.metadata.version("transformers"), (
        "transformers changed: record its TrainingArguments help again with "
        "`python -c 'from eval.arguments import write_training_help; write_training_help()'`")
    pinned = next(line for line in (ROOT / "constraints.txt").read_text().splitlines()
                  if line.startswith("transformers=="))
    assert pinned == f"transformers=={recorded['transformers']}"


@pytest.mark.parametrize("command", list(COMMAND_ARGUMENTS))
def test_help_is_the_text_of_the_real_parser(command):
    assert help_parser(command, "codecfake-eval").format_help() == parser(command, "codecfake-eval").format_help()


def test_another_transformers_version_builds_the_real_parser(monkeypatch, tmp_path):
    from eval import arguments

    stale = json.loads(TRAINING_HELP_FILE.read_text())
    stale["transformers"] = "0.0.1"
    stale["actions"] = stale["actions"][:1]  # would print one flag only
    (tmp_path / "old.json").write_text(json.dumps(stale))
    monkeypatch.setattr(arguments, "TRAINING_HELP_FILE", tmp_path / "old.json")
    text = help_parser("finetune", "codecfake-eval").format_help()
    assert text == parser("finetune", "codecfake-eval").format_help() and "--learning_rate" in text
