"""Building a dataset folder: plan, write each missing shard, write the card.

Order of work: the plan (made or reread), then the genuine part, then each codec. A codec is loaded
only when it has a shard to write, so adding a codec to a folder computes only that codec. A codec
that cannot be loaded (family not built yet, weights unavailable) is reported and the others go on.
`build()` and `import_release()` each make a plan and hand it to a `BuildRun`, which does the work.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from codecfake_hf import codecs, hub
from codecfake_hf.codecs import Codec
from codecfake_hf.corpus import Corpus, Record, open_source, vctk
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.resynth import resolve_device
from codecfake_hf.schema import DATA_DIR, GENUINE, STATE_DIR
from codecfake_hf.splits import SpeakerSplit

from .dataset import PartRows, write_shard
from .plan import ALL_PARTS, Plan, PlanMismatchError
from .release import scan_release
from .request import BuildRequest

logger = logging.getLogger(__name__)

CodecFactory = Callable[[str, torch.device, bool], Codec]
TMP_DIR = "tmp"  # in the state folder: shards being written (unique names), never in data/


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


def check_device(device: str) -> torch.device:
    try:
        resolved = resolve_device(device)
    except RuntimeError as error:
        raise CodecFakeError(
            f"`device` {device!r} is not a device torch knows ({error}); use auto, cpu or cuda.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CodecFakeError(f"`device` {device!r}: CUDA is not available on this machine; use auto or cpu.")
    return resolved


def build(request: BuildRequest, *, codec_factory: CodecFactory | None = None, corpus: Corpus | None = None,
          progress: bool = True, card_notes: list[str] | None = None) -> BuildReport:
    """Build (or resume, or extend) the dataset folder `request.out` from `request.source` and `request.codecs`.

    Args:
        request (BuildRequest): the request.
        codec_factory (CodecFactory | None): `(name, device, random_weights) -> Codec`; None: the
            registry's `codecs.load` (tests pass small random-weight codecs).
        corpus (Corpus | None): an opened corpus; None: opened from `request.source`.
        progress (bool): show progress bars.
        card_notes (list[str] | None): extra lines for the card's notes (the demo's fallbacks).
    """
    request.check()
    codec_names = codecs.parse_codec_list(request.codecs)  # UnknownCodecError names the bad one
    device = check_device(request.device)
    split = SpeakerSplit.from_file(request.split_file) if request.split_file else SpeakerSplit.paper()
    corpus = corpus or open_source(request.source, mic=request.mic, speaker_pattern=request.speaker_pattern,
                                   audio_column=request.audio_column, speaker_column=request.speaker_column)
    logger.info("source %s: listing utterances", corpus.spec)
    records = corpus.records()
    plan = Plan(
        kind="build",
        identity={"source": corpus.spec, "split": split.to_dict(), "limit": request.limit,
                  "shard_size": request.shard_size, "genuine_sample_rate": request.genuine_sample_rate},
        records={ALL_PARTS: Plan.split_records(records, split, request.limit)},
        shard_size=request.shard_size,
        source=source_info(corpus),
    )
    run = BuildRun(plan, Path(request.out), request=request, corpus=corpus, device=device,
                   codec_factory=codec_factory or default_codec_factory, progress=progress)
    return run.run([GENUINE, *codec_names], notes=card_notes or [])


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
    run = BuildRun(plan, Path(out), progress=progress)
    run.report.skipped = [f"import: {reason}" for reason in skipped]
    return run.run(ordered, notes=[
        "Rows imported from the original CodecFake release files, unchanged (16-bit PCM at each codec's rate).",
    ])


def source_info(corpus: Corpus) -> dict[str, str]:
    return {"kind": corpus.kind, "description": corpus.description, "license": corpus.license or "other",
            "attribution": corpus.attribution, "citation": corpus.citation}


class BuildRun:
    """One run on one output folder: resume or start its plan, write the missing shards part by part, write the card.

    Args:
        plan (Plan): the plan this run would start (a compatible plan on disk is resumed instead).
        out (Path): the output folder.
        request (BuildRequest | None): the build's request; None for an import (no codecs are loaded,
            release files keep their own rate).
        corpus (Corpus | None): reads the genuine audio; None for an import.
        device (torch.device | None): where the codecs run.
        codec_factory (CodecFactory | None): loads a codec by name.
        progress (bool): show a progress bar per part.

    Attributes:
        report (BuildReport): what the run did, filled as it goes.
    """

    def __init__(self, plan: Plan, out: Path, *, request: BuildRequest | None = None, corpus: Corpus | None = None,
                 device: torch.device | None = None, codec_factory: CodecFactory | None = None,
                 progress: bool = True):
        self.plan = plan
        self.out = out
        self.request = request
        self.corpus = corpus
        self.device = device
        self.codec_factory = codec_factory
        self.progress = progress
        self.report = BuildReport(out)

    def run(self, parts: list[str], *, notes: list[str]) -> BuildReport:
        """Write every missing shard of `parts` (in order), then the card; one run per folder at a time."""
        with _locked(self.out):
            self.plan = _resume_or_start(self.plan, self.out)
            for part in parts:
                codec = None
                if self.request is not None and part != GENUINE and self.pending(part):
                    codec = self.load_codec(part)
                    if codec is None:
                        continue
                self.write_part(part, codec)
                del codec
            self.report.card = self.write_card(notes)
            shutil.rmtree(self.out / STATE_DIR / TMP_DIR, ignore_errors=True)
        return self.report

    def pending(self, part: str) -> list[tuple[str, int]]:
        """(split, shard) of each shard of `part` not on disk yet."""
        plan = self.plan
        return [(split, shard) for split in plan.splits_of(part) for shard in range(plan.num_shards(part, split))
                if not plan.shard_path(self.out, part, split, shard).exists()]

    def load_codec(self, name: str) -> Codec | None:
        """The codec `name`, or None (reported in `report.failed`) when it cannot be loaded or would mix weights."""
        random_weights = self.request.random_weights
        recorded = self.plan.parts.get(name, {}).get("random_weights")
        if recorded is not None and recorded != random_weights:
            state = "random" if recorded else "official"
            self.report.failed[name] = (f"data/{name}/ holds shards made with {state} weights; finish it with the "
                                        f"same weights, or delete data/{name}/ to rebuild it.")
            return None
        try:
            codec = self.codec_factory(name, self.device, random_weights)
        except CodecFakeError as error:  # BackendNotBuiltError, WeightsUnavailableError, CheckpointError
            self.report.failed[name] = str(error)
            logger.error("%s: not built: %s", name, error)
            return None
        self.plan.parts[name] = {"complete": False,
                                 "random_weights": bool(getattr(codec, "random_weights", random_weights))}
        return codec

    def write_part(self, part: str, codec: Codec | None) -> None:
        """Write the missing shards of `part`, then mark it complete in the plan."""
        plan, report = self.plan, self.report
        pending = self.pending(part)
        total = sum(plan.num_shards(part, s) for s in plan.splits_of(part))
        report.kept += total - len(pending)
        if pending:
            utterances = sum(len(plan.shard_records(part, split, shard)) for split, shard in pending)
            logger.info("%s: %d of %d shards to write (%d utterances)", part, len(pending), total, utterances)
            with tqdm(total=utterances, unit="utt", desc=part, disable=not self.progress) as bar:
                rows = PartRows(corpus=self.corpus, codec=codec, progress=bar,
                                genuine_sample_rate=self.request.genuine_sample_rate if self.request else None,
                                batch_seconds=self.request.batch_seconds if self.request else None)
                for split, shard in pending:
                    write_shard(rows.rows(plan.shard_records(part, split, shard), part),
                                plan.shard_path(self.out, part, split, shard), tmp_dir=self.out / STATE_DIR / TMP_DIR)
                    report.written += 1
            report.skipped += [f"{part}: {reason}" for reason in rows.skipped]
        plan.parts.setdefault(part, {"random_weights": False})["complete"] = True
        plan.save(self.out)
        report.complete.append(part)

    def write_card(self, notes: list[str]) -> Path:
        plan = self.plan
        parts = _in_registry_order(p for p in plan.parts if plan.parts[p].get("complete"))
        if not parts:
            reasons = "; ".join(self.report.failed.values())
            raise CodecFakeError(f"nothing was written to {self.out}: no part could be built ({reasons}).")
        random = [p for p in parts if plan.parts[p].get("random_weights")]
        return hub.write_dataset_card(
            self.out,
            hub.DatasetCardInfo(
                parts=parts, speakers=plan.speakers(), source=plan.source, random_weight_codecs=random,
                imported=plan.kind == "import", notes=notes,
                genuine_sample_rate=plan.identity.get("genuine_sample_rate"),
                paper_split=SpeakerSplit.from_dict(plan.identity["split"]) == SpeakerSplit.paper(),
            ),
        )


# Named helpers of build(), import_release() and BuildRun


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
        if (out / DATA_DIR).exists():
            raise PlanMismatchError(f"`out` {str(out)!r} holds a `data/` folder but no build plan "
                                    f"({STATE_DIR}/plan.json); choose an empty or new folder.")
        plan.save(out)
        logger.info("%s: new build, %s", out, {s: len(plan.records_of(GENUINE, s)) for s in plan.splits_of(GENUINE)}
                    if plan.kind == "build" else "import")
        return plan
    plan.check_same(existing, out)
    logger.info("%s: resuming the build on disk", out)
    # A killed run (SIGKILL, power loss) may have left a temporary shard file: this run holds the folder's
    # lock, so no other run is writing one, and every shard not in data/ is redone from scratch.
    shutil.rmtree(out / STATE_DIR / TMP_DIR, ignore_errors=True)
    return existing
