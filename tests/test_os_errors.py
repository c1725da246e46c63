"""OS errors are user errors (issue 19, item 5): read-only folders and locks, a file-size limit, a folder where a
shard belongs, names that are not UTF-8, and each errno a writer can meet end in one line naming the path and
the fix, with nothing half-written left.

The read-only cases use a real read-only bind mount where this process may make one (root in a container that
allows it; root ignores file permissions, so a `chmod` would not do), else they skip; the errno table is
checked everywhere by simulating each error in the writer.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from test_builder import ENCODEC, TinyCodecs, config_for, rows_of
from test_corpus import SPEAKERS, make_vctk_tree
from test_release_import import clip

from builder import build
from builder.__main__ import main as builder_main
from codecfake_hf import files
from codecfake_hf.corpus import AudioFolder
from codecfake_hf.errors import CodecFakeError
from eval.__main__ import main as eval_main

ROOT = Path(__file__).resolve().parents[1]
TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}


@pytest.fixture
def source(tmp_path, demo_dir) -> Path:
    return make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)


@pytest.fixture
def read_only(tmp_path):
    """`make(folder)`: remounts `folder` read-only in place (a bind mount), or skips where mounts are refused."""
    mounted = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)], capture_output=True)
        if done.returncode != 0 or os.geteuid() != 0:
            pytest.skip("cannot make a read-only bind mount here (needs root in a container that allows mounts); "
                        "test_every_write_error_is_one_message_naming_the_path simulates EROFS instead")
        mounted.append(folder)
        return folder

    yield make
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def one_line(err: str, *needles: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_a_build_into_a_read_only_folder_is_one_message(tmp_path, read_only, capsys):
    out = read_only(tmp_path / "out")
    assert builder_main(["build", "--source", "builtin:demo", "--out", str(out), "--random_weights"]) == 2
    one_line(capsys.readouterr().err, "is on a read-only file system", "choose a folder on a writable disk")


def test_a_read_only_lock_is_one_message(tmp_path, source, codec_fixture, read_only, capsys):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    read_only(out / ".codecfake")
    assert builder_main(["build", "--source", f"vctk:{source}", "--out", str(out), "--codecs", ENCODEC]) == 2
    one_line(capsys.readouterr().err, ".codecfake/lock is on a read-only file system")


def test_demo_on_a_read_only_build_is_one_message_and_deletes_nothing(tmp_path, source, codec_fixture, read_only,
                                                                       capsys):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    rows = rows_of(out)
    read_only(out)
    assert builder_main(["demo", "--out", str(out)]) == 2
    one_line(capsys.readouterr().err, "is on a read-only file system")
    assert rows_of(out) == rows


def test_score_into_a_read_only_folder_is_one_message_before_any_work(tmp_path, read_only, capsys):
    output = read_only(tmp_path / "scores")
    assert eval_main(["score", "--model_name_or_path", str(tmp_path / "no-model"), "--dataset_name",
                      str(tmp_path / "no-data"), "--output_dir", str(output), "--device", "cpu"]) == 2
    one_line(capsys.readouterr().err, "scores is on a read-only file system")


@pytest.mark.slow  # a fresh process under `ulimit -f`: about 15 s on an idle 2-core machine
def test_a_file_size_limit_is_one_message(tmp_path):
    """`ulimit -f` (EFBIG; Python ignores SIGXFSZ, so the write fails instead of killing the process)."""
    out = tmp_path / "out"
    command = (f"ulimit -f 16; exec {sys.executable} -m builder build --source builtin:demo --out {out} "
               "--random_weights --shard_size 4")
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"})
    assert done.returncode == 2, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "would exceed the largest file this process may write (`ulimit -f`" in last
    assert "Finished shards are kept and nothing half-written is left" in last and "Traceback" not in done.stderr
    assert not list(out.rglob("*.tmp"))


def test_a_folder_where_a_shard_belongs_is_one_message(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
          progress=False)
    shard = next((out / "data" / ENCODEC).glob("test-*.parquet"))
    shard.unlink()
    shard.mkdir()
    (shard / "x").write_text("someone's folder")
    with pytest.raises(CodecFakeError, match=rf"{shard.name} is a folder where a file belongs; move that "
                                                   r"folder away\. Finished shards are kept"):
        build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
    assert (shard / "x").read_text() == "someone's folder" and not list(out.rglob("*.tmp"))


def test_a_file_name_that_is_not_utf8_is_skipped_and_reported(tmp_path, demo_dir, codec_fixture):
    root = tmp_path / "corpus"
    (root / "s1").mkdir(parents=True)
    sf.write(root / "s1" / "good.wav", clip(demo_dir, 0, 16_000), 16_000)
    bad = os.path.join(os.fsencode(root / "s1"), b"caf\xe9.wav")  # Latin-1, as an old archive may hold
    with open(bad, "wb") as file:
        sf.write(file, clip(demo_dir, 1, 16_000), 16_000, format="WAV")
    corpus = AudioFolder(root)
    assert [r.utterance_id for r in corpus.records()] == ["good"]
    assert len(corpus.skipped) == 1 and "its name is not UTF-8 text; rename it" in corpus.skipped[0]
    request = config_for(root, tmp_path / "out", ENCODEC, split_ratios="1,0,0")
    request.source = f"folder:{root}"
    report = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.complete == ["genuine", ENCODEC] and len(report.source_skipped) == 1


@pytest.mark.parametrize("code, words", [
    (errno.EROFS, "is on a read-only file system; choose a folder on a writable disk"),
    (errno.EACCES, "may not be written (permission denied); choose a folder you may write"),
    (errno.EPERM, "may not be written (operation not permitted)"),
    (errno.EFBIG, "would exceed the largest file this process may write"),
    (errno.ENOSPC, "cannot be written: the disk is full; free some space"),
    (errno.EDQUOT, "cannot be written: the disk quota is exhausted"),
    (errno.EISDIR, "is a folder where a file belongs; move that folder away"),
])
def test_every_write_error_is_one_message_naming_the_path(code, words, tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("the old file\n")

    def refused(src, dst):
        raise OSError(code, os.strerror(code), str(src), None, str(dst))

    monkeypatch.setattr(files.os, "replace", refused)
    with pytest.raises(files.FileWriteError) as error:
        files.write_json_atomic(path, {"x": 1})
    assert str(error.value).startswith(f"{path} {words}") and "\n" not in str(error.value)
    assert error.value.errno == code
    assert path.read_text() == "the old file\n" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_name_that_is_not_utf8_round_trips_through_a_json_file(tmp_path):
    name = os.fsdecode(b"caf\xe9.wav")
    files.write_json_atomic(tmp_path / "plan.json", {"path": name})
    assert json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["path"] == name
