"""The builder under faults (issue 10, items 1-4, 7, 8 and the builder's part of the traceback list).

Every case ends with nothing lost (a user's files untouched), nothing duplicated (row ids unique)
and nothing left behind (no temporary file, no state folder in a refused folder).
"""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from filelock import FileLock
from test_builder import DAC, ENCODEC, TinyCodecs, config_for, front_matter, rows_of
from test_corpus import SPEAKERS, make_vctk_tree

from builder import build
from builder.__main__ import main
from builder.build import clear_build
from codecfake_hf.corpus import Corpus, CorpusError, Record
from codecfake_hf.errors import CodecFakeError

TWO = {s: SPEAKERS[s] for s in ("p225", "p227")}  # one train and one test speaker: the smallest real build


@pytest.fixture
def source(tmp_path, demo_dir) -> Path:
    return make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers=TWO, per_speaker=1, seconds=0.5)


def leftovers(out: Path) -> list[str]:
    """Temporary files anywhere in the output folder (a finished or refused run leaves none)."""
    return [str(p.relative_to(out)) for p in out.rglob("*.tmp")]


# Item 1: the tool deletes only what it wrote and recorded, never without the lock


def test_demo_clears_only_what_a_build_recorded_and_never_during_a_build(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    (out / "data" / "keep.txt").write_text("a user's file among the shards")
    with pytest.raises(CodecFakeError, match=r"holds files this tool did not write \(data/keep.txt\); nothing"):
        clear_build(out)
    assert len(rows_of(out)) == 4 and (out / "data" / "keep.txt").exists() and (out / "README.md").exists()
    (out / "data" / "keep.txt").unlink()
    with FileLock(str(out / ".codecfake" / "lock")):  # a build is running on the folder
        assert main(["demo", "--out", str(out)]) == 2
    assert len(rows_of(out)) == 4  # the demo deleted nothing while the build held the folder
    clear_build(out)
    assert not out.exists()  # everything there was the build's own, folders included


def test_a_refused_folder_keeps_no_trace(tmp_path, source, capsys):
    foreign = tmp_path / "precious"
    (foreign / "sub").mkdir(parents=True)
    (foreign / "README.md").write_text("my notes")
    before = sorted(str(p) for p in foreign.rglob("*"))
    for command in (["build", "--source", f"vctk:{source}", "--random_weights"], ["demo"]):
        assert main([*command, "--out", str(foreign)]) == 2
        assert "is not empty and was not made by this tool (it holds README.md, sub)" in capsys.readouterr().err
        assert sorted(str(p) for p in foreign.rglob("*")) == before  # no `.codecfake/` made in it


# Item 2: a build into an unrelated non-empty folder


def test_a_build_into_a_foreign_folder_needs_overwrite_and_keeps_its_other_files(tmp_path, source, codec_fixture):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(CodecFakeError, match=r"would replace its README.md with the card.*`overwrite=True`"):
        build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert (out / "README.md").read_text() == "my notes" and not (out / ".codecfake").exists()
    report = build(config_for(source, out, ENCODEC, overwrite=True), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.complete == ["genuine", ENCODEC] and (out / "precious.txt").read_text() == "keep me"


# Item 3: duplicate ids are refused by construction


class Duplicated(Corpus):
    """A source that lists one utterance id for two files (as a faulty custom corpus might)."""

    kind = "dup"

    def __init__(self, root: Path):
        super().__init__(str(root))
        self.root = root

    def records(self):
        return [Record("p225_001", "p225", path=str(self.root / "a.wav")),
                Record("p225_001", "p227", path=str(self.root / "b.wav"))]


def test_a_plan_with_a_duplicate_id_is_refused_naming_both_files(tmp_path):
    with pytest.raises(CorpusError, match=r"two files have the utterance id 'p225_001': .*a\.wav and .*b\.wav"):
        build(config_for(tmp_path, tmp_path / "out", ENCODEC), corpus=Duplicated(tmp_path), progress=False)
    assert not (tmp_path / "out").exists()


# Item 4: resume and extend check what the files hold, not their names


def test_a_changed_source_file_and_a_truncated_shard_are_redone_and_said_so(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC, random_weights=True), codec_factory=TinyCodecs(codec_fixture),
          progress=False)
    # The same name, other audio: 1.5 s instead of 0.5 s.
    changed = source / "wav48" / "p227" / "p227_001.wav"
    sf.write(changed, 0.2 * np.sin(np.arange(72000) / 7.0), 48000, subtype="PCM_16")
    shard = out / "data" / ENCODEC / "train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])  # a truncated shard
    report = build(config_for(source, out, f"{ENCODEC},{DAC}", random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    redone = "\n".join(report.redone)
    assert "data/genuine/test-00000-of-00001.parquet: source file(s) changed since: p227_001" in redone
    assert f"data/{ENCODEC}/test-00000-of-00001.parquet: source file(s) changed" in redone
    assert f"data/{ENCODEC}/train-00000-of-00001.parquet: unreadable (ArrowInvalid)" in redone
    lengths = {r["id"]: pq.read_table(p).column("audio").to_pylist()[0]["bytes"]
               for p in out.glob("data/*/test-*.parquet") for r in pq.read_table(p, columns=["id"]).to_pylist()}
    durations = {key: sf.info(__import__("io").BytesIO(value)).duration for key, value in lengths.items()}
    assert all(abs(d - 1.5) < 0.05 for d in durations.values()), durations  # every part sees the new 1.5 s
    ids = [r["id"] for r in rows_of(out)]
    assert len(ids) == len(set(ids)) == 6 and not leftovers(out)


# Item 7: a codec that produced nothing is a failure, not a config


def test_a_codec_that_wrote_no_row_fails_and_stays_out_of_the_card(tmp_path, source, codec_fixture, capsys):
    tiny = TinyCodecs(codec_fixture)

    def factory(name, device, random_weights):
        codec = tiny(name, device, random_weights)
        if name == DAC:
            def broken(waves, lengths):
                raise RuntimeError("the codec produced NaN")
            codec.resynthesize = broken
        return codec

    out = tmp_path / "out"
    report = build(config_for(source, out, f"{DAC},{ENCODEC}"), codec_factory=factory, progress=False)
    assert report.complete == ["genuine", ENCODEC] and list(report.failed) == [DAC]
    assert "no row written: every one of its 2 utterances was skipped" in report.failed[DAC]
    assert {c["config_name"] for c in front_matter(out)["configs"]} == {"all", ENCODEC}
    # The same on the command line: named in the report, exit status 2 (a meta device is refused up front)
    assert main(["build", "--source", f"vctk:{source}", "--out", str(tmp_path / "o"), "--device", "meta"]) == 2
    assert "holds no data (shapes only)" in capsys.readouterr().err


def test_a_codec_that_skips_more_than_max_skipped_fails(tmp_path, source, codec_fixture):
    (source / "wav48" / "p227" / "p227_001.wav").write_bytes(b"corrupt")
    with pytest.raises(CodecFakeError, match=r"no part could be built: genuine: 1 of 2 utterances skipped, more than "
                                             r"`max_skipped` \(0.25\); .*; encodec_24khz: 1 of 2"):
        build(config_for(source, tmp_path / "out", ENCODEC, max_skipped=0.25),
              codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert not (tmp_path / "out" / "README.md").exists()  # no card declares a failed part


# Item 8: bounded memory


def test_long_inputs_are_skipped_and_rates_are_bounded(tmp_path, source, codec_fixture, capsys):
    long = 0.2 * np.sin(np.arange(96000) / 7.0)  # 2 s at 48 kHz
    sf.write(source / "wav48" / "p225" / "p225_001.wav", long, 48000, subtype="PCM_16")
    report = build(config_for(source, tmp_path / "out", ENCODEC, max_seconds=1.0, max_skipped=0.5),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.complete == ["genuine", ENCODEC] and len(rows_of(tmp_path / "out")) == 2
    assert "p225_001: 2.0 s, longer than `max_seconds` (1 s)" in "\n".join(report.skipped)
    assert main(["build", "--source", f"vctk:{source}", "--out", str(tmp_path / "o"),
                 "--genuine_sample_rate", "2000000000"]) == 2
    assert "`--genuine_sample_rate` must be a rate in Hz within 4000..384000" in capsys.readouterr().err


# The builder's part of the traceback list: one message, exit status 2, nothing half-written


def _odd_ages(source: Path) -> None:
    (source / "speaker-info.txt").write_text("ID AGE GENDER ACCENTS REGION\n225 ²³ F English Southern\n"
                                             "227 99999999999 M English Cumbria\n", encoding="utf-8")


@pytest.mark.parametrize("case, message", [
    ("batch_seconds_nan", "`--batch_seconds` must be a positive number of seconds, got nan"),
    ("batch_seconds_inf", "`--batch_seconds` must be a positive number of seconds, got inf"),
    ("out_is_a_file", "is a file, not a folder; choose a new or empty folder"),
    ("plan_truncated", "its build plan .codecfake/plan.json is damaged (JSONDecodeError"),
    ("split_file_not_utf8", "is not UTF-8 text (byte 5"),
    ("split_file_unknown_speakers", "names only speakers that are not in vctk:"),
])
def test_builder_tracebacks_that_became_one_message(case, message, tmp_path, source, capsys):
    out = tmp_path / "out"
    flags = ["--source", f"vctk:{source}", "--out", str(out), "--random_weights", "--codecs", ENCODEC]
    if case.startswith("batch_seconds"):
        flags += ["--batch_seconds", case.rsplit("_", 1)[1]]
    elif case == "out_is_a_file":
        out.write_text("a file")
    elif case == "plan_truncated":
        (out / ".codecfake").mkdir(parents=True)
        (out / ".codecfake" / "plan.json").write_text('{"version": 1, "kind": "bui')
    elif case.startswith("split_file"):
        split = tmp_path / "split.txt"
        split.write_bytes(b"p225 \xfftest\n" if case == "split_file_not_utf8" else b"x1 test\n")
        flags += ["--split_file", str(split)]
    assert main(["build", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err, err
    assert not (out / "data").exists() and (not out.is_dir() or not leftovers(out))


def test_odd_ages_build_and_resume_without_a_misleading_refusal(tmp_path, source, codec_fixture):
    _odd_ages(source)
    out = tmp_path / "out"
    for _ in range(2):  # the second run resumes instead of "files added, removed or renamed"
        report = build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.kept == 4 and {r["age"] for r in rows_of(out)} == {None}


def test_a_plan_mismatch_names_the_record_that_changed(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    (source / "txt" / "p225" / "p225_001.txt").write_text("Another sentence.\n")
    with pytest.raises(CodecFakeError, match=r"p225_001: text: 'Sentence 1 of p225\.' then, 'Another sentence\.' now"):
        build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)


def test_an_unknown_codec_option_fails_that_codec_and_the_others_go_on(tmp_path, source, codec_fixture):
    tiny = TinyCodecs(codec_fixture)

    def factory(name, device, random_weights):
        if name == DAC:
            from codecfake_hf import codecs

            return codecs.load(name, random_weights=True, config=codec_fixture(name).tiny_checkpoint_config,
                               no_such_option=1)
        return tiny(name, device, random_weights)

    report = build(config_for(source, tmp_path / "out", f"{DAC},{ENCODEC}"), codec_factory=factory, progress=False)
    assert report.complete == ["genuine", ENCODEC] and "no_such_option" in report.failed[DAC]


def test_a_full_disk_is_one_message_and_leaves_no_temporary_file(tmp_path, source, codec_fixture, monkeypatch):
    """ENOSPC simulated in the shard writer (tests/test_fault_injection.py fills a real tmpfs where it can)."""
    import builder.dataset

    real = builder.dataset.ParquetWriter.write
    calls = {"n": 0}

    def full(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(builder.dataset.ParquetWriter, "write", full)
    out = tmp_path / "out"
    with pytest.raises(CodecFakeError, match=r"is full \(No space left on device\)\. Finished shards are kept"):
        build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert not leftovers(out) and len(list(out.glob("data/*/*.parquet"))) == 1
    monkeypatch.undo()
    report = build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.kept == 1 and report.written == 3 and not leftovers(out)


# Two runs at once


def test_two_builds_at_once_one_waits_its_turn_and_nothing_is_duplicated(tmp_path, source, codec_fixture):
    out = tmp_path / "out"
    inside, release = threading.Event(), threading.Event()
    tiny = TinyCodecs(codec_fixture)

    def slow(name, device, random_weights):  # holds the folder while the second run tries it
        inside.set()
        release.wait(30)
        return tiny(name, device, random_weights)

    first = threading.Thread(target=build, args=(config_for(source, out, ENCODEC),),
                             kwargs={"codec_factory": slow, "progress": False})
    first.start()
    assert inside.wait(30)
    with pytest.raises(CodecFakeError, match="is being built by another run; wait for it to end"):
        build(config_for(source, out, f"{ENCODEC},{DAC}"), codec_factory=TinyCodecs(codec_fixture), progress=False)
    release.set()
    first.join(60)
    report = build(config_for(source, out, f"{ENCODEC},{DAC}"), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    ids = [r["id"] for r in rows_of(out)]
    assert report.kept == 4 and len(ids) == len(set(ids)) == 6 and not leftovers(out)
    assert json.loads((out / ".codecfake" / "plan.json").read_text())["card"] is True
