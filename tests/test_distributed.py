"""Ranks of a build: the launcher's environment, devices, and how shards are shared out."""

from __future__ import annotations

import pytest
import torch

from codecfake_hf.distributed import Ranks, rank_device
from codecfake_hf.errors import CodecFakeError


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
