"""The CodecFake dataset builder: corpus -> codecs -> Parquet/FLAC shards in the Hub layout + dataset card.

Run from a checkout: `python -m builder build|push|import|demo` (see `--help`). In Python:

    >>> from builder import CodecFakeConfig, build
    >>> build(CodecFakeConfig(source="vctk:/data/VCTK-Corpus-0.92", codecs="encodec_24khz", out="out"))
"""

from .build import BuildReport, build, import_release
from .dataset import CodecFakeBuilder, CodecFakeConfig
from .demo import run_demo
from .plan import Plan

__all__ = ["BuildReport", "CodecFakeBuilder", "CodecFakeConfig", "Plan", "build", "import_release",
           "run_demo"]
