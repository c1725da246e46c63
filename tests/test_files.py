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


def test_temporary_names_are_unique_and_the_file_gets_the_usual_mode(tmp_path):
    path = tmp_path / "plan.json"
    with files.atomic_path(path) as first, files.atomic_path(path) as second:  # e.g. two ranks at once
        assert first != second and first.parent == second.parent == tmp_path
        first.write_text("1")
        second.write_text("2")
    assert path.read_text() == "1"  # the last rename wins; no temporary file is left
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_a_failed_write_into_another_folder_leaves_nothing(tmp_path):
    staging = tmp_path / "staging"
    with pytest.raises(RuntimeError), files.atomic_path(tmp_path / "data" / "x.parquet", tmp_dir=staging) as tmp:
        assert tmp.parent == staging
        tmp.write_bytes(b"half a shard")
        raise RuntimeError("codec failed")
    assert list(staging.iterdir()) == [] and not (tmp_path / "data" / "x.parquet").exists()


def test_atomic_files_renames_each_file_into_place_or_leaves_the_folder_as_it_was(tmp_path):
    from codecfake_hf.files import atomic_files

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("old")
    with pytest.raises(RuntimeError), atomic_files(folder) as staging:
        (staging / "config.json").write_text("new")
        raise RuntimeError("save_pretrained failed")
    assert [p.name for p in folder.iterdir()] == ["config.json"] and (folder / "config.json").read_text() == "old"
    with atomic_files(folder) as staging:
        (staging / "config.json").write_text("new")
        (staging / "sub").mkdir()
        (staging / "sub" / "weights.bin").write_bytes(b"\x00\x01")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == ["config.json", "sub",
                                                                                   "sub/weights.bin"]
    assert (folder / "config.json").read_text() == "new"
    assert (folder / "sub" / "weights.bin").read_bytes() == b"\x00\x01"
