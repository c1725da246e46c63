"""Channel conditions in a build (`builder build --conditions`): one part `<part>@<condition>` per part and condition,
made from the clean shards (the codec runs once), loadable per config, resumable, and the same bytes every time.

Built from a VCTK-shaped tree with the tiny random-weight EnCodec and DAC of tests/test_builder.py; the channels
themselves (bit rate, band limits, delay) are proven in tests/test_channels.py, so these tests show that a stored
condition row *is* `channels.apply(condition, clean row)`, and that the card and configs say what the rows are.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml
from test_builder import DAC, ENCODEC, TinyCodecs, config_for
from test_channels import band_share
from test_corpus import make_vctk_tree
from test_eval import run_cli, tiny_wav2vec2, trainer_flags  # noqa: F401 (fixture)

from builder import build
from builder.__main__ import main
from codecfake_hf import channels
from codecfake_hf.audio import to_pcm16
from codecfake_hf.errors import UnknownConditionError
from codecfake_hf.files import sha256_file

CONDITIONS = ("opus_16k", "g711_mulaw", "mp3_64k")
PARTS = ("genuine", ENCODEC, DAC)


def conditioned(out: Path, **options):
    return config_for(out.parent / "VCTK", out, f"{ENCODEC},{DAC}", conditions=",".join(CONDITIONS), limit=2,
                      random_weights=True, **options)


def audio_of(shard: Path) -> dict[str, bytes]:
    """utterance -> the FLAC bytes of its row."""
    table = pq.read_table(shard, columns=["utterance_id", "audio"]).to_pylist()
    return {row["utterance_id"]: row["audio"]["bytes"] for row in table}


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    wave, rate = sf.read(io.BytesIO(data), dtype="float32")
    return wave, rate


@pytest.fixture(scope="module")
def source(tmp_path_factory, demo_dir) -> Path:
    root = tmp_path_factory.mktemp("conditions")
    make_vctk_tree(root / "VCTK", demo_dir, "0.92")
    return root


@pytest.fixture(scope="module")
def built(source, codec_fixture):
    out = source / "out"
    factory = TinyCodecs(codec_fixture)
    report = build(conditioned(out), codec_factory=factory, progress=False)
    return out, report, factory


def test_every_part_gets_each_condition_made_from_its_clean_rows_with_one_codec_run(built):
    out, report, factory = built
    expected = [f"{part}@{condition}" for part in PARTS for condition in CONDITIONS]
    assert report.failed == {} and report.skipped == []
    assert sorted(report.complete) == sorted([*PARTS, *expected])
    assert factory.built == [ENCODEC, DAC]  # each codec loaded once: no codec run for a condition
    for part in PARTS:
        clean_shards = sorted(p.name for p in (out / "data" / part).iterdir())
        for condition in CONDITIONS:
            folder = out / "data" / f"{part}@{condition}"
            assert sorted(p.name for p in folder.iterdir()) == clean_shards  # the clean part's shards, one for one
            for name in clean_shards:
                clean, channel = audio_of(out / "data" / part / name), audio_of(folder / name)
                assert list(channel) == list(clean)  # the same utterances in the same order
                for utterance, data in clean.items():
                    wave, rate = decoded(data)
                    stored, stored_rate = sf.read(io.BytesIO(channel[utterance]), dtype="int16")
                    # the row is the clean row through the channel: same rate and length, 16-bit, as apply() gives it
                    assert stored_rate == rate and stored.shape == wave.shape
                    np.testing.assert_array_equal(stored, to_pcm16(channels.apply(condition, wave, rate), clamp=1.0))
                    assert not np.array_equal(stored, to_pcm16(wave, clamp=1.0))


def test_a_codec_condition_config_loads_with_its_genuine_rows_under_the_same_channel(built, tmp_path):
    out, _, _ = built
    ds = datasets.load_dataset(str(out), f"{ENCODEC}@opus_16k", split="test", cache_dir=str(tmp_path))
    assert "condition" in ds.column_names and set(ds["condition"]) == {"opus_16k"}
    assert sorted(set(zip(ds["codec"], ds["label"], strict=True))) == [(ENCODEC, 1), ("genuine", 0)]
    assert all(row_id.startswith(f"{codec}@opus_16k+") for row_id, codec in zip(ds["id"], ds["codec"], strict=True))
    for condition in CONDITIONS:  # genuine rows exist under every condition, as their own config too
        genuine = datasets.load_dataset(str(out), f"genuine@{condition}", split="test", cache_dir=str(tmp_path))
        assert len(genuine) == 2 and set(genuine["label"]) == {0} and set(genuine["condition"]) == {condition}
    clean = datasets.load_dataset(str(out), "all", split="test", cache_dir=str(tmp_path))
    assert set(clean["condition"]) == {"clean"} and len(clean) == 6  # `all`: the clean benchmark, as without
    every = datasets.load_dataset(str(out), "all-conditions", split="test", cache_dir=str(tmp_path))
    assert len(every) == 6 * (1 + len(CONDITIONS)) and set(every["condition"]) == {"clean", *CONDITIONS}


def test_g711_rows_are_band_limited_at_4_khz_and_opus_rows_are_opus(built):
    out, _, _ = built
    clean_shares = []
    for part in PARTS:
        for shard in sorted((out / "data" / part).iterdir()):
            for utterance, data in audio_of(shard).items():
                wave, rate = decoded(data)
                clean_shares.append(band_share(wave, rate, 4100))
                telephone, _ = decoded(audio_of(out / "data" / f"{part}@g711_mulaw" / shard.name)[utterance])
                # after mu-law at 8 kHz nothing is left above 4 kHz but the 16-bit floor, at any row's rate
                assert band_share(telephone, rate, 4100) < 1e-5, (part, utterance)
                # Opus at 16 kbit/s: the stored row is libopus's round trip (test_channels proves its bit rate)
                opus, _ = decoded(audio_of(out / "data" / f"{part}@opus_16k" / shard.name)[utterance])
                assert 1e-4 < float(np.mean((opus - wave) ** 2)) / float(np.mean(wave**2)) < 2.0, (part, utterance)
    assert min(clean_shares) > 1e-5 and max(clean_shares) > 2e-3  # the clean rows had energy up there


def test_the_card_names_each_condition_s_encoder_versions_and_parameters(built):
    out, _, _ = built
    text = (out / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in front["configs"]}
    assert configs[f"{ENCODEC}@opus_16k"]["test"] == ["data/genuine@opus_16k/test-*.parquet",
                                                       f"data/{ENCODEC}@opus_16k/test-*.parquet"]
    assert configs["genuine@mp3_64k"]["test"] == ["data/genuine@mp3_64k/test-*.parquet"]
    assert all("@" not in path for paths in configs["all"].values() for path in paths)
    assert len(configs["all-conditions"]["test"]) == len(PARTS) * (1 + len(CONDITIONS))
    section = text.split("## Channel conditions")[1].split("\n## ")[0]
    import av

    libavcodec = ".".join(map(str, av.library_versions["libavcodec"]))
    opus = next(line for line in section.splitlines() if line.startswith("| `opus_16k`"))
    assert "`libopus`" in opus and "16 kbit/s" in opus and "application=voip, vbr=off" in opus
    assert f"libavcodec {libavcodec}, PyAV {av.__version__}" in opus
    assert "16000 Hz → 16000 Hz" in opus and "24000 Hz → 24000 Hz" in opus  # per input rate: genuine/DAC, EnCodec
    mulaw = next(line for line in section.splitlines() if line.startswith("| `g711_mulaw`"))
    assert "`pcm_mulaw`" in mulaw and "16000 Hz → 8000 Hz" in mulaw
    assert f"`{ENCODEC}@opus_16k`" not in text.split("## Codecs")[1].split("## Channel conditions")[0]


def test_a_rerun_writes_nothing_and_the_bytes_are_the_same_in_another_folder(built, codec_fixture):
    out, _, _ = built
    again = build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert (again.written, again.redone, again.failed) == (0, [], {})
    assert again.kept == len(PARTS) * (1 + len(CONDITIONS)) * 3
    other = out.parent / "other"
    build(conditioned(other), codec_factory=TinyCodecs(codec_fixture), progress=False)
    shards = sorted(p.relative_to(out) for p in out.glob("data/*@*/*.parquet"))
    assert len(shards) == len(PARTS) * len(CONDITIONS) * 3
    for shard in shards:
        assert audio_of(out / shard) == audio_of(other / shard), shard


def test_a_clean_shard_written_again_takes_its_condition_shards_with_it(source, codec_fixture):
    out = source / "redo"
    build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    victim = sorted((out / "data" / ENCODEC).iterdir())[0]
    victim.unlink()
    report = build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.written == 1 + len(CONDITIONS)  # the clean shard, its 3 conditions
    assert sorted(line.split(":")[0] for line in report.redone) == sorted(
        f"data/{ENCODEC}@{c}/{victim.name}" for c in CONDITIONS)
    assert all(f"its clean shard data/{ENCODEC}/{victim.name} is written again" in line for line in report.redone)
    # A run that names no condition rewrites the clean shard alone: the condition part it was made from is stale.
    victim.unlink()
    report = build(config_for(source / "VCTK", out, ENCODEC, limit=2, random_weights=True),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.written == 1
    assert sorted(line.split(":")[0] for line in report.stale) == sorted(f"{ENCODEC}@{c}" for c in CONDITIONS)
    assert f"its clean shard data/{ENCODEC}/{victim.name} is written again" in report.stale[0]
    assert f"run again with `codecs` naming {ENCODEC} and `conditions` naming " in report.stale[0]
    front = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    names = {c["config_name"] for c in front["configs"]}
    assert f"{ENCODEC}@opus_16k" not in names and f"{DAC}@opus_16k" in names
    # A condition shard whose record names another clean file than the one there is made again.
    path = out / ".codecfake" / "shards" / f"{DAC}@opus_16k" / victim.with_suffix(".json").name
    record = json.loads(path.read_text())
    assert record["made_from"] == {"clean": f"{DAC}/{victim.name}",
                                   "clean_sha256": sha256_file(out / "data" / DAC / victim.name)}
    record["made_from"]["clean_sha256"] = "0" * 64
    path.write_text(json.dumps(record))
    report = build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    redone = [line for line in report.redone if line.startswith(f"data/{DAC}@")]
    assert redone == [f"data/{DAC}@opus_16k/{victim.name}: made from another version of its clean shard "
                      f"data/{DAC}/{victim.name}"]


def test_an_unknown_condition_is_one_message_before_anything_is_written(source, capsys):
    out = source / "refused"
    code = main(["build", "--source", f"vctk:{source / 'VCTK'}", "--codecs", ENCODEC, "--out", str(out),
                 "--device", "cpu", "--conditions", "opus_16k,opus_61k"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert err.count("\n") == 0 and err.startswith("error: Unknown channel condition 'opus_61k'.")
    assert "Did you mean 'opus_16k'" in err and "Valid conditions: mp3_32k," in err
    with pytest.raises(UnknownConditionError, match="empty link"):
        build(config_for(source / "VCTK", out, ENCODEC, conditions="opus_16k+"), progress=False)
    assert not out.exists()


def test_a_missing_encoder_is_refused_naming_what_is_available(source, monkeypatch):
    from codecfake_hf.channels import ffmpeg

    real = ffmpeg._av().codec.Codec

    def without_opus(name, mode="r"):
        if name == "libopus":
            raise ValueError("no libopus in this build")
        return real(name, mode)

    monkeypatch.setattr(ffmpeg._av().codec, "Codec", without_opus)
    ffmpeg._encoder_ok.cache_clear()
    try:
        with pytest.raises(UnknownConditionError, match=r"needs FFmpeg's 'libopus' encoder.*Available here: mp3_32k"):
            build(config_for(source / "VCTK", source / "no-opus", ENCODEC, conditions="mp3_64k,opus_16k"),
                  progress=False)
    finally:
        ffmpeg._encoder_ok.cache_clear()
    assert not (source / "no-opus").exists()


def test_condition_parts_are_names_of_the_one_rule():
    from codecfake_hf.names import BadNameError, check_part

    for good in (f"{ENCODEC}@opus_16k", "genuine@opus_16k+mp3_64k"):
        assert check_part(good, "x") == good
    for bad in ("a@", "@opus_16k", "a@opus_16k+", "a@..", "a@b/c", "a@b@c", "a@b\n", "all@opus_16k",
                "all-conditions"):
        with pytest.raises(BadNameError):
            check_part(bad, "x")


def test_the_channels_protocol_on_a_built_folder_writes_the_condition_by_codec_matrix(built, tiny_wav2vec2,  # noqa: F811
                                                                                       tmp_path):
    """`eval protocol --protocol channels` end to end on the build: trained on clean rows and on the conditions' rows,
    each scored under every condition; each cell is that score's EER, and each run's card names its worst condition."""
    out, _, _ = built
    root = tmp_path / "channels"
    flags = trainer_flags(root, tmp_path / "cache", steps=1)
    assert run_cli("protocol", "--protocol", "channels", "--dataset_name", out, "--dataset_config_name",
                   "all-conditions", "--config_name", tiny_wav2vec2, *flags) == 0
    report = json.loads((root / "channels.json").read_text())
    assert report["conditions"] == ["clean", *sorted(CONDITIONS)]
    assert report["columns"] == [ENCODEC, DAC, "pooled"]
    assert list(report["runs"]) == ["trained-clean", "trained-conditions"]
    for name, run in report["runs"].items():
        matrix = np.array(run["eer"], dtype=float)
        assert matrix.shape == (1 + len(CONDITIONS), 3) and np.all((matrix >= 0) & (matrix <= 1))
        for row, condition in enumerate(report["conditions"]):  # each cell is that score's results.json
            results = json.loads((root / name / "test" / condition / "results.json").read_text())
            assert results["condition"] == condition
            assert run["eer"][row] == [results["per_codec"][ENCODEC]["eer"], results["per_codec"][DAC]["eer"],
                                       results["pooled"]["eer"]]
        worst = report["conditions"][int(np.argmax(matrix[:, -1]))]
        assert run["worst_condition"] == worst
        assert f"Worst condition: `{worst}`." in (root / f"channels_{name}.md").read_text()
        assert (root / f"channels_{name}.png").read_bytes()[:4] == b"\x89PNG"
        card = (root / name / "README.md").read_text()
        assert f"Worst condition: **`{worst}`**" in card


def test_a_build_stopped_among_the_condition_shards_is_finished_by_a_rerun(source, codec_fixture, monkeypatch):
    out = source / "stopped"
    real, calls = channels.apply, []

    def stopping(name, wave, rate):  # a test double: a kill after 7 rows have gone through a channel
        calls.append(name)
        if len(calls) > 7:
            raise KeyboardInterrupt
        return real(name, wave, rate)

    monkeypatch.setattr(channels, "apply", stopping)
    with pytest.raises(KeyboardInterrupt):
        build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    monkeypatch.setattr(channels, "apply", real)
    finished = {p: p.stat().st_mtime_ns for p in out.glob("data/*@*/*.parquet")}
    assert 1 <= len(finished) < len(PARTS) * len(CONDITIONS) * 3 and not (out / "README.md").exists()
    report = build(conditioned(out), codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and report.kept == len(PARTS) * 3 + len(finished)
    assert report.written == len(PARTS) * len(CONDITIONS) * 3 - len(finished)
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in finished.items())  # finished shards kept as they were
    assert not list((out / ".codecfake").rglob("*.tmp")) and not (out / ".codecfake" / "tmp").exists()


def test_conditions_added_to_a_finished_build_run_no_codec_and_a_chain_loads_as_its_config(source, codec_fixture,
                                                                                           tmp_path):
    out = source / "extended"
    first = build(config_for(source / "VCTK", out, ENCODEC, limit=1, random_weights=True),
                  codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert first.written == 2 * 3
    factory = TinyCodecs(codec_fixture)
    report = build(config_for(source / "VCTK", out, ENCODEC, limit=1, random_weights=True,
                              conditions="OPUS_16K+mp3_64k"), codec_factory=factory, progress=False)
    assert factory.built == [] and (report.written, report.kept, report.failed) == (2 * 3, 2 * 3, {})
    chain = f"{ENCODEC}@opus_16k+mp3_64k"
    assert report.complete == ["genuine", ENCODEC, "genuine@opus_16k+mp3_64k", chain]
    ds = datasets.load_dataset(str(out), chain, split="test", cache_dir=str(tmp_path))
    assert sorted(ds["codec"]) == [ENCODEC, "genuine"] and set(ds["condition"]) == {"opus_16k+mp3_64k"}
    clean = datasets.load_dataset(str(out), ENCODEC, split="test", cache_dir=str(tmp_path))
    by_id = {row["utterance_id"]: row for row in clean.cast_column("audio", datasets.Audio(decode=False))}
    fakes = [row for row in ds.cast_column("audio", datasets.Audio(decode=False)) if row["codec"] == ENCODEC]
    for row in fakes:  # Opus first, then MP3, on the clean EnCodec row
        wave, rate = decoded(by_id[row["utterance_id"]]["audio"]["bytes"])
        stored, _ = sf.read(io.BytesIO(row["audio"]["bytes"]), dtype="int16")
        expected = channels.apply("mp3_64k", channels.apply("opus_16k", wave, rate), rate)
        np.testing.assert_array_equal(stored, to_pcm16(expected, clamp=1.0))


def test_a_row_an_encoder_refuses_is_skipped_and_reported_not_the_build(source, codec_fixture, monkeypatch):
    """An FFmpeg encoder that refuses one row (FFmpeg's AAC refused a 10-sample clip with InvalidDataError before
    `channels.apply` padded short input; a broken or other FFmpeg build may refuse others): that row is skipped and
    reported, as a row a codec rejects is, and the part is written without it."""
    import av

    out = source / "refused-row"
    real, refused = channels.apply, []

    def short_for_one(name, wave, rate):  # a test double: FFmpeg's error of that refusal, for the first EnCodec row
        if name == "aac_64k" and rate == 24000 and not refused:
            refused.append(True)
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
        return real(name, wave, rate)

    monkeypatch.setattr(channels, "apply", short_for_one)
    report = build(config_for(source / "VCTK", out, ENCODEC, limit=2, random_weights=True, conditions="aac_64k"),
                   codec_factory=TinyCodecs(codec_fixture), progress=False)
    assert report.failed == {} and f"{ENCODEC}@aac_64k" in report.complete
    (line,) = report.skipped
    assert line.startswith(f"{ENCODEC}@aac_64k: ") and "aac_64k: FFmpeg refused it (InvalidDataError" in line
    rows = sum(pq.read_metadata(p).num_rows for p in (out / "data" / f"{ENCODEC}@aac_64k").glob("*.parquet"))
    assert rows == 6 - 1
