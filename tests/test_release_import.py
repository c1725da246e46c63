"""`builder import` of the two public releases as published, from small local mimics written here.

Mimicked from their descriptions (no network here): the Hub-hosted CodecFake (`rogertseng/CodecFake`: Parquet
shards with `audio`, `label` = bonafide/spoofing, `speaker_id`, `codec_name`, one `train` split, a CSV side
file) and CodecFake+ CoRS (audio files plus `CoRS_labels.txt`, lines `Model ClipID QUA AUX DEC Label`).
"""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml

from builder import import_release
from builder.__main__ import main
from builder.release_layouts import detect_layout, scan_cors, scan_hf_parquet
from codecfake_hf.audio import read_audio, resample
from codecfake_hf.corpus import CorpusError

CLIPS = ("p225_273", "p295_144", "p318_114")
# One speaker per split of the paper's split: train, validation, test.
SPEAKERS = {"p225": "train", "p226": "validation", "p227": "test"}


def wav_bytes(wave: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clip(demo_dir, k: int, rate: int, seconds: float = 0.4) -> np.ndarray:
    """A short real utterance at `rate`, already on the 16-bit grid (so an import must keep it exactly)."""
    wave, source_rate = read_audio(demo_dir / f"genuine+{CLIPS[k % 3]}.wav")
    wave = resample(wave[: int(source_rate * seconds)], source_rate, rate)
    return np.round(np.clip(wave, -1, 1 - 2**-15) * 32768) / 32768


def load(out, config, split, tmp_path):
    return datasets.load_dataset(str(out), config, split=split, cache_dir=str(tmp_path / "cache"))


def front_matter(out) -> dict:
    return yaml.safe_load((out / "README.md").read_text().split("---\n")[1])


# --- the Hub-hosted CodecFake -----------------------------------------------------------------------------


@pytest.fixture
def hf_release(tmp_path, demo_dir):
    """Two shards as `datasets` writes them (ClassLabel names in the schema), rows of two codecs and genuine."""
    root = tmp_path / "rogertseng-CodecFake"
    (root / "data").mkdir(parents=True)
    features = datasets.Features({
        "audio": datasets.Audio(), "label": datasets.ClassLabel(names=["bonafide", "spoofing"]),
        "speaker_id": datasets.Value("string"), "codec_name": datasets.Value("string")})
    rows, waves = [], {}
    for k, speaker in enumerate(SPEAKERS):
        utterance = f"{speaker}_{k + 1:03d}"
        for codec, rate in (("genuine", 16_000), ("encodec_24khz", 24_000), ("dac_16khz", 16_000)):
            wave = clip(demo_dir, k, rate)
            waves[(codec, utterance)] = wave
            # The file names inside the audio struct: plain for genuine, `<codec>+<utt>` for fakes (either is read).
            name = f"{utterance}.wav" if codec == "genuine" else f"{codec}+{utterance}.wav"
            rows.append({"audio": {"bytes": wav_bytes(wave, rate), "path": name},
                         "label": 0 if codec == "genuine" else 1, "speaker_id": speaker,
                         "codec_name": "" if codec == "genuine" else codec})
    rows.append(dict(rows[0]))  # a duplicate genuine row: kept once, reported
    half = len(rows) // 2
    for n, chunk in enumerate((rows[:half], rows[half:])):
        datasets.Dataset.from_list(chunk, features=features).to_parquet(
            str(root / "data" / f"train-{n:05d}-of-00002.parquet"))
    (root / "datalist.csv").write_text("file,label\nignored,bonafide\n")
    return root, waves


def test_hf_parquet_release_imports_into_our_schema_and_splits(hf_release, tmp_path):
    root, waves = hf_release
    assert detect_layout(root) == "hf-parquet"
    out = tmp_path / "out"
    report = import_release(root, out, shard_size=2, progress=False)
    assert report.complete == ["genuine", "encodec_24khz", "descript-audio-codec-16khz"]  # alias resolved
    assert len(report.skipped) == 1 and "a second genuine row for p225_001" in report.skipped[0]
    for config, codec in (("encodec_24khz", "encodec_24khz"), ("descript-audio-codec-16khz", "dac_16khz")):
        for speaker, split in SPEAKERS.items():
            rows = load(out, config, split, tmp_path)
            assert sorted(rows["id"]) == sorted([f"genuine+{speaker}_{list(SPEAKERS).index(speaker) + 1:03d}",
                                                 f"{config}+{speaker}_{list(SPEAKERS).index(speaker) + 1:03d}"])
            for row in rows:
                assert row["speaker_id"] == speaker and row["label"] == (row["codec"] != "genuine")
                audio = row["audio"]
                expected = waves[("genuine" if row["codec"] == "genuine" else codec, row["utterance_id"])]
                assert audio["sampling_rate"] == (24_000 if row["codec"] == "encodec_24khz" else 16_000)
                np.testing.assert_array_equal(np.asarray(audio["array"], np.float32), expected.astype(np.float32))
    card = (out / "README.md").read_text()
    assert "rogertseng/CodecFake" in card
    assert front_matter(out)["license"] == "cc-by-4.0"


def test_hf_parquet_shard_without_the_release_columns_is_one_clear_error(tmp_path):
    (tmp_path / "x").mkdir()
    datasets.Dataset.from_dict({"text": ["a"]}).to_parquet(str(tmp_path / "x" / "train.parquet"))
    with pytest.raises(CorpusError, match="no column\\(s\\) audio, label, speaker_id, codec_name"):
        scan_hf_parquet(tmp_path / "x")


# --- CodecFake+ CoRS --------------------------------------------------------------------------------------


@pytest.fixture
def cors_release(tmp_path, demo_dir):
    """The archive's audio, one folder per model (same clip ids in each), and the label file with a header."""
    root = tmp_path / "CoRS"
    lines = ["Model ClipID QUA AUX DEC Label"]
    models = {"VCTK": ("-", "-", "-", "bonafide"), "SpeechTokenizer": ("MVQ", "SD", "Time", "spoof"),
              "WavTokenizer": ("SVQ", "None", "Freq", "spoof"), "FACodec": ("SQ", "Dis", "Freq", "spoof")}
    for k, speaker in enumerate(SPEAKERS):
        utterance = f"{speaker}_{k + 1:03d}"
        for model, (qua, aux, dec, label) in models.items():
            folder = root / model
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{utterance}.wav", clip(demo_dir, k, 16_000), 16_000, subtype="PCM_16")
            lines.append(f"{model} {utterance} {qua} {aux} {dec} {label}")
    lines.append("WavTokenizer p999_001 SVQ None Freq spoof")  # no such file: skipped, said
    (root / "CoRS_labels.txt").write_text("\n".join(lines) + "\n")
    return root


def test_cors_release_imports_with_its_taxonomy(cors_release, tmp_path, capsys):
    assert detect_layout(cors_release) == "cors"
    parts, skipped, taxonomy = scan_cors(cors_release)
    assert sorted(parts) == ["FACodec", "SpeechTokenizer", "WavTokenizer", "genuine"]
    assert taxonomy == {
        "SpeechTokenizer": {"model": "SpeechTokenizer", "quantizer": "MVQ", "auxiliary": "SD", "decoder": "Time"},
        "WavTokenizer": {"model": "WavTokenizer", "quantizer": "SVQ", "auxiliary": "None", "decoder": "Freq"},
        "FACodec": {"model": "FACodec", "quantizer": "SQ", "auxiliary": "Dis", "decoder": "Freq"}}
    assert skipped == ["CoRS_labels.txt:14: p999_001: no audio file of that name"]

    out = tmp_path / "out"
    assert main(["import", str(cors_release), "--out", str(out), "--layout", "cors"]) == 0
    assert "p999_001" in capsys.readouterr().out
    # The registry's codec keeps its name; CodecFake+'s other codec is a config of its own.
    rows = load(out, "WavTokenizer", "test", tmp_path)
    assert sorted(rows["id"]) == ["WavTokenizer+p227_003", "genuine+p227_003"]
    assert set(load(out, "SpeechTokenizer", "train", tmp_path)["speaker_id"]) == {"p225"}
    card = (out / "README.md").read_text()
    assert "CodecFake+" in card and "`WavTokenizer`" in card
    assert "CodecFake+ taxonomy: quantizer SVQ, auxiliary None, decoder Freq" in card
    assert "| single-codebook | none | frequency |" in card

    # Codecs the registry lacks carry the label file's taxonomy as our ClassLabel values, not -1.
    for config, values in (("WavTokenizer", ("single-codebook", "none", "frequency")),
                           ("FACodec", ("scalar", "disentanglement", "frequency"))):
        rows = datasets.concatenate_datasets([load(out, config, split, tmp_path) for split in SPEAKERS.values()])
        names = {key: rows.features[key].names for key in ("quantizer", "auxiliary", "decoder")}
        fakes = rows.filter(lambda row, codec=config: row["codec"] == codec)
        assert len(fakes) == 3
        for key, value in zip(("quantizer", "auxiliary", "decoder"), values, strict=True):
            assert set(fakes[key]) == {names[key].index(value)}
    # The registry's codec keeps the registry's taxonomy.
    speech = load(out, "SpeechTokenizer", "train", tmp_path).filter(lambda row: row["codec"] == "SpeechTokenizer")
    assert min(speech["quantizer"]) >= 0 and min(speech["auxiliary"]) >= 0


def test_release_taxonomy_spellings():
    from codecfake_hf.schema import release_taxonomy, taxonomy_value

    assert release_taxonomy({"quantizer": "MVQ", "auxiliary": "SD", "decoder": "Time"}) == {
        "quantizer": "multi-codebook", "auxiliary": "semantic-distillation", "decoder": "time"}
    assert taxonomy_value("auxiliary", "Disentangle") == "disentanglement"
    # the authors' protocol files' spellings (CodecFake-Source-Tracing metadata/)
    assert release_taxonomy({"auxiliary": "Trad", "decoder": "FREQ", "quantizer": "SQ"}) == {
        "auxiliary": "none", "decoder": "frequency", "quantizer": "scalar"}
    assert taxonomy_value("auxiliary", "SEM") == "semantic-distillation"
    assert taxonomy_value("auxiliary", "Disent") == "disentanglement"
    assert taxonomy_value("quantizer", "single codebook") == "single-codebook"
    assert taxonomy_value("decoder", "-") is None and release_taxonomy({"quantizer": "?"}) == {}


def test_cors_label_file_with_a_bad_line_names_it(cors_release):
    with open(cors_release / "CoRS_labels.txt", "a") as file:
        file.write("WavTokenizer p225_001 SVQ spoof\n")
    with pytest.raises(CorpusError, match=r"CoRS_labels.txt:15: 4 fields, expected 6"):
        scan_cors(cors_release)


# CodecFake+ CoRS in the authors' own protocol format (ResponsibleGenAI/CodecFake-Source-Tracing,
# w2v2_aasist_baseline/metadata/training/train_mult_learn.txt): `speaker ClipID - AUX DEC QUA label`, the ClipID
# `<utterance>_<codec>` as the files of `all_data_16k/` are named; codec names and labels as they stand there.
AUTHORS_LINES = {  # CoRS name -> (AUX, DEC, QUA), from those files
    "DAC24": ("Trad", "TIME", "MVQ"), "audiodec_24k_320d": ("Trad", "FREQ", "MVQ"),
    "xcodec_hubert_libirispeech": ("SEM", "TIME", "MVQ"), "mini": ("SEM", "TIME", "MVQ"),
    "snac_24khz": ("Trad", "TIME", "MVQ"), "vocos_encodec_6": ("Trad", "FREQ", "MVQ"),
    "bigcodec": ("Trad", "TIME", "SVQ"),
}


@pytest.fixture
def cors_authors_release(tmp_path, demo_dir):
    root = tmp_path / "CodecFake+"
    folder = root / "all_data_16k"
    folder.mkdir(parents=True)
    lines = []
    for k, speaker in enumerate(SPEAKERS):
        utterance = f"{speaker}_{k + 1:03d}"
        sf.write(folder / f"{utterance}.wav", clip(demo_dir, k, 16_000), 16_000, subtype="PCM_16")
        lines.append(f"{speaker} {utterance} - REAL REAL REAL bonafide")
        for model, (aux, dec, qua) in AUTHORS_LINES.items():
            # the two spellings of one X-Codec checkpoint, as both occur in the authors' files
            model = "xcodec_hubert_librispeech" if model.startswith("xcodec") and k == 2 else model
            sf.write(folder / f"{utterance}_{model}.wav", clip(demo_dir, k + 1, 16_000), 16_000, subtype="PCM_16")
            lines.append(f"{speaker} {utterance}_{model} - {aux} {dec} {qua} spoof")
    (root / "CoRS_labels.txt").write_text("\n".join(lines) + "\n")
    return root


def test_cors_names_land_in_the_registrys_configs_with_the_releases_labels(cors_authors_release, tmp_path):
    """Each CoRS name the registry knows (an alias, misspellings included) is one part: the registry's config, so
    imported rows and our own builds share a config and a source-tracing class; rows keep the release's labels."""
    parts, skipped, taxonomy = scan_cors(cors_authors_release)
    assert skipped == []
    assert sorted(parts) == sorted([
        "genuine", "descript-audio-codec-24khz", "audiodec_24k_320d", "xcodec-hubert-librispeech-nq1", "mimi-nq8",
        "snac_24khz", "vocos_encodec_24khz_6kbps", "bigcodec"])  # bigcodec: not in this registry, a part of its own
    # `p225_001_DAC24` is the fake of the genuine `p225_001`; both spellings of the X-Codec name are one part
    assert sorted(r.utterance_id for r in parts["descript-audio-codec-24khz"]) == ["p225_001", "p226_002", "p227_003"]
    assert len(parts["xcodec-hubert-librispeech-nq1"]) == 3
    assert taxonomy["audiodec_24k_320d"] == {"model": "audiodec_24k_320d", "quantizer": "MVQ", "auxiliary": "Trad",
                                             "decoder": "FREQ"}

    out = tmp_path / "out"
    assert main(["import", str(cors_authors_release), "--out", str(out), "--layout", "cors"]) == 0
    rows = load(out, "descript-audio-codec-24khz", "train", tmp_path)
    assert sorted(rows["id"]) == ["descript-audio-codec-24khz+p225_001", "genuine+p225_001"]
    every = {config: datasets.concatenate_datasets([load(out, config, split, tmp_path) for split in SPEAKERS.values()])
             for config in ("audiodec_24k_320d", "vocos_encodec_24khz_6kbps", "mimi-nq8")}
    names = {key: every["audiodec_24k_320d"].features[key].names for key in ("quantizer", "auxiliary", "decoder")}

    def labels(config):
        fakes = every[config].filter(lambda row: row["codec"] == config)
        return {key: {names[key][v] for v in fakes[key]} for key in names}

    # AudioDec: the registry says `time`, CodecFake+ `frequency`; the import keeps the release's label
    assert codecs_decoder("audiodec_24k_320d") == "time"
    assert labels("audiodec_24k_320d") == {"quantizer": {"multi-codebook"}, "auxiliary": {"none"},
                                           "decoder": {"frequency"}}
    assert labels("vocos_encodec_24khz_6kbps")["decoder"] == {"frequency"}
    assert labels("mimi-nq8")["auxiliary"] == {"semantic-distillation"}
    card = (out / "README.md").read_text()
    assert "Imported rows keep the release's label: decoder frequency (the registry: time)." in card


def codecs_decoder(name: str) -> str:
    from codecfake_hf import codecs

    return codecs.spec(name).decoder


def test_cors_evaluation_protocol_lines_and_the_authors_typo_are_read(tmp_path, demo_dir):
    """CoRS_ALL.txt's lines carry no taxonomy (`speaker ClipID - - label`), and one of them says `spoofs`."""
    root = tmp_path / "eval"
    root.mkdir()
    sf.write(root / "p227_001.wav", clip(demo_dir, 0, 16_000), 16_000, subtype="PCM_16")
    sf.write(root / "p227_001_vocos_encodec_6.wav", clip(demo_dir, 1, 16_000), 16_000, subtype="PCM_16")
    (root / "CoRS_labels.txt").write_text("p227 p227_001 - - bonafide\np227 p227_001_vocos_encodec_6 - - spoofs\n")
    parts, skipped, taxonomy = scan_cors(root)
    assert {part: [r.utterance_id for r in records] for part, records in parts.items()} == {
        "genuine": ["p227_001"], "vocos_encodec_24khz_6kbps": ["p227_001"]}
    assert taxonomy["vocos_encodec_24khz_6kbps"]["decoder"] == "-"  # no label: the registry's is used
