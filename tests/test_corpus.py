"""Corpus sources (VCTK 0.92/0.80, audio folder, Hub dataset, release folder) and speaker-disjoint splits.

The VCTK-shaped trees are made here from the real VCTK clips of `../shared/data/codecfake-demo/`
(cut to 1 s, written under the speakers of every split of the paper); `test_builder.py` reuses them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecfake_hf.audio import read_audio, resample
from codecfake_hf.corpus import VCTK, AudioFolder, CorpusError, HubDataset, open_source
from codecfake_hf.splits import PAPER_SPLIT, SpeakerSplit, SplitError

CLIPS = ("p225_273", "p295_144", "p318_114")
# Two utterances per speaker: p225 and p230 train, p226/p229 validation, p227/p228 test (the paper's split).
SPEAKERS = {
    "p225": (23, "F", "English", "Southern England"),
    "p226": (22, "M", "English", "Surrey"),
    "p227": (38, "M", "English", "Cumbria"),
    "p228": (22, "F", "English", "Southern England"),
    "p229": (23, "F", "English", "Southern England"),
    "p230": (22, "F", "English", "Stockton-on-tees"),
}
PER_SPEAKER = 2
SECONDS = 1.0


def clip(demo_dir: Path, k: int, seconds: float = SECONDS) -> tuple[np.ndarray, int]:
    """The k-th real VCTK clip (cycling over the three), cut to `seconds` from 0.5 s in."""
    wave, rate = read_audio(demo_dir / f"genuine+{CLIPS[k % len(CLIPS)]}.wav")
    start = int(0.5 * rate)
    return wave[start:start + int(seconds * rate)], rate


def make_vctk_tree(root: Path, demo_dir: Path, layout: str = "0.92", speakers: dict = SPEAKERS,
                   per_speaker: int = PER_SPEAKER, seconds: float = SECONDS) -> Path:
    """A VCTK-shaped tree at 48 kHz: audio, `txt/` (p228's second transcript missing), `speaker-info.txt`."""
    root.mkdir(parents=True, exist_ok=True)
    k = 0
    for speaker in speakers:
        for n in range(1, per_speaker + 1):
            wave, rate = clip(demo_dir, k)
            wave48 = resample(wave, rate, 48000)
            utt = f"{speaker}_{n:03d}"
            if layout == "0.92":
                folder = root / "wav48_silence_trimmed" / speaker
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / f"{utt}_mic1.flac", wave48, 48000, subtype="PCM_16")
                sf.write(folder / f"{utt}_mic2.flac", 0.5 * wave48, 48000, subtype="PCM_16")
            else:
                folder = root / "wav48" / speaker
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / f"{utt}.wav", wave48, 48000, subtype="PCM_16")
            if not (speaker == "p228" and n == 2):
                (root / "txt" / speaker).mkdir(parents=True, exist_ok=True)
                (root / "txt" / speaker / f"{utt}.txt").write_text(f"Sentence {n} of {speaker}.\n")
            k += 1
    if layout == "0.92":
        header = "ID  AGE  GENDER  ACCENTS  REGION COMMENTS"
        rows = [f"{s}  {a}  {g}    {acc}  {reg}" + ("  (test comment)" if s == "p225" else "")
                for s, (a, g, acc, reg) in speakers.items()]
    else:  # 0.80 writes the IDs without their `p`
        header = "ID  AGE  GENDER  ACCENTS  REGION"
        rows = [f"{s[1:]}  {a}  {g}    {acc}  {reg}" for s, (a, g, acc, reg) in speakers.items()]
    (root / "speaker-info.txt").write_text("\n".join([header, *rows]) + "\n")
    return root


@pytest.fixture(params=["0.92", "0.80"])
def vctk_tree(request, tmp_path, demo_dir) -> Path:
    return make_vctk_tree(tmp_path / f"VCTK-{request.param}", demo_dir, request.param)


def test_vctk_both_layouts_rows_transcripts_and_speaker_metadata(vctk_tree):
    corpus = open_source(f"vctk:{vctk_tree}")
    assert isinstance(corpus, VCTK) and corpus.layout == vctk_tree.name.split("-")[1]
    records = corpus.records()
    assert [r.utterance_id for r in records] == [f"{s}_{n:03d}" for s in SPEAKERS for n in (1, 2)]
    by_id = {r.utterance_id: r for r in records}
    assert by_id["p226_001"].text == "Sentence 1 of p226."
    assert by_id["p228_002"].text == ""  # no transcript: empty text, not a crash
    p225 = by_id["p225_001"]
    assert (p225.speaker_id, p225.age, p225.gender, p225.accent, p225.region) == (
        "p225", 23, "F", "English", "Southern England")  # 0.92's "(comment)" column is dropped
    wave, rate = corpus.read(p225)
    assert rate == 48000 and abs(wave.shape[0] - 48000) <= 1


def test_vctk_092_mic2_is_chosen_on_request(tmp_path, demo_dir):
    root = make_vctk_tree(tmp_path / "v", demo_dir, "0.92", speakers={"p225": SPEAKERS["p225"]}, per_speaker=1)
    mic1, mic2 = (VCTK(root, mic=m).records()[0] for m in ("mic1", "mic2"))
    assert mic1.path.endswith("_mic1.flac") and mic2.path.endswith("_mic2.flac")
    assert mic1.utterance_id == mic2.utterance_id == "p225_001"
    with pytest.raises(CorpusError, match="`mic` must be one of mic1, mic2, got 'mic3'"):
        VCTK(root, mic="mic3")


def test_vctk_bad_folders_name_what_was_expected(tmp_path):
    with pytest.raises(CorpusError, match="no such folder"):
        open_source(f"vctk:{tmp_path / 'missing'}")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "clips").mkdir()
    with pytest.raises(CorpusError, match=r"not a VCTK folder: expected `wav48_silence_trimmed/` \(VCTK 0.92\) or "
                                          r"`wav48/` \(VCTK 0.80\).*found \['clips'\].*folder:PATH"):
        open_source(f"vctk:{tmp_path / 'other'}")
    with pytest.raises(CorpusError, match="not one of vctk:, folder:, hf:, builtin:"):
        open_source("nowhere:at/all")


def test_audio_folder_speakers_from_subfolders_or_a_pattern(tmp_path, demo_dir):
    wave, rate = clip(demo_dir, 0, 0.3)
    for rel in ("alice/a1.wav", "alice/a2.flac", "bob/b1.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / rel, wave, rate)
    (tmp_path / "alice" / "a1.txt").write_text("hello there\n")
    (tmp_path / "notes.md").write_text("not audio")
    records = open_source(f"folder:{tmp_path}").records()
    assert [(r.utterance_id, r.speaker_id, r.text) for r in records] == [
        ("a1", "alice", "hello there"), ("a2", "alice", ""), ("b1", "bob", "")]
    patterned = AudioFolder(tmp_path, speaker_pattern=r"/(?P<speaker>[a-z])\d").records()
    assert [r.speaker_id for r in patterned] == ["a", "a", "b"]
    with pytest.raises(CorpusError, match="does not match 'alice/a1.wav'"):
        AudioFolder(tmp_path, speaker_pattern=r"zzz(\d)").records()
    # A bare path that is not VCTK is read as a folder of audio.
    assert isinstance(open_source(str(tmp_path)), AudioFolder)


def make_hub_dataset(root: Path, demo_dir: Path, seconds: float = 0.3) -> Path:
    """A local dataset folder in the Hub's Parquet layout (what `hf:ID` loads), three rows, two speakers."""
    import datasets

    wave, rate = clip(demo_dir, 1, seconds)
    paths = []
    for i in range(3):
        path = root / "wav" / f"utt{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave * (i + 1) / 3, rate)
        paths.append(str(path))
    table = datasets.Dataset.from_dict(
        {"audio": paths, "speaker_id": ["s1", "s1", "s2"], "sentence": ["a", "b", "c"], "id": ["x", "y", "z"]}
    ).cast_column("audio", datasets.Audio())
    (root / "hubset" / "data").mkdir(parents=True)
    table.to_parquet(str(root / "hubset" / "data" / "train-00000-of-00001.parquet"))
    return root / "hubset"


def test_hub_dataset_source_finds_audio_speaker_and_text_columns(tmp_path, demo_dir):
    make_hub_dataset(tmp_path, demo_dir)
    wave, rate = clip(demo_dir, 1, 0.3)
    corpus = open_source(f"hf:{tmp_path / 'hubset'}")
    assert isinstance(corpus, HubDataset) and corpus.audio_column == "audio"
    records = corpus.records()
    assert [(r.utterance_id, r.speaker_id, r.text) for r in records] == [("x", "s1", "a"), ("y", "s1", "b"),
                                                                         ("z", "s2", "c")]
    got, got_rate = corpus.read(records[2])
    assert got_rate == rate and np.allclose(got, wave, atol=1e-4)
    with pytest.raises(CorpusError, match="`audio_column` 'sound' is not a column"):
        HubDataset(str(tmp_path / "hubset"), audio_column="sound")
    with pytest.raises(CorpusError, match="could not be loaded"):
        open_source(f"hf:{tmp_path / 'no-such-dataset'}")


def test_paper_split_is_the_default():
    split = SpeakerSplit.paper()
    assert {s: split.split_of(s) for s in ("p225", "p226", "p227", "p228", "p229", "p376")} == {
        "p225": "train", "p226": "validation", "p227": "test", "p228": "test", "p229": "validation",
        "p376": "train"}
    assert split.group(["p229", "p225", "p227", "p226"]) == {
        "train": ["p225"], "validation": ["p226", "p229"], "test": ["p227"]}
    assert PAPER_SPLIT == {"p226": "validation", "p229": "validation", "p227": "test", "p228": "test"}


def test_split_files_text_and_json(tmp_path):
    text = tmp_path / "split.txt"
    text.write_text("# speaker split\np225 test\np226, validation\n* holdout\n")
    split = SpeakerSplit.from_file(text)
    assert (split.split_of("p225"), split.split_of("p226"), split.split_of("p300")) == ("test", "validation",
                                                                                        "holdout")
    grouped = tmp_path / "split.json"
    grouped.write_text(json.dumps({"test": ["p225"], "train": ["p226", "p227"]}))
    assert SpeakerSplit.from_file(grouped).split_of("p225") == "test"
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"p225": "validation"}))
    assert SpeakerSplit.from_file(flat).split_of("p225") == "validation"


def test_split_file_with_a_shared_speaker_is_refused(tmp_path):
    text = tmp_path / "split.txt"
    text.write_text("p225 train\np226 test\np225 test\n")
    with pytest.raises(SplitError, match="puts speaker 'p225' in both 'train' and 'test'; splits must be "
                                         "speaker-disjoint"):
        SpeakerSplit.from_file(text)
    grouped = tmp_path / "split.json"
    grouped.write_text(json.dumps({"test": ["p225"], "validation": ["p225"]}))
    with pytest.raises(SplitError, match="speaker 'p225' in both"):
        SpeakerSplit.from_file(grouped)
    bad = tmp_path / "bad.txt"
    bad.write_text("p225 my-split\n")
    with pytest.raises(SplitError, match="'my-split'.*not a valid `datasets` split name"):
        SpeakerSplit.from_file(bad)
    with pytest.raises(SplitError, match="no such file"):
        SpeakerSplit.from_file(tmp_path / "missing.txt")
