"""`builder build --push_to`: shards committed to a Hub dataset repository as they finish and removed locally, the
card committed last, a fresh folder resuming from the repository; against `mock_hub.MockHub` on 127.0.0.1."""

from __future__ import annotations

import importlib
import json
import shutil
import socket
from pathlib import Path

import pytest
from huggingface_hub import constants
from mock_hub import MockHub
from test_builder import ENCODEC, TinyCodecs
from test_streaming import make_hub_layout

from builder import BuildRequest, build
from builder.__main__ import main as builder_main
from codecfake_hf import hub

build_module = importlib.import_module("builder.build")  # the module (`builder.build` is also a function)

TOKEN = "hf_MockHubToken0123456789abcdefghijk"
REPO = "me/codecfake-stream"


@pytest.fixture
def mock_hub(monkeypatch):
    server = MockHub(TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)  # read at import: as if HF_ENDPOINT had been set before
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield server
    server.close()


@pytest.fixture
def hub_layout(tmp_path, demo_dir) -> Path:
    return make_hub_layout(tmp_path / "source", demo_dir)


def request(source: Path, out: Path, **options) -> BuildRequest:
    return BuildRequest(source=f"hf:{source}", codecs=ENCODEC, out=str(out), device="cpu", shard_size=3,
                        split_ratios="0.5,0.25,0.25", **options)


def local_shards(out: Path) -> list[Path]:
    """Every shard file in the folder: finished ones in data/, and those being written in the staging folder."""
    return sorted([*out.glob("data/*/*.parquet"), *(out / ".codecfake" / "tmp").rglob("*.parquet")])


def count_peak(monkeypatch, out: Path) -> list[int]:
    """Counts the shard files in `out` each time a shard is about to be written (its own file not yet there)."""
    counts = []
    original = build_module.write_shard

    def counting(rows, path, **kwargs):
        counts.append(len(local_shards(out)))
        return original(rows, path, **kwargs)

    monkeypatch.setattr(build_module, "write_shard", counting)
    return counts


def test_push_to_uploads_each_shard_once_keeps_few_locally_and_a_fresh_folder_resumes(
        hub_layout, tmp_path, codec_fixture, mock_hub, monkeypatch):
    local = build(request(hub_layout, tmp_path / "local"), codec_factory=TinyCodecs(codec_fixture), progress=False)
    expected = {p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
                for p in sorted((tmp_path / "local").glob("data/*/*.parquet"))}
    assert len(expected) == 8 and local.complete == ["genuine", ENCODEC]  # 4 shards per part

    out = tmp_path / "pushed"
    counts = count_peak(monkeypatch, out)
    report = build(request(hub_layout, out, push_to=REPO, push_batch=2), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.complete == ["genuine", ENCODEC] and report.uploaded == 8 and report.pushed.endswith(REPO)
    files = mock_hub.repos[REPO]
    assert {p: files[p] for p in files if p.startswith("data/")} == expected  # the same shards, byte for byte
    uploads = mock_hub.uploads(REPO)
    assert all(uploads[p] == 1 for p in expected) and uploads["README.md"] == 1
    assert sorted(p for p in files if p.startswith(".codecfake/")) == sorted(
        f".codecfake/shards/{p[len('data/'):-len('.parquet')]}.json" for p in expected)
    # Local disk: at most `push_batch` finished shards waiting for their commit, plus a genuine shard read back.
    assert local_shards(out) == [] and max(counts) <= 2 + 1, counts
    record = json.loads((out / ".codecfake/shards/genuine/test-00000-of-00001.json").read_text())
    assert record["hub"]["repo"] == REPO and record["hub"]["path"] == "data/genuine/test-00000-of-00001.parquet"
    assert len(record["hub"]["commit"]) == 40
    # The card: counted from the records, as a local build's card, but naming the repository.
    shutil.copytree(tmp_path / "local", tmp_path / "local-named")
    hub.fill_repo_id(tmp_path / "local-named", REPO)
    assert files["README.md"] == (tmp_path / "local-named" / "README.md").read_bytes()
    assert (out / "README.md").read_bytes() == files["README.md"]

    # Another machine: a fresh folder, the same options. Nothing is made or uploaded again; the card is.
    commits = len(mock_hub.commits)
    codecs = TinyCodecs(codec_fixture)
    again = build(request(hub_layout, tmp_path / "elsewhere", push_to=REPO), codec_factory=codecs, progress=False)
    assert again.written == 0 and again.kept == 8 and again.uploaded == 0 and codecs.built == []
    # the card and its examples, made from the first shard of each part that the repository holds (downloaded)
    examples = sorted(p for p in files if p.startswith("examples/"))
    assert examples[-1] == "examples/spectrograms.png" and len(examples) == 5
    assert mock_hub.commits[commits:] == [(REPO, ["README.md", *examples])]
    assert mock_hub.repos[REPO]["README.md"] == files["README.md"]
    assert all(mock_hub.repos[REPO][p] == (tmp_path / "local" / p).read_bytes() for p in examples[:-1])


def test_push_to_refuses_a_repository_built_with_other_options(hub_layout, tmp_path, codec_fixture, mock_hub):
    build(request(hub_layout, tmp_path / "a", push_to=REPO), codec_factory=TinyCodecs(codec_fixture),
          progress=False)
    with pytest.raises(Exception, match=f"`push_to` {REPO}: the repository holds data/genuine/.*, made from other "
                                        "options .*repeat the options"):
        build(request(hub_layout, tmp_path / "b", push_to=REPO, limit=5), codec_factory=TinyCodecs(codec_fixture),
              progress=False)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("case, message", [
    ("no token", "No Hugging Face token found. Set the HF_TOKEN environment variable"),
    ("refused", "the Hub refused the token (401 Unauthorized: invalid or expired)"),
    ("unreachable", "cannot be reached (ConnectError"),
])
def test_push_to_errors_at_the_start_are_one_line_before_any_work(
        case, message, hub_layout, tmp_path, mock_hub, monkeypatch, capsys):
    if case == "no token":
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "no-login"))
        monkeypatch.setattr(hub, "get_token", lambda: None)
    elif case == "refused":
        monkeypatch.setenv("HF_TOKEN", "hf_" + "Refused" * 5)
    else:
        monkeypatch.setattr(constants, "ENDPOINT", closed_port())
    listed = []
    monkeypatch.setattr(build_module, "open_source", lambda *a, **k: listed.append(1))
    out = tmp_path / "out"
    assert builder_main(["build", "--source", f"hf:{hub_layout}", "--out", str(out), "--codecs", ENCODEC,
                         "--device", "cpu", "--push_to", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("error: "), err
    assert listed == [] and not out.exists()  # neither the source nor a codec was touched


def test_a_run_stopped_before_its_commit_is_finished_in_the_same_folder_without_writing_again(
        hub_layout, tmp_path, codec_fixture, mock_hub, monkeypatch):
    """Shards finished but not yet committed when a run stopped are committed by the next run, not made again."""
    from builder.upload import HubShards

    out = tmp_path / "out"
    original, calls = HubShards.flush, []

    def stopping(self):
        calls.append(len(self.queue))
        if len(calls) == 3:  # the third commit never happens: the run is stopped with 2 shards finished here
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(HubShards, "flush", stopping)
    with pytest.raises(KeyboardInterrupt):
        build(request(hub_layout, out, push_to=REPO, push_batch=2), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
    monkeypatch.setattr(HubShards, "flush", original)
    waiting = [p.relative_to(out).as_posix() for p in local_shards(out)]
    assert len(waiting) == 2 and not any(p in mock_hub.repos[REPO] for p in waiting)
    report = build(request(hub_layout, out, push_to=REPO, push_batch=2), codec_factory=TinyCodecs(codec_fixture),
                   progress=False)
    assert report.kept == 4 and report.written == 4 and report.uploaded == 4 + 2  # the 2 waiting went up first
    uploads = mock_hub.uploads(REPO)
    assert len([p for p in uploads if p.startswith("data/")]) == 8 and set(uploads.values()) == {1}
    assert local_shards(out) == []


def test_push_to_refuses_a_shard_holding_a_token_and_sends_nothing_of_it(tmp_path, demo_dir, codec_fixture,
                                                                          mock_hub):
    source = make_hub_layout(tmp_path / "source", demo_dir, first_text="my token is hf_" + "Leaked" * 6 + "abcd")
    with pytest.raises(hub.PushError, match="genuine/.*parquet holds a Hub token .*it was not uploaded"):
        build(request(source, tmp_path / "out", push_to=REPO, push_batch=1), codec_factory=TinyCodecs(codec_fixture),
              progress=False)
    assert not any(b"Leaked" in data for data in mock_hub.repos[REPO].values())


def test_conditions_with_push_to_are_one_message_before_anything_is_written(tmp_path, capsys):
    """A condition shard is made from its clean shard on disk, which `--push_to` removes: the two are refused
    together, naming the way round, before the folder exists."""
    out = tmp_path / "out"
    code = builder_main(["build", "--source", "builtin:demo", "--codecs", ENCODEC, "--out", str(out),
                         "--conditions", "opus_16k", "--push_to", REPO, "--random_weights"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and not out.exists()
    assert "`--conditions` and `--push_to` cannot be used together yet" in error and "`builder push`" in error
