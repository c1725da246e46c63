"""The family folder is the unit of change: each family's specs live in its folder, its tests in its tester module,
the shared test code names no family, and the codec package has no import circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from codec_tester import FamilyTester, get_family_tester
from conftest import ROOT

from codecfake_hf import codecs
from codecfake_hf.codecs import registry

PACKAGE = ROOT / "codecfake_hf" / "codecs"
# The test code every family goes through; a family is named only in its own tests/codecs/test_<family>.py.
SHARED_TEST_CODE = ["conftest.py", "helpers.py", "near_ties.py", "codec_tester.py", "tiny_configs.py",
                    "test_codec_contract.py", "test_family_folders.py"]


def test_every_family_folder_declares_its_specs_and_has_a_tester():
    folders = sorted(p.parent.name for p in PACKAGE.glob("*/specs.py"))
    assert folders == sorted(f for f in registry.families() if (PACKAGE / f).is_dir())
    for family in folders:
        assert isinstance(get_family_tester(family), FamilyTester)
        registered = {s.name for s in codecs.REGISTRY.values() if s.family == family}
        assert registered and registered == {s.name for s in registry.family(next(iter(registered))).SPECS}
    # The registry holds no spec of its own.
    assert "CodecSpec(" not in (PACKAGE / "registry.py").read_text()


def _strings_and_modules(tree: ast.AST) -> list[str]:
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = [node.value for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]
    found += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    found += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return found


def test_shared_test_code_names_no_family():
    families = [f for f in registry.families() if (PACKAGE / f).is_dir()]
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, families)) + r")(?![A-Za-z0-9])")
    for name in SHARED_TEST_CODE:
        tree = ast.parse((ROOT / "tests" / name).read_text())
        named = sorted({match for text in _strings_and_modules(tree) for match in pattern.findall(text)})
        assert not named, f"tests/{name} names the families {named}: move that to their testers"


def _imports(path: Path) -> set[str]:
    """The `codecfake_hf.codecs` modules `path` imports, statically (TYPE_CHECKING blocks included)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = module.removesuffix(".__init__")
        package = module
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from .. import weights`: the submodule, where there is one
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("codecfake_hf.codecs")}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_no_import_circle_inside_the_codec_package():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[name] = _imports(path) - {name}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != 1, "import circle: " + " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert "codecfake_hf.codecs.spec" in graph["codecfake_hf.codecs.base"]  # the spec lives apart from the registry
    assert "codecfake_hf.codecs.registry" not in graph["codecfake_hf.codecs.base"]
