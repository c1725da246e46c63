"""tests/fixtures/: the facts a fresh clone tests with, their agreement with ../shared, and the skip summary."""

from __future__ import annotations

import os
import subprocess
import sys

import soundfile as sf
from codec_tester import get_tester
from conftest import FIXTURES, ROOT, SHARED_TAG, load_codec_fixture, need_shared

from codecfake_hf import codecs


def test_every_registry_config_has_shipped_facts():
    # The paper's configs; the ones beyond it (transformers families) build their tiny configs in
    # tests/tiny_configs.py and record their official key/shape sets from the meta device.
    shipped = {path.parent.name for path in (FIXTURES / "codecs").glob("*/manifest.json")}
    assert set(codecs.registry.RELEASE_NAMES) <= shipped
    for name in codecs.registry.RELEASE_NAMES:
        manifest = (FIXTURES / "codecs" / name / "manifest.json")
        fixture = load_codec_fixture(name)
        assert fixture.manifest["name"] == name
        assert fixture.official_shapes(), name  # the official key/shape set
        assert fixture.tiny_checkpoint_config, name  # and a config to build the architecture small
        assert manifest.stat().st_size < 100_000


def test_shipped_clips_are_real_speech_with_attribution(release_lengths):
    clips = sorted(path.name for path in (FIXTURES / "clips").glob("*.wav"))
    assert clips == ["genuine+p225_273.wav", "genuine+p295_144.wav", "genuine+p318_114.wav"]
    assert [sf.info(FIXTURES / "clips" / name).frames for name in clips] == [102472, 69002, 44434]
    attribution = (FIXTURES / "clips" / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in attribution and "VCTK" in attribution and "CodecFake" in attribution
    # The release's lengths of every config on every clip (the DESIGN's examples among them).
    assert len(release_lengths) == 3 * len(codecs.registry.RELEASE_NAMES)
    assert release_lengths["SpeechTokenizer+p225_273.wav"] == (102720, 16000)
    assert release_lengths["academicodec_hifi_16k_320d+p225_273.wav"] == (102400, 16000)
    assert release_lengths["audiodec_24k_320d+p225_273.wav"] == (153900, 24000)
    assert release_lengths["funcodec-funcodec_en_libritts-16k-gr1nq32ds320+p295_144.wav"] == (68960, 16000)
    committed = [FIXTURES / "codecs" / name for name in codecs.names()
                 if (FIXTURES / "codecs" / name / "tiny").is_dir()]
    size = sum(path.stat().st_size for path in FIXTURES.rglob("*")
               if path.is_file() and not any(folder in path.parents for folder in committed))
    assert size < 3_000_000  # small facts only; the paper configs' parity data stay in ../shared
    for folder in committed:  # a family's upstream-made fixture: a tiny model, short inputs
        budget = get_tester(folder.name).fixture_bytes
        # a raised budget stays small: 1.5 MB at most, for a chain of several networks shipped partly as ONNX graphs
        # (whose files carry the graph's structure too); the tester says why beside its number
        assert budget <= 1_500_000, folder
        assert sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) < budget, folder


def test_shipped_fixtures_are_what_the_recipe_makes_from_shared(tmp_path):
    """Where ../shared is present, the shipped copies must not drift from it (regenerate with the recipe)."""
    need_shared("the codec fixtures the shipped facts are copied from")
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_fixtures
    finally:
        sys.path.remove(str(FIXTURES))
    make_fixtures.write(make_fixtures.shared_root(), tmp_path)
    made = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    # What the recipe writes: the clips and the paper's configs' facts (other families commit fixtures made by
    # their own scripts from their upstream code).
    recipe = [FIXTURES / "clips", *(FIXTURES / "codecs" / name for name in codecs.registry.RELEASE_NAMES)]
    shipped = sorted(path.relative_to(FIXTURES) for folder in recipe for path in folder.rglob("*")
                     if path.is_file() and "__pycache__" not in path.parts)
    assert made == shipped
    stale = [str(path) for path in made if (tmp_path / path).read_bytes() != (FIXTURES / path).read_bytes()]
    assert not stale, f"run `python tests/fixtures/make_fixtures.py`: {stale}"


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "CODECFAKE_REQUIRE_SHARED"}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_a_clone_without_shared_runs_the_facts_and_says_in_one_line_what_it_skipped(tmp_path):
    tests = ["tests/test_fixtures.py::test_every_registry_config_has_shipped_facts",
             "tests/test_fixtures.py::test_shipped_fixtures_are_what_the_recipe_makes_from_shared"]
    fresh = _pytest(*tests, CODECFAKE_SHARED=str(tmp_path / "no-shared"))
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    assert "1 passed, 1 skipped" in fresh.stdout
    summary = [line for line in fresh.stdout.splitlines() if "skipped for want of the parity data" in line]
    assert len(summary) == 1 and summary[0].startswith("1 test(s) skipped") and "CODECFAKE_SHARED" in summary[0]
    assert SHARED_TAG not in fresh.stdout  # no per-test skip lines: the one line says it all
    # CI's rule (.ci/run): with CODECFAKE_REQUIRE_SHARED=1 a missing ../shared is a failure, not a skip.
    ci = _pytest(*tests, CODECFAKE_SHARED=str(tmp_path / "no-shared"), CODECFAKE_REQUIRE_SHARED="1")
    assert ci.returncode == 1 and "1 failed, 1 passed" in ci.stdout
