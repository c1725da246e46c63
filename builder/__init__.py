"""The CodecFake dataset builder: corpus -> codecs -> Parquet/FLAC shards in the Hub layout + dataset card.

Run from a checkout: `python -m builder build|import|push|demo` (see `--help`). In Python:

    >>> from builder import BuildRequest, build
    >>> build(BuildRequest(source="vctk:/data/VCTK-Corpus-0.92", codecs="encodec_24khz", out="out"))
"""

import importlib
import sys
import types

# Imported on first use (PEP 562), so that `python -m builder <command> --help` does not import torch and datasets.
_EXPORTS = {
    "BuildReport": "build", "BuildRun": "build", "build": "build", "import_release": "build",
    "CodecFakeBuilder": "dataset", "CodecFakeConfig": "dataset", "PartRows": "dataset", "write_shard": "dataset",
    "run_demo": "demo", "Plan": "plan", "scan_release": "release",
    "BuildRequest": "request", "DemoRequest": "request", "ImportRequest": "request", "PushRequest": "request",
}
__all__ = sorted(_EXPORTS)


class _Package(types.ModuleType):
    """`builder.build` names both a submodule and the function users call. The import system binds the package's
    attribute to a submodule when it is first imported (`from builder.build import ...`), which would shadow the
    function for every later `from builder import build`: that binding is skipped, so the name always resolves
    through `__getattr__` to the export. The submodule stays `sys.modules["builder.build"]`."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and name in _EXPORTS and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # cached: found directly from now on
    return value
