"""Odd and hostile inputs to the corpus readers, the audio reader and `codecs.load` (issue 10, items 3, 5, 6, 7).

Each case used to lose data silently, change it silently or end in a traceback; each now is followed,
refused with one message naming cause and fix, or reported (`Corpus.skipped`, which the build reports).
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codecfake_hf import codecs
from codecfake_hf.audio import check_waveform, read_audio
from codecfake_hf.corpus import VCTK, AudioFolder, CorpusError, folder
from codecfake_hf.errors import AudioError, CheckpointError
from codecfake_hf.splits import SpeakerSplit, SplitError

RATE = 16_000


def tone(seconds: float = 0.5, amplitude: float = 0.3, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def write(path: Path, wave: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate, subtype=subtype)
    return path


# Item 5: the readers follow or report what they leave out


def test_folder_source_follows_symlinked_speakers_and_reports_loops_and_dangling_links(tmp_path, monkeypatch):
    root = tmp_path / "corpus"
    write(root / "alice" / "a1.wav", tone())
    write(tmp_path / "elsewhere" / "bob" / "b1.wav", tone())
    os.symlink(tmp_path / "elsewhere" / "bob", root / "bob")           # a speaker folder that is a symlink
    os.symlink(root, root / "alice" / "loop")                          # a loop back to the root
    os.symlink(tmp_path / "gone.wav", root / "alice" / "a2.wav")       # a dangling link
    write(root / "carol" / "c1.wav", tone())
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder: an unreadable one is simulated
        if str(path).endswith("carol"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = AudioFolder(root)
    records = corpus.records()
    assert [(r.speaker_id, r.utterance_id) for r in records] == [("alice", "a1"), ("bob", "b1")]
    reasons = "\n".join(corpus.skipped)
    assert "symlink loop" in reasons and "dangling link" in reasons and "a2.wav" in reasons
    assert "carol: folder not readable (Permission denied)" in reasons
    assert len(corpus.skipped) == 3


def test_vctk_reports_dangling_speaker_links_and_unreadable_speakers(tmp_path, monkeypatch):
    root = tmp_path / "vctk"
    audio = root / "wav48"
    write(audio / "p225" / "p225_001.wav", tone())
    write(audio / "p226" / "p226_001.wav", tone())
    os.symlink(tmp_path / "missing", audio / "p227")
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self.name == "p226":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    corpus = VCTK(root)
    assert [r.utterance_id for r in corpus.records()] == ["p225_001"]
    assert [s.split(": ", 1)[1].split(" (")[0] for s in corpus.skipped] == ["dangling link", "folder not readable"]


def test_split_file_naming_only_unknown_speakers_is_refused(tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("x1 test\nx2 validation\n")
    with pytest.raises(SplitError, match=r"names only speakers that are not in VCTK \(x1, x2\); every utterance "
                                         r"would go to 'train'"):
        SpeakerSplit.from_file(split).check_speakers(["p225", "p226"], "VCTK")
    split.write_text("p225 test\nx2 validation\n")
    assert SpeakerSplit.from_file(split).check_speakers(["p225", "p226"], "VCTK") == ["x2"]


def test_truncated_wav_and_flac_are_refused_not_stored_short(tmp_path):
    for name in ("whole.wav", "whole.flac"):
        data = write(tmp_path / name, tone(1.0)).read_bytes()
        cut = tmp_path / f"cut{Path(name).suffix}"
        cut.write_bytes(data[: len(data) // 3])
        with pytest.raises(AudioError, match="truncated"):
            read_audio(cut)
    # a streaming writer's WAV (data size left at 0xFFFFFFFF) is not "truncated"
    data = bytearray((tmp_path / "whole.wav").read_bytes())
    data[data.index(b"data") + 4: data.index(b"data") + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "stream.wav").write_bytes(bytes(data))
    assert read_audio(tmp_path / "stream.wav")[0].shape[0] > 0


# Item 6: no silent changes to the audio


def test_cancelling_channels_silence_and_absurd_rates_are_refused_with_the_reason(tmp_path):
    wave = tone()
    write(tmp_path / "cancel.wav", np.stack([wave, -wave], axis=1))
    with pytest.raises(AudioError, match="channels cancel out"):
        read_audio(tmp_path / "cancel.wav")
    write(tmp_path / "silent.wav", np.zeros(8000, np.float32))
    with pytest.raises(AudioError, match="silent"):
        read_audio(tmp_path / "silent.wav")
    with pytest.raises(AudioError, match="channels cancel out"):
        check_waveform(np.stack([wave, -wave], axis=1), "stereo")
    # soundfile writes any rate into a WAV header; 1 Hz made a 100 s row, 2 GHz exhausted memory
    for rate in (1, 2_000_000_000):
        path = tmp_path / f"rate{rate}.wav"
        write(path, wave[:100], rate=rate)
        with pytest.raises(AudioError, match=r"outside 4000\.\.384000 Hz"):
            read_audio(path)


def test_a_loud_float_wav_reads_as_is_and_its_clipping_can_be_counted(tmp_path):
    from codecfake_hf.audio import clipped_samples

    write(tmp_path / "loud.wav", 8.0 * tone(), subtype="FLOAT")
    wave, _ = read_audio(tmp_path / "loud.wav")
    assert np.abs(wave).max() == pytest.approx(8.0 * 0.3, rel=1e-3)
    assert clipped_samples(wave) == int(np.count_nonzero(np.abs(8.0 * tone()) > 1.0)) > 0


# Item 3: ids unique by construction; a record's speaker is its own file's


def test_folder_ids_stay_unique_when_paths_flatten_to_the_same_id(tmp_path):
    root = tmp_path / "corpus"
    write(root / "p225" / "x_utt.wav", tone())
    write(root / "p225_x" / "utt.wav", tone())
    write(root / "p226" / "utt.wav", tone())  # file names repeat, so ids come from the paths
    records = AudioFolder(root).records()
    ids = [r.utterance_id for r in records]
    assert len(set(ids)) == 3 and all(i.startswith("p225_x_utt-") for i in ids[:2]) and ids[2] == "p226_utt"
    assert [r.speaker_id for r in records] == ["p225", "p225_x", "p226"]


def test_vctk_file_copied_into_another_speaker_folder_is_reported_not_doubled(tmp_path):
    audio = tmp_path / "vctk" / "wav48"
    write(audio / "p225" / "p225_001.wav", tone())
    write(audio / "p226" / "p225_001.wav", tone())  # the copy
    write(audio / "p226" / "p226_001.wav", tone())
    corpus = VCTK(tmp_path / "vctk")
    assert [(r.utterance_id, r.speaker_id) for r in corpus.records()] == [("p225_001", "p225"), ("p226_001", "p226")]
    assert corpus.skipped == [f"{audio / 'p226' / 'p225_001.wav'}: misplaced: a file of speaker p225 in p226/"]


def test_release_import_refuses_one_id_from_two_files(tmp_path):
    from builder.release import scan_release

    write(tmp_path / "a" / "encodec_24khz+p225_001.wav", tone())
    write(tmp_path / "b" / "encodec+p225_001.wav", tone())  # an alias of the same codec
    with pytest.raises(CorpusError, match=r"two files have the utterance id 'p225_001': .*a/encodec_24khz\+p225_001"
                                          r"\.wav and .*b/encodec\+p225_001\.wav"):
        scan_release(tmp_path)


def test_vctk_odd_ages_are_left_empty_not_a_traceback(tmp_path, caplog):
    audio = tmp_path / "vctk" / "wav48"
    write(audio / "p225" / "p225_001.wav", tone())
    write(audio / "p226" / "p226_001.wav", tone())
    write(audio / "p227" / "p227_001.wav", tone())
    (tmp_path / "vctk" / "speaker-info.txt").write_text(
        "ID AGE GENDER ACCENTS REGION\n225 ²³ F English Southern\n226 99999999999 M English Surrey\n"
        "227 23 M English Cumbria\n", encoding="utf-8")
    caplog.set_level(logging.WARNING)
    ages = {r.speaker_id: r.age for r in VCTK(tmp_path / "vctk").records()}
    assert ages == {"p225": None, "p226": None, "p227": 23}
    assert "age '²³' is not a number of years" in caplog.text


# Item 7: weights that cannot work are refused at load


def test_nan_or_inf_weights_are_refused_at_load(codec_fixture):
    fixture = codec_fixture("encodec_24khz")
    weights = fixture.weights("weights_transformers.safetensors")
    key = next(k for k, v in weights.items() if v.is_floating_point())
    for bad in (float("nan"), float("inf")):
        poisoned = {**weights, key: torch.full_like(weights[key], bad)}
        with pytest.raises(CheckpointError, match=rf"1 weight tensor\(s\) hold NaN or inf \(first: {key}\)"):
            codecs.load("encodec_24khz", config=fixture.tiny_checkpoint_config, state_dict=poisoned)


# The traceback list: each is now one `CodecFakeError` message naming cause and fix


def _split_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "split.txt"
    path.write_bytes(data)
    return path


def _hanging_pattern(tmp_path: Path, monkeypatch) -> AudioFolder:
    monkeypatch.setattr(folder, "PATTERN_SECONDS", 0.05)
    write(tmp_path / "c" / ("a" * 30 + ".wav"), tone(0.1))
    return AudioFolder(tmp_path / "c", r"(?P<speaker>(a|aa)+)$")


@pytest.mark.parametrize("case, message", [
    ("split_file_not_utf8", "is not UTF-8 text (byte 5: b'\\xff'); save it as UTF-8"),
    ("state_dict_is_a_path", "`state_dict` is a path ('/tmp/weights.safetensors'), not the weights; load the file"),
    ("state_dict_value_not_a_tensor", "`state_dict['decoder.layers.0.conv.bias']` is a list, not a tensor; pass"),
    ("unknown_config_option", "encodec_24khz: unknown option(s) no_such_option=3. Options of the 'encodec'"),
    ("speaker_pattern_backtracks", f"took over 0.05 s on {'c/' + 'a' * 30 + '.wav'!r} (it backtracks without end)"),
])
def test_tracebacks_that_became_one_message(case, message, tmp_path, monkeypatch, codec_fixture):
    fixture = codec_fixture("encodec_24khz")
    with pytest.raises(Exception) as caught:
        if case == "split_file_not_utf8":
            SpeakerSplit.from_file(_split_file(tmp_path, b"p225 \xff\xfetest\n"))
        elif case == "state_dict_is_a_path":
            codecs.load("encodec_24khz", config=fixture.tiny_checkpoint_config, state_dict="/tmp/weights.safetensors")
        elif case == "state_dict_value_not_a_tensor":
            weights = {**fixture.weights("weights_transformers.safetensors"), "decoder.layers.0.conv.bias": [1, 2]}
            codecs.load("encodec_24khz", config=fixture.tiny_checkpoint_config, state_dict=weights)
        elif case == "unknown_config_option":
            codecs.load("encodec_24khz", config=fixture.tiny_checkpoint_config,
                        state_dict=fixture.weights("weights_transformers.safetensors"), no_such_option=3)
        else:
            corpus = _hanging_pattern(tmp_path, monkeypatch)
            corpus.root = tmp_path  # relative paths start with `c/` and the pattern cannot end
            corpus.records()
    from codecfake_hf.errors import CodecFakeError

    assert isinstance(caught.value, CodecFakeError), repr(caught.value)
    text = str(caught.value)
    assert message in text, text
    assert "\n" not in text
