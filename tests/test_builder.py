"""The dataset builder, end to end on VCTK-shaped trees with tiny random-weight EnCodec and DAC codecs.

Checked through `datasets` itself: shards, configs and the card load with `load_dataset(DIR, config)`.
"""

from __future__ import annotations

import io
import shutil
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml
from test_corpus import SPEAKERS, make_hub_dataset, make_vctk_tree

from builder import BuildRequest, CodecFakeBuilder, PartRows, Plan, build, import_release, write_shard
from builder.__main__ import main
from builder.plan import ALL_PARTS
from builder.release import scan_release
from codecfake_hf import codecs
from codecfake_hf.corpus import CorpusError, Record, open_source
from codecfake_hf.errors import BackendNotBuiltError, CodecFakeError, UnknownCodecError
from codecfake_hf.schema import FEATURES, make_row
from codecfake_hf.splits import SpeakerSplit

ENCODEC = "encodec_24khz"
DAC = "descript-audio-codec-16khz"
TEST_SPEAKERS = {"p227", "p228"}


class TinyCodecs:
    """Codec factory of the tests: the real codec modules, built from the fixtures' tiny configs.

    Counts the codecs it builds and the batches each one resynthesises, and can stop a run after
    `interrupt_after` batches (a KeyboardInterrupt, as a killed run would stop).
    """

    def __init__(self, codec_fixture, interrupt_after: int | None = None):
        self.codec_fixture = codec_fixture
        self.built: list[str] = []
        self.batches = Counter()
        self.interrupt_after = interrupt_after

    def __call__(self, name, device, random_weights, seed=0):
        config = self.codec_fixture(name).tiny_checkpoint_config
        codec = codecs.load(name, config=config, random_weights=True, device=device)
        self.built.append(name)
        original = codec.resynthesize

        def counted(waves, lengths):  # a test double: counts batches, may simulate a kill
            self.batches[name] += 1
            if self.interrupt_after is not None and sum(self.batches.values()) > self.interrupt_after:
                raise KeyboardInterrupt
            return original(waves, lengths)

        codec.resynthesize = counted
        return codec


def config_for(source: Path, out: Path, codec_names: str, **options) -> BuildRequest:
    return BuildRequest(source=f"vctk:{source}", codecs=codec_names, out=str(out), device="cpu",
                           shard_size=options.pop("shard_size", 2), **options)


def load(out: Path, config: str, split: str, cache: Path) -> datasets.Dataset:
    return datasets.load_dataset(str(out), config, split=split, cache_dir=str(cache))


def rows_of(out: Path) -> list[dict]:
    """Every row's metadata (no audio), straight from the Parquet shards."""
    columns = ["id", "utterance_id", "speaker_id", "codec", "label", "text", "gender", "age", "accent", "region"]
    return [row for path in sorted(out.glob("data/*/*.parquet"))
            for row in pq.read_table(path, columns=columns).to_pylist()]


def front_matter(out: Path) -> dict:
    text = (out / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_dir, codec_fixture):
    """One build of a VCTK 0.92 tree with EnCodec and DAC, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("build")
    source = make_vctk_tree(root / "VCTK-0.92", demo_dir, "0.92")
    out = root / "out"
    factory = TinyCodecs(codec_fixture)
    report = build(config_for(source, out, f"{ENCODEC},{DAC}"), codec_factory=factory, progress=False)
    return out, report, factory


def test_rows_labels_splits_and_transcripts(built):
    out, report, factory = built
    assert report.failed == {} and report.skipped == []
    assert report.complete == ["genuine", ENCODEC, DAC]
    rows = rows_of(out)
    utterances = {f"{s}_{n:03d}" for s in SPEAKERS for n in (1, 2)}
    for part in ("genuine", ENCODEC, DAC):
        part_rows = [r for r in rows if r["codec"] == part]
        assert {r["utterance_id"] for r in part_rows} == utterances and len(part_rows) == len(utterances)
        assert {r["label"] for r in part_rows} == {0 if part == "genuine" else 1}
        assert all(r["id"] == f"{part}+{r['utterance_id']}" for r in part_rows)
    assert len({r["id"] for r in rows}) == len(rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id[f"{ENCODEC}+p226_001"]["text"] == "Sentence 1 of p226."
    assert by_id["genuine+p228_002"]["text"] == ""
    assert (by_id[f"{DAC}+p225_002"]["gender"], by_id[f"{DAC}+p225_002"]["age"]) == ("F", 23)
    # Splits by speaker, in the Hub layout.
    expected = {"train": {"p225", "p230"}, "validation": {"p226", "p229"}, "test": TEST_SPEAKERS}
    for path in out.glob("data/*/*.parquet"):
        split = path.name.split("-")[0]
        speakers = set(pq.read_table(path, columns=["speaker_id"]).column(0).to_pylist())
        assert speakers <= expected[split], path
    assert sorted(p.name for p in (out / "data" / ENCODEC).iterdir()) == [
        "test-00000-of-00002.parquet", "test-00001-of-00002.parquet",
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet",
        "validation-00000-of-00002.parquet", "validation-00001-of-00002.parquet"]
    # datasets' feature metadata is in each shard's schema.
    schema = pq.read_schema(next(out.glob("data/genuine/*.parquet")))
    assert b"huggingface" in schema.metadata


def test_load_dataset_codec_config_gives_genuine_and_codec_test_rows(built, tmp_path):
    out, _, _ = built
    ds = load(out, ENCODEC, "test", tmp_path)
    assert isinstance(ds.features["label"], datasets.ClassLabel)
    assert ds.features["label"].names == ["bonafide", "spoof"]
    assert isinstance(ds.features["audio"], datasets.Audio)
    assert Counter(ds["codec"]) == {"genuine": 4, ENCODEC: 4}
    assert set(ds["speaker_id"]) == TEST_SPEAKERS
    rates = {}
    for row in ds:
        samples = row["audio"].get_all_samples()
        rates[row["codec"]] = samples.sample_rate
        assert abs(samples.data.shape[-1] / samples.sample_rate - 1.0) < 0.01  # 1 s clips
    assert rates == {"genuine": 16000, ENCODEC: 24000}
    everything = load(out, "all", "test", tmp_path)
    assert Counter(everything["codec"]) == {"genuine": 4, ENCODEC: 4, DAC: 4}
    default = datasets.load_dataset(str(out), split="validation", cache_dir=str(tmp_path))
    assert len(default) == 12 and set(default["speaker_id"]) == {"p226", "p229"}


def test_card_yaml_configs_info_license_and_codec_table(built):
    out, _, _ = built
    meta = front_matter(out)
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"all", ENCODEC, DAC}
    assert configs["all"].get("default") is True
    test_files = {f["split"]: f["path"] for f in configs[ENCODEC]["data_files"]}["test"]
    assert test_files == ["data/genuine/test-*.parquet", f"data/{ENCODEC}/test-*.parquet"]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert {s["name"]: s["num_examples"] for s in infos[ENCODEC]["splits"]} == {"train": 8, "validation": 8,
                                                                                "test": 8}
    assert {s["name"]: s["num_examples"] for s in infos["all"]["splits"]} == {"train": 12, "validation": 12,
                                                                             "test": 12}
    assert meta["license"] == "cc-by-4.0"
    body = (out / "README.md").read_text()
    assert "CSTR VCTK Corpus" in body and "CC BY 4.0" in body
    assert "@inproceedings{wu2024codecfake" in body and "@misc{yamagishi2019vctk" in body
    spec = codecs.spec(ENCODEC)
    assert (f"| `{ENCODEC}` | encodec | 24000 Hz | 1.5 kbps | 2 | 320 | multi-codebook | none | time | transformers "
            f"| [{spec.hub_repo}]") in body
    assert "**random** (smoke run)" in body  # the tests' codecs have random weights, and the card says so
    assert f"| `{ENCODEC}` | 8 | 8 | 8 | 24 |" in body  # rows per config and split
    # A VCTK build follows the CodecFake pipeline's input recipe by default, and the card says what that is.
    # The rate only: the bit depth is the source's (24-bit for a 24-bit file), which the next note states.
    assert "Genuine rows are stored at 16000 Hz. Input recipe `paper`" in body and "(16-bit)" not in body
    assert "resynthesises the source file as read (48 kHz for VCTK)" in body and "`--recipe matched`" in body
    assert "Precision:" not in body  # fp32, the default, needs no note


def test_resume_after_an_interrupted_run_loses_and_duplicates_nothing(tmp_path, demo_dir, codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80")
    out = tmp_path / "out"
    config = config_for(source, out, ENCODEC, shard_size=1, limit=2)
    killer = TinyCodecs(codec_fixture, interrupt_after=3)  # dies while writing the 4th of 6 EnCodec shards
    with pytest.raises(KeyboardInterrupt):
        build(config, codec_factory=killer, progress=False)
    finished = sorted((out / "data" / ENCODEC).glob("*.parquet"))
    assert len(finished) == 3 and not (out / "README.md").exists()
    assert (out / ".codecfake" / "tmp").is_dir()  # the killed shard's staging, never a file in data/
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("data/*/*.parquet")}
    resumer = TinyCodecs(codec_fixture)
    report = build(config, codec_factory=resumer, progress=False)
    assert report.written == 3 and report.kept == 6 + 3
    assert sum(resumer.batches.values()) == 3  # only the missing shards were computed
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())  # finished shards kept as they were
    rows = rows_of(out)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 12  # 6 utterances (2 per split) x (genuine + EnCodec)
    assert not (out / ".codecfake" / "tmp").exists() or not any((out / ".codecfake" / "tmp").rglob("*.parquet"))
    assert len(load(out, ENCODEC, "train", tmp_path / "cache")) == 4


def test_adding_a_codec_later_computes_only_that_codec(tmp_path, demo_dir, codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    out = tmp_path / "out"
    first = TinyCodecs(codec_fixture)
    build(config_for(source, out, ENCODEC), codec_factory=first, progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("data/*/*.parquet")}
    second = TinyCodecs(codec_fixture)
    report = build(config_for(source, out, f"{ENCODEC},{DAC}"), codec_factory=second, progress=False)
    assert second.built == [DAC]  # EnCodec is not even loaded again
    assert report.kept == len(stamps) and report.written == len(list((out / "data" / DAC).glob("*.parquet")))
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())
    assert {c["config_name"] for c in front_matter(out)["configs"]} == {"all", ENCODEC, DAC}
    assert Counter(r["codec"] for r in rows_of(out)) == {"genuine": 6, ENCODEC: 6, DAC: 6}
    # Other options on the same folder are refused rather than mixed in.
    with pytest.raises(CodecFakeError, match=r"holds a build made with other options \(limit: None there, 1 now\)"):
        build(config_for(source, out, ENCODEC, limit=1), codec_factory=second, progress=False)


def test_release_folder_scan(tmp_path, release_dir):
    for name in ("genuine+p225_273.wav", "encodec_24khz+p225_273.wav", "dac_16khz+p225_273.wav"):
        release_name = name.replace("dac_16khz", "descript-audio-codec-16khz")
        (tmp_path / name).write_bytes((release_dir / release_name).read_bytes())
    (tmp_path / "mystery_codec+p225_273.wav").write_bytes(b"x")
    (tmp_path / "README.wav").write_bytes(b"x")
    parts, skipped = scan_release(tmp_path)
    assert sorted(parts) == ["descript-audio-codec-16khz", "encodec_24khz", "genuine"]  # aliases resolve
    assert parts["genuine"][0].speaker_id == "p225" and parts["genuine"][0].utterance_id == "p225_273"
    assert len(skipped) == 2 and any("Unknown codec 'mystery_codec'" in s for s in skipped)
    with pytest.raises(CorpusError, match="no such folder"):
        scan_release(tmp_path / "nope")


def test_import_of_the_release_folder(tmp_path, release_dir):
    split_file = tmp_path / "split.txt"
    split_file.write_text("p318 test\np295 validation\n")
    out = tmp_path / "imported"
    report = import_release(release_dir, out, split_file=str(split_file), progress=False)
    assert report.skipped == []
    rows = rows_of(out)
    assert len(rows) == 16 * 3 and len({r["id"] for r in rows}) == 48
    assert Counter(r["codec"] for r in rows)["genuine"] == 3
    assert {r["speaker_id"] for r in rows if r["id"].endswith("p318_114")} == {"p318"}
    ds = load(out, "audiodec_24k_320d", "test", tmp_path / "cache")
    assert sorted(ds["id"]) == ["audiodec_24k_320d+p318_114", "genuine+p318_114"]
    audio = {row["codec"]: row["audio"].get_all_samples() for row in ds}
    assert audio["audiodec_24k_320d"].sample_rate == 24000 and audio["genuine"].sample_rate == 16000
    # Lossless: the imported samples are the release file's.
    original, _ = sf.read(release_dir / "audiodec_24k_320d+p318_114.wav", dtype="float32")
    assert audio["audiodec_24k_320d"].data.shape[-1] == original.shape[0]
    assert abs(audio["audiodec_24k_320d"].data.numpy()[0] - original).max() < 1e-6
    assert "original release files" in (out / "README.md").read_text()


def test_corrupt_file_is_reported_and_skipped(tmp_path, demo_dir, codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    (source / "wav48_silence_trimmed" / "p227" / "p227_001_mic1.flac").write_bytes(b"not a flac file at all")
    out = tmp_path / "out"
    report = build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert [s.split(":")[0:2] for s in report.skipped] == [["genuine", " p227_001"], [ENCODEC, " p227_001"]]
    assert "not readable as audio" in report.skipped[0]
    ids = {r["id"] for r in rows_of(out)}
    assert "genuine+p227_001" not in ids and f"{ENCODEC}+p227_001" not in ids and "genuine+p228_001" in ids
    assert len(load(out, ENCODEC, "test", tmp_path / "cache")) == 2


def test_a_codec_whose_family_is_not_built_is_reported_and_the_others_go_on(tmp_path, demo_dir, codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", per_speaker=1)
    tiny = TinyCodecs(codec_fixture)

    def factory(name, device, random_weights):
        if name == DAC:
            raise BackendNotBuiltError(f"Codec {name!r} is registered, but its 'dac' module is not built yet.")
        return tiny(name, device, random_weights)

    report = build(config_for(source, tmp_path / "out", f"{DAC},{ENCODEC}"), codec_factory=factory, progress=False)
    assert report.complete == ["genuine", ENCODEC] and list(report.failed) == [DAC]
    assert "not built yet" in report.failed[DAC]


def test_bad_inputs_end_in_one_message_and_exit_status_2(tmp_path, demo_dir, capsys):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", speakers={"p225": SPEAKERS["p225"]},
                            per_speaker=1)
    shared = tmp_path / "split.txt"
    shared.write_text("p225 train\np225 test\n")
    cases = {
        "no such folder": ["--source", f"vctk:{tmp_path / 'missing'}"],
        "is not a VCTK folder: expected `wav48_silence_trimmed/`": ["--source", f"vctk:{tmp_path}"],
        "Unknown codec 'encodek'. Did you mean 'encodec": ["--source", f"vctk:{source}", "--codecs", "encodek"],
        "puts speaker 'p225' in both 'train' and 'test'": ["--source", f"vctk:{source}", "--split-file", str(shared)],
        "`--limit` must be a positive number": ["--source", f"vctk:{source}", "--limit", "0"],
        "`--source` '": ["--source", f"{tmp_path / 'missing'}"],  # the library's `source`, shown as a flag
    }
    for message, flags in cases.items():
        out = tmp_path / f"out-{len(message)}"
        assert main(["build", *flags, "--out", str(out), "--random-weights"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err, err
        assert not (out / "data").exists()  # refused before any work
    with pytest.raises(UnknownCodecError):
        build(config_for(source, tmp_path / "o", "nope"), progress=False)


def test_cli_help_explains_every_flag(capsys):
    for command, flags in {
        "build": ["--source", "--codecs", "--out", "--device", "--split_file", "--split-file", "--limit",
                  "--random_weights", "--random-weights",
                  "--genuine-sample-rate", "48 kHz VCTK originals", "--recipe", "--precision", "--seed"],
        "push": ["--repo", "--private", "HF_TOKEN"],
        "import": ["--out", "--split-file"],
        "demo": ["--out", "--codecs"],
    }.items():
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps help to the terminal's width
        for flag in flags:
            assert flag in text, (command, flag)


def test_limit_takes_utterances_round_robin_over_each_splits_speakers(tmp_path, demo_dir):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", per_speaker=2)
    records = open_source(f"vctk:{source}").records()
    by_split = Plan.split_records(records, SpeakerSplit.paper(), limit=3)
    assert {s: [r.utterance_id for r in rs] for s, rs in by_split.items()} == {
        "train": ["p225_001", "p225_002", "p230_001"],
        "validation": ["p226_001", "p226_002", "p229_001"],
        "test": ["p227_001", "p227_002", "p228_001"],
    }


def test_build_from_a_hub_dataset_source(tmp_path, demo_dir, codec_fixture):
    source = make_hub_dataset(tmp_path, demo_dir, seconds=0.5)
    split_file = tmp_path / "split.txt"
    split_file.write_text("s2 test\n")
    out = tmp_path / "out"
    config = BuildRequest(source=f"hf:{source}", codecs=ENCODEC, out=str(out), device="cpu",
                             split_file=str(split_file))
    report = build(config, codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.complete == ["genuine", ENCODEC] and report.skipped == []
    ds = load(out, ENCODEC, "test", tmp_path / "cache")
    assert sorted(ds["id"]) == [f"{ENCODEC}+z", "genuine+z"] and set(ds["text"]) == {"c"}
    assert "a speaker -> split file" in (out / "README.md").read_text()


def test_import_cli_fills_transcripts_and_speakers_from_a_vctk_copy(tmp_path, release_dir, capsys):
    release = tmp_path / "release"
    vctk = tmp_path / "VCTK-Corpus"
    for utt in ("p225_273", "p295_144"):
        speaker = utt.split("_")[0]
        for codec in ("genuine", ENCODEC):
            (release / codec).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release_dir / f"{codec}+{utt}.wav", release / codec / f"{codec}+{utt}.wav")
        (vctk / "wav48" / speaker).mkdir(parents=True)
        shutil.copyfile(release_dir / f"genuine+{utt}.wav", vctk / "wav48" / speaker / f"{utt}.wav")
        (vctk / "txt" / speaker).mkdir(parents=True)
        (vctk / "txt" / speaker / f"{utt}.txt").write_text(f"Text of {utt}.")
    (vctk / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION\n225  23  F  English  Southern England\n")
    out = tmp_path / "out"
    assert main(["import", str(release), "--out", str(out), "--metadata", f"vctk:{vctk}"]) == 0
    assert "Load it with:" in capsys.readouterr().out
    rows = {r["id"]: r for r in rows_of(out)}
    assert set(rows) == {f"{c}+{u}" for c in ("genuine", ENCODEC) for u in ("p225_273", "p295_144")}
    assert rows[f"{ENCODEC}+p225_273"]["text"] == "Text of p225_273."
    assert (rows["genuine+p225_273"]["gender"], rows["genuine+p295_144"]["gender"]) == ("F", "")
    assert not (out / ".codecfake" / "tmp").exists()  # staging cleaned after a finished run



def test_build_leaves_only_its_plan_and_lock_and_keeps_the_callers_progress_bar_setting(tmp_path, demo_dir,
                                                                                      codec_fixture):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", per_speaker=1)
    out = tmp_path / "out"
    datasets.disable_progress_bars()
    try:
        build(config_for(source, out, ENCODEC), codec_factory=TinyCodecs(codec_fixture), progress=False)
        assert not datasets.utils.logging.is_progress_bar_enabled()  # the build used to turn them back on
    finally:
        datasets.enable_progress_bars()
    # No `datasets` staging (`*.incomplete`), cache or lock files: the plan, the shards' records, the lock.
    assert sorted(p.name for p in (out / ".codecfake").iterdir()) == ["lock", "plan.json", "shards"]
    assert sorted(p.name for p in out.iterdir()) == [".codecfake", "README.md", "data", "examples"]  # + the card's


def test_codecfake_builder_is_the_datasets_face_of_a_shard(tmp_path, demo_dir):
    """`CodecFakeBuilder(...).download_and_prepare()` gives the rows `build` writes, typed by the schema."""
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", per_speaker=1)
    corpus = open_source(f"vctk:{source}")
    plan = Plan(kind="build", identity={}, shard_size=2,
                records={ALL_PARTS: Plan.split_records(corpus.records(), SpeakerSplit.paper(), None)})
    builder = CodecFakeBuilder(plan=plan, rows=PartRows(corpus=corpus, genuine_sample_rate=16000),
                               cache_dir=str(tmp_path / "cache"), config_name="genuine-test-00000",
                               part="genuine", split="test", shard=0)
    builder.download_and_prepare(str(tmp_path / "prepared"), file_format="parquet")
    files = sorted((tmp_path / "prepared").glob("*.parquet"))
    written = tmp_path / "shard.parquet"
    assert write_shard(PartRows(corpus=corpus, genuine_sample_rate=16000).rows(
        plan.shard_records("genuine", "test", 0), "genuine"), written) == 2
    theirs, ours = pq.read_table(files[0]), pq.read_table(written)
    assert theirs.schema.metadata[b"huggingface"] == ours.schema.metadata[b"huggingface"]
    assert theirs.to_pylist() == ours.to_pylist() and ours.column("id").to_pylist() == [
        "genuine+p227_001", "genuine+p228_001"]
    assert datasets.Features.from_arrow_schema(ours.schema) == FEATURES


def test_write_shard_replaces_atomically_and_leaves_nothing_on_failure(tmp_path):
    record = Record("p225_001", "p225")
    pcm = np.zeros(160, dtype=np.int16)
    path = tmp_path / "data" / "genuine" / "train-00000-of-00001.parquet"
    staging = tmp_path / "staging"

    def rows(fail: bool):
        yield make_row(record, "genuine", pcm, 16000)
        if fail:
            raise KeyboardInterrupt  # a run stopped mid-shard

    with pytest.raises(KeyboardInterrupt):
        write_shard(rows(True), path, tmp_dir=staging)
    assert not path.exists() and list(staging.iterdir()) == []
    assert write_shard(rows(False), path, tmp_dir=staging) == 1 and list(staging.iterdir()) == []
    assert pq.read_table(path).column("id").to_pylist() == ["genuine+p225_001"]


def test_cli_reads_both_flag_spellings_into_the_request_and_shows_library_arguments_as_flags():
    from builder.__main__ import as_flags, parse

    underscored = parse("build", ["--source", "vctk:x", "--out", "o", "--split_file", "s.txt", "--random_weights",
                                  "--genuine_sample_rate", "0", "--mic", "mic2"])
    dashed = parse("build", ["--source", "vctk:x", "--out", "o", "--split-file", "s.txt", "--random-weights",
                             "--genuine-sample-rate", "0", "--mic", "mic2"])
    assert underscored == dashed == BuildRequest(source="vctk:x", out="o", split_file="s.txt", random_weights=True,
                                                 genuine_sample_rate=None, mic="mic2")
    assert parse("import", ["release", "--out", "o"]).path == "release"  # `import PATH`, as before
    assert parse("push", ["folder", "--repo", "a/b"]).folder == "folder"
    message = "weights unreachable: pass `random_weights=True`, a smaller `limit=2`, or another `out`; `cuda` is off"
    assert as_flags(message, BuildRequest) == (
        "weights unreachable: pass `--random_weights`, a smaller `--limit 2`, or another `--out`; `cuda` is off")


def test_a_codec_whose_hub_config_is_broken_is_reported_and_the_others_are_written(tmp_path, demo_dir,
                                                                                    codec_fixture, fake_hub):
    """The official loading path (offline Hub cache): one FunCodec repository's config.yaml has an option
    the family does not know; that codec is reported by name and file, the other is written."""
    from test_funcodec import hub_files as funcodec_hub_files

    broken, good = "funcodec-funcodec_en_libritts-16k-nq32ds320", "funcodec-funcodec_en_libritts-16k-nq32ds640"
    config = codec_fixture(broken).tiny_config
    config = {**config, "encoder_conf": {**config["encoder_conf"], "upsample_kernel": 3}}
    fake_hub.add(codecs.spec(broken).hub_repo, funcodec_hub_files(codec_fixture(broken), config=config))
    fake_hub.add(codecs.spec(good).hub_repo, funcodec_hub_files(codec_fixture(good)))
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", per_speaker=1)
    report = build(config_for(source, tmp_path / "out", f"{broken},{good}"), progress=False)
    assert report.complete == ["genuine", good] and list(report.failed) == [broken]
    message = report.failed[broken]
    assert "upsample_kernel" in message and codecs.spec(broken).hub_repo in message and "config.yaml" in message
    assert {row["codec"] for row in rows_of(tmp_path / "out")} == {"genuine", good}


def test_the_source_is_read_once_and_each_codec_resynthesises_exactly_its_genuine_row(tmp_path, demo_dir,
                                                                                     codec_fixture):
    """N + 1 parts, one read of each source file: the codecs' input is decoded from the genuine rows."""
    from codecfake_hf.audio import resample, to_pcm16
    from codecfake_hf.resynth import Utterance, resynthesize_stream

    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    corpus = open_source(f"vctk:{source}")
    reads = Counter()
    original = corpus.read

    def counted(record):
        reads[record.utterance_id] += 1
        return original(record)

    corpus.read = counted
    built: dict = {}
    tiny = TinyCodecs(codec_fixture)

    def factory(name, device, random_weights):
        built[name] = tiny(name, device, random_weights)
        return built[name]

    out = tmp_path / "out"
    # `matched`: every codec takes its genuine row. (Under `paper`, VCTK's default, a codec at another rate
    # than the genuine rows reads the 48 kHz source instead: tests/test_recipe.py.)
    build(config_for(source, out, f"{ENCODEC},{DAC}", shard_size=3, recipe="matched"), codec_factory=factory,
          corpus=corpus, progress=False)
    assert len(reads) == 6 and set(reads.values()) == {1}
    # Each fake shard is the engine's output (sequential, same batches) on its genuine shard's rows.
    for name in (ENCODEC, DAC):
        for fake_shard in sorted(out.glob(f"data/{name}/*.parquet")):
            genuine = pq.read_table(out / "data" / "genuine" / fake_shard.name, columns=["utterance_id", "audio"])
            utts = [Utterance(r["utterance_id"], data=r["audio"]["bytes"]) for r in genuine.to_pylist()]
            expected = [r.flac for r in resynthesize_stream(built[name], utts, workers=0, flac=True, progress=False)]
            fakes = pq.read_table(fake_shard, columns=["audio"]).column(0).to_pylist()
            assert [f["bytes"] for f in fakes] == expected
    # ...and a genuine row is its source file read once, resampled to 16 kHz and quantised.
    row = pq.read_table(out / "data" / "genuine" / "test-00000-of-00001.parquet").to_pylist()[0]
    pcm, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
    read, read_rate = original(next(r for r in corpus.records() if r.utterance_id == row["utterance_id"]))
    assert rate == 16000 and (to_pcm16(resample(read, read_rate, 16000), clamp=1.0) == pcm).all()
