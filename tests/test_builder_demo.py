"""`python -m builder demo`: offline fallbacks (random weights, built-in input), said in output and card."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pytest
from test_corpus import make_hub_dataset

from builder import demo
from builder.__main__ import main
from codecfake_hf import codecs

ROOT = Path(__file__).resolve().parents[1]
ENCODEC = "encodec_24khz"


@pytest.fixture
def tiny_random_weights(monkeypatch, codec_fixture):
    """`codecs.load(..., random_weights=True)` builds the fixtures' tiny config instead of the official size."""
    real_load = codecs.load

    def load(name, **kwargs):
        if kwargs.get("random_weights"):
            kwargs["config"] = codec_fixture(codecs.resolve(name)).tiny_checkpoint_config
        return real_load(name, **kwargs)

    monkeypatch.setattr(codecs, "load", load)


def test_demo_falls_back_and_says_so(tmp_path, fake_hub, tiny_random_weights, monkeypatch, capsys):
    monkeypatch.setattr(demo, "hub_reachable", lambda timeout=5.0: False)
    out = tmp_path / "demo-output"
    assert main(["demo", "--out", str(out), "--codecs", ENCODEC, "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert f'load_dataset("{out}", "{ENCODEC}", split="test")' in printed
    assert "built-in synthetic speech-like utterances" in printed and "random weights" in printed
    card = (out / "README.md").read_text()
    assert "**random** (smoke run)" in card and "built-in synthetic speech-like utterances" in card
    ds = datasets.load_dataset(str(out), ENCODEC, split="test", cache_dir=str(tmp_path / "cache"))
    assert Counter(ds["codec"]) == {"genuine": 4, ENCODEC: 4} and set(ds["speaker_id"]) == {"p227", "p228"}
    # Run again: the demo rebuilds its own folder from scratch.
    assert main(["demo", "--out", str(out), "--codecs", ENCODEC, "--device", "cpu"]) == 0


def test_demo_uses_the_public_speech_set_when_reachable(tmp_path, demo_dir, fake_hub, tiny_random_weights,
                                                        monkeypatch):
    hub_set = make_hub_dataset(tmp_path, demo_dir, seconds=0.5)  # stands in for librispeech_asr_dummy
    monkeypatch.setattr(demo, "SPEECH_SET", f"hf:{hub_set}")
    monkeypatch.setattr(demo, "MAX_SECONDS", 0.1)
    monkeypatch.setattr(demo, "hub_reachable", lambda timeout=5.0: True)
    report, fallbacks = demo.run_demo(tmp_path / "out", ENCODEC, device="cpu", progress=False)
    assert report.complete == ["genuine", ENCODEC]
    assert len(fallbacks) == 1 and "random weights" in fallbacks[0]  # weights fell back (offline cache), input not
    ds = datasets.load_dataset(str(tmp_path / "out"), ENCODEC, split="test", cache_dir=str(tmp_path / "cache"))
    assert set(ds["speaker_id"]) == {"s1"} and len(ds) == 4  # first speaker -> test
    lengths = {row["codec"]: row["audio"].get_all_samples().data.shape[-1] for row in ds}
    assert lengths == {"genuine": 1600, ENCODEC: 2400}  # cut to 0.1 s, at 16 and 24 kHz
    card = (tmp_path / "out" / "README.md").read_text()
    assert "first 0.1 s of each utterance" in card and "built-in synthetic" not in card


def test_demo_will_not_delete_a_folder_it_did_not_build(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "is not empty and was not made by this tool (it holds precious.txt)" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").exists()


@pytest.mark.slow
def test_make_demo_command_end_to_end(tmp_path):
    """The README's first command, as a fresh process: official-size codecs (random weights offline)."""
    out = tmp_path / "demo-output"
    result = subprocess.run([sys.executable, "-m", "builder", "demo", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Load it with:" in result.stdout
    ds = datasets.load_dataset(str(out), "all", split="test", cache_dir=str(tmp_path / "cache"))
    assert set(ds["codec"]) >= {"genuine", ENCODEC}
