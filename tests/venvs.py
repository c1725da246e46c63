"""A virtual environment without codecfake-hf, for what a user meets outside this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path


def bare_venv(path: Path) -> Path:
    """A new venv at `path` that sees this interpreter's installed packages but not this project; returns its python.

    It reuses the packages through one .pth line naming this venv's site-packages instead of installing torch
    again. Python reads a .pth file's lines as paths and runs none of the .pth files in the folder they name, so
    this checkout's editable install (a .pth there) stays out: `codecfake_hf` is not importable in it.
    """
    run = {"capture_output": True, "text": True, "timeout": 120, "check": True}
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], **run)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             **run).stdout.strip()
    Path(purelib, "shared-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def outside_env(**extra: str) -> dict[str, str]:
    """The environment for a command run outside the checkout: no PYTHONPATH or VIRTUAL_ENV, no Hub."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra)
    return env
