"""Third-party codec families: a real distribution declaring an entry point in the group `codecfake_hf.codecs`,
built into a wheel and installed into a temporary folder, adds its configs to `codecs.names()` and builds; a plugin
that raises on import is named in one warning line and breaks nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import ROOT
from test_corpus import make_vctk_tree

# A toy family: 8-bit mu-law companding of each sample after a learnable gain (its one weight), 16 kHz.
TOY_FAMILY = '''
"""A toy codec family for codecfake-hf's plugin test: 8-bit mu-law companding after a gain."""

import math

import torch
from torch import nn

from codecfake_hf.codecs import Codec, CodecSpec
from codecfake_hf.codecs import transformers_weights  # noqa: F401  (the package's modules import fine)
from codecfake_hf.codecs import weights

SPECS = [CodecSpec(
    name="toy-mulaw", family="toy_mulaw", sample_rate=16000, hop_length=1, n_codebooks=1, codebook_size=256,
    bitrate_kbps=128.0, hub_repo="example/toy-mulaw", hub_files=("config.json", "model.safetensors"),
    length_rule="same as input", quantizer="scalar", auxiliary="none", decoder="time", backend="toy-codec-plugin",
    license="mit", aliases=("toy",),
)]
OPTIONS = {}


def default_config(spec):
    return {"bits": 8}


def download(spec):
    path = weights.hub_file(spec.hub_repo, "config.json", codec=spec.name)
    config = weights.read_config_file(path, codec=spec.name)
    return config, weights.load_checkpoint(weights.hub_file(spec.hub_repo, "model.safetensors", codec=spec.name),
                                           codec=spec.name)


class Gain(nn.Module):
    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))


class MuLawCodec(Codec):
    def __init__(self, spec, model, runtime, bits):
        super().__init__(spec, model, runtime)
        self.levels = 2 ** bits

    def _resynthesize(self, waves, lengths):
        mu = self.levels - 1
        x = (waves * self.model.gain).clamp(-1, 1)
        y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
        codes = torch.round((y + 1) / 2 * mu)
        y = codes / mu * 2 - 1
        return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


def build(spec, config, state_dict, *, runtime):
    model = Gain()
    if state_dict is not None:
        weights.load_strict(model, state_dict, source=f"{spec.name} checkpoint")
    return MuLawCodec(spec, model, runtime, int(config["bits"]))
'''


def _distribution(root: Path, name: str, module: str, files: dict[str, str]) -> Path:
    folder = root / name
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.1.0"

        [project.entry-points."codecfake_hf.codecs"]
        {module}
        """))
    return folder


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """A folder holding two installed plugin distributions: a working toy family and one that raises on import."""
    root = tmp_path_factory.mktemp("plugins")
    toy = _distribution(root, "toy-codec-plugin", 'toy_mulaw = "toy_codec_plugin.family"',
                        {"toy_codec_plugin/__init__.py": "", "toy_codec_plugin/family.py": TOY_FAMILY})
    raises = "raise RuntimeError('this plugin is broken on purpose')\n"
    broken = _distribution(root, "broken-codec-plugin", 'broken_family = "broken_codec_plugin"',
                           {"broken_codec_plugin/__init__.py": raises})
    run = {"capture_output": True, "text": True, "timeout": 300}
    wheels = root / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                            str(wheels), str(toy), str(broken)], **run)
    assert built.returncode == 0, built.stderr[-3000:]
    site = root / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                                *map(str, sorted(wheels.glob("*.whl")))], **run)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert sorted(p.name for p in site.glob("*.dist-info")) == ["broken_codec_plugin-0.1.0.dist-info",
                                                                "toy_codec_plugin-0.1.0.dist-info"]
    return site


def _python(site: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_an_installed_plugin_adds_its_family_and_a_broken_one_is_named_in_one_warning(plugin_site):
    probe = ("import json; from codecfake_hf import codecs; from codecfake_hf.codecs import registry; "
             "print(json.dumps([codecs.names(), registry.families(), codecs.resolve('TOY'), "
             "codecs.spec('toy-mulaw').backend]))")
    result = _python(plugin_site, "-c", probe)
    assert result.returncode == 0, result.stderr[-3000:]
    names, families, alias, backend = json.loads(result.stdout)
    assert names[-1] == "toy-mulaw" and families[-1] == "toy_mulaw" and "broken_family" not in families
    assert (alias, backend) == ("toy-mulaw", "toy-codec-plugin")
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, result.stderr
    assert "codec plugin 'broken_family' (broken_codec_plugin) skipped" in warnings[0]
    assert warnings[0].endswith("RuntimeError: this plugin is broken on purpose")
    # Without the plugins installed, none of it is there.
    clean = subprocess.run([sys.executable, "-c", probe.replace("codecs.resolve('TOY')", "None").replace(
        "codecs.spec('toy-mulaw').backend", "None")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "toy-mulaw" not in json.loads(clean.stdout)[0] and clean.stderr.strip() == ""


@pytest.mark.slow  # a build in a fresh interpreter (transformers, datasets): about 30 s on 2 cores
def test_a_plugin_family_builds_and_loads_back_with_its_taxonomy(plugin_site, tmp_path, demo_dir):
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    out = tmp_path / "out"
    result = _python(plugin_site, "-m", "builder", "build", "--source", f"vctk:{source}", "--codecs", "toy",
                     "--random_weights", "--out", str(out), "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    toy = datasets.load_dataset(str(out), "toy-mulaw", split="test", cache_dir=str(tmp_path / "cache"))
    rows = {(row["codec"], row["utterance_id"]): row for row in toy}
    fakes = [key for key in rows if key[0] == "toy-mulaw"]
    assert fakes and all(("genuine", utt) in rows for _, utt in fakes)
    assert {toy.features["quantizer"].int2str(rows[key]["quantizer"]) for key in fakes} == {"scalar"}
    for key in fakes:  # the plugin's codec really ran: 8-bit mu-law of the genuine row (gain 1 at random init)
        genuine = rows[("genuine", key[1])]["audio"]["array"]
        fake = rows[key]["audio"]["array"]
        assert fake.shape == genuine.shape and not np.array_equal(fake, genuine)
        assert np.linalg.norm(fake - genuine) / np.linalg.norm(genuine) < 0.05
