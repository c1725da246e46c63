"""`builder build --push_to ORG/NAME`: each finished shard is committed to a Hub dataset repository, then removed.

Each rank keeps its finished shards in a queue and commits `push_batch` of them at a time with
`HfApi.create_commit` (one `CommitOperationAdd` per shard and per record: the pinned huggingface_hub 2.4.0 has no
`upload_large_folder`, and `upload_folder` would take the whole folder); every file is searched for tokens first
(`token_scan`, as `hub.push` does). A shard committed is removed from the folder (`files.remove_owned`: only the
file whose hash was recorded) and its record stays, saying where it is: `hub: {repo, path, commit}`, with the
rows and data bytes of its footer, which the card counts (`hub.build_card(remote=)`).

The repository holds each shard's record beside the shards, at the same path as in the folder
(`.codecfake/shards/<part>/<shard>.json`; the folder push, `hub.push`, never uploads `.codecfake/`): with the
options it was made with (`build`: a hash of the plan's identity less the source's location, and a codec's
weights, precision and seed). A build into a fresh folder (another machine, a restarted rank) lists the
repository first (`adopt`): a shard there whose record names the same utterances in the same order, made with
the same options, is kept and not made again; one made otherwise stops the build with one message.

A codec shard is made from its genuine shard's rows: where that shard is not in the folder (uploaded, or made on
another machine), it is downloaded from the repository (`hf_hub_download`) into the state folder's staging
folder for as long as the codec shard is being made. The errors a user meets at the start (no token, a token
refused, the Hub unreachable, no write access) end the build in one message before any codec runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from codecfake_hf import hub, redact
from codecfake_hf.corpus import Record
from codecfake_hf.files import remove_owned, sha256_text, write_json_atomic
from codecfake_hf.schema import DATA_DIR, GENUINE, STATE_DIR
from codecfake_hf.token_scan import find_token

from .plan import Plan, PlanMismatchError
from .shards import read_record, record_path, stale_reason

logger = logging.getLogger(__name__)

RETRIES = 3  # attempts of a commit the Hub answers with a conflict, a rate limit or a server error
RETRY_STATUS = (409, 412, 429, 500, 502, 503, 504)


def build_facts(plan: Plan, made_with: dict | None) -> dict[str, Any]:
    """What a shard in the repository was made with: a hash of the plan's identity (less the source's location,
    which differs from machine to machine) and, for a codec, its weights, precision and seed."""
    identity = {key: value for key, value in plan.identity.items() if key != "source"}
    return {"identity_sha256": sha256_text(json.dumps(identity, sort_keys=True)),
            "made_with": {key: (made_with or {}).get(key) for key in ("random_weights", "precision", "seed")}
            if made_with else {}}


@dataclass
class _Queued:
    shard: Path
    record: dict


class HubShards:
    """The shards of one build folder in one Hub dataset repository (see the module's docstring).

    Args:
        api (HfApi): the client, with the token.
        repo_id (str): `ORG/NAME`.
        out (Path): the build folder.
        batch (int): shards per commit.
        token (str): the token (searched for in every file before it is sent).

    Attributes:
        committed (list[str]): paths in the repository of the shards this process committed.
    """

    def __init__(self, api, repo_id: str, out: Path, batch: int, token: str):
        self.api, self.repo_id, self.out, self.batch, self.token = api, repo_id, Path(out), batch, token
        self.queue: list[_Queued] = []
        self.committed: list[str] = []

    @classmethod
    def connect(cls, repo_id: str, out: str | Path, *, private: bool = False, batch: int = 4,
                token: str | None = None) -> HubShards:
        """Check the token and the repository (created when missing) before anything is built; `PushError`
        naming the cause (no token, token refused, no write access, Hub unreachable) and the fix."""
        from huggingface_hub import HfApi, constants

        redact.install()
        if not hub._REPO_ID.match(repo_id or ""):
            raise hub.PushError(f"`push_to` {repo_id!r} is not a Hub repository id; use ORG/NAME "
                                "(e.g. my-org/codecfake).")
        token = hub.resolve_token(token)
        api = HfApi(token=token)
        try:
            api.whoami()
            created = api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
        except Exception as error:  # 401, 403, network: one message each
            raise hub.PushError(hub.push_error_message(error, Path(out), repo_id, "dataset", constants.ENDPOINT)
                                ) from None
        return cls(api, getattr(created, "repo_id", None) or repo_id, Path(out), batch, token)

    def _error(self, error: Exception) -> hub.PushError:
        from huggingface_hub import constants

        return hub.PushError(hub.push_error_message(error, self.out, self.repo_id, "dataset", constants.ENDPOINT))

    def relative(self, shard: Path) -> str:
        return shard.relative_to(self.out).as_posix()

    # Uploading

    def add(self, shard: Path, facts: dict[str, Any]) -> None:
        """Queue a finished shard (renamed into place, its record written) and commit the queue once it holds
        `batch` shards."""
        recorded = read_record(self.out, shard)
        meta = pq.read_metadata(shard)
        data_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        self.queue.append(_Queued(shard, {**recorded, "data_bytes": data_bytes, "build": facts}))
        if len(self.queue) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Commit the queued shards and their records in one commit, then remove the shards from the folder."""
        from huggingface_hub import CommitOperationAdd

        if not self.queue:
            return
        queued, self.queue = self.queue, []
        operations = []
        for item in queued:
            record_bytes = json.dumps(item.record, indent=1).encode()  # the record file's ids, plus numbers
            if any(find_token(path, self.token) for path in (item.shard, record_path(self.out, item.shard))):
                raise hub.PushError(f"{item.shard} holds a Hub token (the token in use, or one shaped `hf_...`); it "
                                    "was not uploaded. Remove the token from the source's text, then build again.")
            operations += [CommitOperationAdd(self.relative(item.shard), str(item.shard)),
                           CommitOperationAdd(self.relative(record_path(self.out, item.shard)), record_bytes)]
        names = ", ".join(self.relative(item.shard) for item in queued)
        commit = self._commit(operations, f"Add {len(queued)} shard(s): {names}"[:200])
        for item in queued:
            relative = self.relative(item.shard)
            local = {**item.record, "hub": {"repo": self.repo_id, "path": relative, "commit": commit}}
            write_json_atomic(record_path(self.out, item.shard), local, within=self.out)
            remove_owned(item.shard, self.out, item.record["shard"]["sha256"])
            self.committed.append(relative)
        logger.info("%s: committed %d shard(s) (%s), removed here", self.repo_id, len(queued), commit[:12])

    def _commit(self, operations: list, message: str) -> str:
        from huggingface_hub.errors import HfHubHTTPError

        for attempt in range(RETRIES):
            try:
                return self.api.create_commit(self.repo_id, operations, commit_message=message,
                                              repo_type="dataset").oid
            except Exception as error:
                status = getattr(getattr(error, "response", None), "status_code", None)
                again = (isinstance(error, HfHubHTTPError) and status in RETRY_STATUS) or hub._is_network_error(error)
                if not again or attempt == RETRIES - 1:
                    raise self._error(error) from None
                logger.warning("commit to %s: %s; trying again", self.repo_id, redact.redact(str(error))[:200])
                time.sleep(2 ** attempt)
        raise AssertionError("unreachable")

    # Reading back

    def held(self) -> tuple[dict[str, dict], str]:
        """{shard's path: its record} of every shard the repository holds with its record (and at the size the
        record states), and the repository's head commit."""
        from huggingface_hub import hf_hub_download

        try:
            head = self.api.dataset_info(self.repo_id).sha
            files = {f.path: f.size for f in self.api.list_repo_tree(self.repo_id, repo_type="dataset",
                                                                      recursive=True) if hasattr(f, "size")}
            prefix = f"{STATE_DIR}/{'shards'}/"
            records = {}
            cache = self.out / STATE_DIR / "tmp" / "hub-records"
            for path in sorted(p for p in files if p.startswith(prefix) and p.endswith(".json")):
                local = hf_hub_download(self.repo_id, path, repo_type="dataset", revision=head, cache_dir=cache,
                                        token=self.token, endpoint=self.api.endpoint)
                try:
                    records[path] = json.loads(Path(local).read_text(encoding="utf-8"))
                except ValueError:
                    continue
        except Exception as error:
            raise self._error(error) from None
        finally:
            shutil.rmtree(self.out / STATE_DIR / "tmp" / "hub-records", ignore_errors=True)
        held = {}
        for path, record in records.items():
            shard = f"{DATA_DIR}/{path[len(prefix):-len('.json')]}.parquet"
            fingerprint = record.get("shard") if isinstance(record, dict) else None
            if isinstance(fingerprint, dict) and files.get(shard) == fingerprint.get("bytes"):
                held[shard] = record
        return held, head

    def fetch(self, shard: Path, into: Path) -> Path:
        """Download a shard of the repository (a genuine shard a codec reads) into the folder `into`."""
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(self.repo_id, self.relative(shard), repo_type="dataset", cache_dir=into,
                                        token=self.token, endpoint=self.api.endpoint))
        except Exception as error:
            raise self._error(error) from None

    def adopt(self, plan: Plan, made_with: dict[str, dict | None]) -> set[str]:
        """Rank 0, at the start of a run: take on the shards the repository already holds (their records written
        here, saying so), and queue the finished shards of the folder it does not hold. Returns the paths of the
        shards held there, which this run does not make again.

        Args:
            plan (Plan): the run's plan.
            made_with (dict): part -> what this run makes it with (`BuildRun.made_with`; None for genuine).
        """
        held, head = self.held()
        kept = set()
        for part in sorted(set(plan.parts) | set(made_with), key=lambda p: (p != GENUINE, p)):  # genuine first
            for split in plan.splits_of(part):
                for number in range(plan.num_shards(part, split)):
                    shard = plan.shard_path(self.out, part, split, number)
                    records = plan.shard_records(part, split, number)
                    relative = self.relative(shard)
                    if relative in held:
                        self._check_same(relative, held[relative], records, plan, made_with.get(part, {}),
                                         part in made_with)
                        local = {**held[relative], "hub": {"repo": self.repo_id, "path": relative, "commit": head}}
                        write_json_atomic(record_path(self.out, shard), local, within=self.out)
                        if shard.is_file():  # uploaded by a run stopped before it removed it
                            remove_owned(shard, self.out, held[relative]["shard"]["sha256"])
                        kept.add(relative)
                    elif shard.is_file() and stale_reason(self.out, shard, records) is None:
                        self.add(shard, build_facts(plan, made_with.get(part)))  # finished here, not sent yet
        self.flush()
        if kept:
            logger.info("%s holds %d shard(s) of this build: kept, not made again", self.repo_id, len(kept))
        return kept | set(self.committed)

    def _check_same(self, relative: str, record: dict, records: list[Record], plan: Plan, made_with: dict | None,
                    named: bool) -> None:
        facts = build_facts(plan, made_with)
        there = record.get("build", {})
        ids = list(record.get("sources", {}))
        problem = None
        if ids != [r.utterance_id for r in records]:
            problem = "other utterances (another source, split or shard size)"
        elif there.get("identity_sha256") != facts["identity_sha256"]:
            problem = "other options (split, limit, shard size, genuine rate or recipe)"
        elif named and there.get("made_with", {}) != facts["made_with"]:
            problem = f"other codec settings ({there.get('made_with')}, now {facts['made_with']})"
        if problem:
            raise PlanMismatchError(f"`push_to` {self.repo_id}: the repository holds {relative}, made from {problem}; "
                                    "repeat the options it was built with, or push to another repository.")
