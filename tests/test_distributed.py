"""Ranks of a build: the launcher's environment, devices, and how shards are shared out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from codecfake_hf.distributed import Ranks, rank_device
from codecfake_hf.errors import CodecFakeError

ROOT = Path(__file__).resolve().parents[1]


def test_without_a_launcher_a_world_of_one_whose_collectives_return_at_once(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    ranks = Ranks.start("cpu")
    assert (ranks.rank, ranks.local_rank, ranks.world_size, ranks.device) == (0, 0, 1, torch.device("cpu"))
    assert ranks.is_main and not ranks.distributed and not torch.distributed.is_initialized()
    assert ranks.broadcast({"a": 1}) == {"a": 1} and ranks.gather(3) == [3] and ranks.on_main(lambda: 7) == 7
    ranks.barrier()
    with pytest.raises(CodecFakeError, match="held"):
        ranks.on_main(lambda: (_ for _ in ()).throw(CodecFakeError("held")))
    assert ranks.share(list(range(5))) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_shares_give_each_task_to_exactly_one_rank(world):
    tasks = [("genuine", "train", k) for k in range(7)] + [("encodec", "test", k) for k in range(4)]
    shares = [Ranks(rank, rank, world).share(tasks) for rank in range(world)]
    flat = [t for share in shares for t in share]
    assert sorted(flat) == sorted(tasks) and len(flat) == len(set(flat))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_launcher_environment_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")  # what every launcher sets beside them
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert Ranks.from_environment() == (3, 1, 4)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(CodecFakeError, match="rank 4 of a world of 4"):
        Ranks.from_environment()
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(CodecFakeError, match="RANK='two' is not a number"):
        Ranks.from_environment()


def test_devices_per_rank():
    assert rank_device("cpu", 3) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert rank_device("auto", 1) == torch.device("cpu")
        with pytest.raises(CodecFakeError, match="CUDA is not available"):
            rank_device("cuda", 1)
    else:
        assert rank_device("auto", 0) == torch.device("cuda:0") and rank_device("cuda", 0) == torch.device("cuda:0")
    with pytest.raises(CodecFakeError, match="not a device torch knows"):
        rank_device("tpu9", 0)


def test_a_world_size_without_a_launcher_is_one_message(monkeypatch, tmp_path, capsys):
    """`WORLD_SIZE=2 RANK=0` exported by hand: no rendezvous can work, and torch's own error was a traceback."""
    from builder.__main__ import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    for name in ("MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert main(["build", "--source", "builtin:demo", "--out", str(tmp_path / "out"), "--random_weights"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: the environment says rank 0 of a world of 2 (WORLD_SIZE, RANK), but no launcher set "
                   "MASTER_ADDR and MASTER_PORT: launch with torchrun or accelerate launch, or unset WORLD_SIZE and "
                   "RANK to build in one process.\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a fresh process that waits out a 3 s rendezvous: about 15 s
def test_a_rank_whose_peers_never_join_gives_up_after_the_rendezvous_timeout(tmp_path):
    """MASTER_ADDR set and no second rank: the build waited the barrier's 24 hours; now `--rendezvous_timeout`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "TQDM_DISABLE": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "builder", "build", "--source", "builtin:demo", "--out",
                           str(tmp_path / "out"), "--random_weights", "--rendezvous_timeout", "3"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and time.monotonic() - started < 120
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: rank 0 of 2: the ranks did not all join at 127.0.0.1:{port} within "
                           "`--rendezvous_timeout` (3 s)"), done.stderr[-2000:]
    assert "Start every rank" in last and not (tmp_path / "out" / "data").exists()
