"""Building a dataset folder: plan, write each missing shard, write the card.

Order of work: the plan (made or reread), then the genuine part, then each codec. A codec is loaded
only when it has a shard to write, so adding a codec to a folder computes only that codec. A codec
that cannot be loaded (family not built yet, weights unavailable) is reported and the others go on.
`build()` and `import_release()` each make a plan and hand it to a `BuildRun`, which does the work.

Under `torchrun` / `accelerate launch` the same run is shared by the ranks (`codecfake_hf.distributed`):
rank 0 takes the folder's lock, makes or rereads the plan and lists the missing shards; every rank
writes its share of that list, the genuine shards first (a barrier: the codecs read their input from
the genuine rows), then the codec shards; after a last gather rank 0 marks the parts complete and
writes the card. One process without a launcher is a world of one and runs the same code.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import torch
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from codecfake_hf import codecs, hub
from codecfake_hf.card_examples import EXAMPLES_DIR, write_examples
from codecfake_hf.codecs import Codec
from codecfake_hf.corpus import Corpus, Record, check_unique_ids, open_source, vctk
from codecfake_hf.distributed import Ranks
from codecfake_hf.errors import CodecFakeError
from codecfake_hf.files import (
    TEMP_SUFFIX,
    FileWriteError,
    UnsafePathError,
    contained,
    os_errors,
    ownership_problem,
    remove_owned,
    sha256_file,
    sha256_text,
    write_error,
    write_text_atomic,
)
from codecfake_hf.recipe import MATCHED, default_recipe, from_source
from codecfake_hf.schema import DATA_DIR, GENUINE, STATE_DIR, codec_of, condition_of
from codecfake_hf.splits import DEFAULT_RATIOS, SpeakerSplit, parse_ratios

from . import conditions as channel_parts
from . import release_layouts
from .dataset import PartRows, write_shard
from .plan import ALL_PARTS, PLAN_FILE, Plan, PlanMismatchError
from .release import scan_release
from .request import DEFAULT_MAX_SKIPPED, BuildRequest
from .shards import RECORDS_DIR, read_record, recorded_sha256, recorded_shards, shard_state, stale_reason, write_record
from .source_cache import SourceCache
from .stream import share_layout, source_window
from .upload import HubShards, build_facts

logger = logging.getLogger(__name__)

CodecFactory = Callable[[str, torch.device, bool], Codec]
TMP_DIR = "tmp"  # in the state folder: shards being written (unique names), never in data/
LOCK_FILE = "lock"  # in the state folder: one run per output folder
DEMO_SPLIT_FILE = "demo-split.txt"  # in the state folder: the demo's split of its public speech set


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
        redone (list[str]): `<shard>: <reason>` of each shard on disk that could not be kept (changed,
            unrecorded, or made from source files that changed since) and was written again.
        clipped (list[str]): `<utterance>: <what>` of each genuine row clipped to full scale.
        source_skipped (list[str]): `<path>: <reason>` of each file or folder the source left out.
        stale (list[str]): `<part>: <reason>` of each finished part this run did not name whose shards no longer
            match what they were made from (a source file changed since): left out of the card until rebuilt.
        empty (list[str]): `<part>/<split>` of each split of a part that holds no row (every utterance of it was
            skipped): left out of the card.
        pushed (str | None): with `push_to`, the repository's URL (its shards and card committed).
        uploaded (int): with `push_to`, shards this run committed (every rank's).
    """

    out: Path
    written: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    complete: list[str] = field(default_factory=list)
    card: Path | None = None
    redone: list[str] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)
    source_skipped: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    pushed: str | None = None
    uploaded: int = 0


def default_codec_factory(name: str, device: torch.device, random_weights: bool, seed: int = 0,
                          weights: Mapping[str, str] | None = None) -> Codec:
    """The registry's codec: official weights through the Hub cache (or from the folder or repository `weights`
    names for it), or random weights drawn from `seed`."""
    place = None if random_weights else (weights or {}).get(name)
    return codecs.load(name, random_weights=random_weights, seed=seed, device=device, weights=place)


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
    # UnknownConditionError names an unknown condition or an encoder this FFmpeg lacks, before anything is written
    condition_names = channel_parts.parse_conditions(request.conditions)
    if condition_names and request.push_to:
        raise CodecFakeError("`conditions` and `push_to` cannot be used together yet (a condition shard is made from "
                             "its clean shard on disk): build with `--conditions`, then `builder push` the folder.")
    if str(request.device).split(":")[0] == "meta":  # tensors without values: every utterance would fail
        raise CodecFakeError(f"`device` {request.device!r} holds no data (shapes only); use auto, cpu or cuda.")
    # this rank's device (cuda:LOCAL_RANK under `auto` on GPUs); the rendezvous waits at most rendezvous_timeout
    ranks = Ranks.start(request.device, rendezvous_timeout=request.rendezvous_timeout)
    try:
        # Before the source is listed or a codec runs: no token, a refused token, an unreachable Hub: one message.
        uploader = (HubShards.connect(request.push_to, request.out, private=request.push_private,
                                      batch=request.push_batch) if request.push_to else None)
        corpus = corpus or open_source(request.source, mic=request.mic, speaker_pattern=request.speaker_pattern,
                                       audio_column=request.audio_column, speaker_column=request.speaker_column,
                                       streaming=request.streaming)

        def make_plan() -> Plan:  # on rank 0 only: the corpus is listed once
            logger.info("source %s: listing utterances", corpus.spec)
            records = with_language(corpus.records(), request.languages())
            check_unique_ids(records, corpus.spec)  # two rows with one id would overwrite each other downstream
            run.report.source_skipped = list(getattr(corpus, "skipped", []))
            split, rule = choose_split(request, corpus, records)
            recipe = request.recipe or default_recipe(corpus.kind)
            logger.info("input recipe: %s%s", recipe, "" if request.recipe else f" (the default for {corpus.kind}:)")
            return Plan(
                kind="build",
                identity={"source": corpus.spec, "split": split.to_dict(), "split_rule": rule, "limit": request.limit,
                          "shard_size": request.shard_size, "genuine_sample_rate": request.genuine_sample_rate,
                          "recipe": recipe},
                records={ALL_PARTS: Plan.split_records(records, split, request.limit)},
                shard_size=request.shard_size,
                source=source_info(corpus, request, records),
            )

        run = BuildRun(make_plan, Path(request.out), request=request, corpus=corpus, ranks=ranks,
                       codec_factory=codec_factory or partial(default_codec_factory, seed=request.seed,
                                                                     weights=request.weight_sources()),
                       progress=progress, overwrite=request.overwrite, uploader=uploader)
        parts = [GENUINE, *codec_names]
        return run.run([*parts, *channel_parts.condition_parts(parts, condition_names)], notes=card_notes or [])
    finally:
        ranks.close()


# What each release layout is, for the card (`builder.release_layouts` reads them).
RELEASES = {
    "wav": "the original CodecFake release files (codecfake.github.io)",
    "hf-parquet": "the Hub-hosted CodecFake release (rogertseng/CodecFake, Parquet)",
    "cors": "CodecFake+'s codec-resynthesised speech (CoRS; Chen et al. 2025, arXiv 2501.08238)",
}


def import_release(path: str | Path, out: str | Path, *, split_file: str | None = None, shard_size: int = 1000,
                   metadata: str | None = None, layout: str = "auto", overwrite: bool = False,
                   progress: bool = True) -> BuildReport:
    """Convert a downloaded public release into the same schema, splits and layout.

    Args:
        path (str | Path): the release folder (searched recursively): `<codec>+<utterance>.wav` files, the
            Hub-hosted CodecFake's Parquet shards, or CodecFake+ CoRS audio with `CoRS_labels.txt`.
        out (str | Path): the output folder.
        split_file (str | None): speaker -> split file; None: the CodecFake paper's split.
        shard_size (int): files per shard.
        metadata (str | None): a VCTK source (`vctk:PATH`) whose transcripts and speaker metadata fill
            the rows; None: the release's file names only (empty text and speaker metadata).
        layout (str): `auto` (from the folder's files), `wav`, `hf-parquet` or `cors`
            (`builder.release_layouts`).
        overwrite (bool): import into a non-empty folder this tool did not make.
        progress (bool): show progress bars.
    """
    if shard_size < 1:
        raise CodecFakeError(f"`shard_size` must be at least 1 utterance, got {shard_size}.")
    if layout not in release_layouts.LAYOUTS:
        raise CodecFakeError(f"`layout` must be one of {', '.join(release_layouts.LAYOUTS)}, got {layout!r}.")
    layout = release_layouts.detect_layout(path) if layout == "auto" else layout
    reader, taxonomy = None, {}
    if layout == "hf-parquet":
        parts, skipped = release_layouts.scan_hf_parquet(path)
        reader = release_layouts.ParquetAudio(str(Path(path).resolve()))
    elif layout == "cors":
        parts, skipped, taxonomy = release_layouts.scan_cors(path)
    else:
        parts, skipped = scan_release(path)
    if metadata is not None:
        parts = _with_metadata(parts, open_source(metadata))
    parts = {part: with_language(records, SOURCE_LANGUAGES["vctk"]) for part, records in parts.items()}
    split = SpeakerSplit.from_file(split_file) if split_file else SpeakerSplit.paper()
    ordered = _in_registry_order(parts)
    what = RELEASES[layout]
    plan = Plan(
        kind="import",
        identity={"source": f"release:{Path(path).resolve()}", "layout": layout, "split": split.to_dict(),
                  "split_rule": "file" if split_file else "paper", "shard_size": shard_size},
        records={part: Plan.split_records(parts[part], split, None) for part in ordered},
        shard_size=shard_size,
        source={"kind": "release", "description": what, "license": vctk.LICENSE, "attribution": vctk.ATTRIBUTION,
                "citation": vctk.CITATION, "language": SOURCE_LANGUAGES["vctk"],  # every release resynthesised VCTK
                **({"taxonomy": taxonomy} if taxonomy else {})},
    )
    run = BuildRun(plan, Path(out), corpus=reader, progress=progress, overwrite=overwrite)
    run.report.skipped = [f"import: {reason}" for reason in skipped]
    return run.run(ordered, notes=[f"Rows imported from {what} at each file's rate: 16-bit files unchanged (16-bit "
                                     "PCM), files with more bits as 24-bit PCM."])


# Sources whose speakers the CodecFake paper's split names (the built-in demo uses VCTK-like ids for it).
PAPER_SPLIT_SOURCES = ("vctk", "builtin")
# What the card says a source's speech is in, where the source itself says so.
SOURCE_LANGUAGES = {"vctk": ["en"]}
# The Hub dataset a source is (`source_datasets` of the card).
SOURCE_DATASETS = {"vctk": "CSTR-Edinburgh/vctk"}


def choose_split(request: BuildRequest, corpus: Corpus, records: list[Record]) -> tuple[SpeakerSplit, str]:
    """The split and how it was chosen (`file`, `paper`, `ratios A,B,C seed N`), for the plan and the card.

    A split file wins; then explicit ratios; then the paper's split for VCTK; any other source gets a seeded
    ratio split (0.8,0.1,0.1), since the paper's speakers are VCTK's and would leave every row in `train`.
    """
    if request.split_file:
        split = SpeakerSplit.from_file(request.split_file)
        split.check_speakers({r.speaker_id for r in records}, corpus.spec)  # a file naming none of them is refused
        return split, "file"
    if request.split_ratios is None and corpus.kind in PAPER_SPLIT_SOURCES:
        return SpeakerSplit.paper(), "paper"
    ratios = parse_ratios(request.split_ratios) if request.split_ratios else DEFAULT_RATIOS
    rule = f"ratios {','.join(f'{r:g}' for r in ratios)} seed {request.split_seed}"
    by_language: dict[str, set[str]] = {}
    for record in records:
        by_language.setdefault(record.language, set()).add(record.speaker_id)
    if len(by_language) > 1:  # each language's speakers split apart, so that every split holds every language
        return SpeakerSplit.by_ratio_per_group(by_language, ratios, request.split_seed), f"{rule} {PER_LANGUAGE}"
    return SpeakerSplit.by_ratio((r.speaker_id for r in records), ratios, request.split_seed), rule


PER_LANGUAGE = "per language"  # the split rule's suffix for a ratio split drawn within each language


def with_language(records: list[Record], languages: list[str] | None) -> list[Record]:
    """`records`, those without a language given the request's one language (`--language de` for a folder of
    German speech); with several languages named, or none, the records keep what their source says."""
    if not languages or len(languages) != 1:
        return records
    return [record if record.language else replace(record, language=languages[0]) for record in records]


def data_languages(records) -> list[str]:
    """The languages the records carry, sorted (empty codes left out)."""
    return sorted({record.language for record in records if record.language})


def source_info(corpus: Corpus, request: BuildRequest | None = None, records: list[Record] | None = None) -> dict:
    """What the card says about the source: its own facts, overridden by the request's licence; its languages are
    those of the `records` (the rows' `language` column), else the request's, else the source kind's."""
    license = (request and request.license) or corpus.license or "unknown"
    info = {"kind": corpus.kind, "description": corpus.description, "license": license,
            "attribution": corpus.attribution, "citation": corpus.citation}
    if request and request.license_name:
        info["license_name"], info["license_link"] = request.license_name, request.license_link
    languages = data_languages(records or []) or (request and request.languages()) or SOURCE_LANGUAGES.get(corpus.kind)
    if languages:
        info["language"] = languages
    hub_sets = [name for part in getattr(corpus, "corpora", [corpus]) for name in _source_datasets(part)]
    if hub_sets:
        info["source_datasets"] = list(dict.fromkeys(hub_sets))
    return info


def _source_datasets(corpus: Corpus) -> list[str]:
    """The Hub dataset a (single) source is, for the card's `source_datasets`."""
    if corpus.kind in SOURCE_DATASETS:
        return [SOURCE_DATASETS[corpus.kind]]
    return [corpus.location.split(":")[0]] if corpus.kind == "hf" else []


class BuildRun:
    """One run on one output folder: resume or start its plan, write the missing shards part by part, write the card.

    Args:
        plan (Plan | Callable[[], Plan]): the plan this run would start (a compatible plan on disk is
            resumed instead), or a function that makes it (called on rank 0 only).
        out (Path): the output folder.
        request (BuildRequest | None): the build's request; None for an import (no codecs are loaded,
            release files keep their own rate).
        corpus (Corpus | None): reads the genuine audio; None for an import.
        ranks (Ranks | None): this process's rank, world and device; None: a world of one on the CPU.
        codec_factory (CodecFactory | None): loads a codec by name.
        progress (bool): show a progress bar per part.
        overwrite (bool): write into a non-empty folder that this tool did not make.
        uploader (HubShards | None): `push_to`'s repository; None: the shards stay in the folder.

    Attributes:
        report (BuildReport): what the run did (on every rank: the whole run's, from rank 0).
    """

    def __init__(self, plan: Plan | Callable[[], Plan], out: Path, *, request: BuildRequest | None = None,
                 corpus: Corpus | None = None, ranks: Ranks | None = None,
                 codec_factory: CodecFactory | None = None, progress: bool = True, overwrite: bool = False,
                 uploader: HubShards | None = None):
        self.plan = plan
        self.uploader = uploader  # `push_to`: shards committed as they finish (`builder.upload`)
        self.held: set[str] = set()  # rank 0, with `push_to`: shards the repository holds (not made again)
        self.overwrite = overwrite
        self.out = out
        self.request = request
        self.corpus = corpus
        self.ranks = ranks or Ranks()
        self.device = self.ranks.device
        self.codec_factory = codec_factory
        self.progress = progress
        self.report = BuildReport(out)
        # What this rank did, gathered by rank 0 at the end.
        self.done: dict[str, list] = {}  # part -> [(split, shard), ...] written here
        self.skipped: dict[str, list[str]] = {}  # part -> `<utterance>: <reason>` lines
        self.failed: dict[str, str] = {}  # codec -> why it could not be built here
        self.weights: dict[str, bool] = {}  # codec -> whether its weights were random
        self.clipped: list[str] = []  # genuine rows clipped to full scale here
        self.redone: dict[str, list[str]] = {}  # part -> `<shard>: <reason>` of shards on disk to write again
        self.source_cache: SourceCache | None = None  # each shard's source read once for every codec fed it

    def run(self, parts: list[str], *, notes: list[str]) -> BuildReport:
        """Write every missing shard of `parts` (in order), then the card; one run per folder at a time."""
        ranks, lock = self.ranks, FolderLock(self.out)
        try:
            plan, pending = ranks.on_main(lambda: self.start(lock, parts))
            self.plan = plan
            share_layout(self.corpus, ranks)  # a streamed source: where its units start, listed by rank 0
            # Genuine (or imported) shards first: every codec reads its input from the genuine rows; then the
            # codecs; then the channel conditions, each made from a clean shard of the stages before.
            stored = [part for part in parts if self.request is None or part == GENUINE]
            conditioned = [part for part in parts if channel_parts.is_conditioned(part)]
            coded = [part for part in parts if part not in stored and part not in conditioned]
            self.write_tasks(ranks.share([(part, *shard) for part in stored for shard in pending[part]]))
            self.flush_uploads()  # the codecs may read the genuine shards from the repository
            ranks.barrier()
            self.write_tasks(ranks.share([(part, *shard) for part in coded for shard in pending[part]]))
            self.flush_uploads()
            if conditioned:
                ranks.barrier()
                self.write_tasks(ranks.share([(part, *shard) for part in conditioned for shard in pending[part]]))
            outcomes = ranks.gather((self.done, self.skipped, self.failed, self.weights, self.clipped,
                                     len(self.uploader.committed) if self.uploader else 0))
            self.report = ranks.on_main(lambda: self.finish(parts, pending, outcomes, notes))
        except (OSError, FileWriteError) as error:  # a full disk, a read-only folder, a size limit, ...
            raise _write_failed(error, self.out) from None
        finally:
            lock.release()
        return self.report

    def start(self, lock: FolderLock, parts: list[str]) -> tuple[Plan, dict[str, list[tuple[str, int]]]]:
        """Rank 0: take the folder, resume or start the plan, list each part's missing shards.

        This listing, made while this run holds the folder's lock and before any rank writes, is the
        only one: the ranks share out this list (`Ranks.share`), so each missing shard is written by
        exactly one rank, and shards on disk are never touched."""
        # Checks that may refuse come before anything is written there: a refused folder keeps no trace.
        check_out(self.out, self.overwrite)
        plan = self.plan() if callable(self.plan) else self.plan
        lock.acquire()
        self.plan = plan = _resume_or_start(plan, self.out, self.overwrite)
        if self.uploader is not None:
            # What each part is made with: this run's settings for the parts it names, the plan's for the others.
            made = {**{p: s for p, s in plan.parts.items() if p != GENUINE},
                    **{p: self.made_with() for p in parts if p != GENUINE}, GENUINE: None}
            self.held = self.uploader.adopt(plan, made)
        pending: dict[str, list[tuple[str, int]]] = {}
        for part in parts:  # in order: a condition part's clean part is listed before it
            pending[part] = self.pending(part, pending)
        self.check_unnamed_parts(parts, pending)
        if self.request is not None:
            # The weights a codec's shards are made with are on record before the first of them is
            # written, so that a rerun after a kill finds them (and refuses to mix the other kind).
            # A part with no shard on disk yet takes this run's weights, whatever an earlier run recorded.
            for part in parts:
                total = sum(plan.num_shards(part, split) for split in plan.splits_of(part))
                if channel_parts.is_conditioned(part):  # made from its clean part's shards: no weights of its own
                    if pending[part]:
                        plan.parts[part] = {"complete": False, "condition": condition_of(part)}
                elif part != GENUINE and (len(pending[part]) == total or (
                        pending[part] and "random_weights" not in plan.parts.get(part, {}))):
                    plan.parts[part] = {"complete": False, **self.made_with()}
            plan.save(self.out)
        return plan, pending

    def pending(self, part: str, earlier: dict[str, list[tuple[str, int]]] | None = None) -> list[tuple[str, int]]:
        """(split, shard) of each shard of `part` to write: missing, or on disk but not to be kept (changed,
        unrecorded, made from source files that changed since; a condition shard also when its clean shard is in
        `earlier`'s list of shards to write, or is not the file it was made from), which is logged and reported."""
        plan, result = self.plan, []
        redone = (earlier or {}).get(codec_of(part), []) if channel_parts.is_conditioned(part) else []
        for split in plan.splits_of(part):
            for shard in range(plan.num_shards(part, split)):
                path = plan.shard_path(self.out, part, split, shard)
                reason = self.stale_reason(path, plan.shard_records(part, split, shard))
                if reason is None and channel_parts.is_conditioned(part):
                    reason = channel_parts.dependency_reason(self.out, plan, part, split, shard, redone)
                if reason is None:
                    continue
                if reason != "missing":
                    relative = path.relative_to(self.out).as_posix()
                    logger.warning("%s: %s; writing it again", relative, reason)
                    self.redone.setdefault(part, []).append(f"{relative}: {reason}")
                result.append((split, shard))
        return result

    def check_unnamed_parts(self, parts: list[str], pending: dict[str, list[tuple[str, int]]] | None = None) -> None:
        """A finished part this run does not name keeps its shards only while they still match what they were
        made from; one whose shards do not (a source file changed since, a shard damaged; for a condition part, its
        clean shard missing, changed or written again by this run, as `pending` lists) is marked stale: left out of
        the card, and reported, until a run names it again and redoes those shards."""
        plan = self.plan
        for part in [p for p in plan.parts if p not in parts and plan.parts[p].get("complete")]:
            reasons = []
            for split in plan.splits_of(part):
                for shard in range(plan.num_shards(part, split)):
                    path = plan.shard_path(self.out, part, split, shard)
                    reason = self.stale_reason(path, plan.shard_records(part, split, shard))
                    if reason is None and channel_parts.is_conditioned(part):
                        reason = channel_parts.dependency_reason(self.out, plan, part, split, shard,
                                                                 (pending or {}).get(codec_of(part), ()))
                    if reason is not None:
                        reasons.append(f"{path.relative_to(self.out).as_posix()}: {reason}")
            if reasons:
                plan.parts[part].update(complete=False, stale=reasons)
                line = (f"{part}: {len(reasons)} shard(s) no longer match what they were made from ({reasons[0]}); "
                        f"left out of the card until rebuilt: run again with {_naming(part)}")
                logger.warning("stale: %s", line)
                self.report.stale.append(line)

    def stale_reason(self, path: Path, records: list[Record]) -> str | None:
        """`shards.stale_reason`, where a shard the `push_to` repository holds is kept (it is not in the folder)."""
        if path.relative_to(self.out).as_posix() in self.held:
            return None
        return stale_reason(self.out, path, records)

    def flush_uploads(self) -> None:
        """Commit this rank's queued shards (`push_to`), before other ranks read them or the card counts them."""
        if self.uploader is not None:
            self.uploader.flush()

    def _fetch_for_card(self, shard: Path) -> Path:
        """An uploaded shard, downloaded into the staging folder for the card's examples (`card_examples`)."""
        return self.uploader.fetch(shard, self.out / STATE_DIR / TMP_DIR / "card")

    def remote_shards(self) -> dict[Path, tuple[int, int]]:
        """Shards committed to the `push_to` repository and gone from the folder: path -> (rows, data bytes), from
        their records (the card counts them as if present)."""
        remote = {}
        for record_file in (self.out / STATE_DIR / RECORDS_DIR).rglob("*.json"):
            shard = self.out / DATA_DIR / record_file.relative_to(self.out / STATE_DIR / RECORDS_DIR).with_suffix(
                ".parquet")
            recorded = read_record(self.out, shard)
            if recorded and recorded.get("hub") and not shard.exists() and isinstance(recorded.get("data_bytes"), int):
                remote[shard] = (recorded["shard"]["rows"], recorded["data_bytes"])
        return remote

    def made_with(self) -> dict:
        """What this run makes a codec's shards with: random or official weights, their seed, the precision."""
        random_weights = self.request.random_weights
        return {"random_weights": random_weights, "precision": self.request.precision,
                "seed": self.request.seed if random_weights else None}

    def load_codec(self, name: str) -> Codec | None:
        """The codec `name` at the request's precision, or None (reported in `failed`) when it cannot be
        loaded or would mix weights, seeds or precisions within `data/<name>/`."""
        made, recorded = self.made_with(), self.plan.parts.get(name, {})
        random_weights = made["random_weights"]
        if recorded.get("random_weights", random_weights) != random_weights:
            state = "random" if recorded["random_weights"] else "official"
            self.failed[name] = (f"data/{name}/ holds shards made with {state} weights; finish it with the "
                                 f"same weights, or delete data/{name}/ to rebuild it.")
            return None
        differ = [key for key in ("precision", "seed") if recorded.get(key, made[key]) != made[key]]
        if differ:
            then = ", ".join(f"{key}={recorded[key]!r}" for key in differ)
            self.failed[name] = (f"data/{name}/ holds shards made with {then}; finish it with the same "
                                 f"options, or delete data/{name}/ to rebuild it.")
            return None
        try:
            codec = self.codec_factory(name, self.device, random_weights)
        except (CodecFakeError, ValueError, TypeError) as error:
            # BackendNotBuiltError, WeightsUnavailableError, CheckpointError, a config or option the family does
            # not know: this codec is not built, and the others go on.
            self.failed[name] = str(error).splitlines()[0] if str(error) else type(error).__name__
            logger.error("%s: not built: %s", name, error)
            return None
        codec = codec.with_precision(self.request.precision)
        self.weights[name] = bool(getattr(codec, "random_weights", random_weights))
        return codec

    def write_tasks(self, tasks: list[tuple[str, str, int]]) -> None:
        """Write this rank's shards (`(part, split, shard)`, grouped by part), loading each codec once."""
        self.source_cache = self.shared_source(list(dict.fromkeys(task[0] for task in tasks)))
        for part in dict.fromkeys(task[0] for task in tasks):
            shards = [(split, shard) for task_part, split, shard in tasks if task_part == part]
            if channel_parts.is_conditioned(part):
                self.write_condition_part(part, shards)
                continue
            codec = self.load_codec(part) if self.request is not None and part != GENUINE else None
            if codec is None and part in self.failed:
                continue
            self.write_part(part, shards, codec)
            del codec

    def shared_source(self, parts: list[str]) -> SourceCache | None:
        """A source cache (`builder.source_cache`) when two or more of `parts` are codecs that the recipe feeds the
        source (`paper`, at another rate than the genuine rows): each shard's source is then read once for all."""
        if self.request is None:
            return None
        recipe, rate = self.plan.identity.get("recipe", MATCHED), self.request.genuine_sample_rate
        fed = [part for part in parts if part != GENUINE and part in codecs.names()
               and from_source(recipe, codecs.spec(part).sample_rate, rate)]
        return SourceCache(self.out / STATE_DIR / TMP_DIR, within=self.out) if len(fed) > 1 else None

    def write_part(self, part: str, shards: list[tuple[str, int]], codec: Codec | None) -> None:
        """Write `shards` of `part`."""
        plan = self.plan
        utterances = sum(len(plan.shard_records(part, split, shard)) for split, shard in shards)
        logger.info("%s: %d shards to write here (%d utterances)", part, len(shards), utterances)
        desc = f"[{self.ranks.rank}] {part}" if self.ranks.distributed else part
        with tqdm(total=utterances, unit="utt", desc=desc, disable=not self.progress) as bar:
            request = self.request
            rows = PartRows(corpus=self.corpus, codec=codec, progress=bar,
                            genuine_sample_rate=request.genuine_sample_rate if request else None,
                            recipe=plan.identity.get("recipe", MATCHED),
                            batch_seconds=request.batch_seconds if request else None,
                            max_seconds=request.max_seconds if request else None,
                            taxonomy=plan.source.get("taxonomy"),
                            source_cache=self.source_cache if codec is not None else None)
            for split, shard in shards:
                genuine = plan.shard_path(self.out, GENUINE, split, shard) if codec is not None else None
                records = plan.shard_records(part, split, shard)
                path = plan.shard_path(self.out, part, split, shard)
                with source_window(self.corpus, records, codec, rows.recipe, rows.genuine_sample_rate), \
                        self.genuine_input(genuine) as genuine:
                    write_shard(rows.rows(records, part, genuine=genuine), path,
                                tmp_dir=self.out / STATE_DIR / TMP_DIR, within=self.out)
                write_record(self.out, path, records)  # what the shard holds and was made from, for later runs
                self.done.setdefault(part, []).append((split, shard))
                if self.uploader is not None:
                    self.uploader.add(path, build_facts(plan, self.made_with() if codec is not None else None))
        self.skipped.setdefault(part, []).extend(rows.skipped)
        self.clipped.extend(rows.clipped)

    @contextlib.contextmanager
    def genuine_input(self, genuine: Path | None):
        """The genuine shard a codec shard is made from: in the folder, or (`push_to`: committed and removed, or
        made on another machine) downloaded from the repository for as long as the codec shard is made."""
        if genuine is None or genuine.exists() or self.uploader is None:
            yield genuine
            return
        staging = self.out / STATE_DIR / TMP_DIR / f"hub-{self.ranks.rank}"
        try:
            yield self.uploader.fetch(genuine, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write_condition_part(self, part: str, shards: list[tuple[str, int]]) -> None:
        """Write `shards` of condition part `part` from its clean shards (`builder.conditions`); a clean shard that is
        not there finished and recorded (its codec could not be built) leaves the part failed, named."""
        plan = self.plan
        utterances = sum(len(plan.shard_records(part, split, shard)) for split, shard in shards)
        logger.info("%s: %d shards to write here (%d utterances)", part, len(shards), utterances)
        desc = f"[{self.ranks.rank}] {part}" if self.ranks.distributed else part
        with tqdm(total=utterances, unit="utt", desc=desc, disable=not self.progress) as bar:
            rows = channel_parts.ConditionRows(progress=bar)
            for split, shard in shards:
                records = plan.shard_records(part, split, shard)
                clean = channel_parts.clean_shard(plan, self.out, part, split, shard)
                if stale_reason(self.out, clean, records) is not None:
                    base = codec_of(part)
                    self.failed[part] = (f"its clean part {base} has no finished shard "
                                         f"{clean.relative_to(self.out).as_posix()} (see {base} in this report)")
                    logger.error("%s: not built: %s", part, self.failed[part])
                    return
                path, seen = plan.shard_path(self.out, part, split, shard), rows.seen
                write_shard(rows.rows(records, part, clean), path, tmp_dir=self.out / STATE_DIR / TMP_DIR,
                            within=self.out)
                write_record(self.out, path, records, made_from=channel_parts.made_from(self.out, clean))
                self.done.setdefault(part, []).append((split, shard))
                # the rows of the clean shard's skipped records were never made: the bar counts them here
                bar.update(len(records) - (rows.seen - seen))
        self.skipped.setdefault(part, []).extend(rows.skipped)

    def finish(self, parts: list[str], pending: dict[str, list[tuple[str, int]]], outcomes: list[tuple],
               notes: list[str]) -> BuildReport:
        """Rank 0, after every rank is done: the whole run's report, the parts complete, the plan and the card.

        A part is complete when every shard it lacked at the start was written by some rank: the
        ranks' own reports say so, not a listing of the folder (which a shared filesystem may cache)."""
        report, plan = self.report, self.plan
        done: dict[str, set] = {}
        for ranks_done, _, failed, weights, clipped, uploaded in outcomes:
            report.clipped += clipped
            report.uploaded += uploaded
            for part, shards in ranks_done.items():
                done.setdefault(part, set()).update(map(tuple, shards))
            for part, reason in failed.items():
                report.failed.setdefault(part, reason)
            for part, random_weights in weights.items():
                plan.parts.setdefault(part, {"complete": False})["random_weights"] = random_weights
        # Shards reported as written again only where they were: a codec not loaded (no weights, or other weights,
        # precision or seed than its shards on disk) wrote none of them.
        report.redone = [line for part in parts if part not in report.failed for line in self.redone.get(part, [])]
        for part in parts:  # part by part, as one process reports them
            for _, skipped, *_ in outcomes:
                report.skipped += [f"{part}: {reason}" for reason in skipped.get(part, [])]
        for part in parts:
            if part in report.failed:  # not loaded: a part with shards still to write is not in the card
                if pending[part] and part in plan.parts:
                    plan.parts[part]["complete"] = False
                continue
            report.written += len(done.get(part, ()))
            report.kept += sum(plan.num_shards(part, s) for s in plan.splits_of(part)) - len(pending[part])
            if set(map(tuple, pending[part])) <= done.get(part, set()):
                failure = self.part_failure(part)
                plan.parts.setdefault(part, {"random_weights": False})["complete"] = failure is None
                plan.parts[part].pop("stale", None)  # every shard of it is current now
                if failure is not None:
                    report.failed[part] = failure
                    logger.error("%s: failed: %s", part, failure)
                    continue
                report.complete.append(part)
        report.empty = [f"{part}/{split}" for part in parts if plan.parts.get(part, {}).get("complete")
                        for split in self.empty_splits(part)]
        for line in report.empty:
            logger.warning("%s holds no row (every utterance of it was skipped): left out of the card", line)
        plan.save(self.out)
        report.card = self.write_card(notes)
        _clear_staging(self.out)
        if self.uploader is not None:  # the card last, through the one push path (token search, one-line errors)
            from .push import push_held  # here: builder.push imports this module

            (self.out / DATA_DIR).mkdir(exist_ok=True)
            report.pushed = push_held(self.out, plan, self.uploader.repo_id, token=self.uploader.token)
        return report

    def empty_splits(self, part: str) -> list[str]:
        """The splits of `part` whose shards hold no row, from their records (the card does not declare them:
        `load_dataset` cannot read a split of 0-row files)."""
        plan, empty = self.plan, []
        for split in plan.splits_of(part):
            states = [shard_state(self.out, plan.shard_path(self.out, part, split, shard))
                      for shard in range(plan.num_shards(part, split))]
            if all(state is not None and state.rows == 0 for state in states):
                empty.append(split)
        return empty

    def part_failure(self, part: str) -> str | None:
        """Why the part's shards on disk do not make a usable part (None: they do), from their records: no row
        at all, or more than `max_skipped` of its utterances skipped."""
        plan = self.plan
        states = [shard_state(self.out, plan.shard_path(self.out, part, split, shard))
                  for split in plan.splits_of(part) for shard in range(plan.num_shards(part, split))]
        rows = sum(s.rows for s in states if s is not None)
        planned = sum(s.records for s in states if s is not None)
        limit = self.request.max_skipped if self.request is not None else DEFAULT_MAX_SKIPPED
        again = f"fix the cause, then delete data/{part}/ and run the same command again"
        if rows == 0:
            return f"no row written: every one of its {planned} utterances was skipped (see the log); {again}."
        if planned and (planned - rows) / planned > limit:
            return (f"{planned - rows} of {planned} utterances skipped, more than `max_skipped` ({limit:g}); "
                    f"{again}, or raise `max_skipped`.")
        return None

    def write_card(self, notes: list[str]) -> Path:
        plan = self.plan
        parts = _in_registry_order(p for p in plan.parts if plan.parts[p].get("complete"))
        if not parts:
            reasons = "; ".join(f"{part}: {reason}" for part, reason in self.report.failed.items())
            raise CodecFakeError(f"nothing usable was written to {self.out}, no part could be built: {reasons}")
        random = [p for p in parts if plan.parts[p].get("random_weights")]
        precisions = {p: plan.parts[p]["precision"] for p in parts if plan.parts[p].get("precision", "fp32") != "fp32"}
        seeds = {p: plan.parts[p]["seed"] for p in random if plan.parts[p].get("seed") is not None}
        notes = list(notes)
        if self.report.source_skipped:
            notes.append(f"{len(self.report.source_skipped)} files or folders of the source were left out (unreadable, "
                         "dangling links, symlink loops, misplaced files); the build's report lists them.")
        if self.report.clipped:
            notes.append(f"{len(self.report.clipped)} genuine utterances held samples beyond full scale (float "
                         "files) and were clipped to it; the build's report lists them.")
        stale = {p: plan.parts[p]["stale"] for p in plan.parts if plan.parts[p].get("stale")}
        if stale:
            notes.append("Left out as stale, since their shards no longer match what they were made from (a source "
                         "file changed since): " + ", ".join(f"`{p}`" for p in stale) + ". Rebuild them by naming them "
                         "in `--codecs`.")
        empty = {split for split in plan.speakers() if all(split in self.empty_splits(p) for p in parts
                                                            if split in plan.splits_of(p))}
        info = hub.DatasetCardInfo(
            parts=parts, speakers={s: v for s, v in plan.speakers().items() if s not in empty}, source=plan.source,
            random_weight_codecs=random,
            imported=plan.kind == "import", notes=notes,
            genuine_sample_rate=plan.identity.get("genuine_sample_rate"), recipe=plan.identity.get("recipe"),
            precisions=precisions, seeds=seeds,
            paper_split=SpeakerSplit.from_dict(plan.identity["split"]) == SpeakerSplit.paper(),
            split_rule=plan.identity.get("split_rule", ""),
            random_weights_requested=bool(self.request and self.request.random_weights),
            languages=plan_languages(plan, [s for s in plan.speakers() if s not in empty]),
        )
        # the examples first (two utterances' audio in every part and their spectrogram grid): the card links them
        remote = self.remote_shards()
        examples = write_examples(self.out, parts, remote=remote, fetch=self._fetch_for_card if remote else None)
        text = str(hub.build_card(self.out, info, examples, remote=remote))
        # On record before the write: a run killed during it must still own the file it may have made. The hash
        # is what `demo` checks before it deletes the card: a card a user edited is not the tool's to delete.
        plan.card, plan.card_sha256 = True, sha256_text(text)
        plan.save(self.out)
        path = write_text_atomic(self.out / "README.md", text, within=self.out)
        logger.info("wrote %s", path)
        return path


# Named helpers of build(), import_release() and BuildRun


def plan_languages(plan: Plan, splits: list[str]) -> dict[str, dict[str, int]]:
    """{language: {split: speakers}} of the plan's records in `splits` (the card's table of a mixed build)."""
    speakers: dict[str, dict[str, set[str]]] = {}
    for table in plan.records.values():
        for split, records in table.items():
            if split in splits:
                for record in records:
                    speakers.setdefault(record.language, {}).setdefault(split, set()).add(record.speaker_id)
    return {code: {split: len(names) for split, names in by_split.items()} for code, by_split in speakers.items()}


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


def _naming(part: str) -> str:
    """How a run names `part` again: `codecs` naming it, or for `<codec>@<condition>` also `conditions` naming that."""
    if channel_parts.is_conditioned(part):
        return f"`codecs` naming {codec_of(part)} and `conditions` naming {condition_of(part)}"
    return f"`codecs` naming {part}"


def _in_registry_order(parts: Iterable[str]) -> list[str]:
    """`genuine` first, then the codecs in the registry's order (the CodecFake paper's table), then codecs the
    registry does not know (imported from CodecFake+) by name."""
    present = set(parts)
    known = [part for part in [GENUINE, *codecs.names()] if part in present]
    return known + sorted(present - set(known))


class FolderLock:
    """One run per output folder at a time: a file lock in its state folder, taken by rank 0 for the whole
    run (the other ranks write only the shards rank 0 gave them, so they need no lock of their own), and by
    `push` and `demo`, which must not read or delete a folder while a build adds to it."""

    def __init__(self, out: Path):
        self.out = out
        self.lock: FileLock | None = None

    def acquire(self) -> None:
        path = contained(self.out / STATE_DIR / LOCK_FILE, self.out)  # a state folder linked elsewhere: refused
        with os_errors(path):  # a read-only folder, or a lock file the user may not write
            path.parent.mkdir(parents=True, exist_ok=True)
            self.lock = FileLock(str(path))
            try:
                self.lock.acquire(timeout=1)
            except Timeout:
                self.lock = None
                raise CodecFakeError(
                    f"`out` {str(self.out)!r} is being built by another run; wait for it to end.") from None
            except OSError:
                self.lock = None
                raise

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _resume_or_start(plan: Plan, out: Path, overwrite: bool = False) -> Plan:
    """The plan on disk when compatible (it keeps the parts' state); refuse a folder of something else."""
    existing = Plan.load(out)
    # A killed run (SIGKILL, power loss) may have left temporary files: a shard's (in the state folder), the
    # plan's (even the first plan's, before any plan.json existed) or a record's, or the card's beside README.md
    # (`files.atomic_path` names them `.<name>.*.tmp`). This run holds the folder's lock, so no other run is
    # writing one; every shard not in data/ is redone.
    _clear_staging(out)
    for leftover in [*out.glob(f".README.md.*{TEMP_SUFFIX}"), *(out / STATE_DIR).rglob(f".*{TEMP_SUFFIX}"),
                     *(out / EXAMPLES_DIR).rglob(f".*{TEMP_SUFFIX}")]:
        if leftover.is_file() and not leftover.is_symlink():  # the lock refused a state folder linked elsewhere
            leftover.unlink(missing_ok=True)
    if existing is None:
        if (out / DATA_DIR).exists() and not overwrite:
            raise PlanMismatchError(f"`out` {str(out)!r} holds a `data/` folder but no build plan "
                                    f"({STATE_DIR}/plan.json); choose an empty or new folder.")
        plan.save(out)
        logger.info("%s: new build, %s", out, {s: len(plan.records_of(GENUINE, s)) for s in plan.splits_of(GENUINE)}
                    if plan.kind == "build" else "import")
        return plan
    plan.check_same(existing, out)
    logger.info("%s: resuming the build on disk", out)
    return existing


def _clear_staging(out: Path) -> None:
    """Remove the state folder's staging folder (shards being written), never through a symlink out of `out`."""
    staging = out / STATE_DIR / TMP_DIR
    if staging.is_dir() and not staging.is_symlink():
        contained(staging, out)
        shutil.rmtree(staging, ignore_errors=True)


def check_out(out: Path, overwrite: bool = False, *, can_overwrite: bool = True) -> None:
    """Refuse, before anything is written, an `out` that is a file, or a non-empty folder this tool did not make
    (no build plan in it) unless `overwrite`; a refused folder is left exactly as it was."""
    if out.exists() and not out.is_dir():
        raise CodecFakeError(f"`out` {str(out)!r} is a file, not a folder; choose a new or empty folder.")
    if not out.is_dir() or Plan.path(out).is_file():
        return
    theirs = sorted(p.name for p in out.iterdir() if p.name != STATE_DIR)
    if theirs and not overwrite:
        shown = ", ".join(theirs[:5]) + (", ..." if len(theirs) > 5 else "")
        raise PlanMismatchError(
            f"`out` {str(out)!r} is not empty and was not made by this tool (it holds {shown}); writing the dataset "
            "there would replace its README.md with the card. Choose a new or empty folder"
            + (", or pass `overwrite=True` to write into it anyway (its other files are left alone)."
               if can_overwrite else "."))


def _write_failed(error: OSError | FileWriteError, out: Path) -> Exception:
    """A write that the OS refused (full disk, read-only folder, size limit, a folder in the way, ...) while
    writing a shard, its record, the plan or the card: one message naming the file and the fix, and that
    nothing is lost (the temporary file is gone). An OSError of another kind is returned as it was."""
    if isinstance(error, OSError):
        if error.errno not in (errno.ENOSPC, errno.EDQUOT) and "No space left" in str(error):
            error = OSError(errno.ENOSPC, "No space left on device")  # pyarrow's spelling carries no errno
        converted = write_error(error, error.filename or out)
        if not isinstance(converted, FileWriteError):
            return error
        error = converted
    if isinstance(error, UnsafePathError):  # nothing was written: the message says what to fix
        return error
    kept = "Finished shards are kept and nothing half-written is left"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return CodecFakeError(f"the disk holding {out} is full ({error.strerror or error}). {kept}; free some space "
                              "and run the same command again to resume.")
    return CodecFakeError(f"{error} {kept}; run the same command again to resume.")


def clear_build(out: Path) -> None:
    """Delete what this tool wrote in `out` and recorded (its shards, its card, its state), under the folder's
    lock, then the folders left empty; refuse, deleting nothing, when `out` is not a build folder or holds
    anything else.

    `demo` starts over with this. What counts as written by this tool is strict: a shard or card whose
    whole-file SHA-256 is the one recorded when it was written (a file the user replaced is theirs), the
    state files the tool writes (plan, lock, shard records, the demo's split file, temporary files), and
    nothing reached through a symlink (a symlinked `data/<part>/` would lead the deletion elsewhere).
    """
    if not out.exists():
        return
    check_out(out, can_overwrite=False)  # a file, or a folder that is not ours: refused untouched
    if not Plan.path(out).is_file():
        return  # empty, or only an empty state folder
    lock = FolderLock(out)
    lock.acquire()
    try:
        plan = Plan.load(out)
        owned = {shard: recorded_sha256(out, shard) for shard in recorded_shards(out)}
        if plan.card:
            owned[out / "README.md"] = plan.card_sha256
            owned.update(_card_examples(out, plan.card_sha256))
        theirs, state = _survey(out, owned)
        if theirs:
            shown = ", ".join(theirs[:5]) + (", ..." if len(theirs) > 5 else "")
            raise CodecFakeError(f"`out` {str(out)!r} holds files this tool did not write ({shown}); nothing was "
                                 "deleted. Move them away or choose another folder.")
        for path, digest in owned.items():
            if path.exists():
                remove_owned(path, out, digest)
        for path in state:
            with os_errors(path):
                path.unlink(missing_ok=True)
    finally:
        lock.release()
    with os_errors(out):
        (out / STATE_DIR / LOCK_FILE).unlink(missing_ok=True)
    for folder, _, _ in sorted(os.walk(out), key=lambda entry: -len(Path(entry[0]).parts)):
        with contextlib.suppress(OSError):  # only the folders left empty go
            Path(folder).rmdir()


def _card_examples(out: Path, card_sha256: str | None) -> dict[Path, str]:
    """The example files (`card_examples`) that the card we wrote links to, with their hashes as they are: the
    card's own hash is recorded, and it names each of them; a file of `examples/` it does not name is not ours."""
    card = out / "README.md"
    if card_sha256 is None or ownership_problem(card, out, card_sha256) is not None:
        return {}
    text = card.read_text(encoding="utf-8")
    return {path: sha256_file(path) for path in (out / EXAMPLES_DIR).rglob("*")
            if path.is_file() and not path.is_symlink() and path.relative_to(out).as_posix() in text}


def _survey(out: Path, owned: dict[Path, str | None]) -> tuple[list[str], list[Path]]:
    """What `clear_build` may not delete (`<file> (<why>)`), and the state files it may: every entry of `out` is
    looked at without following symlinks; a symlink anywhere is not ours."""
    theirs, state = [], []
    for folder, subfolders, names in os.walk(out):
        base = Path(folder)
        for name in subfolders + names:
            path = base / name
            relative = path.relative_to(out)
            if path.is_symlink():
                theirs.append(f"{relative.as_posix()} (a symlink)")
            elif path.is_dir():
                continue
            elif relative.parts[0] == STATE_DIR:
                if _is_state_file(out, relative):
                    state.append(path)
                else:
                    theirs.append(relative.as_posix())
            elif path not in owned:
                theirs.append(relative.as_posix())
            elif (problem := ownership_problem(path, out, owned[path])) is not None:
                theirs.append(f"{relative.as_posix()} ({problem})")
        subfolders[:] = [d for d in subfolders if not (base / d).is_symlink()]
    return theirs, state


def _is_state_file(out: Path, relative: Path) -> bool:
    """Whether `relative` (under the state folder) is a file this tool writes there: the plan, the lock, the
    demo's split file, a shard's record, or a temporary file of an atomic write (a killed run's)."""
    inside = relative.parts[1:]
    name = inside[-1]
    if name.startswith(".") and name.endswith(TEMP_SUFFIX):
        return True
    if len(inside) == 1:
        return name in (PLAN_FILE, LOCK_FILE, DEMO_SPLIT_FILE)
    if inside[0] == TMP_DIR:
        return True
    if inside[0] == RECORDS_DIR and name.endswith(".json"):
        shard = out / DATA_DIR / Path(*inside[1:]).with_suffix(".parquet")
        return read_record(out, shard) is not None
    return False
