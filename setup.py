"""The package list of pyproject.toml's package-dir mapping: codecfake_hf, and builder/ and eval/ installed
inside it as codecfake_hf.builder and codecfake_hf.eval (everything else about the project is in pyproject.toml)."""

from setuptools import find_packages, setup

setup(packages=[
    *find_packages(include=["codecfake_hf", "codecfake_hf.*"]),
    *(f"codecfake_hf.{name}" for name in find_packages(include=["builder", "builder.*", "eval", "eval.*"])),
])
