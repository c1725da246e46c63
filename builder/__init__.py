"""The CodecFake dataset builder: corpus -> codecs -> Parquet/FLAC shards in the Hub layout + dataset card.

Run from a checkout: `python -m builder build|import|push|demo` (see `--help`). In Python:

    >>> from builder import BuildRequest, build
    >>> build(BuildRequest(source="vctk:/data/VCTK-Corpus-0.92", codecs="encodec_24khz", out="out"))
"""

from .build import BuildReport, BuildRun, build, import_release
from .dataset import CodecFakeBuilder, CodecFakeConfig, PartRows, write_shard
from .demo import run_demo
from .plan import Plan
from .release import scan_release
from .request import BuildRequest, DemoRequest, ImportRequest, PushRequest

__all__ = ["BuildReport", "BuildRequest", "BuildRun", "CodecFakeBuilder", "CodecFakeConfig", "DemoRequest",
           "ImportRequest", "Plan", "PartRows", "PushRequest", "build", "import_release", "run_demo", "scan_release",
           "write_shard"]
