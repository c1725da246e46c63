"""Multilingual sources: AISHELL-3 (Mandarin), MLS as a Hub dataset, mixed sources, the `language` column,
speaker-disjoint splits drawn per language, and the card's languages from the data.

The AISHELL-3 tree is made here in the layout OpenSLR 93 documents (`train/wav/<SPK>/<SPK><NNNN>.wav`,
`<subset>/content.txt` with hanzi and pinyin in turn, `spk-info.txt` with `#` comments, age group, gender,
accent), from the real VCTK clips of the shared demo set at AISHELL-3's 44.1 kHz; the MLS folder in the layout of
facebook/multilingual_librispeech (one folder per language config, splits train/dev/test and the 9_hours subset of
train, columns `speaker_id` and `transcript`).
"""

from __future__ import annotations

import io
import json

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml
from test_builder import ENCODEC, TinyCodecs, front_matter
from test_corpus import clip, make_vctk_tree

from builder import BuildRequest, build
from builder.plan import Plan, PlanMismatchError
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.corpus import AISHELL3, CorpusError, HubDataset, MixedSources, open_source
from codecfake_hf.schema import FEATURES
from codecfake_hf.splits import SpeakerSplit

# speaker -> (subset, age group, gender, accent, [(hanzi, pinyin) per utterance])
AISHELL_SPEAKERS = {
    "SSB0005": ("train", "B", "female", "north", [("广州", "guang3 zhou1"), ("女大学生", "nv3 da4 xue2 sheng1")]),
    "SSB0009": ("train", "C", "male", "south", [("登山", "deng1 shan1")]),
    "SSB0011": ("train", "B", "female", "others", [("失联", "shi1 lian2")]),
    "SSB1831": ("test", "D", "male", "north", [("四天", "si4 tian1")]),
}
AISHELL_RATE = 44_100


def make_aishell3_tree(root, demo_dir, seconds: float = 0.5):
    """An AISHELL-3-shaped folder (see the module's docstring): 16-bit WAV at 44.1 kHz."""
    contents: dict[str, list[str]] = {"train": [], "test": []}
    k = 0
    for speaker, (subset, *_, utterances) in AISHELL_SPEAKERS.items():
        folder = root / subset / "wav" / speaker
        folder.mkdir(parents=True, exist_ok=True)
        for n, (hanzi, pinyin) in enumerate(utterances, 1):
            wave, rate = clip(demo_dir, k, seconds)
            sf.write(folder / f"{speaker}{n:04d}.wav", resample(wave, rate, AISHELL_RATE), AISHELL_RATE,
                     subtype="PCM_16")
            tokens = " ".join(f"{h} {p}" for h, p in zip(hanzi, pinyin.split(), strict=True))
            contents[subset].append(f"{speaker}{n:04d}.wav\t{tokens}")
            k += 1
    for subset, lines in contents.items():
        (root / subset / "content.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = ["# AISHELL-3 Speaker Info", "# Speaker ID\tAge Group\tGender\tAccent"]
    info += [f"{s}\t{g}\t{sex}\t{acc}" for s, (_, g, sex, acc, _) in AISHELL_SPEAKERS.items()]
    (root / "spk-info.txt").write_text("\n".join(info) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def aishell(tmp_path_factory, demo_dir):
    return make_aishell3_tree(tmp_path_factory.mktemp("aishell") / "data_aishell3", demo_dir)


def test_aishell3_reader_reads_both_subsets_hanzi_transcripts_and_speaker_info(aishell, tmp_path):
    corpus = open_source(f"aishell3:{aishell}")
    assert isinstance(corpus, AISHELL3) and corpus.spec == f"aishell3:{aishell.resolve()}"
    records = corpus.records()
    assert [(r.utterance_id, r.speaker_id, r.text) for r in records] == [
        ("SSB00050001", "SSB0005", "广州"), ("SSB00050002", "SSB0005", "女大学生"), ("SSB00090001", "SSB0009", "登山"),
        ("SSB00110001", "SSB0011", "失联"), ("SSB18310001", "SSB1831", "四天")]
    assert {r.language for r in records} == {"zh"}
    first, last = records[0], records[-1]
    assert (first.gender, first.accent, first.age) == ("F", "north", None)  # an age group is not years
    assert (last.gender, last.accent, last.path) == ("M", "north", str(aishell / "test/wav/SSB1831/SSB18310001.wav"))
    wave, rate = corpus.read(last)
    assert rate == AISHELL_RATE and np.array_equal(wave, read_audio(last.path)[0])
    with pytest.raises(CorpusError, match="is not an AISHELL-3 folder: expected `train/wav/<SPK>/`"):
        AISHELL3(tmp_path)
    with pytest.raises(CorpusError, match="no such folder"):
        open_source(f"aishell3:{tmp_path / 'missing'}")


def test_aishell3_misplaced_file_is_reported(tmp_path, demo_dir):
    """A file in another speaker's folder is reported and left out, not given a second speaker."""
    root = make_aishell3_tree(tmp_path / "a3", demo_dir, 0.2)
    (root / "train/wav/SSB0005/SSB00050002.wav").rename(root / "train/wav/SSB0009/SSB00050002.wav")
    corpus = AISHELL3(root)
    ids = [r.utterance_id for r in corpus.records()]
    assert "SSB00050002" not in ids and len(ids) == 4
    assert any("misplaced: a file of speaker SSB0005 in SSB0009/" in line for line in corpus.skipped)


def make_mls(root, demo_dir):
    """A local folder in facebook/multilingual_librispeech's layout: configs `german` and `french`, each with
    train/dev/test and `9_hours` (two of train's rows again), the Hub's column names."""
    configs = []
    k = 0
    for config, speakers in (("german", ["1844", "2146", "3325"]), ("french", ["5232", "7032", "9121"])):
        rows = {"train": [], "dev": [], "test": []}
        for i, speaker in enumerate(speakers):
            split = ("train", "dev", "test")[i]
            for n in range(2 if split == "train" else 1):
                wave, rate = clip(demo_dir, k, 0.3)
                path = root / "wav" / f"{config}_{speaker}_{n}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, wave, rate, subtype="PCM_16")
                # The audio's bytes in the Parquet file, as the Hub's shards hold them.
                rows[split].append({"audio": {"bytes": path.read_bytes(), "path": path.name},
                                    "original_path": f"{speaker}.flac", "begin_time": 0.0,
                                    "end_time": 0.3, "transcript": f"{config} satz {k}", "audio_duration": 0.3,
                                    "speaker_id": speaker, "chapter_id": "100", "file": f"{speaker}_100_{n:06d}.opus",
                                    "id": f"{speaker}_100_{n:06d}"})
                k += 1
        rows["9_hours"] = rows["train"][:2]
        files = []
        for split, items in rows.items():
            table = datasets.Dataset.from_list(items).cast_column("audio", datasets.Audio())
            (root / "mls" / config).mkdir(parents=True, exist_ok=True)
            table.to_parquet(str(root / "mls" / config / f"{split}-00000-of-00001.parquet"))
            files.append({"split": split, "path": f"{config}/{split}-*"})
        configs.append({"config_name": config, "data_files": files})
    (root / "mls" / "README.md").write_text(f"---\n{yaml.safe_dump({'configs': configs})}---\n# MLS (test copy)\n")
    return root / "mls"


@pytest.fixture(scope="module")
def mls(tmp_path_factory, demo_dir):
    return make_mls(tmp_path_factory.mktemp("mls"), demo_dir)


def test_mls_config_gives_the_language_and_its_columns_map_without_the_9_hour_subset_twice(mls, tmp_path,
                                                                                          monkeypatch):
    # A cache of its own: `datasets` keys a local folder's cache by its files, which other test runs share.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    corpus = open_source(f"hf:{mls}:german")
    assert isinstance(corpus, HubDataset) and corpus.speaker_column == "speaker_id"
    records = corpus.records()
    # train (2 rows of 1844), dev (2146), test (3325); 9_hours repeats train's rows and is not read again
    assert sorted((r.utterance_id, r.speaker_id) for r in records) == [
        ("1844_100_000000", "1844"), ("1844_100_000001", "1844"), ("2146_100_000000", "2146"),
        ("3325_100_000000", "3325")]
    assert {r.language for r in records} == {"de"}
    assert sorted(r.text for r in records) == ["german satz 0", "german satz 1", "german satz 2", "german satz 3"]
    # One split named: read as asked, 9_hours included.
    assert len(open_source(f"hf:{mls}:german:9_hours").records()) == 2
    # Two MLS languages as one mixed source.
    mixed = open_source(f"hf:{mls}:german,hf:{mls}:french")
    assert isinstance(mixed, MixedSources)
    got = mixed.records()
    assert sorted({r.language for r in got}) == ["de", "fr"] and len(got) == 8
    french = next(r for r in got if r.language == "fr")
    assert french.source == 1
    wave, rate = mixed.read(french)
    assert rate == 16000 and len(wave) == len(corpus.read(records[0])[0])


def test_a_speaker_in_two_sources_is_refused(mls, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    with pytest.raises(CorpusError, match="speaker '1844' is in two sources of the mixed source"):
        open_source(f"hf:{mls}:german,hf:{mls}:german:train").records()


def test_ratio_split_per_language_puts_every_language_in_every_split():
    groups = {"en": [f"p{i}" for i in range(10)], "zh": [f"SSB{i:04d}" for i in range(5)]}
    split = SpeakerSplit.by_ratio_per_group(groups, (0.6, 0.2, 0.2), seed=1)
    for speakers in groups.values():
        chosen = [split.split_of(s) for s in speakers]
        assert set(chosen) == {"train", "validation", "test"}
    # Within a language, the same as a ratio split of that language alone (same seed).
    alone = SpeakerSplit.by_ratio(groups["zh"], (0.6, 0.2, 0.2), seed=1)
    assert all(split.split_of(s) == alone.split_of(s) for s in groups["zh"])
    # One split per speaker, even for a speaker in two languages: split with the first, left out of the second.
    for seed in range(6):
        both = SpeakerSplit.by_ratio_per_group({"de": ["a", "b", "c", "x"], "fr": ["x", "d", "e", "f"]},
                                               (0.5, 0.25, 0.25), seed=seed)
        de = SpeakerSplit.by_ratio(["a", "b", "c", "x"], (0.5, 0.25, 0.25), seed=seed)
        fr = SpeakerSplit.by_ratio(["d", "e", "f"], (0.5, 0.25, 0.25), seed=seed)
        assert [both.split_of(s) for s in "abcx"] == [de.split_of(s) for s in "abcx"]
        assert [both.split_of(s) for s in "def"] == [fr.split_of(s) for s in "def"]


def test_language_is_a_column_of_the_schema():
    assert FEATURES["language"] == datasets.Value("string")


def shard_rows(out, part="genuine"):
    return [row for path in sorted(out.glob(f"data/{part}/*.parquet"))
            for row in pq.read_table(path, columns=["utterance_id", "speaker_id", "language", "text"]).to_pylist()]


def test_a_mandarin_source_builds_with_a_language_column_and_the_card_says_zh(tmp_path, aishell, codec_fixture):
    out = tmp_path / "zh"
    report = build(BuildRequest(source=f"aishell3:{aishell}", codecs=ENCODEC, out=str(out), device="cpu",
                                shard_size=2), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.complete == ["genuine", ENCODEC]
    rows = shard_rows(out) + shard_rows(out, ENCODEC)
    assert len(rows) == 10 and {row["language"] for row in rows} == {"zh"}
    assert {row["text"] for row in rows} == {"广州", "女大学生", "登山", "失联", "四天"}
    meta = front_matter(out)
    assert meta["language"] == ["zh"] and meta["license"] == "apache-2.0"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Genuine speech: AISHELL-3 (Mandarin); language: `zh`." in card
    assert "| `language` | string |" in card
    loaded = datasets.load_dataset(str(out), ENCODEC, split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.features["language"] == datasets.Value("string") and set(loaded["language"]) == {"zh"}
    # Its rows are the AISHELL-3 files, resampled to the genuine rate.
    row = pq.read_table(next(out.glob("data/genuine/test-*.parquet"))).to_pylist()[0]
    pcm, rate = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
    source, source_rate = read_audio(aishell / "test/wav/SSB1831/SSB18310001.wav")
    assert rate == 16000 and len(pcm) == len(resample(source, source_rate, 16000))


def test_a_mixed_build_lists_both_languages_and_splits_each_language(tmp_path, demo_dir, aishell, codec_fixture):
    vctk = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1, seconds=0.5)
    out = tmp_path / "mixed"
    report = build(BuildRequest(source=f"vctk:{vctk},aishell3:{aishell}", codecs=ENCODEC, out=str(out), device="cpu",
                                shard_size=4), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.complete == ["genuine", ENCODEC] and not report.skipped
    plan = Plan.load(out)
    assert plan.identity["split_rule"] == "ratios 0.8,0.1,0.1 seed 0 per language"
    assert plan.identity["recipe"] == "matched"  # the paper's recipe is VCTK's alone
    rows = shard_rows(out)
    assert len(rows) == 6 + 5
    by_split: dict[str, set[str]] = {}
    for path in out.glob("data/genuine/*.parquet"):
        split = path.name.split("-")[0]
        by_split.setdefault(split, set()).update(pq.read_table(path, columns=["language"]).column(0).to_pylist())
    assert by_split == {"train": {"en", "zh"}, "validation": {"en", "zh"}, "test": {"en", "zh"}}
    languages = {row["utterance_id"]: row["language"] for row in rows}
    assert languages["p225_001"] == "en" and languages["SSB00050001"] == "zh"
    meta = front_matter(out)
    assert meta["language"] == ["en", "zh"]
    assert meta["source_datasets"] == ["CSTR-Edinburgh/vctk"]
    card = " ".join((out / "README.md").read_text(encoding="utf-8").split())
    assert "Genuine speech: VCTK 0.92 (mic1) + AISHELL-3 (Mandarin); languages: `en`, `zh`." in card
    assert "drawn within each language, so that every split holds every language" in card
    assert "| `en` | 4 | 1 | 1 |" in card and "| `zh` | 2 | 1 | 1 |" in card
    # Each speaker in one split (disjoint), each language's speakers split on their own.
    speakers = plan.speakers()
    assert sum(map(len, speakers.values())) == len({s for v in speakers.values() for s in v}) == 10


def test_language_flag_fills_rows_a_source_leaves_without_one(tmp_path, demo_dir, codec_fixture):
    folder = tmp_path / "speech"
    for speaker in ("a", "b", "c"):
        wave, rate = clip(demo_dir, 0, 0.3)
        (folder / speaker).mkdir(parents=True)
        sf.write(folder / speaker / f"{speaker}1.wav", wave, rate, subtype="PCM_16")
    out = tmp_path / "out"
    build(BuildRequest(source=f"folder:{folder}", codecs=ENCODEC, out=str(out), device="cpu", language="de"),
          codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert {row["language"] for row in shard_rows(out)} == {"de"}
    assert front_matter(out)["language"] == ["de"]


def test_a_folder_built_before_the_language_column_is_refused_with_the_reason(tmp_path, demo_dir, codec_fixture):
    vctk = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1, seconds=0.3)
    out = tmp_path / "old"
    request = BuildRequest(source=f"vctk:{vctk}", codecs=ENCODEC, out=str(out), device="cpu", limit=1)
    build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
    plan = json.loads((out / ".codecfake" / "plan.json").read_text())
    for table in plan["records"].values():  # as a plan written before the column: no `language` in its records
        for records in table.values():
            for record in records:
                del record["language"], record["source"]
    (out / ".codecfake" / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(PlanMismatchError, match="was built before rows had a `language` column.*Build into a new"):
        build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)
