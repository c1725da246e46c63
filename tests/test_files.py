"""codecfake_hf.files: result files are replaced whole or not at all."""

import json

import pytest

from codecfake_hf import files


def test_write_json_atomic_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    assert files.write_json_atomic(path, {"eer": 0.5, "codec": "encodec_24khz"}) == path
    assert json.loads(path.read_text()) == {"eer": 0.5, "codec": "encodec_24khz"}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "README.md"
    path.write_text("the old card\n")

    def killed(*args):
        raise KeyboardInterrupt  # as if the run were stopped between writing and renaming

    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        files.write_text_atomic(path, "a new card that never lands\n")
    assert path.read_text() == "the old card\n"
