"""`--recipe paper`: each shard's source audio is read once for every codec fed the source (builder.source_cache),
and the rows are the same bytes as when every codec reads the source itself."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from test_builder import TinyCodecs, config_for
from test_corpus import make_vctk_tree

from builder import build
from builder.build import BuildRun
from builder.source_cache import SourceCache
from codecfake_hf.corpus import Record
from codecfake_hf.corpus.base import Corpus
from codecfake_hf.errors import AudioError

# Three codecs the paper recipe feeds the 48 kHz source (none at the genuine rows' 16 kHz).
FED = "encodec_24khz,descript-audio-codec-24khz,descript-audio-codec-44khz"


@pytest.fixture(scope="module")
def vctk48(tmp_path_factory, demo_dir):
    return make_vctk_tree(tmp_path_factory.mktemp("cache") / "VCTK", demo_dir, "0.92", per_speaker=1, seconds=0.5)


def counted_build(monkeypatch, source, out, codec_fixture) -> Counter:
    """Build the three codecs under `paper`; how many times each utterance's source file was read."""
    reads: Counter = Counter()
    original = Corpus.read

    def read(self, record):
        reads[record.utterance_id] += 1
        return original(self, record)

    monkeypatch.setattr(Corpus, "read", read)
    report = build(config_for(source, out, FED, recipe="paper", shard_size=4), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert sorted(report.complete) == sorted(["genuine", *FED.split(",")]) and not report.skipped
    monkeypatch.setattr(Corpus, "read", original)
    return reads


def test_paper_recipe_reads_each_source_file_once_for_every_codec_and_writes_the_same_bytes(
        tmp_path, monkeypatch, vctk48, codec_fixture):
    cached = counted_build(monkeypatch, vctk48, tmp_path / "cached", codec_fixture)
    # Once for the genuine row, once more for the three codecs together.
    assert len(cached) == 6 and set(cached.values()) == {2}
    assert not (tmp_path / "cached" / ".codecfake" / "tmp").exists()  # the cache lives for one run

    monkeypatch.setattr(BuildRun, "shared_source", lambda self, parts: None)  # every codec reads the source itself
    uncached = counted_build(monkeypatch, vctk48, tmp_path / "uncached", codec_fixture)
    assert set(uncached.values()) == {1 + 3}

    files = sorted(p.relative_to(tmp_path / "cached") for p in (tmp_path / "cached").glob("data/*/*.parquet"))
    assert len(files) == 4 * 3  # four parts, one shard in each of three splits
    for name in files:
        assert (tmp_path / "cached" / name).read_bytes() == (tmp_path / "uncached" / name).read_bytes(), name


def test_a_single_fed_codec_writes_no_cache(tmp_path, monkeypatch, vctk48, codec_fixture):
    made = []
    monkeypatch.setattr(SourceCache, "_fill", lambda self, *a: made.append(a) or iter(()))
    build(config_for(vctk48, tmp_path / "one", "encodec_24khz,descript-audio-codec-16khz", recipe="paper",
                     limit=1), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert made == []  # the 16 kHz codec is fed the genuine rows: one codec reads the source, nothing to share


def test_the_cache_gives_back_the_arrays_read_and_their_errors(tmp_path):
    rng = np.random.default_rng(0)
    pcm16 = (rng.integers(-32768, 32767, 800) / 32768).astype(np.float32)  # a 16-bit file's samples
    pcm24 = (rng.integers(-2**23, 2**23, 800) / 2**23).astype(np.float32)  # a 24-bit file's: kept as float32
    audio = {"a": (pcm16, 48000), "b": AudioError("b.flac: not a FLAC file"), "c": (pcm24, 44100)}
    records = [Record(utterance_id=u, speaker_id="s", path=f"{u}.flac") for u in audio]
    reads = Counter()

    def read(record):
        reads[record.utterance_id] += 1
        if isinstance(audio[record.utterance_id], AudioError):
            raise audio[record.utterance_id]
        return audio[record.utterance_id]

    cache = SourceCache(tmp_path / ".codecfake" / "tmp", within=tmp_path)
    shard = tmp_path / "data" / "genuine" / "train-00000-of-00001.parquet"
    for _ in range(3):
        got = list(cache.items(records, shard, read))
        assert [r.utterance_id for r, _ in got] == ["a", "b", "c"]
        assert isinstance(got[1][1], AudioError) and str(got[1][1]) == "b.flac: not a FLAC file"
        for (_, result), key in zip([got[0], got[2]], ["a", "c"], strict=True):
            wave, rate = result
            assert wave.dtype == np.float32 and rate == audio[key][1] and np.array_equal(wave, audio[key][0])
    assert reads == Counter({"a": 1, "b": 1, "c": 1})
    assert cache.path(shard).name == "train-00000-of-00001.npz"
    # 16-bit-exact audio is stored as int16: half the bytes of float32.
    with np.load(cache.path(shard)) as stored:
        assert stored["w0"].dtype == np.int16 and stored["w2"].dtype == np.float32
    # A cache of other utterances (another plan) is not used: the source is read again.
    other = [Record(utterance_id="z", speaker_id="s", path="z.flac")]
    audio["z"] = (pcm16[:10], 16000)
    assert [r.utterance_id for r, _ in cache.items(other, shard, read)] == ["z"] and reads["z"] == 1


def test_a_cache_left_unfinished_is_not_kept(tmp_path):
    records = [Record(utterance_id=u, speaker_id="s", path=f"{u}.flac") for u in "ab"]
    cache = SourceCache(tmp_path / "tmp", within=tmp_path)
    shard = tmp_path / "train-00000-of-00001.parquet"
    items = cache.items(records, shard, lambda r: (np.zeros(10, np.float32), 16000))
    next(items)
    items.close()  # the codec's engine stopped after the first utterance
    assert not cache.path(shard).exists() and list((tmp_path / "tmp" / "source").iterdir()) == []
