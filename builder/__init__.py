"""The CodecFake dataset builder: corpus -> codecs -> Parquet/FLAC shards in the Hub layout + dataset card.

Run from a checkout: `python -m builder build|import|push|demo` (see `--help`). In Python:

    >>> from builder import BuildRequest, build
    >>> build(BuildRequest(source="vctk:/data/VCTK-Corpus-0.92", codecs="encodec_24khz", out="out"))
"""

import importlib

# Imported on first use (PEP 562), so that `python -m builder <command> --help` does not import torch and datasets.
_EXPORTS = {
    "BuildReport": "build", "BuildRun": "build", "build": "build", "import_release": "build",
    "CodecFakeBuilder": "dataset", "CodecFakeConfig": "dataset", "PartRows": "dataset", "write_shard": "dataset",
    "run_demo": "demo", "Plan": "plan", "scan_release": "release",
    "BuildRequest": "request", "DemoRequest": "request", "ImportRequest": "request", "PushRequest": "request",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    # cached here: importing the submodule `builder.build` set the package's `build` to the module, not the function
    globals()[name] = value
    return value
