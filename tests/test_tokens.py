"""The Hub token never reaches a file or a log line: build, push, finetune, score, card and protocol at `-v`.

One token, given every way a user can give it (`HF_TOKEN`, `--token`, `--hub_token`), and every command
run at debug verbosity with pushes recorded; then every file each command wrote, and every log line,
stdout and stderr, is searched for it (and for any `hf_...` token at all).
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from test_builder import ENCODEC, TinyCodecs
from test_corpus import SPEAKERS, make_vctk_tree
from test_eval import run_cli, tiny_codecfake, tiny_wav2vec2, trainer_flags  # noqa: F401 (fixtures)

from builder.__main__ import main as builder_main

SECRET = "hf_TokenHygieneSecret0123456789abcdef"  # hf_ + 34, as real tokens
ANY_TOKEN = re.compile(rb"hf_[A-Za-z0-9]{8,}")


def leaks(folder: Path) -> list[str]:
    """Files under `folder` holding the secret or any `hf_...` token."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if SECRET.encode() in data or ANY_TOKEN.search(data):
                found.append(str(path.relative_to(folder)))
    return found


@pytest.fixture
def pushes(monkeypatch):
    """Record the Hub calls (no network): (method, repo_id, the files of the folder pushed)."""
    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, self.token)))

    def upload_folder(self, repo_id, folder_path, ignore_patterns=(), **kwargs):
        calls.append(("upload", repo_id, self.token, list(ignore_patterns)))
        return "https://hub/commit"

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


@pytest.mark.slow  # five commands, two trainings: about 45 s on 2 busy cores
def test_no_command_writes_or_logs_the_token(tmp_path, demo_dir, codec_fixture, tiny_codecfake, tiny_wav2vec2,  # noqa: F811
                                             pushes, monkeypatch, capsys, caplog):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    outputs = []

    # build and push (the dataset side), at -v
    source = make_vctk_tree(tmp_path / "VCTK", demo_dir, "0.80", speakers={s: SPEAKERS[s] for s in ("p225", "p227")},
                            per_speaker=1, seconds=0.5)
    tiny = TinyCodecs(codec_fixture)
    monkeypatch.setattr(sys.modules["builder.build"], "default_codec_factory",
                        lambda name, device, random_weights, seed=0, weights=None: tiny(name, device, random_weights))
    dataset = tmp_path / "dataset"
    assert builder_main(["-v", "build", "--source", f"vctk:{source}", "--out", str(dataset), "--codecs", ENCODEC,
                         "--random_weights", "--shard_size", "1"]) == 0
    assert builder_main(["-v", "push", str(dataset), "--repo", "me/codecfake"]) == 0
    outputs.append(dataset)

    # finetune (with a push), score, card (with a push), protocol: the model side
    model = tmp_path / "model"
    assert run_cli("finetune", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   *trainer_flags(model, tmp_path / "cache", steps=1), "--token", SECRET, "--hub_token", SECRET,
                   "--push_to_hub", "--hub_model_id", "me/detector", "--log_level", "debug") == 0
    assert run_cli("score", "--model_name_or_path", model, "--dataset_name", tiny_codecfake, "--split", "test",
                   "--output_dir", tmp_path / "scores", "--cache_dir", tmp_path / "cache", "--device", "cpu",
                   "--token", SECRET) == 0
    assert run_cli("card", "--model_dir", model, "--push_to_hub", "--hub_model_id", "me/detector",
                   "--hub_token", SECRET) == 0
    flags = trainer_flags(tmp_path / "protocol", tmp_path / "cache", steps=1)
    assert run_cli("protocol", "--protocol", "all", "--dataset_name", tiny_codecfake, "--config_name", tiny_wav2vec2,
                   *flags, "--token", SECRET, "--hub_token", SECRET, "--push_to_hub", "--hub_model_id", "me/p") == 0
    outputs += [model, tmp_path / "scores", tmp_path / "protocol"]

    for folder in outputs:
        assert list(folder.rglob("*")), f"{folder} holds nothing: the command did not run"
        assert leaks(folder) == [], folder
    assert (model / "training_args.bin").is_file()  # written, and token-free
    # every push carried the token to the Hub (and only there)
    assert {call[1] for call in pushes} >= {"me/codecfake", "me/detector", "me/p-all"}
    assert all(call[2] == SECRET for call in pushes)
    out = capsys.readouterr()
    logged = caplog.text + out.out + out.err
    assert SECRET not in logged and not ANY_TOKEN.search(logged.encode())
    assert "DEBUG" in caplog.text or any(r.levelno == logging.DEBUG for r in caplog.records)
