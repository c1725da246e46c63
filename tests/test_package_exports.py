"""`builder.build` is a submodule and the function users call: whichever is imported first, `from builder import
build` gives the function (reproduction: `test_release_import.py` then `test_state_parsing.py` in one process made
`build(...)` raise "'module' object is not callable")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("first", ["from builder.build import BuildRun", "from builder import import_release",
                                   "import importlib; importlib.import_module('builder.build')", "pass"])
def test_the_build_function_is_what_the_package_exports_whatever_was_imported_first(first):
    probe = (f"{first}\n"
             "import inspect, sys\n"
             "from builder import build\n"
             "import builder\n"
             "print(inspect.isfunction(build), inspect.isfunction(builder.build),\n"
             "      inspect.ismodule(sys.modules['builder.build']), build is sys.modules['builder.build'].build)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True", "True"]
