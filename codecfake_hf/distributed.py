"""The ranks of a build under `torchrun` / `accelerate launch` (one machine or many), or a world of one.

The launcher does the rendezvous and sets `RANK`, `LOCAL_RANK` and `WORLD_SIZE` (and `MASTER_ADDR` /
`MASTER_PORT`) in each process's environment; `Ranks.start()` reads them and joins one process group
(gloo for CPU ranks, NCCL for CUDA ranks). Without those variables, or with a world of one, there is
no process group and every collective below returns at once: one process runs the same code path.

Ranks exchange only small Python objects (the plan, the list of shards to write, what each rank
did); the audio never crosses ranks. How shards are shared out is `Ranks.share`: a deterministic
assignment over one list of pending shards that rank 0 makes and broadcasts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from .errors import CodecFakeError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A barrier waits for the slowest rank: at the end of a build that can be hours of codec work (a
# 1000-utterance shard of a slow codec on a CPU rank). A rank that dies does not leave the others
# waiting that long: torchrun's agent ends the whole group as soon as one worker exits with an error.
BARRIER_TIMEOUT = timedelta(hours=24)
# Joining is another matter: ranks start within seconds of each other, and a rank whose peers never come
# (MASTER_ADDR set by hand, a node that was not started) must not wait the barrier's 24 hours to say so.
RENDEZVOUS_TIMEOUT = timedelta(minutes=10)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise CodecFakeError(f"the launcher's environment variable {name}={value!r} is not a number; "
                             "launch with torchrun or accelerate launch, or unset it.") from None


@dataclass(frozen=True)
class Ranks:
    """This process's place in the build: rank, local rank (its device index on its machine), world size.

    Args:
        rank (int): 0 .. world_size - 1; rank 0 makes the plan and writes the card.
        local_rank (int): the rank's index on its own machine (`cuda:LOCAL_RANK`).
        world_size (int): processes in the build.
        device (torch.device): where this rank's codecs run.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    # Starting and ending

    @classmethod
    def from_environment(cls) -> tuple[int, int, int]:
        """(rank, local_rank, world_size) as the launcher set them; (0, 0, 1) without a launcher."""
        world = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        local = _env_int("LOCAL_RANK", rank)
        if world < 1 or not 0 <= rank < world:
            raise CodecFakeError(f"the launcher's environment says rank {rank} of a world of {world}; "
                                 "launch with torchrun or accelerate launch.")
        missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
        if world > 1 and missing:  # WORLD_SIZE/RANK exported by hand, or left over from another job
            raise CodecFakeError(
                f"the environment says rank {rank} of a world of {world} (WORLD_SIZE, RANK), but no launcher set "
                f"{' and '.join(missing)}: launch with torchrun or accelerate launch, or unset WORLD_SIZE and RANK "
                "to build in one process.")
        return rank, local, world

    @classmethod
    def start(cls, device: str = "auto", *, rendezvous_timeout: float | timedelta = RENDEZVOUS_TIMEOUT) -> Ranks:
        """Join the launcher's process group (if any) and pick this rank's device.

        `device`: `auto` -> `cuda:LOCAL_RANK` when CUDA is present, else the CPU; `cuda` ->
        `cuda:LOCAL_RANK`; `cuda:N` and `cpu` as given (`cuda:N` under a launcher is the user's choice,
        e.g. one GPU shared by two ranks). `rendezvous_timeout` (seconds, or a timedelta) bounds the wait
        for the other ranks to join; once joined, collectives wait up to `BARRIER_TIMEOUT`.
        """
        rank, local, world = cls.from_environment()
        resolved = rank_device(device, local)
        ranks = cls(rank, local, world, resolved)
        if world > 1 and not dist.is_initialized():
            backend = "nccl" if resolved.type == "cuda" else "gloo"
            if resolved.type == "cuda":
                # NCCL's object collectives run on the current device: make it this rank's.
                torch.cuda.set_device(resolved)
            _join(backend, rank, world, rendezvous_timeout)
            logger.info("rank %d of %d (local %d) on %s, %s process group", rank, world, local, resolved, backend)
        return ranks

    def close(self) -> None:
        """Leave the process group (after the last collective)."""
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    # Collectives: no-ops in a world of one

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast(self, value: T) -> T:
        """Rank 0's `value` on every rank (every rank passes something; only rank 0's counts)."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run `fn` on rank 0 only and give its result to every rank; if it raises `CodecFakeError`
        (a lock held by another run, a plan that does not match), every rank raises the same
        message, so that all of them end with one error instead of waiting for rank 0 forever."""
        outcome: tuple[str, Any] = ("ok", None)
        if self.is_main:
            try:
                outcome = ("ok", fn())
            except CodecFakeError as error:
                outcome = ("error", error)
        status, value = self.broadcast(outcome)
        if status == "error":
            raise value
        return value

    # Sharing out the work

    def share(self, tasks: Sequence[T]) -> list[T]:
        """This rank's tasks: every `world_size`-th of `tasks`, starting at `rank`.

        Why two ranks never write the same shard, even on a filesystem shared by several machines:
        `tasks` is one list, made by rank 0 alone (from its own listing of the shards missing on
        disk, taken while it holds the output folder's lock and before any rank writes) and broadcast,
        so every rank splits the same list, and round-robin gives each task to exactly one rank. No
        rank lists the folder again, so a filesystem's caching (NFS attributes) cannot make two ranks
        see different lists. Each shard is written under a staging name of its own and renamed into
        place, atomically (a rename within one filesystem), so a shard is either absent or complete.
        A rerun after a rank died, with any number of ranks, lists what is missing again and shares
        out exactly that.
        """
        return list(tasks[self.rank::self.world_size])

    def __str__(self) -> str:
        return f"rank {self.rank}/{self.world_size}" if self.distributed else "single process"


def _join(backend: str, rank: int, world: int, timeout: float | timedelta) -> None:
    """`init_process_group` in two steps, so that joining and working have their own time limits: the env://
    rendezvous (torch's own, as `init_process_group` would make it: rank 0 hosts the store, or torchrun's agent
    does) waits at most `timeout` for every rank, then the process group's collectives get `BARRIER_TIMEOUT`."""
    wait = timeout if isinstance(timeout, timedelta) else timedelta(seconds=float(timeout))
    where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
    try:
        store, _, _ = next(dist.rendezvous("env://", rank, world, timeout=wait))
        store.set_timeout(wait)  # the process group's own handshake through the store: the same bound
        dist.init_process_group(backend=backend, store=dist.PrefixStore("default_pg", store), rank=rank,
                                world_size=world, timeout=BARRIER_TIMEOUT)
        store.set_timeout(BARRIER_TIMEOUT)
    except (RuntimeError, ValueError) as error:  # DistStoreError / DistNetworkError (timeouts, refusals), bad port
        first = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise CodecFakeError(
            f"rank {rank} of {world}: the ranks did not all join at {where} within `rendezvous_timeout` "
            f"({wait.total_seconds():g} s): {first}. Start every rank (torchrun --nproc_per_node / --nnodes with the "
            "same --rdzv-endpoint), or raise `rendezvous_timeout`.") from None


def rank_device(device: str | torch.device, local_rank: int) -> torch.device:
    """The device of the rank with `local_rank` for the requested `device` (see `Ranks.start`)."""
    text = str(device)
    if text == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        resolved = torch.device(text)
    except RuntimeError as error:
        raise CodecFakeError(
            f"`device` {text!r} is not a device torch knows ({error}); use auto, cpu or cuda.") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise CodecFakeError(f"`device` {text!r}: CUDA is not available on this machine; use auto or cpu.")
        if resolved.index is None:
            resolved = torch.device(f"cuda:{local_rank}")
        if resolved.index >= torch.cuda.device_count():
            raise CodecFakeError(
                f"`device` {text!r} on local rank {local_rank}: this machine has {torch.cuda.device_count()} "
                "CUDA device(s); start at most that many processes per machine (--nproc_per_node).")
    return resolved
