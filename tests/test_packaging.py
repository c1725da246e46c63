"""Installable commands: every imported package declared, console scripts from a wheel, tracker hints."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from datasets import load_dataset
from venvs import bare_venv, outside_env

ROOT = Path(__file__).resolve().parents[1]
OWN = {"codecfake_hf", "builder", "eval", "bench", "tests"}
# Declared but never imported by name: what each is for.
INDIRECT = {
    "accelerate": "Trainer refuses to run without it",
    "hf-xet": "huggingface_hub's transfer backend for Xet-stored Hub repos (downloads and pushes)",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {_normalise(re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0]) for spec in specs}


# Imported only by the detector app (`codecfake-eval app`, eval/space/app.py): the `app` extra.
APP_FILES = ("eval/app.py", "eval/space/app.py")


def _imported_modules(app: bool = False) -> dict[str, str]:
    """Top-level modules imported (absolutely) by the installed packages -> one file that imports it (`app`: by the
    app's files only, else by every other file)."""
    found: dict[str, str] = {}
    for package in ("codecfake_hf", "builder", "eval"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if (str(path.relative_to(ROOT)) in APP_FILES) != app:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN and top != "__future__":
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared_and_every_declared_one_used():
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    used = set()
    for module, where in _imported_modules().items():
        names = {_normalise(dist) for dist in distributions.get(module, [module])}
        used |= names
        if not names & declared:
            undeclared[module] = where
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"
    unused = declared - used - {_normalise(name) for name in INDIRECT}
    assert not unused, f"declared but imported nowhere (drop them, or say in INDIRECT why they stay): {unused}"
    assert "pyloudnorm" not in declared


def test_the_app_imports_only_declared_packages_and_gradio_is_its_extra():
    declared = _declared() | _declared("app")
    distributions = importlib.metadata.packages_distributions()
    undeclared = {module: where for module, where in _imported_modules(app=True).items()
                  if not {_normalise(dist) for dist in distributions.get(module, [module])} & declared}
    assert not undeclared, f"imported by the app but in neither the dependencies nor the app extra: {undeclared}"
    assert _declared("app") == {"gradio"} and "gradio" in _imported_modules(app=True)


def test_constraints_pin_every_declared_package_that_is_pinned_here():
    pins = {_normalise(line.split("==")[0]) for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    assert {"scipy", "pyarrow", "filelock", "hf-xet"} <= pins
    assert "pyloudnorm" not in pins


def test_console_scripts_point_at_the_two_command_lines():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"codecfake-build": "codecfake_hf.builder.__main__:main",
                                  "codecfake-eval": "codecfake_hf.eval.__main__:main"}


# (module, sys.argv[0], program name in the usage lines, its commands, the start of its own usage line)
EVAL_COMMANDS = ["finetune", "score", "protocol", "card", "convert-aasist", "app"]
BUILD_COMMANDS = ["build", "import", "push", "demo"]
PROGRAMS = [
    ("eval", "/venv/bin/codecfake-eval", "codecfake-eval", EVAL_COMMANDS, "<command>"),
    ("eval", str(ROOT / "eval" / "__main__.py"), "python -m eval", EVAL_COMMANDS, "<command>"),
    ("builder", "/venv/bin/codecfake-build", "codecfake-build", BUILD_COMMANDS, "[-v] <command>"),
    ("builder", str(ROOT / "builder" / "__main__.py"), "python -m builder", BUILD_COMMANDS, "[-v] <command>"),
]


@pytest.mark.parametrize("module, argv0, expected, commands, top", PROGRAMS)
def test_command_usage_names_the_program_run(monkeypatch, capsys, module, argv0, expected, commands, top):
    import importlib

    main = importlib.import_module(f"{module}.__main__").main
    monkeypatch.setattr(sys, "argv", [argv0])
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: {expected} {command} "), command
    main(["--help"])
    assert capsys.readouterr().out.startswith(f"usage: {expected} {top}")


def test_report_to_a_missing_tracker_is_one_message_naming_the_install(monkeypatch, capsys, tmp_path):
    import transformers.integrations

    from eval.__main__ import main

    monkeypatch.setattr(transformers.integrations, "is_tensorboard_available", lambda: False)
    status = main(["finetune", "--model_name_or_path", "none", "--dataset_name", "none", "--do_train",
                   "--output_dir", str(tmp_path / "model"), "--report_to", "tensorboard"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "tensorboard is not installed" in err and "pip install 'codecfake-hf[tensorboard]'" in err
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["tensorboard"] and extras["wandb"]


def _copy_checkout(target: Path) -> Path:
    """The files of a clone (no venv, caches or build output), so the wheel is built as a user would."""
    skip = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
                                  ".ruff_cache", "out", "demo-output")
    return shutil.copytree(ROOT, target, ignore=skip)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_outside_the_checkout_runs_both_commands(shared, tmp_path):
    """Done-when of issues 14 and 24: a wheel installed into a new venv elsewhere puts one package into
    site-packages (`codecfake_hf`, with the command lines inside it), and both console scripts run a tiny build,
    a conversion and a score from an unrelated folder.

    The new venv reuses this interpreter's installed packages (tests/venvs.py: a .pth line to its site-packages,
    which does not run the .pth files there, so this checkout's editable install stays out) instead of
    downloading torch again; the wheel itself is installed with `--ignore-installed`, so its own copy is imported.
    """
    source = _copy_checkout(tmp_path / "src")
    run = {"capture_output": True, "text": True, "timeout": 300}
    wheel_dir = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(wheel_dir), str(source)], **run)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheel_dir.glob("codecfake_hf-*.whl")

    venv = tmp_path / "venv"
    python = bare_venv(venv)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, **run).stdout.strip()
    before = set(os.listdir(purelib))
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                "--ignore-installed", str(wheel)], **run)
    assert installed.returncode == 0, installed.stderr[-3000:]
    added = set(os.listdir(purelib)) - before
    assert added == {"codecfake_hf", "codecfake_hf-0.1.0.dist-info"}, added
    assert (Path(purelib) / "codecfake_hf-0.1.0.dist-info" / "licenses" / "LICENSE").read_text() == \
        (ROOT / "LICENSE").read_text()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = outside_env()
    where = subprocess.run([str(python), "-c", "import importlib.util as u, codecfake_hf.builder as b, "
                            "codecfake_hf.eval as e; print(b.__file__, e.__file__, u.find_spec('builder'), "
                            "u.find_spec('eval'))"], cwd=elsewhere, env=env, check=True, **run).stdout.split()
    assert all(path.startswith(purelib) for path in where[:2]) and where[2:] == ["None", "None"], where
    build_help = subprocess.run([str(venv / "bin" / "codecfake-build"), "--help"], cwd=elsewhere, env=env, **run)
    assert build_help.returncode == 0, build_help.stderr[-3000:]
    assert build_help.stdout.startswith("usage: codecfake-build")
    assert all(f"  {command} " in build_help.stdout for command in ("build", "import", "push", "demo"))
    eval_help = subprocess.run([str(venv / "bin" / "codecfake-eval"), "finetune", "--help"], cwd=elsewhere, env=env,
                               **run)
    assert eval_help.returncode == 0, eval_help.stderr[-3000:]
    assert eval_help.stdout.startswith("usage: codecfake-eval finetune") and "--learning_rate" in eval_help.stdout

    # a tiny build (random EnCodec weights on the built-in synthetic speech), the real AASIST-L converted, a score
    data = elsewhere / "tiny"
    build = subprocess.run([str(venv / "bin" / "codecfake-build"), "build", "--source", "builtin:demo", "--codecs",
                            "encodec_24khz", "--random_weights", "--limit", "4", "--split_ratios", "0.5,0,0.5",
                            "--out", str(data)], cwd=elsewhere, env=env, **run)
    assert build.returncode == 0, build.stderr[-3000:]
    aasist = shared / "detector-fixtures" / "aasist"
    convert = subprocess.run([str(venv / "bin" / "codecfake-eval"), "convert-aasist", "--checkpoint",
                              str(aasist / "AASIST-L.pth"), "--model_config",
                              str(aasist / "AASIST-L.model_config.json"), "--output_dir", "aasist-l"],
                             cwd=elsewhere, env=env, **run)
    assert convert.returncode == 0, convert.stderr[-3000:]
    score = subprocess.run([str(venv / "bin" / "codecfake-eval"), "score", "--model_name_or_path", "aasist-l",
                            "--dataset_name", str(data), "--split", "train", "--output_dir", "scores", "--device",
                            "cpu"], cwd=elsewhere, env=env, **run)
    assert score.returncode == 0, score.stderr[-3000:]
    results = json.loads((elsewhere / "scores" / "results.json").read_text())
    rows = load_dataset(str(data), "all", split="train")
    assert results["pooled"]["n_bonafide"] + results["pooled"]["n_spoof"] == len(rows) > 0
    # The installed `codecfake_hf.eval` carries the metric module's folder, loadable by path.
    metric = subprocess.run([str(python), "-c", "import pathlib, evaluate, codecfake_hf.eval as e; m = evaluate.load("
                             "str(pathlib.Path(e.__file__).parent / 'eer')); print(m.compute(references=[0, 1], "
                             "predictions=[0.9, 0.1])['eer'])"], cwd=elsewhere, env=env, **run)
    assert metric.returncode == 0, metric.stderr[-3000:]
    assert metric.stdout.strip().splitlines()[-1] == "0.0"


def test_builder_and_eval_still_run_as_modules_of_a_checkout():
    """The checkout keeps builder/ and eval/ top-level: `python -m builder` and `python -m eval` from its root."""
    run = {"capture_output": True, "text": True, "timeout": 120, "cwd": ROOT}
    for module, command in (("builder", "build"), ("eval", "score")):
        done = subprocess.run([sys.executable, "-m", module, command, "--help"], **run)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.startswith(f"usage: python -m {module} {command} ")
