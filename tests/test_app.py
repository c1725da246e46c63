"""Issue 24: the detector app (`codecfake-eval app`, eval/space/app.py) and its Space folder.

The reference numbers are clovaai/aasist's own: the fixture holds upstream AASIST-L's logits for the demo clips,
prepared as the app prepares an upload (mono, soxr VHQ to 16 kHz, the first 64,600 samples). The browser test
(slow) serves the app with the command line and drives Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROOT
from test_eval import run_cli
from venvs import bare_venv, outside_env

from codecfake_hf import hub
from codecfake_hf.codecs import registry
from codecfake_hf.detectors import AasistConfig, AasistFeatureExtractor, AasistForAudioClassification
from codecfake_hf.errors import CodecFakeError
from eval.app import codec_taxonomy, space_app

GENUINE_CLIP = "genuine+p225_273"  # 16 kHz, accepted as bona fide by AASIST-L
ENCODEC_CLIP = "encodec_24khz+p225_273"  # 24 kHz, caught by AASIST-L
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def app():
    return space_app()


@pytest.fixture(scope="module")
def aasist_l(shared, tmp_path_factory) -> Path:
    """The official AASIST-L, converted by the command line."""
    aasist = shared / "detector-fixtures" / "aasist"
    folder = tmp_path_factory.mktemp("app") / "aasist-l"
    assert run_cli("convert-aasist", "--checkpoint", aasist / "AASIST-L.pth", "--model_config",
                   aasist / "AASIST-L.model_config.json", "--output_dir", folder) == 0
    return folder


def upstream_bonafide(shared, clip: str) -> float:
    """P(bona fide) of upstream AASIST-L on a demo clip: softmax of its logits (column 1 = bona fide)."""
    aasist = shared / "detector-fixtures" / "aasist"
    ids = json.loads((aasist / "manifest.json").read_text())["ids"]
    spoof, bonafide = np.load(aasist / "logits_AASIST-L.npy")[ids.index(clip)].astype(np.float64)
    return 1 / (1 + math.exp(spoof - bonafide))


def test_prepare_averages_stereo_resamples_and_refuses_silence(app):
    rate = 24_000
    t = np.arange(rate, dtype=np.float64) / rate
    left, right = 0.5 * np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 1000 * t)
    wave, notes = app.prepare(np.stack([left, right], axis=1), rate, 16_000)
    assert notes == ["Stereo (2 channels): the channels were averaged to mono.",
                     "Resampled from 24000 Hz to the model's 16000 Hz (soxr, very high quality)."]
    # 1 s at 16 kHz; a 1 kHz sine of amplitude (0.5 + 0.1) / 2 = 0.3, away from the resampler's edges
    assert wave.shape == (16_000,) and wave.dtype == np.float32
    middle = wave[2000:14000]
    expected = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(2000, 14000) / 16_000)
    np.testing.assert_allclose(middle, expected, atol=1e-3)
    same, notes = app.prepare(left.astype(np.float32), 16_000, 16_000)
    assert notes == [] and np.array_equal(same, left.astype(np.float32))
    with pytest.raises(app.ClipError, match=r"The clip is silent \(peak -inf dBFS\): record or upload a clip"):
        app.prepare(np.zeros(16_000), 16_000, 16_000)
    with pytest.raises(app.ClipError, match=r"silent \(peak -66 dBFS\)"):
        app.prepare(np.full(100, 10 ** (-66 / 20)), 16_000, 16_000)
    with pytest.raises(app.ClipError, match="The clip is empty"):
        app.prepare(np.zeros(0), 16_000, 16_000)
    with pytest.raises(app.ClipError, match="NaN or infinite"):
        app.prepare(np.array([0.1, np.nan]), 16_000, 16_000)


def test_read_clip_names_what_it_cannot_take(app, tmp_path, monkeypatch):
    with pytest.raises(app.ClipError, match="No audio: upload a file or record a clip first"):
        app.read_clip(None)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(app.ClipError, match=r"Cannot read notes.wav as audio \(.*\): upload WAV, FLAC, OGG or MP3"):
        app.read_clip(text)
    long = tmp_path / "long.flac"
    sf.write(long, np.zeros(8000 * 3, dtype=np.float32), 8000)
    monkeypatch.setattr(app, "MAX_SECONDS", 2.0)
    with pytest.raises(app.ClipError, match="The clip is 3 s long; the limit is 2 s: cut it shorter"):
        app.read_clip(long)


def test_first_window_repeats_a_short_clip_as_upstream_pads():
    from eval.data import crop_or_pad

    app = space_app()
    short = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(app.first_window(short, 12), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    long = np.arange(30, dtype=np.float32)
    for wave in (short, long):  # the same window `eval score` cuts
        np.testing.assert_array_equal(app.first_window(wave, 12), crop_or_pad(wave, 12, None))


def test_the_app_gives_upstream_aasist_l_probabilities(app, aasist_l, shared):
    detector = app.Detector(str(aasist_l), codecs=codec_taxonomy())
    assert (detector.rate, detector.window, detector.traces_sources) == (16_000, 64_600, False)
    release = shared / "data" / "codecfake-demo"
    wave, rate = app.read_clip(release / f"{GENUINE_CLIP}.wav")
    verdict, _ = detector.judge(wave, rate)
    assert abs(verdict.bonafide - upstream_bonafide(shared, GENUINE_CLIP)) < 1e-4
    assert verdict.top == "bonafide" and verdict.tracing is None
    assert verdict.notes == ["The clip is 6.40 s long: the detector scores its first 4.04 s, the window it was "
                             "trained and evaluated on."]
    wave, rate = app.read_clip(release / f"{ENCODEC_CLIP}.wav")
    verdict, prepared = detector.judge(wave, rate)
    assert rate == 24_000 and prepared.shape == (round(wave.shape[0] * 16_000 / 24_000),)
    assert abs(verdict.bonafide - upstream_bonafide(shared, ENCODEC_CLIP)) < 1e-4
    assert verdict.summary().startswith(f"Bona fide probability: **{verdict.bonafide:.4f}**")
    assert "sounds spoof" in verdict.summary() and verdict.notes[0].startswith("Resampled from 24000 Hz")
    # the same clip as stereo (two equal channels): the same verdict, and a note
    stereo, _ = detector.judge(np.stack([wave, wave], axis=1), rate)
    assert stereo.bonafide == pytest.approx(verdict.bonafide, abs=1e-7) and stereo.notes[0].startswith("Stereo")
    short, _ = detector.judge(wave[:rate], rate)
    assert "shorter than the model's 4.04 s window: it was repeated to fill it" in short.notes[-1]
    figure = app.spectrogram(prepared, 16_000, detector.window)
    assert figure.axes[0].get_xlim() == (0, prepared.shape[0] / 16_000)


def test_a_source_tracer_names_the_codec_its_family_and_taxonomy(app, tmp_path):
    labels = {0: "genuine", 1: "encodec_24khz", 2: "SpeechTokenizer"}
    torch.manual_seed(0)
    config = AasistConfig(first_conv=32, filts=[20, [1, 8], [8, 8], [8, 16], [16, 16]], gat_dims=[16, 8],
                          id2label=labels)
    AasistForAudioClassification(config).save_pretrained(tmp_path / "tracer")
    AasistFeatureExtractor(max_length=8000).save_pretrained(tmp_path / "tracer")
    detector = app.Detector(str(tmp_path / "tracer"), codecs=codec_taxonomy())
    assert detector.traces_sources
    verdict, _ = detector.judge(np.random.default_rng(0).uniform(-0.5, 0.5, 16_000), 16_000)
    assert verdict.bonafide == verdict.probabilities["genuine"]
    assert set(verdict.probabilities) == set(labels.values()) and sum(verdict.probabilities.values()) == \
        pytest.approx(1)
    source = max(("encodec_24khz", "SpeechTokenizer"), key=verdict.probabilities.get)
    spec = registry.spec(source)
    assert verdict.tracing == (
        f"Source tracing (`label`): most probable source **{source}** ({100 * verdict.probabilities[source]:.2f} %)"
        f": family `{spec.family}`; CodecFake+ taxonomy: quantizer `{spec.quantizer}`, auxiliary objective "
        f"`{spec.auxiliary}`, decoder domain `{spec.decoder}`.")


def test_the_space_folder_runs_without_codecfake_hf(aasist_l, shared, tmp_path):
    """What the Hub runs: the written Space folder, its app imported in a venv without codecfake-hf."""
    space = tmp_path / "space"
    assert run_cli("app", "--model_name_or_path", aasist_l, "--space_dir", space) == 0
    assert (space / "app.py").read_bytes() == (ROOT / "eval" / "space" / "app.py").read_bytes()
    card = (space / "README.md").read_text()
    assert re.search(r"^sdk: gradio$", card, re.M) and re.search(r"^app_file: app.py$", card, re.M)
    assert re.search(r"^sdk_version: \d+\.\d+", card, re.M) and "license: apache-2.0" in card
    settings = json.loads((space / "space.json").read_text())
    assert settings["model"] == "model" and settings["codecs"]["encodec_24khz"]["family"] == "encodec"
    model_files = {path.name for path in (space / "model").iterdir()}
    assert {"config.json", "model.safetensors", "modeling_aasist.py", "LICENSE"} <= model_files
    assert "README.md" not in model_files and not list(space.glob(".staging*"))
    assert "gradio" not in (space / "requirements.txt").read_text()  # the Space's sdk_version brings it

    clip = shared / "data" / "codecfake-demo" / f"{ENCODEC_CLIP}.wav"
    script = ("import importlib.util, sys; assert importlib.util.find_spec('codecfake_hf') is None\n"
              "sys.path.insert(0, sys.argv[1]); import app\n"
              "detector = app.Detector(app.space_model()); app.build_demo(detector)\n"
              "verdict, _ = detector.judge(*app.read_clip(sys.argv[2])); print(verdict.bonafide)\n")
    user = subprocess.run([str(bare_venv(tmp_path / "venv")), "-c", script, str(space), str(clip)],
                          cwd=tmp_path, env=outside_env(HF_MODULES_CACHE=str(tmp_path / "modules"),
                                                        GRADIO_ANALYTICS_ENABLED="False"),
                          capture_output=True, text=True, timeout=300)
    assert user.returncode == 0, user.stderr[-3000:]
    assert abs(float(user.stdout.split()[-1]) - upstream_bonafide(shared, ENCODEC_CLIP)) < 1e-4


def test_app_command_errors_are_one_line(tmp_path, capsys):
    assert run_cli("app", "--model_name_or_path", tmp_path / "none", "--space_dir", tmp_path / "space") == 2
    assert "is neither a model folder nor a Hub model id" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli("app", "--model_name_or_path", tmp_path / "empty", "--space_dir", tmp_path / "space") == 2
    assert "has no config.json" in capsys.readouterr().err
    assert run_cli("app", "--model_name_or_path", "org/model", "--push_to_hub") == 2
    err = capsys.readouterr().err
    assert "`--push_to_hub` uploads the Space folder: give `--space_dir FOLDER` too" in err and err.count("\n") == 1
    assert not (tmp_path / "space").exists()


def test_a_space_is_pushed_as_a_gradio_space(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", kw)))
    monkeypatch.setattr(hub.HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw)))
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    space = tmp_path / "space"
    space.mkdir()
    with pytest.raises(CodecFakeError, match="is not a Space folder \\(app.py expected\\)"):
        hub.push(space, "me/demo", repo_type="space")
    (space / "app.py").write_text("print('hi')\n")
    url = hub.push(space, "me/demo", repo_type="space")
    assert url == "https://huggingface.co/spaces/me/demo"
    assert calls[0] == ("create", {"repo_type": "space", "private": None, "exist_ok": True, "space_sdk": "gradio"})
    assert calls[1][1]["repo_type"] == "space" and calls[1][1]["folder_path"] == str(space)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def need_chromium() -> None:
    """Skip without Debian's Chromium (`make setup` installs it); CI always has it, so there it is a failure."""
    if CHROMIUM.is_file():
        return
    reason = f"{CHROMIUM} is not installed: `make setup` (or `apt-get install chromium`) installs it"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.slow
def test_in_a_browser_an_uploaded_clip_gets_its_score(aasist_l, shared, tmp_path):
    """`codecfake-eval app` serves the converted AASIST-L; Chromium uploads a 24 kHz EnCodec clip and a silent one,
    and reads the verdict and the error from the page. The screenshot goes to $CODECFAKE_APP_SCREENSHOT if set
    (docs/app-screenshot.png was made so)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = tmp_path / "app.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "eval", "app", "--model_name_or_path", str(aasist_l),
                                   "--server_port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        deadline = time.monotonic() + 180
        while "Running on local URL" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        silent = tmp_path / "silence.wav"
        sf.write(silent, np.zeros(16_000, dtype=np.int16), 16_000)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.locator("#audio input[type=file]").set_input_files(
                str(shared / "data" / "codecfake-demo" / f"{ENCODEC_CLIP}.wav"))
            page.locator("#audio [data-testid='waveform-controls']").wait_for(timeout=60_000)
            page.click("#score")
            page.locator("#verdict", has_text="Bona fide probability").wait_for(timeout=120_000)
            verdict = page.locator("#verdict").inner_text()
            notes = page.locator("#notes").inner_text()
            page.locator("#spectrogram img, #spectrogram canvas, #spectrogram svg").first.wait_for(timeout=60_000)
            screenshot = tmp_path / "app.png"
            page.screenshot(path=str(screenshot), full_page=True)
            # a silent clip: the page says why it cannot be judged
            page.locator("#audio button[aria-label='Clear']").click()
            page.locator("#audio [data-testid='waveform-controls']").wait_for(state="detached", timeout=60_000)
            page.locator("#audio input[type=file]").set_input_files(str(silent))
            page.locator("#audio [data-testid='waveform-controls']").wait_for(timeout=60_000)
            page.click("#score")
            toast = page.get_by_text("The clip is silent (peak -inf dBFS)")
            toast.first.wait_for(timeout=60_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    shown = float(re.search(r"Bona fide probability: (\d\.\d{4})", verdict).group(1))
    assert abs(shown - upstream_bonafide(shared, ENCODEC_CLIP)) <= 5e-5 + 1e-4  # 4 decimals shown
    assert "sounds spoof" in verdict and "Resampled from 24000 Hz to the model's 16000 Hz" in notes
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("CODECFAKE_APP_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["CODECFAKE_APP_SCREENSHOT"])

