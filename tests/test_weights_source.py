"""Official weights from elsewhere than the spec's Hub repository: a local folder or a Hub mirror (`weights=`), and
a release that is not on the Hub at all (`CodecSpec.hub_repo` None, `weights_page`).

The files are the tiny fixtures' weights in each release's own layout (the family tester's `hub_layout`); the
reference is the codec built from the same fixture by `config`/`state_dict`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from codec_tester import get_tester
from conftest import rel_l2, resynthesize_one
from test_builder import config_for, rows_of
from test_corpus import make_vctk_tree

from builder import BuildRequest, build
from codecfake_hf import codecs
from codecfake_hf.codecs import registry
from codecfake_hf.codecs.spec import CodecSpec
from codecfake_hf.errors import CodecConfigError, CodecFakeError, UnknownCodecError, WeightsUnavailableError

NAME = "snac_24khz"  # a release whose files hold their config (config.json + pytorch_model.bin)
PAGE = "https://example.org/releases/snac_24khz"


def write_release(folder: Path, name: str, codec_fixture) -> Path:
    """The release's files of `name`'s tiny fixture model, under their published names, in `folder`."""
    files, _ = get_tester(name).hub_layout(name, codec_fixture(name))
    folder.mkdir(parents=True)
    for filename, data in files.items():
        (folder / filename).write_bytes(data if isinstance(data, bytes) else data.encode())
    return folder


@pytest.fixture
def off_hub(monkeypatch):
    """NAME as a release published outside the Hub (for the test's length)."""
    published = dataclasses.replace(codecs.spec(NAME), hub_repo=None, weights_page=PAGE)
    monkeypatch.setitem(registry._REGISTRY, NAME, published)
    return published


def assert_is_the_fixture(codec, name, tiny_codec, codec_fixture):
    reference = tiny_codec(name)
    state, expected = codec.model.state_dict(), reference.model.state_dict()
    assert state.keys() == expected.keys()
    assert all(np.array_equal(state[k].numpy(), expected[k].numpy()) for k in expected)
    wave = codec_fixture(name).npy("input.npy")
    assert rel_l2(resynthesize_one(codec, wave), resynthesize_one(reference, wave)) <= 1e-6


def test_a_local_folder_gives_the_official_model_offline(tmp_path, fake_hub, codec_fixture, tiny_codec):
    """An empty offline cache: the Hub path fails, the user's folder (str or Path) gives the model."""
    folder = write_release(tmp_path / "my copy", NAME, codec_fixture)
    with pytest.raises(WeightsUnavailableError, match="hubertsiuzdak/snac_24khz"):
        codecs.load(NAME)
    for place in (str(folder), folder):
        codec = codecs.load(NAME, weights=place)
        assert not codec.random_weights and codec.spec.hub_repo == "hubertsiuzdak/snac_24khz"
        assert_is_the_fixture(codec, NAME, tiny_codec, codec_fixture)


def test_a_hub_mirror_is_read_through_the_cache(fake_hub, codec_fixture, tiny_codec):
    files, _ = get_tester(NAME).hub_layout(NAME, codec_fixture(NAME))
    fake_hub.add("someone/snac-mirror", files)
    assert_is_the_fixture(codecs.load(NAME, weights="someone/snac-mirror"), NAME, tiny_codec, codec_fixture)


def test_a_folder_without_a_file_names_the_folder_and_the_file(tmp_path, fake_hub, codec_fixture):
    folder = write_release(tmp_path / "copy", NAME, codec_fixture)
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(WeightsUnavailableError) as info:
        codecs.load(NAME, weights=folder)
    message = str(info.value)
    assert message.startswith(f"{NAME}: the weights folder {folder} has no 'pytorch_model.bin'")


def test_a_release_off_the_hub_asks_for_its_files_and_names_the_page(off_hub, fake_hub):
    with pytest.raises(WeightsUnavailableError) as info:
        codecs.load(NAME)
    message = str(info.value)
    assert f"published at {PAGE}" in message and "config.json, pytorch_model.bin" in message
    assert f"--weights {NAME}=FOLDER" in message and "`weights=FOLDER`" in message


def test_a_release_off_the_hub_loads_from_the_users_folder(off_hub, tmp_path, fake_hub, codec_fixture, tiny_codec):
    folder = write_release(tmp_path / "download", NAME, codec_fixture)
    codec = codecs.load(NAME, weights=folder)
    assert codec.spec is off_hub  # the codec keeps the registry's spec; only the download read the folder
    assert_is_the_fixture(codec, NAME, tiny_codec, codec_fixture)


def test_weights_refuses_other_weights_and_an_empty_place(tmp_path):
    with pytest.raises(CodecConfigError, match="cannot be combined with `state_dict` or `random_weights=True`"):
        codecs.load(NAME, weights=tmp_path, random_weights=True)
    with pytest.raises(CodecConfigError, match="`weights` is empty"):
        codecs.load(NAME, weights=" ")


def test_a_spec_names_either_a_hub_repository_or_a_page():
    fields = {"name": "x", "family": "f", "sample_rate": 16000, "hop_length": 320, "n_codebooks": 1,
              "codebook_size": 1024, "bitrate_kbps": 0.5, "hub_files": ("m.ckpt",), "length_rule": "same",
              "quantizer": "single-codebook", "auxiliary": "none", "decoder": "time"}
    for repo, page in ((None, None), ("a/b", "https://example.org")):
        with pytest.raises(ValueError, match="name the Hub repository of the official weights, or"):
            CodecSpec(**fields, hub_repo=repo, weights_page=page)
    assert CodecSpec(**fields, hub_repo=None, weights_page="https://example.org").hub_repo is None


def test_builder_weights_are_parsed_by_codec_name(tmp_path):
    request = BuildRequest(source="vctk:x", out="o", weights=f" SNAC24={tmp_path} ,DAC16=me/dac ")
    assert request.weight_sources() == {NAME: str(tmp_path), "descript-audio-codec-16khz": "me/dac"}
    for bad, match in (("snac24", "is not NAME=FOLDER"), ("=x", "is not NAME=FOLDER"),
                       ("snac24=", "is not NAME=FOLDER")):
        with pytest.raises(CodecFakeError, match=match):
            BuildRequest(source="vctk:x", out="o", weights=bad).check()
    with pytest.raises(UnknownCodecError, match="snac_25khz"):
        BuildRequest(source="vctk:x", out="o", weights="snac_25khz=/x").check()
    with pytest.raises(CodecFakeError, match="cannot be combined with `random_weights`"):
        BuildRequest(source="vctk:x", out="o", weights="snac24=/x", random_weights=True).check()


def test_a_build_takes_an_off_hub_release_from_its_folder(off_hub, tmp_path, fake_hub, demo_dir, codec_fixture):
    """`builder build --weights NAME=FOLDER`: the codec's rows are written from the folder's weights; without the
    option the codec is reported with the page to download from, and the genuine rows are still written."""
    folder = write_release(tmp_path / "download", NAME, codec_fixture)
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.92", per_speaker=1)
    report = build(config_for(source, tmp_path / "without", NAME), progress=False)
    assert report.complete == ["genuine"] and PAGE in report.failed[NAME]
    report = build(config_for(source, tmp_path / "with", NAME, weights=f"{NAME}={folder}"), progress=False)
    assert report.complete == ["genuine", NAME] and not report.failed
    assert {row["codec"] for row in rows_of(tmp_path / "with")} == {"genuine", NAME}
