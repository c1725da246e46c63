"""Fault injection: builds killed with SIGKILL at several points, a full disk, two builds at once.

Each ends with nothing lost (every shard of a clean build is there, byte for byte), nothing duplicated
(row ids unique) and nothing left behind (no temporary file). A kill runs the build in a child
process that sends itself SIGKILL at the chosen point (the library is not changed: the child wraps
`os.replace` or the shard recorder); the resumed build runs here. The disk is a real tmpfs of a few
dozen KiB where this process may mount one (root in a container that allows it), else the test
skips, and `test_builder_faults.py` simulates ENOSPC in the writer instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_builder import DAC, ENCODEC, TinyCodecs, config_for
from test_corpus import SPEAKERS, make_vctk_tree

from builder import build
from codecfake_hf.errors import CodecFakeError

ROOT = Path(__file__).resolve().parents[1]
TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}
BOTH = f"{ENCODEC},{DAC}"

CHILD = textwrap.dedent('''
    import os, signal, sys
    from pathlib import Path
    sys.path[:0] = [sys.argv[6] + "/tests", sys.argv[6]]
    import torch
    torch.set_num_threads(1)  # as the tests' own process (conftest.py)
    from conftest import CodecFixture
    from test_builder import TinyCodecs, config_for
    import importlib
    from builder import build

    source, out, names, kill_at, shared = sys.argv[1:6]
    real_replace, seen = os.replace, []

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst):  # every atomic write ends in os.replace: kill at the chosen one
        target = str(dst)
        if kill_at == "card" and target.endswith("README.md"):
            die()  # the card's temporary file is written, not yet renamed
        if kill_at.startswith("shard:") and f"/data/{kill_at[6:]}/" in target:
            seen.append(target)
            if len(seen) == 2:
                die()  # the codec's second shard is written, not yet renamed
        return real_replace(src, dst)

    os.replace = replace
    build_module = importlib.import_module("builder.build")  # `builder.build` is also the function's name
    real_record = build_module.write_record

    def record(out_dir, shard, records):
        if kill_at == "record" and "/data/genuine/" not in str(shard):
            die()  # the shard is renamed into data/, its record not yet written
        return real_record(out_dir, shard, records)

    build_module.write_record = record
    print("ready", flush=True)
    build(config_for(Path(source), Path(out), names, random_weights=True),
          codec_factory=TinyCodecs(lambda name: CodecFixture(Path(shared) / "codec-fixtures" / name)), progress=False)
''')


@pytest.fixture(scope="module")
def source(tmp_path_factory, demo_dir) -> Path:
    return make_vctk_tree(tmp_path_factory.mktemp("fi") / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=2,
                          seconds=0.5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, source, codec_fixture) -> dict[str, bytes]:
    """Every shard of a clean, uninterrupted build: relative path -> bytes."""
    out = tmp_path_factory.mktemp("reference") / "out"
    build(config_for(source, out, BOTH, random_weights=True), codec_factory=TinyCodecs(codec_fixture), progress=False)
    return shards(out)


def shards(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("data/*/*.parquet"))}


def killed(source: Path, out: Path, names: str, kill_at: str, shared: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", CHILD, str(source), str(out), names, kill_at, str(shared),
                             str(ROOT)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == -9, f"the child was not killed at {kill_at}: {result.stderr[-2000:]}"
    return result


def assert_whole(out: Path, reference: dict[str, bytes] | None) -> None:
    """Nothing lost, nothing duplicated, nothing left behind."""
    if reference is not None:
        assert shards(out) == reference
    ids = [i for p in out.glob("data/*/*.parquet") for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()]
    assert len(ids) == len(set(ids)) == 12
    assert not list(out.rglob("*.tmp")) and (out / "README.md").is_file()


@pytest.mark.slow  # a child process per kill: about 15 s each on 2 busy cores
@pytest.mark.parametrize("kill_at", [
    "card",    # during the card's write
    "shard",   # while adding a codec to a finished folder
    "record",  # between a shard's rename and its record
])
def test_a_killed_build_resumes_to_the_same_shards(kill_at, tmp_path, source, reference, shared, codec_fixture):
    out = tmp_path / "out"
    if kill_at == "shard":
        build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
        first = shards(out)
        killed(source, out, BOTH, f"shard:{DAC}", shared)
        assert len(list((out / "data" / DAC).glob("*.parquet"))) == 1  # one DAC shard made it before the kill
        assert all(shards(out)[k] == v for k, v in first.items())  # the finished parts are untouched
    else:
        killed(source, out, BOTH, kill_at, shared)
        if kill_at == "card":
            assert not (out / "README.md").exists() and len(shards(out)) == len(reference)
    report = build(config_for(source, out, BOTH, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    if kill_at == "record":
        assert any("not recorded (a run was stopped just after writing it)" in line for line in report.redone)
    assert_whole(out, reference)


@pytest.mark.slow
def test_two_build_processes_at_once_leave_one_whole_folder(tmp_path, source, reference, shared, codec_fixture):
    out = tmp_path / "out"
    script = CHILD.replace("os.replace = replace", "pass")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(source), str(out), BOTH, "none", str(shared),
                              str(ROOT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for _ in range(2)]
    results = [run.communicate(timeout=600) for run in runs]
    codes = sorted(run.returncode for run in runs)
    refused = [err for (_, err), run in zip(results, runs, strict=True) if run.returncode != 0]
    assert codes in ([0, 0], [0, 1]), results  # both in turn, or one refused while the other held the folder
    assert all("is being built by another run" in err for err in refused)
    build(config_for(source, out, BOTH, random_weights=True), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert_whole(out, reference)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (remounted larger with `grow()`), or a skip where mounting is not allowed."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0 or os.geteuid() != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root and a container that allows mounts); "
                    "test_builder_faults.py simulates ENOSPC in the writer instead")

    def grow():
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True)

    try:
        yield disk, grow
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_stops_with_one_message_and_resumes_when_there_is_room(small_disk, source, codec_fixture):
    disk, grow = small_disk
    out = disk / "out"
    with pytest.raises(CodecFakeError, match=r"is full .*Finished shards are kept and nothing half-written is left"):
        build(config_for(source, out, BOTH, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
    assert not list(out.rglob("*.tmp")) and not [p for p in out.rglob("*") if p.is_file() and p.stat().st_size == 0
                                                 and p.name != "lock"]
    written = shards(out)
    assert written and all(pq.read_metadata(out / k).num_rows for k in written)  # what is there is whole
    grow()
    report = build(config_for(source, out, BOTH, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.kept == len(written) and not report.redone
    assert_whole(out, None)
