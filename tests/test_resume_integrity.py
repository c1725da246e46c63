"""Resume, extend and push against what the files hold (issue 19, item 2 and 4).

Reproductions of the second red team: a shard damaged in its middle kept on resume (only its ends were
hashed), a source changed and a rerun naming fewer codecs (the others' shards from the old audio kept and
declared), a killed first plan save leaving its temporary file forever, a refused bf16 codec reported as
"written again", `push` during a build (half a part uploaded), and a split left empty declared in the card.
"""

from __future__ import annotations

import threading
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from huggingface_hub import HfApi
from test_builder import DAC, ENCODEC, TinyCodecs, config_for, front_matter, rows_of
from test_corpus import SPEAKERS, make_vctk_tree

from builder import build
from builder.__main__ import main
from builder.shards import record_path, stale_reason, write_record

TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}


@pytest.fixture
def source(tmp_path, demo_dir) -> Path:
    return make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)


def configs(out: Path) -> set[str]:
    return {c["config_name"] for c in front_matter(out)["configs"]}


def test_a_shard_damaged_in_its_middle_at_the_same_size_is_written_again(tmp_path):
    """3 MiB, one byte changed in the middle: the ends (the first and last MiB) are as recorded."""
    out = tmp_path / "out"
    shard = out / "data" / "genuine" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    noise = np.random.default_rng(0).integers(0, 256, size=(3, 1 << 20), dtype=np.uint8)
    pq.write_table(pa.table({"audio": [row.tobytes() for row in noise]}), shard, compression="none")
    size = shard.stat().st_size
    assert size > 3 << 20
    write_record(out, shard, [])
    assert stale_reason(out, shard, []) is None
    data = bytearray(shard.read_bytes())
    data[size // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert shard.stat().st_size == size and pq.read_metadata(shard).num_rows == 3  # footer and size as before
    assert stale_reason(out, shard, []).startswith("changed since it was written")
    # a record of an older version (hash of the ends only) is not trusted either
    record = record_path(out, shard)
    record.write_text(record.read_text().replace('"sha256"', '"sha256_ends"'))
    assert stale_reason(out, shard, []) == "recorded without a whole-file hash (by an older version)"


def test_a_rerun_naming_fewer_codecs_marks_the_others_stale_when_their_source_changed(tmp_path, source,
                                                                                      codec_fixture):
    out = tmp_path / "out"
    both = f"{ENCODEC},{DAC}"
    build(config_for(source, out, both, random_weights=True), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert configs(out) == {"all", ENCODEC, DAC}
    changed = source / "wav48" / "p227" / "p227_001.wav"
    sf.write(changed, 0.2 * np.sin(np.arange(72000) / 7.0), 48000, subtype="PCM_16")  # same name, other audio
    report = build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert len(report.stale) == 1 and report.stale[0].startswith(f"{DAC}: 1 shard(s) no longer match")
    assert "source file(s) changed since: p227_001" in report.stale[0]
    assert configs(out) == {"all", ENCODEC}  # the old DAC rows are no longer declared
    card = (out / "README.md").read_text()
    assert "Left out as stale" in card and f"`{DAC}`" in card
    all_rows = datasets.load_dataset(str(out), "all", split="test", cache_dir=str(tmp_path / "cache"))
    assert DAC not in set(all_rows["codec"])
    # naming it again redoes exactly its stale shard and declares it again
    report = build(config_for(source, out, both, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.written == 1 and report.stale == [] and configs(out) == {"all", ENCODEC, DAC}
    assert "Left out as stale" not in (out / "README.md").read_text()


def test_a_killed_first_plan_save_leaves_no_temporary_file_behind(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    (out / ".codecfake").mkdir(parents=True)
    (out / ".codecfake" / ".plan.json.k1ll3d.tmp").write_text('{"kind": "bu')  # the kill came mid-write
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert not list(out.rglob("*.tmp"))


def test_a_codec_refused_for_its_precision_reports_no_shard_as_written_again(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC, precision="bf16", random_weights=True),
          codec_factory=TinyCodecs(codec_fixture), progress=False)
    shard = out / "data" / ENCODEC / "test-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-50])  # a damaged bf16 shard: the fp32 run below may not redo it
    report = build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert "precision='bf16'" in report.failed[ENCODEC]
    assert report.redone == [] and report.written == 0


# --- push takes the lock and refuses unfinished parts --------------------------------------------------------


@pytest.fixture
def uploads(monkeypatch):
    """The Hub calls of a push, recorded (no network): the files each upload would send."""
    calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_" + "PushLockTestToken0123456789abcdefg"[:34])
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: None)

    def upload(self, *, folder_path, ignore_patterns=(), **kw):
        calls.append(sorted(p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*.parquet")))

    monkeypatch.setattr(HfApi, "upload_large_folder", upload, raising=False)
    monkeypatch.setattr(HfApi, "upload_folder", upload)
    return calls


def test_push_while_a_build_adds_a_codec_is_refused_and_uploads_nothing(tmp_path, source, codec_fixture, uploads,
                                                                        capsys):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    inside, release = threading.Event(), threading.Event()
    tiny = TinyCodecs(codec_fixture)

    def slow(name, device, random_weights):  # the build holds the folder (and has begun DAC) while we push
        inside.set()
        release.wait(60)
        return tiny(name, device, random_weights)

    adding = threading.Thread(target=build, args=(config_for(source, out, f"{ENCODEC},{DAC}"),),
                              kwargs={"codec_factory": slow, "progress": False})
    adding.start()
    try:
        assert inside.wait(60)
        assert main(["push", str(out), "--repo", "me/codecfake"]) == 2
        assert "is being built by another run; wait for it to end" in capsys.readouterr().err
    finally:
        release.set()
        adding.join(120)
    assert uploads == []
    assert main(["push", str(out), "--repo", "me/codecfake"]) == 0  # once the build is done
    assert len(uploads) == 1 and sum(f"data/{DAC}/" in p for p in uploads[0]) == 2


def test_push_refuses_a_folder_with_an_unfinished_part(tmp_path, source, codec_fixture, uploads, capsys):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):  # a build stopped in the middle of DAC
        build(config_for(source, out, f"{ENCODEC},{DAC}"), codec_factory=TinyCodecs(codec_fixture, interrupt_after=3),
              progress=False)
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert main(["push", str(out), "--repo", "me/codecfake"]) == 2
    err = capsys.readouterr().err
    assert len(list(out.glob(f"data/{DAC}/*.parquet"))) == 1  # the stopped build finished one DAC shard of two
    assert f"has unfinished parts ({DAC})" in err
    assert "nothing was uploaded" in err and uploads == []


# --- a split left empty ----------------------------------------------------------------------------------------


def test_a_split_whose_rows_were_all_skipped_is_reported_and_not_declared(tmp_path, demo_dir, codec_fixture):
    """A folder source whose only validation speaker's file is silent: no 0-row split in the card."""
    root = tmp_path / "corpus"
    rate = 16_000
    wave = (0.3 * np.sin(np.arange(rate // 2) * 2 * np.pi * 220 / rate)).astype(np.float32)
    for speaker in ("s1", "s2", "s3"):
        (root / speaker).mkdir(parents=True)
        sf.write(root / speaker / f"{speaker}_a.wav", wave if speaker != "s3" else 0 * wave, rate)
    split_file = tmp_path / "split.txt"
    split_file.write_text("s1 train\ns2 test\ns3 validation\n")
    out = tmp_path / "out"
    request = config_for(root, out, ENCODEC, split_file=str(split_file), max_skipped=0.5)
    request.source = f"folder:{root}"
    report = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.empty == ["genuine/validation", f"{ENCODEC}/validation"]
    assert any("s3_a" in line and "silent" in line for line in report.skipped)
    for config in configs(out):
        declared = {f["split"] for c in front_matter(out)["configs"] if c["config_name"] == config
                    for f in c["data_files"]}
        assert "validation" not in declared, config
    assert "`validation`" not in (out / "README.md").read_text().split("## Splits")[1].split("## Schema")[0]
    rows = datasets.load_dataset(str(out), "all", cache_dir=str(tmp_path / "cache"))
    assert sorted(rows) == ["test", "train"] and len(rows["train"]) == 2
    assert {r["codec"] for r in rows_of(out)} == {"genuine", ENCODEC}
    again = build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)  # the empty shards are kept
    assert again.written == 0 and again.empty == report.empty
