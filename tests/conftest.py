"""Shared fixtures: the one way to `../shared`, codec fixtures, the demo clips, an offline Hub cache."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# The fixtures were produced with one thread; near-tied codewords can flip with other thread counts.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared() -> Path:
    """`../shared` beside the checkout (or `$CODECFAKE_SHARED`): codec fixtures and real CodecFake clips.

    A user's clone has no `../shared`: tests that need it skip with this reason. CI sets
    `CODECFAKE_REQUIRE_SHARED=1` (in `.ci/run`), which turns that skip into a failure.
    """
    path = Path(os.environ.get("CODECFAKE_SHARED", ROOT.parent / "shared"))
    if not (path / "codec-fixtures").is_dir():
        reason = (f"{path} (codec fixtures and CodecFake demo clips) is not here; "
                  "set CODECFAKE_SHARED to its location to run these tests")
        if os.environ.get("CODECFAKE_REQUIRE_SHARED"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class CodecFixture:
    """One folder of `../shared/codec-fixtures/<name>/`: the manifest and the tiny model's files."""

    root: Path

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.root / "manifest.json").read_text())

    @property
    def tiny_dir(self) -> Path:
        return self.root / "tiny"

    @property
    def tiny_config(self) -> dict:
        return self.manifest["tiny"]["config"]

    @property
    def tiny_checkpoint_config(self) -> dict:
        """The tiny config in the format `codecs.load(config=...)` takes: the official checkpoint's.

        For EnCodec and DAC the official checkpoints are in transformers' format, and so is
        `config_transformers.json`; for the other families it is the manifest's `tiny.config`.
        """
        path = self.tiny_dir / "config_transformers.json"
        return json.loads(path.read_text()) if path.exists() else self.tiny_config

    def npy(self, name: str) -> np.ndarray:
        return np.load(self.tiny_dir / name)

    def has(self, name: str) -> bool:
        return (self.tiny_dir / name).exists()

    def weights(self, name: str = "weights.safetensors") -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.tiny_dir / name))

    def official_shapes(self) -> dict[str, tuple[int, ...]]:
        """The manifest's official state dict, flattened to `sub.key -> shape` as the tiny weights are."""

        def walk(tree: dict, prefix: str):
            for key, value in tree.items():
                if isinstance(value, dict):
                    yield from walk(value, f"{prefix}{key}.")
                else:
                    yield f"{prefix}{key}", tuple(value)

        return dict(walk(self.manifest["state_dict"], ""))


@pytest.fixture(scope="session")
def codec_fixture(shared):
    """`codec_fixture(name)` -> the `CodecFixture` of a codec config."""

    def get(name: str) -> CodecFixture:
        root = shared / "codec-fixtures" / name
        if not root.is_dir():
            pytest.fail(f"no codec fixture for {name!r} in {root.parent}")
        return CodecFixture(root)

    return get


@pytest.fixture(scope="session")
def tiny_codec(codec_fixture):
    """`tiny_codec(name)` -> the codec built from its fixture's tiny config and weights (once per session).

    The weights are the checkpoint-format ones: `weights_transformers.safetensors` for EnCodec and DAC,
    whose official checkpoints are transformers', `weights.safetensors` for the other families.
    """
    from codecfake_hf import codecs

    cache = {}

    def get(name: str):
        if name not in cache:
            fixture = codec_fixture(name)
            weights = ("weights_transformers.safetensors" if fixture.has("weights_transformers.safetensors")
                       else "weights.safetensors")
            cache[name] = codecs.load(name, config=fixture.tiny_checkpoint_config, state_dict=fixture.weights(weights))
        return cache[name]

    return get


@pytest.fixture(scope="session")
def demo_dir(shared) -> Path:
    """Real VCTK utterances and the CodecFake release's resynthesis of them (`<codec>+<utt>.wav`)."""
    return shared / "data" / "codecfake-demo"


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
