"""Building a dataset folder: plan, write each missing shard through `CodecFakeBuilder`, write the card.

Order of work: the plan (made or reread), then the genuine part, then each codec. A codec is loaded
only when it has a shard to write, so adding a codec to a folder computes only that codec. A codec
that cannot be loaded (family not built yet, weights unavailable) is reported and the others go on.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import datasets
import torch
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from codecfake_hf import codecs, hub
from codecfake_hf.codecs import Codec
from codecfake_hf.corpus import Corpus, Record, open_source, vctk
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.resynth import resolve_device
from codecfake_hf.schema import GENUINE
from codecfake_hf.splits import SpeakerSplit

from .dataset import CodecFakeBuilder, CodecFakeConfig
from .plan import ALL_PARTS, STATE_DIR, Plan, PlanMismatchError
from .release import scan_release

logger = logging.getLogger(__name__)

CodecFactory = Callable[[str, torch.device, bool], Codec]


@dataclass
class BuildReport:
    """What a run did.

    Args:
        out (Path): the output folder.
        written (int): shards written by this run.
        kept (int): shards found finished and kept.
        skipped (list[str]): `<part>: <utterance>: <reason>` of each utterance left out.
        failed (dict[str, str]): codec -> why it could not be built.
        complete (list[str]): parts whose shards are all there (those the card declares).
        card (Path | None): the dataset card written.
    """

    out: Path
    written: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    complete: list[str] = field(default_factory=list)
    card: Path | None = None


def default_codec_factory(name: str, device: torch.device, random_weights: bool) -> Codec:
    """The registry's codec: official weights through the Hub cache, or random weights on request."""
    return codecs.load(name, random_weights=random_weights, device=device)


def check_config(config: CodecFakeConfig) -> tuple[list[str], torch.device]:
    """Check the options before any work; returns the codecs' canonical names and the resolved device."""
    if not config.source:
        raise CodecFakeError("`source` is required, e.g. `--source vctk:/data/VCTK-Corpus-0.92`.")
    if config.limit is not None and config.limit < 1:
        raise CodecFakeError(f"`limit` must be a positive number of utterances, got {config.limit}.")
    if config.shard_size < 1:
        raise CodecFakeError(f"`shard_size` must be at least 1 utterance, got {config.shard_size}.")
    if config.genuine_sample_rate is not None and config.genuine_sample_rate < 1000:
        raise CodecFakeError(
            f"`genuine_sample_rate` must be a rate in Hz (e.g. 16000), got {config.genuine_sample_rate}.")
    if config.batch_seconds is not None and config.batch_seconds <= 0:
        raise CodecFakeError(f"`batch_seconds` must be positive, got {config.batch_seconds}.")
    names = codecs.parse_codec_list(config.codecs)  # UnknownCodecError names the bad one
    return names, check_device(config.device)


def check_device(device: str) -> torch.device:
    try:
        resolved = resolve_device(device)
    except RuntimeError as error:
        raise CodecFakeError(
            f"`device` {device!r} is not a device torch knows ({error}); use auto, cpu or cuda.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CodecFakeError(f"`device` {device!r}: CUDA is not available on this machine; use auto or cpu.")
    return resolved


def build(config: CodecFakeConfig, *, codec_factory: CodecFactory | None = None, corpus: Corpus | None = None,
          progress: bool = True, card_notes: list[str] | None = None) -> BuildReport:
    """Build (or resume, or extend) the dataset folder `config.out` from `config.source` and `config.codecs`.

    Args:
        config (CodecFakeConfig): the request.
        codec_factory (CodecFactory | None): `(name, device, random_weights) -> Codec`; None: the
            registry's `codecs.load` (tests pass small random-weight codecs).
        corpus (Corpus | None): an opened corpus; None: opened from `config.source`.
        progress (bool): show progress bars.
        card_notes (list[str] | None): extra lines for the card's notes (the demo's fallbacks).
    """
    codec_names, device = check_config(config)
    split = SpeakerSplit.from_file(config.split_file) if config.split_file else SpeakerSplit.paper()
    corpus = corpus or open_source(config.source, mic=config.mic, speaker_pattern=config.speaker_pattern,
                                   audio_column=config.audio_column, speaker_column=config.speaker_column)
    logger.info("source %s: listing utterances", corpus.spec)
    records = corpus.records()
    plan = Plan(
        kind="build",
        identity={"source": corpus.spec, "split": split.to_dict(), "limit": config.limit,
                  "shard_size": config.shard_size, "genuine_sample_rate": config.genuine_sample_rate},
        records={ALL_PARTS: Plan.split_records(records, split, config.limit)},
        shard_size=config.shard_size,
        source=source_info(corpus),
    )
    out = Path(config.out)
    with _locked(out):
        plan = _resume_or_start(plan, out)
        report = BuildReport(out)
        factory = codec_factory or default_codec_factory
        for part in [GENUINE, *codec_names]:
            codec = None
            if part != GENUINE and _pending(plan, out, part):
                codec = _load_codec(factory, part, device, config.random_weights, plan, report)
                if codec is None:
                    continue
            _write_part(config, plan, out, part, corpus, codec, report, progress)
            del codec
        report.card = _write_card(plan, out, report, card_notes or [])
        _clean_state(out)
    return report


def import_release(path: str | Path, out: str | Path, *, split_file: str | None = None, shard_size: int = 1000,
                   metadata: str | None = None, progress: bool = True) -> BuildReport:
    """Convert a folder of the original CodecFake release (`<codec>+<utterance>.wav`) into the same schema.

    Args:
        path (str | Path): the folder of release files (searched recursively).
        out (str | Path): the output folder.
        split_file (str | None): speaker -> split file; None: the CodecFake paper's split.
        shard_size (int): files per shard.
        metadata (str | None): a VCTK source (`vctk:PATH`) whose transcripts and speaker metadata fill
            the rows; None: the release's file names only (empty text and speaker metadata).
        progress (bool): show progress bars.
    """
    if shard_size < 1:
        raise CodecFakeError(f"`shard_size` must be at least 1 utterance, got {shard_size}.")
    parts, skipped = scan_release(path)
    if metadata is not None:
        parts = _with_metadata(parts, open_source(metadata))
    split = SpeakerSplit.from_file(split_file) if split_file else SpeakerSplit.paper()
    ordered = _in_registry_order(parts)
    plan = Plan(
        kind="import",
        identity={"source": f"release:{Path(path).resolve()}", "split": split.to_dict(), "shard_size": shard_size},
        records={part: Plan.split_records(parts[part], split, None) for part in ordered},
        shard_size=shard_size,
        source={"kind": "release", "description": "the original CodecFake release files (codecfake.github.io)",
                "license": vctk.LICENSE, "attribution": vctk.ATTRIBUTION, "citation": vctk.CITATION},
    )
    out = Path(out)
    config = CodecFakeConfig(source=plan.identity["source"], out=str(out), shard_size=shard_size,
                             genuine_sample_rate=None)
    with _locked(out):
        plan = _resume_or_start(plan, out)
        report = BuildReport(out, skipped=[f"import: {reason}" for reason in skipped])
        for part in ordered:
            _write_part(config, plan, out, part, None, None, report, progress)
        report.card = _write_card(plan, out, report, [
            "Rows imported from the original CodecFake release files, unchanged (16-bit PCM at each codec's rate).",
        ])
        _clean_state(out)
    return report


# Named helpers of build() and import_release()


def _with_metadata(parts: dict[str, list[Record]], corpus: Corpus) -> dict[str, list[Record]]:
    """Release records with the transcript and speaker metadata of the same utterance in `corpus`."""
    known = {r.utterance_id: r for r in corpus.records()}
    missing = {r.utterance_id for records in parts.values() for r in records} - set(known)
    if missing:
        logger.warning("metadata: %d utterances are not in %s; their text stays empty", len(missing), corpus.spec)
    return {
        part: [replace(known[r.utterance_id], path=r.path, index=None) if r.utterance_id in known else r
               for r in records]
        for part, records in parts.items()
    }


def _in_registry_order(parts: Iterable[str]) -> list[str]:
    """`genuine` first, then the codecs in the registry's order (the CodecFake paper's table)."""
    present = set(parts)
    return [part for part in [GENUINE, *codecs.names()] if part in present]


def _clean_state(out: Path) -> None:
    """After a finished run: drop the staging folder and `datasets`' per-shard lock files (the plan stays)."""
    for name in ("tmp", "cache"):
        shutil.rmtree(out / STATE_DIR / name, ignore_errors=True)


def source_info(corpus: Corpus) -> dict[str, str]:
    return {"kind": corpus.kind, "description": corpus.description, "license": corpus.license or "other",
            "attribution": corpus.attribution, "citation": corpus.citation}


class _locked:
    """One run per output folder at a time (a file lock in its state folder)."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        (out / STATE_DIR).mkdir(exist_ok=True)
        self.lock = FileLock(str(out / STATE_DIR / "lock"))
        self.out = out

    def __enter__(self):
        try:
            self.lock.acquire(timeout=1)
        except Timeout:
            raise CodecFakeError(
                f"`out` {str(self.out)!r} is being built by another run; wait for it to end.") from None
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _resume_or_start(plan: Plan, out: Path) -> Plan:
    """The plan on disk when compatible (it keeps the parts' state); refuse a folder of something else."""
    existing = Plan.load(out)
    if existing is None:
        if (out / "data").exists():
            raise PlanMismatchError(f"`out` {str(out)!r} holds a `data/` folder but no build plan "
                                    f"({STATE_DIR}/plan.json); choose an empty or new folder.")
        plan.save(out)
        logger.info("%s: new build, %s", out, {s: len(plan.records_of(GENUINE, s)) for s in plan.splits_of(GENUINE)}
                    if plan.kind == "build" else "import")
        return plan
    plan.check_same(existing, out)
    logger.info("%s: resuming the build on disk", out)
    # A killed run may have left a half-written shard in the staging folder: it is redone from scratch.
    shutil.rmtree(out / STATE_DIR / "tmp", ignore_errors=True)
    return existing


def _pending(plan: Plan, out: Path, part: str) -> list[tuple[str, int]]:
    return [(split, shard) for split in plan.splits_of(part) for shard in range(plan.num_shards(part, split))
            if not plan.shard_path(out, part, split, shard).exists()]


def _load_codec(factory: CodecFactory, name: str, device: torch.device, random_weights: bool, plan: Plan,
                report: BuildReport) -> Codec | None:
    recorded = plan.parts.get(name, {}).get("random_weights")
    if recorded is not None and recorded != random_weights:
        state = "random" if recorded else "official"
        report.failed[name] = (f"data/{name}/ holds shards made with {state} weights; finish it with the same "
                               f"weights, or delete data/{name}/ to rebuild it.")
        return None
    try:
        codec = factory(name, device, random_weights)
    except CodecFakeError as error:  # BackendNotBuiltError, WeightsUnavailableError, CheckpointError
        report.failed[name] = str(error)
        logger.error("%s: not built: %s", name, error)
        return None
    plan.parts[name] = {"complete": False, "random_weights": bool(getattr(codec, "random_weights", random_weights))}
    return codec


def _write_part(config: CodecFakeConfig, plan: Plan, out: Path, part: str, corpus: Corpus | None,
                codec: Codec | None, report: BuildReport, progress: bool) -> None:
    pending = _pending(plan, out, part)
    total = sum(plan.num_shards(part, s) for s in plan.splits_of(part))
    report.kept += total - len(pending)
    if pending:
        utterances = sum(len(plan.shard_records(part, split, shard)) for split, shard in pending)
        logger.info("%s: %d of %d shards to write (%d utterances)", part, len(pending), total, utterances)
        with tqdm(total=utterances, unit="utt", desc=part, disable=not progress) as bar:
            for split, shard in pending:
                skipped = _write_shard(config, plan, out, part, split, shard, corpus, codec, bar)
                report.skipped += [f"{part}: {reason}" for reason in skipped]
                report.written += 1
    plan.parts.setdefault(part, {"random_weights": False})["complete"] = True
    plan.save(out)
    report.complete.append(part)


def _write_shard(config: CodecFakeConfig, plan: Plan, out: Path, part: str, split: str, shard: int,
                 corpus: Corpus | None, codec: Codec | None, bar: tqdm) -> list[str]:
    """Run the builder for one shard in a staging folder, then rename its Parquet file into place."""
    final = plan.shard_path(out, part, split, shard)
    staging = out / STATE_DIR / "tmp" / part / f"{split}-{shard:05d}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(f"{staging}.incomplete", ignore_errors=True)
    shard_config = {
        **{k: v for k, v in asdict(config).items() if k not in ("name", "version", "data_dir", "data_files",
                                                                 "description")},
        "part": part, "split": split, "shard": shard,
    }
    builder = CodecFakeBuilder(
        plan=plan, corpus=corpus, codec=codec, progress=bar,
        cache_dir=str(out / STATE_DIR / "cache"), dataset_name="codecfake",
        config_name=f"{part}-{split}-{shard:05d}", **shard_config,
    )
    datasets.disable_progress_bars()  # our own bar counts utterances across shards
    try:
        builder.download_and_prepare(output_dir=str(staging), file_format="parquet", max_shard_size="100GB",
                                     verification_mode="no_checks")
    finally:
        datasets.enable_progress_bars()
    produced = sorted(staging.glob("*.parquet"))
    if len(produced) != 1:
        raise CodecFakeError(f"internal: expected one Parquet file for {final.name} in {staging}, found {produced}")
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(produced[0], final)  # atomic: a shard is either absent or complete
    shutil.rmtree(staging, ignore_errors=True)
    return builder.skipped


def _write_card(plan: Plan, out: Path, report: BuildReport, notes: list[str]) -> Path:
    parts = _in_registry_order(p for p in plan.parts if plan.parts[p].get("complete"))
    if not parts:
        reasons = "; ".join(report.failed.values())
        raise CodecFakeError(f"nothing was written to {out}: no part could be built ({reasons}).")
    random = [p for p in parts if plan.parts[p].get("random_weights")]
    return hub.write_dataset_card(
        out,
        hub.DatasetCardInfo(
            parts=parts, speakers=plan.speakers(), source=plan.source, random_weight_codecs=random,
            imported=plan.kind == "import", notes=notes,
            genuine_sample_rate=plan.identity.get("genuine_sample_rate"),
            paper_split=SpeakerSplit.from_dict(plan.identity["split"]) == SpeakerSplit.paper(),
        ),
    )
