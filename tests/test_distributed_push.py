"""A 2-rank build (torchrun, gloo) from a streamed Hub-layout source with `--push_to` a mock Hub (`mock_hub`): every
shard is uploaded once, a rank killed mid-build is finished by a restart on a fresh folder that uploads only what the
repository lacks, and the folder never holds more than a few shards (polled while the ranks run).

The ranks download the codecs' tiny checkpoints from the same mock Hub (model repositories in the Hub's layout), so
they run online, as a real build would, with nothing of the internet reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mock_hub import MockHub
from test_distributed_build import KILLER
from test_streaming import make_hub_layout
from test_upload import local_shards

from builder import BuildRequest, build
from codecfake_hf import codecs

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
ENCODEC, DAC = "encodec_24khz", "descript-audio-codec-16khz"
TOKEN = "hf_MockHubToken0123456789abcdefghijk"
REPO = "me/codecfake-two-ranks"
# 12 utterances, one per shard: 12 shards per part (6 train, 3 validation, 3 test), 36 in all; 2 shards per commit.
OPTIONS = {"codecs": f"{ENCODEC},{DAC}", "device": "cpu", "shard_size": 1, "split_ratios": "0.5,0.25,0.25",
           "push_batch": 2}
SHARDS = 36


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_dir, codec_fixture):
    root = tmp_path_factory.mktemp("push")
    source = make_hub_layout(root / "source", demo_dir)
    hub = MockHub(TOKEN)
    for repo, name in (("facebook/encodec_24khz", ENCODEC), ("descript/dac_16khz", DAC)):
        tiny = codec_fixture(name).tiny_dir
        hub.add_repo(repo, {"config.json": (tiny / "config_transformers.json").read_bytes(),
                            "model.safetensors": (tiny / "weights_transformers.safetensors").read_bytes()})
    hooks = root / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILLER)
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HUB_CACHE": str(root / "hub-cache"),
           "HF_DATASETS_CACHE": str(root / "datasets-cache"), "HF_HUB_DISABLE_TELEMETRY": "1",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(hooks)]), "TQDM_DISABLE": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "HF_HUB_OFFLINE"):
        env.pop(name, None)
    yield source, root, env, hub
    hub.close()


def run_ranks(world, out: Path, **env) -> tuple[subprocess.CompletedProcess, int]:
    """`torchrun --nproc_per_node 2 -m builder build ... --push_to REPO`, and the most shard files `out` held at once
    (polled every 10 ms while it ran)."""
    source, _, base_env, _ = world
    flags = [f"--{key}={value}" for key, value in OPTIONS.items()]
    command = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "builder", "build", "--source",
               f"hf:{source}", "--out", str(out), "--push_to", REPO, *flags]
    peak, done = [0], threading.Event()

    def poll():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], len(local_shards(out)))
            except OSError:  # a staging folder removed while it was listed: look again
                continue
            time.sleep(0.01)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        finished = subprocess.run(command, cwd=ROOT, env={**base_env, **env}, capture_output=True, text=True,
                                  timeout=600)
    finally:
        done.set()
        watcher.join()
    return finished, peak[0]


def reference(world, codec_fixture) -> dict[str, bytes]:
    """The same build by one process, without a launcher or a push: its shards, by path."""
    source, root, _, _ = world
    out = root / "reference"

    def same_checkpoints(name, device, random_weights):
        fixture = codec_fixture(name)
        return codecs.load(name, config=fixture.tiny_checkpoint_config, device=device,
                           state_dict=fixture.weights("weights_transformers.safetensors"))

    options = {k: v for k, v in OPTIONS.items() if k != "push_batch"}
    report = build(BuildRequest(source=f"hf:{source}", out=str(out), **options), codec_factory=same_checkpoints,
                   progress=False)
    assert report.written == SHARDS
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("data/*/*.parquet"))}


@pytest.mark.slow  # three 2-rank builds and a reference: about 2 minutes on 2 busy cores
def test_two_ranks_push_every_shard_once_and_a_killed_rank_is_finished_on_a_fresh_folder(world, codec_fixture):
    _, root, _, hub = world
    killed, peak_killed = run_ranks(world, root / "first", KILL_RANK="1", KILL_AFTER_BATCHES="3")
    assert killed.returncode != 0
    before = hub.uploads(REPO)
    sent = [path for path in before if path.startswith("data/")]
    assert 12 <= len(sent) < SHARDS, sent  # the genuine part and some codec shards went up before the kill
    assert "README.md" not in before

    done, peak = run_ranks(world, root / "second")  # another machine: a fresh folder
    assert done.returncode == 0, done.stderr[-3000:]
    uploads = hub.uploads(REPO)
    shards = {path: count for path, count in uploads.items() if path.startswith("data/")}
    assert len(shards) == SHARDS and set(shards.values()) == {1}  # every shard once, over both runs
    assert f"shards written: {SHARDS - len(sent)}, kept from before: {len(sent)}" in done.stdout
    assert f"({SHARDS - len(sent)} shard(s) committed by this run)" in done.stdout
    assert uploads["README.md"] == 1
    expected = reference(world, codec_fixture)
    assert {p: hub.repos[REPO][p] for p in shards} == expected  # what one process builds, byte for byte
    # Never more than a few shards in the folder: per rank, `push_batch` waiting for a commit, the one being
    # written and a genuine shard read back from the repository.
    assert max(peak_killed, peak) <= 2 * (OPTIONS["push_batch"] + 2), (peak_killed, peak)
    assert local_shards(root / "second") == []
    print(f"peak shard files in the folder: {peak_killed} (killed run), {peak} (restart); {SHARDS} shards in all")
