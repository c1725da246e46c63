"""Streamed `hf:` sources (`StreamedHubDataset`): records from a metadata pass that reads no audio, shards whose
audio is streamed per shard, nothing written to the `datasets` cache, and the same dataset as a non-streamed build.

The source is a local folder in the Hub's layout (Parquet shards under data/, a README whose YAML declares the
config), which `datasets` streams the way it streams a Hub repository's files.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
import soundfile as sf
from test_builder import ENCODEC, TinyCodecs
from test_corpus import clip

from builder import BuildRequest, build
from codecfake_hf.corpus import HubDataset, StreamedHubDataset, open_source

# 4 speakers x 3 utterances, written as 3 Parquet files of 4 rows (a file holds parts of two speakers).
HUB_SPEAKERS = ["s1", "s2", "s3", "s4"]
README = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
# a speech set
"""


def make_hub_layout(root: Path, demo_dir: Path, files: int = 3, first_text: str = "text 0") -> Path:
    """A folder in the Hub's layout: README.md with its configs, data/train-0000K-of-0000N.parquet."""
    paths, speakers, ids, texts = [], [], [], []
    for k, speaker in enumerate(s for s in HUB_SPEAKERS for _ in range(3)):
        wave, rate = clip(demo_dir, k, 0.25 + 0.05 * k)
        path = root / "wav" / f"{speaker}_{k:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, rate, subtype="PCM_16")
        paths.append(str(path))
        speakers.append(speaker)
        ids.append(f"{speaker}_{k:03d}")
        texts.append(f"text {k}" if k else first_text)
    table = datasets.Dataset.from_dict({"audio": paths, "speaker_id": speakers, "id": ids, "text": texts}
                                       ).cast_column("audio", datasets.Audio())
    repo = root / "hubset"
    (repo / "data").mkdir(parents=True)
    rows = len(ids) // files
    for k in range(files):
        table.select(range(k * rows, (k + 1) * rows)).to_parquet(
            str(repo / "data" / f"train-{k:05d}-of-{files:05d}.parquet"))
    (repo / "README.md").write_text(README)
    return repo


@pytest.fixture
def hub_layout(tmp_path, demo_dir) -> Path:
    return make_hub_layout(tmp_path / "source", demo_dir)


def arrow_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.arrow"))


def test_streamed_records_equal_the_loaded_ones_and_read_no_audio(hub_layout, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    decoded = []
    original = datasets.Audio.decode_example
    monkeypatch.setattr(datasets.Audio, "decode_example", lambda self, *a, **k: decoded.append(1) or original(
        self, *a, **k))
    streamed = open_source(f"hf:{hub_layout}", streaming=True)
    assert isinstance(streamed, StreamedHubDataset)
    records = streamed.records()
    assert decoded == []  # the metadata pass decoded no audio
    assert streamed.units == [0, 4, 8]  # three Parquet files of 4 rows: where each unit of the stream starts
    assert arrow_files(tmp_path / "cache") == []
    loaded = HubDataset(str(hub_layout))
    assert records == loaded.records()  # same ids, speakers, texts and row positions
    # a shard's audio: streamed for its records only (units 1 and 2, up to the last row wanted), then freed
    wanted = [records[5], records[9]]
    with streamed.fetched(wanted):
        for record in wanted:
            wave, rate = streamed.read(record)
            expected, expected_rate = loaded.read(record)
            assert rate == expected_rate and np.array_equal(wave, expected)
        assert streamed.rows_streamed == 2 + 2  # rows 4..5 of unit 1, rows 8..9 of unit 2
    with pytest.raises(Exception, match="was not found in the stream"):
        streamed.read(records[5])


def test_streamed_metadata_pass_reads_only_the_metadata_columns_of_parquet(hub_layout, monkeypatch):
    """`datasets`' Parquet reader is asked for the metadata columns only (it passes them to pyarrow's
    `to_batches(columns=)`): the audio column's bytes are never read in that pass."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    asked = []
    original = Parquet._generate_tables
    monkeypatch.setattr(Parquet, "_generate_tables", lambda self, *a, **k: asked.append(self.config.columns)
                        or original(self, *a, **k))
    corpus = open_source(f"hf:{hub_layout}", streaming=True)
    records = corpus.records()
    assert len(asked) == 3 and all(sorted(columns) == ["id", "speaker_id", "text"] for columns in asked), asked
    asked.clear()
    with corpus.fetched(records[:1]):  # the audio pass reads the audio, of the first unit only
        pass
    assert asked == [None]


def build_from(source: Path, out: Path, codec_fixture, *, streaming: bool, cache: Path, monkeypatch, **options):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    request = BuildRequest(source=f"hf:{source}", codecs=ENCODEC, out=str(out), device="cpu", shard_size=3,
                           split_ratios="0.5,0.25,0.25", streaming=streaming, **options)
    return build(request, codec_factory=TinyCodecs(codec_fixture), progress=False)


def folder_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.relative_to(out).parts[0] != ".codecfake"}


@pytest.mark.parametrize("recipe", ["matched", "paper"])
def test_streamed_build_writes_what_a_loaded_build_writes_and_caches_nothing(
        hub_layout, tmp_path, codec_fixture, monkeypatch, recipe):
    streamed = build_from(hub_layout, tmp_path / "streamed", codec_fixture, streaming=True,
                          cache=tmp_path / "cache-streamed", monkeypatch=monkeypatch, recipe=recipe)
    loaded = build_from(hub_layout, tmp_path / "loaded", codec_fixture, streaming=False,
                        cache=tmp_path / "cache-loaded", monkeypatch=monkeypatch, recipe=recipe)
    assert streamed.complete == loaded.complete == ["genuine", ENCODEC] and streamed.skipped == []
    assert arrow_files(tmp_path / "cache-streamed") == []  # nothing of the source stored
    assert arrow_files(tmp_path / "cache-loaded")  # a loaded source is converted to Arrow files: the check bites
    a, b = folder_bytes(tmp_path / "streamed"), folder_bytes(tmp_path / "loaded")
    assert sorted(a) == sorted(b) and len([k for k in a if k.endswith(".parquet")]) >= 8
    assert [k for k in a if a[k] != b[k]] == []  # every shard and the card, byte for byte
    # Same records, same plan: a folder started streamed is resumed by a loaded build with nothing to redo.
    again = build_from(hub_layout, tmp_path / "streamed", codec_fixture, streaming=False,
                       cache=tmp_path / "cache-loaded", monkeypatch=monkeypatch, recipe=recipe)
    assert again.written == 0 and again.kept == len([k for k in a if k.endswith(".parquet")])
