"""Shared fixtures: the one way to `../shared`, codec fixtures, the demo clips, an offline Hub cache."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# The fixtures were produced with one thread; near-tied codewords can flip with other thread counts.
torch.set_num_threads(1)


SHARED = Path(os.environ.get("CODECFAKE_SHARED", ROOT.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # shipped: manifests, genuine clips (make_fixtures.py)
# Every skip for want of ../shared carries this tag, so the end of the run can sum them up in one line.
SHARED_TAG = "[needs ../shared]"
HOW_TO_GET_SHARED = ("put the shared fixtures folder beside the checkout as ../shared or set CODECFAKE_SHARED "
                     "to it (codec-fixtures/, data/codecfake-demo/, detector-fixtures/, resample-fixtures/)")


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch):
    """Every test starts with no registered secret: a token an earlier test registered would otherwise be masked
    by its exact value, and a test of the token shapes would pass with the shapes switched off."""
    from codecfake_hf import redact

    monkeypatch.setattr(redact, "_secrets", set())


def has_shared() -> bool:
    return (SHARED / "codec-fixtures").is_dir()


def need_shared(what: str) -> None:
    """Skip a test that needs `what` from ../shared, which a user's clone does not have.

    CI sets `CODECFAKE_REQUIRE_SHARED=1` (in `.ci/run`), which turns that skip into a failure.
    """
    if has_shared():
        return
    reason = f"{SHARED_TAG} {what}: {SHARED} is not here; {HOW_TO_GET_SHARED}"
    if os.environ.get("CODECFAKE_REQUIRE_SHARED"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared() -> Path:
    """`../shared` beside the checkout (or `$CODECFAKE_SHARED`): the parity data (tiny weights, upstream outputs),
    the release's codec clips, the detector and resampler fixtures. Skips where it is missing (see need_shared)."""
    need_shared("the shared fixtures")
    return SHARED


@dataclass
class CodecFixture:
    """One codec config's fixture: the manifest's facts, and the tiny model's files where ../shared has them.

    `root` holds `manifest.json` (and `tiny/config_transformers.json` for EnCodec and DAC): `../shared/codec-fixtures/
    <name>/`, or on a clone without ../shared the copy shipped in `tests/fixtures/codecs/<name>/`. `parity` is the
    ../shared folder with the tiny weights, inputs and upstream outputs, or None; reading those skips without it.
    """

    root: Path
    parity: Path | None = None

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.root / "manifest.json").read_text())

    @property
    def tiny_dir(self) -> Path:
        if self.parity is None:
            need_shared(f"the tiny weights and upstream outputs of {self.root.name}")
        return self.parity / "tiny"

    @property
    def tiny_config(self) -> dict:
        return self.manifest["tiny"]["config"]

    @property
    def tiny_checkpoint_config(self) -> dict:
        """The tiny config in the format `codecs.load(config=...)` takes: the official checkpoint's.

        For EnCodec and DAC the official checkpoints are in transformers' format, and so is
        `config_transformers.json`; for the other families it is the manifest's `tiny.config`.
        """
        path = self.root / "tiny" / "config_transformers.json"
        return json.loads(path.read_text()) if path.exists() else self.tiny_config

    def npy(self, name: str) -> np.ndarray:
        if self.parity is None and name == "speech_input.npy":
            return self.shipped_speech()
        return np.load(self.tiny_dir / name)

    def shipped_speech(self) -> np.ndarray:
        """Without ../shared, the stand-in for `speech_input.npy` (3 s of real speech at the codec's rate): the
        shipped VCTK clip p225_273 resampled with soxr. Only inputs have a stand-in; outputs and codes skip."""
        from codecfake_hf.audio import read_audio, resample

        wave, rate = read_audio(FIXTURES / "clips" / "genuine+p225_273.wav")
        target = int(self.manifest["codecfake_usage"]["sample_rate"])
        return resample(wave[: 3 * rate], rate, target).astype(np.float32)

    def has(self, name: str) -> bool:
        return (self.tiny_dir / name).exists()

    def weights(self, name: str = "weights.safetensors") -> dict[str, torch.Tensor]:
        """The tiny weights: the file's tensors and, for a fixture whose manifest has a `generated` section (weights
        too large to commit, tests/fixtures/generated_weights.py), the tensors its rule gives."""
        from safetensors.torch import load_file

        found = load_file(str(self.tiny_dir / name))
        if name == "weights.safetensors" and "generated" in self.manifest:
            found.update({key: torch.from_numpy(value.copy()) for key, value in _generated(self.root).items()})
        return found

    def official_shapes(self) -> dict[str, tuple[int, ...]]:
        """The manifest's official state dict, flattened to `sub.key -> shape` as the tiny weights are."""

        def walk(tree: dict, prefix: str):
            for key, value in tree.items():
                if isinstance(value, dict):
                    yield from walk(value, f"{prefix}{key}.")
                else:
                    yield f"{prefix}{key}", tuple(value)

        return dict(walk(self.manifest["state_dict"], ""))


@functools.cache
def generated_weights():
    """tests/fixtures/generated_weights.py (a plain module, which fixture scripts in side environments import too)."""
    spec = importlib.util.spec_from_file_location("generated_weights", FIXTURES / "generated_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _generated(root: Path) -> dict[str, np.ndarray]:
    """The generated tensors of the fixture at `root`, made once a session (callers get copies)."""
    manifest = json.loads((root / "manifest.json").read_text())
    return generated_weights().fill(manifest["generated"])


def fixture_source(name: str) -> str:
    """Where codec config `name`'s fixture comes from, in order:

    - `shared`: `../shared/codec-fixtures/<name>/` (the paper's configs: tiny weights run through upstream code);
    - `committed`: `tests/fixtures/codecs/<name>/tiny/` (a family's fixture made from its upstream code by a script
      in the repository);
    - `shipped`: the paper's configs without ../shared: the manifest's facts only (parity data skip);
    - `generated`: made this session by tests/tiny_configs.py from the family tester's transformers reference.
    """
    from codecfake_hf.codecs.registry import RELEASE_NAMES

    if (SHARED / "codec-fixtures" / name).is_dir():
        return "shared"
    if (FIXTURES / "codecs" / name / "tiny").is_dir():
        return "committed"
    if name in RELEASE_NAMES:
        return "shipped"
    return "generated"


def load_codec_fixture(name: str) -> CodecFixture:
    """The `CodecFixture` of a codec config (see `fixture_source`)."""
    source = fixture_source(name)
    if source == "shared":
        root = SHARED / "codec-fixtures" / name
        return CodecFixture(root, root)
    if source == "committed":
        root = FIXTURES / "codecs" / name
        return CodecFixture(root, root)
    if source == "generated":
        from tiny_configs import generated_fixture_root

        root = generated_fixture_root(name)
        return CodecFixture(root, root)
    shipped = FIXTURES / "codecs" / name
    if not shipped.is_dir():
        pytest.fail(f"no codec fixture for {name!r} in {shipped.parent} (regenerate with tests/fixtures/"
                    "make_fixtures.py)" + ("" if has_shared() else f" nor in {SHARED}"))
    return CodecFixture(shipped)


@pytest.fixture(scope="session")
def codec_fixture():
    """`codec_fixture(name)` -> the `CodecFixture` of a codec config (facts always; parity data from ../shared)."""
    return load_codec_fixture


@pytest.fixture(scope="session")
def tiny_codec(codec_fixture):
    """`tiny_codec(name)` -> the codec built from its fixture's tiny config and weights (once per session).

    The weights are the checkpoint-format ones: `weights_transformers.safetensors` for EnCodec and DAC,
    whose official checkpoints are transformers', `weights.safetensors` for the other families. Without
    ../shared, the same tiny architecture with seeded random weights: enough for what a codec must do whatever
    its weights (lengths, batch invariance); a test that compares with the upstream outputs skips reading them.
    """
    from codecfake_hf import codecs

    cache = {}

    def get(name: str):
        if name not in cache:
            fixture = codec_fixture(name)
            if fixture.parity is None:
                cache[name] = codecs.load(name, config=fixture.tiny_checkpoint_config, random_weights=True)
                return cache[name]
            weights = ("weights_transformers.safetensors" if fixture.has("weights_transformers.safetensors")
                       else "weights.safetensors")
            cache[name] = codecs.load(name, config=fixture.tiny_checkpoint_config, state_dict=fixture.weights(weights))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """Real VCTK utterances (`genuine+<utt>.wav`, 16 kHz), from ../shared/data/codecfake-demo/ or, without it, the
    copies shipped in tests/fixtures/clips/. Only ../shared also holds the release's codec clips (`release_dir`)."""
    path = SHARED / "data" / "codecfake-demo"
    return path if path.is_dir() else FIXTURES / "clips"


@pytest.fixture(scope="session")
def release_dir(shared) -> Path:
    """The CodecFake release's clips: `genuine+<utt>.wav` and what each of the 15 codecs made of them."""
    return shared / "data" / "codecfake-demo"


class ReleaseInfo(NamedTuple):
    """A release clip's length and rate, named as `soundfile.info`'s fields."""

    frames: int
    samplerate: int


@pytest.fixture(scope="session")
def release_lengths() -> dict[str, ReleaseInfo]:
    """`{"<codec>+<utt>.wav": (frames, samplerate)}` of the release's codec clips (shipped; no audio needed)."""
    table = json.loads((FIXTURES / "clips" / "release-lengths.json").read_text())
    return {name: ReleaseInfo(entry["frames"], entry["sample_rate"]) for name, entry in table.items()}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line at the end of the run: how many tests ../shared would add, and how to get it."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = sum(1 for report in skipped if SHARED_TAG in str(report.longrepr))
    if missing:
        terminalreporter.write_line(
            f"{missing} test(s) skipped for want of the parity data (tiny codec weights, upstream outputs, the "
            f"release's codec clips, detector and resampler fixtures; ~55 MB): {HOW_TO_GET_SHARED}", yellow=True)


def rel_l2(actual, expected) -> float:
    """Relative L2 error ||a - e|| / ||e||, the parity measure of the codec fixtures."""
    actual = np.asarray(actual, dtype=np.float64).ravel()
    expected = np.asarray(expected, dtype=np.float64).ravel()
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


def pad_batch(waves: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Zero-padded float32 `[B, T]` batch of `waves` and their lengths, as `Codec.resynthesize` takes them."""
    lengths = [wave.shape[0] for wave in waves]
    batch = np.zeros((len(waves), max(lengths)), np.float32)
    for row, wave in zip(batch, waves, strict=True):
        row[: wave.shape[0]] = wave
    return batch, lengths


def resynthesize_one(codec, wave: np.ndarray) -> np.ndarray:
    """`codec`'s reconstruction of one utterance alone, cut to its output length."""
    out, lengths = codec.resynthesize(wave[None], [wave.shape[0]])
    return out[0, : int(lengths[0])].numpy()


def resynthesize_float64(codec, waves: list[np.ndarray]) -> np.ndarray:
    """`codec`'s padded-batch path on `waves` in float64 (`codec.model` already `.double()`): where float32's
    batch-dependent rounding meets a near tie or an ill-conditioned norm, float64 leaves only the masking to differ."""
    padded, sizes = pad_batch(waves)
    with torch.inference_mode():
        return codec._resynthesize(torch.from_numpy(padded).double(), torch.tensor(sizes)).numpy()


class FakeHubCache:
    """A Hugging Face cache folder in the Hub's layout, used offline (`HF_HUB_OFFLINE=1`).

    `add(repo_id, {filename: path_or_bytes})` places files as `hf download` would, so the real
    `hf_hub_download` code path resolves them without any network.
    """

    REVISION = "0123456789abcdef0123456789abcdef01234567"

    def __init__(self, root: Path):
        self.root = root

    def add(self, repo_id: str, files: dict[str, Path | bytes | str]) -> Path:
        repo_dir = self.root / f"models--{repo_id.replace('/', '--')}"
        snapshot = repo_dir / "snapshots" / self.REVISION
        for filename, content in files.items():
            target = snapshot / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            else:
                target.write_bytes(content.encode() if isinstance(content, str) else content)
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(self.REVISION)
        return snapshot


@pytest.fixture
def fake_hub(tmp_path, monkeypatch) -> FakeHubCache:
    """An empty offline Hub cache; `huggingface_hub` reads only from it during the test."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return FakeHubCache(cache)
