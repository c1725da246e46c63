"""`python -m builder push` (recorded `HfApi` calls, no network) and the dataset card on odd folders."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from builder.__main__ import main
from builder.plan import Plan
from codecfake_hf import hub
from codecfake_hf.corpus import Record
from codecfake_hf.schema import FEATURES, make_row
from codecfake_hf.splits import SpeakerSplit

SECRET = "hf_SECRETtoken0123456789abcdefghijklm"  # hf_ + 34, as real tokens


class FakeResponse:
    headers: dict = {}
    request = None
    status_code = 403


@pytest.fixture
def dataset_folder(tmp_path) -> Path:
    """A small folder in the Hub layout, written by `datasets` (feature metadata included)."""
    folder = tmp_path / "ds"

    def write(part: str, split: str, ids: list[str]):
        pcm = (1000 * np.sin(np.arange(1600) / 5)).astype(np.int16)
        rows = [make_row(Record(utt, utt.split("_")[0]), part, pcm, 16000) for utt in ids]
        path = folder / "data" / part / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows, features=FEATURES).to_parquet(str(path))

    write("genuine", "train", ["p225_001", "p225_002"])
    write("genuine", "test", ["p227_001"])
    write("encodec_24khz", "train", ["p225_001", "p225_002"])
    write("encodec_24khz", "test", ["p227_001"])
    write("SpeechTokenizer", "train", ["p225_001"])  # no test rows for this codec
    hub.write_dataset_card(folder, hub.DatasetCardInfo(
        parts=["genuine", "encodec_24khz", "SpeechTokenizer"],
        speakers={"train": ["p225"], "test": ["p227"]},
        source={"description": "VCTK", "license": "cc-by-4.0", "attribution": "CSTR VCTK Corpus, CC BY 4.0."},
    ))
    # The builder's state: a plan whose parts are finished (the push reads it, and never uploads it).
    Plan(kind="import", identity={"split": SpeakerSplit.paper().to_dict()}, records={}, shard_size=1,
         parts={part: {"complete": True} for part in ("genuine", "encodec_24khz", "SpeechTokenizer")}).save(folder)
    return folder


@pytest.fixture
def recorded(monkeypatch):
    """Replace the network calls of `HfApi` by a recorder: [(method, token, kwargs)]."""
    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", self.token, {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", self.token, kwargs))

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


@pytest.fixture
def no_saved_login(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def all_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


def test_push_with_hf_token_uploads_the_folder_and_never_shows_the_token(
        dataset_folder, recorded, no_saved_login, monkeypatch, capsys, caplog):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    assert main(["push", str(dataset_folder), "--repo", "me/codecfake", "--private"]) == 0
    (create, create_token, create_args), (upload, upload_token, upload_args) = recorded
    assert (create, create_args) == ("create_repo", {"repo_id": "me/codecfake", "repo_type": "dataset",
                                                     "private": True, "exist_ok": True})
    assert upload == "upload_folder" and create_token == upload_token == SECRET
    assert upload_args["repo_id"] == "me/codecfake" and upload_args["repo_type"] == "dataset"
    assert Path(upload_args["folder_path"]) == dataset_folder
    assert ".codecfake/**" in upload_args["ignore_patterns"]
    out = capsys.readouterr()
    assert "https://huggingface.co/datasets/me/codecfake" in out.out
    assert SECRET not in out.out + out.err + caplog.text
    assert SECRET not in all_text(dataset_folder)


def test_push_uses_the_saved_login_and_upload_large_folder_where_it_exists(
        dataset_folder, recorded, no_saved_login, monkeypatch, tmp_path, capsys):
    token_file = tmp_path / "saved-token"
    token_file.write_text(SECRET)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(token_file))

    def upload_large_folder(self, **kwargs):
        recorded.append(("upload_large_folder", self.token, kwargs))

    monkeypatch.setattr(HfApi, "upload_large_folder", upload_large_folder, raising=False)
    assert hub.push_folder(dataset_folder, "me/codecfake") == "https://huggingface.co/datasets/me/codecfake"
    assert [(name, token) for name, token, _ in recorded] == [("create_repo", SECRET),
                                                              ("upload_large_folder", SECRET)]
    assert recorded[1][2]["private"] is False
    assert SECRET not in "".join(capsys.readouterr())


def test_push_without_a_token_ends_in_a_clear_message(dataset_folder, recorded, no_saved_login, capsys):
    assert main(["push", str(dataset_folder), "--repo", "me/codecfake"]) == 2
    err = capsys.readouterr().err
    assert "No Hugging Face token found. Set the HF_TOKEN environment variable, or log in once with " \
           "`hf auth login`" in err
    assert "Traceback" not in err and recorded == []


def test_push_refusals_name_the_argument(dataset_folder, tmp_path, recorded, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["push", str(dataset_folder), "--repo", "not a repo"]) == 2
    assert "`--repo` 'not a repo' is not a Hub repository id; use ORG/NAME" in capsys.readouterr().err
    assert main(["push", str(tmp_path), "--repo", "me/x"]) == 2
    assert "is not a built dataset folder (README.md and data/ expected)" in capsys.readouterr().err
    assert recorded == []


def test_a_hub_error_is_reported_without_the_token(dataset_folder, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)

    def refuse(self, repo_id, **kwargs):
        response = FakeResponse()  # what HfHubHTTPError reads of a response (the HTTP client varies by version)
        raise HfHubHTTPError(f"403 Forbidden: token {SECRET} cannot write to {repo_id}", response=response)

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    assert main(["push", str(dataset_folder), "--repo", "me/codecfake"]) == 2
    err = capsys.readouterr().err
    assert "403 Forbidden" in err and "Use a token with write access to 'me'" in err and SECRET not in err


def test_card_declares_only_splits_a_codec_has(dataset_folder, tmp_path):
    meta = yaml.safe_load((dataset_folder / "README.md").read_text().split("---\n")[1])
    configs = {c["config_name"]: {f["split"]: f["path"] for f in c["data_files"]} for c in meta["configs"]}
    assert configs["SpeechTokenizer"] == {"train": ["data/genuine/train-*.parquet",
                                                    "data/SpeechTokenizer/train-*.parquet"]}
    assert configs["all"]["test"] == ["data/genuine/test-*.parquet", "data/encodec_24khz/test-*.parquet"]
    ds = datasets.load_dataset(str(dataset_folder), "SpeechTokenizer", cache_dir=str(tmp_path / "cache"))
    assert list(ds) == ["train"] and len(ds["train"]) == 3
    assert datasets.load_dataset(str(dataset_folder), split="train", cache_dir=str(tmp_path / "cache")).num_rows == 5
