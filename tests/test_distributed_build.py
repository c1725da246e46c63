"""Distributed builds on CPU ranks (gloo), launched as users launch them: `torchrun ... -m builder build`.

The codecs are the real EnCodec and DAC modules with the fixtures' tiny weights, placed in an offline
Hub cache in the Hub's layout, so every rank loads the same model through the official-weights code
path. A rank is killed (SIGKILL, mid-codec) by a `sitecustomize` module that only this test puts on
the ranks' `PYTHONPATH`; the project's code has no hook for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_corpus import make_vctk_tree

from builder import BuildRequest, build
from builder.shards import read_record
from codecfake_hf import codecs

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
ENCODEC, DAC = "encodec_24khz", "descript-audio-codec-16khz"
# 6 speakers x 2 one-second utterances, one utterance per shard: 12 shards per part over 3 splits.
BUILD_ARGS = ["--codecs", f"{ENCODEC},{DAC}", "--device", "cpu", "--shard-size", "1"]

KILLER = textwrap.dedent("""
    # Test-only fault: SIGKILL this rank when it starts its codec batch number KILL_AFTER_BATCHES + 1.
    import os
    import signal

    if os.environ.get("RANK") == os.environ.get("KILL_RANK") and os.environ.get("KILL_AFTER_BATCHES"):
        from codecfake_hf.codecs import base

        _original, _count = base.Codec.resynthesize, [0]

        def _dying(self, *args, **kwargs):
            _count[0] += 1
            if _count[0] > int(os.environ["KILL_AFTER_BATCHES"]):
                os.kill(os.getpid(), signal.SIGKILL)
            return _original(self, *args, **kwargs)

        base.Codec.resynthesize = _dying

    # Test-only delay: this rank sleeps DELAY_SECONDS before writing the genuine shard whose path ends DELAY_SHARD.
    if os.environ.get("RANK") == os.environ.get("DELAY_RANK") and os.environ.get("DELAY_SHARD"):
        import importlib
        import time

        _build = importlib.import_module("builder.build")  # the module (`builder.build` is also a function)
        _write_shard = _build.write_shard

        def _late(rows, path, **kwargs):
            if str(path).endswith(os.environ["DELAY_SHARD"]):
                time.sleep(float(os.environ["DELAY_SECONDS"]))
            return _write_shard(rows, path, **kwargs)

        _build.write_shard = _late
""")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, demo_dir, codec_fixture):
    """A VCTK tree, an offline Hub cache holding tiny EnCodec and DAC checkpoints, and the ranks' environment."""
    root = tmp_path_factory.mktemp("dist")
    source = make_vctk_tree(root / "VCTK", demo_dir, "0.92")
    cache = root / "hf-cache"
    for repo, name in (("facebook/encodec_24khz", ENCODEC), ("descript/dac_16khz", DAC)):
        tiny = codec_fixture(name).tiny_dir
        snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True)
        shutil.copyfile(tiny / "config_transformers.json", snapshot / "config.json")
        shutil.copyfile(tiny / "weights_transformers.safetensors", snapshot / "model.safetensors")
        (snapshot.parents[1] / "refs").mkdir()
        (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    hooks = root / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILLER)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(hooks)]), "TQDM_DISABLE": "1"}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return source, root, env


def run_build(setup, out: Path, nproc: int, *extra: str, **env) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node N -m builder build ...`."""
    source, _, base_env = setup
    launcher = [str(TORCHRUN), "--standalone", "--nproc_per_node", str(nproc), "-m", "builder"]
    return subprocess.run([*launcher, "build", "--source", f"vctk:{source}", "--out", str(out), *BUILD_ARGS, *extra],
                          cwd=ROOT, env={**base_env, **env}, capture_output=True, text=True, timeout=600)


def build_here(setup, out: Path, codec_fixture, limit: int | None = None, conditions: str | None = None):
    """The same build in this process, without a launcher (a world of one), from the same tiny checkpoints."""
    source = setup[0]

    def same_checkpoints(name, device, random_weights):
        fixture = codec_fixture(name)
        return codecs.load(name, config=fixture.tiny_checkpoint_config, device=device,
                           state_dict=fixture.weights("weights_transformers.safetensors"))

    return build(BuildRequest(source=f"vctk:{source}", out=str(out), codecs=f"{ENCODEC},{DAC}", device="cpu",
                              shard_size=1, limit=limit, conditions=conditions), codec_factory=same_checkpoints,
                 progress=False)


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("data/*/*.parquet"))}


def row_ids(out: Path) -> list[str]:
    return [row_id for path in sorted(out.glob("data/*/*.parquet"))
            for row_id in pq.read_table(path, columns=["id"]).column(0).to_pylist()]


@pytest.fixture(scope="module")
def reference(setup, codec_fixture):
    """The same build by one process without a launcher."""
    out = setup[1] / "single"
    report = build_here(setup, out, codec_fixture)
    assert report.written == 3 * 12 and report.failed == {}
    return out


def test_two_ranks_build_what_one_process_builds_shard_for_shard_byte_for_byte(setup, reference):
    out = setup[1] / "two-ranks"
    done = run_build(setup, out, 2)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = shard_bytes(reference)
    assert len(expected) == 3 * 12  # genuine, EnCodec and DAC: 12 one-utterance shards each
    assert shard_bytes(out) == expected
    assert (out / "README.md").read_text() == (reference / "README.md").read_text()
    assert done.stdout.count("Dataset folder:") == 1  # rank 0 reports, once
    assert "rank 1 of 2" in done.stderr and "gloo" in done.stderr


@pytest.mark.parametrize("rerun_nproc", [1, pytest.param(2, marks=pytest.mark.slow)],
                         ids=["rerun-1-process", "rerun-2-ranks"])
def test_a_build_whose_rank_was_killed_is_finished_by_a_rerun_with_nothing_missing_or_twice(
        setup, reference, codec_fixture, rerun_nproc):
    out = setup[1] / f"killed-then-{rerun_nproc}"
    killed = run_build(setup, out, 2, KILL_RANK="1", KILL_AFTER_BATCHES="3")
    assert killed.returncode != 0
    assert not (out / "README.md").exists()
    # A shard is finished once its record is written after it. The kill (of rank 1, then torchrun's stop of rank 0)
    # can land between the two: such a shard is on disk unrecorded, and the rerun writes it again (CI met one).
    on_disk = sorted(out.glob("data/*/*.parquet"))
    stamps = {p: p.stat().st_mtime_ns for p in on_disk if read_record(out, p) is not None}
    unrecorded = [p for p in on_disk if p not in stamps]
    assert len(unrecorded) <= 2  # at most the shard each of the two ranks was writing
    assert 12 <= len(stamps) < 3 * 12  # the genuine part and some codec shards were finished
    if rerun_nproc == 1:
        report = build_here(setup, out, codec_fixture)
        assert report.written == 3 * 12 - len(stamps) and report.kept == len(stamps)
        reason = "not recorded (a run was stopped just after writing it)"
        assert sorted(report.redone) == sorted(f"{p.relative_to(out).as_posix()}: {reason}" for p in unrecorded)
    else:
        done = run_build(setup, out, rerun_nproc)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"shards written: {3 * 12 - len(stamps)}, kept from before: {len(stamps)}" in done.stdout
    ids = row_ids(out)
    assert len(ids) == len(set(ids)) == len(row_ids(reference))
    assert shard_bytes(out) == shard_bytes(reference)
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())  # finished shards kept as they were
    assert not list((out / ".codecfake").rglob("*.tmp"))


@pytest.mark.slow  # two builds (one in two ranks) and a rank held back 20 s: about a minute on 2 busy cores
def test_codec_shards_wait_for_the_genuine_shards_another_rank_writes(setup, codec_fixture):
    """9 shards per part over 2 ranks: with 12 (an even count) each rank's codec shards read only the genuine
    shards it wrote itself, so a build without the barrier between the genuine and the codec shards passed.
    With an odd count, rank 1's DAC shards read rank 0's genuine ones; rank 0 is held back 20 s before its last
    genuine shard, so a rank 1 that did not wait would read a shard not yet written."""
    reference = build_here(setup, setup[1] / "single-odd", codec_fixture, limit=3)
    assert reference.written == 3 * 9
    out = setup[1] / "two-ranks-odd"
    done = run_build(setup, out, 2, "--limit", "3", DELAY_RANK="0", DELAY_SECONDS="20",
                     DELAY_SHARD="/data/genuine/test-00002-of-00003.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert shard_bytes(out) == shard_bytes(setup[1] / "single-odd")


def test_an_error_found_by_rank_0_ends_every_rank_with_its_message(setup):
    """A folder locked by another run: rank 0 finds it, and no rank waits for it forever."""
    from filelock import FileLock

    out = setup[1] / "locked"
    (out / ".codecfake").mkdir(parents=True)
    with FileLock(str(out / ".codecfake" / "lock")):
        done = run_build(setup, out, 2)
    assert done.returncode != 0
    message = f"error: `--out` '{out}' is being built by another run; wait for it to end."
    assert done.stderr.count(message) == 2, done.stderr[-3000:]  # one line from each rank


@pytest.mark.slow  # two builds (one in two ranks), a rank held back 10 s: about a minute on 2 busy cores
def test_two_ranks_share_the_condition_shards_which_wait_for_the_clean_shards_of_the_other_rank(setup, codec_fixture):
    """`--conditions`: the condition shards are shared out like the codec shards, after a barrier. With 9 shards per
    part, rank 0's `descript-audio-codec-16khz@g711_mulaw` test-00002 is made from the DAC shard rank 1 writes; rank 1
    is held back 10 s before writing it, so a rank 0 that did not wait would find no clean shard there."""
    reference = build_here(setup, setup[1] / "single-conditions", codec_fixture, limit=3, conditions="g711_mulaw")
    assert reference.written == 6 * 9 and reference.failed == {}
    out = setup[1] / "two-ranks-conditions"
    done = run_build(setup, out, 2, "--limit", "3", "--conditions", "g711_mulaw", DELAY_RANK="1",
                     DELAY_SECONDS="10", DELAY_SHARD=f"/data/{DAC}/test-00002-of-00003.parquet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert shard_bytes(out) == shard_bytes(setup[1] / "single-conditions")
    assert len([name for name in shard_bytes(out) if "@g711_mulaw/" in name]) == 3 * 9
