"""No token in any byte uploaded, any log line or any error line (issue 19, item 3).

Reproductions of the second red team: `push` never searched `.parquet` files or files over 64 MiB; a Hub (or
proxy) that echoes the token in its error reached the final `error:` line of `eval score`/`eval finetune` in
clear, and a token not shaped `hf_...` reached logged tracebacks and the HTTP stack's DEBUG lines. The tokens
here are fresh and realistic (`hf_` + 34 letters and digits, or a proxy's token of another shape), and no test
registers them beforehand (conftest's `fresh_secrets`): what masks them is the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi, constants
from test_eval import tiny_codecfake  # noqa: F401 (fixture)

from builder.dataset import write_shard
from codecfake_hf import hub
from codecfake_hf.corpus import Record
from codecfake_hf.schema import make_row

ROOT = Path(__file__).resolve().parents[1]
REAL = "hf_" + "Zq7Lm2Xv9Pa4Kd8Rt1Wy6Nb3Hc5Js0GeUf"  # hf_ + 34, the Hub's shape
PROXY = "px-" + "Q1w2E3r4T5y6U7i8O9p0AsDfGhJkLzXcVb"  # a mirror's token: not hf_-shaped at all


class EchoBare(BaseHTTPRequestHandler):
    """401 to every request, echoing the bare token (no `Bearer` before it) where huggingface_hub reads the
    reason (`X-Error-Message`), in the JSON body and in a header of its own."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization", "")
        bare = auth.split()[-1] if auth else "none"
        body = json.dumps({"error": f"invalid credentials {bare}"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Message", f"Invalid credentials {bare}")
        self.send_header("X-Echo", bare)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_hub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoBare)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def dataset_folder(tmp_path) -> Path:
    folder = tmp_path / "ds"
    (folder / "data" / "genuine").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# a card\n")
    return folder


@pytest.fixture
def uploads(monkeypatch):
    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id)))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw["repo_id"])))
    monkeypatch.setattr(HfApi, "upload_large_folder", lambda self, **kw: calls.append(("upload", kw["repo_id"])),
                        raising=False)
    return calls


# --- every byte searched before a push -----------------------------------------------------------------------


def _shard_with_a_token_in_its_text(folder: Path, token: str) -> Path:
    """A real shard (the builder's writer, snappy pages) whose transcript holds a token."""
    import numpy as np

    record = Record(utterance_id="p225_001", speaker_id="p225", text=f"please call me, my key is {token}")
    wave = (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    row = make_row(record, "genuine", (np.round(wave * 32767)).astype(np.int16), 16_000)
    path = folder / "data" / "genuine" / "train-00000-of-00001.parquet"
    write_shard([row], path)
    return path


def _gzip_column(folder: Path, token: str) -> Path:
    """A Parquet file whose only column is gzip-compressed: the token is not in its bytes, only in its values."""
    path = folder / "data" / "genuine" / "train-00000-of-00001.parquet"
    text = [f"row {i} " + "padding " * 40 + (token if i == 7 else "") for i in range(20)]
    pq.write_table(pa.table({"text": text}), path, compression="gzip")
    assert token.encode() not in path.read_bytes()  # a search of the raw bytes alone would miss it
    return path


def _big_file(folder: Path, token: str) -> Path:
    """65 MiB (sparse), the token in its last bytes: past the 64 MiB that was the search's limit."""
    path = folder / "data" / "notes.bin"
    with open(path, "wb") as file:
        file.seek(65 << 20)
        file.write(f" {token} ".encode())
    return path


@pytest.mark.parametrize("plant", [_shard_with_a_token_in_its_text, _gzip_column, _big_file],
                         ids=["parquet-shard", "parquet-gzip", "65-MiB-file"])
@pytest.mark.parametrize("token, in_use", [(REAL, False), (PROXY, True)], ids=["hf-shaped", "token-in-use"])
def test_a_token_in_any_file_stops_the_push_before_anything_is_sent(plant, token, in_use, dataset_folder, uploads,
                                                                    monkeypatch):
    """An `hf_` token anywhere, or the token in use whatever its shape, in any file of any size."""
    monkeypatch.setenv("HF_TOKEN", PROXY if in_use else REAL.replace("Zq7", "Aa1"))  # in use: another token
    path = plant(dataset_folder, token)
    with pytest.raises(hub.PushError, match=rf"{path.name} holds a Hub token .*nothing was uploaded"):
        hub.push_folder(dataset_folder, "me/codecfake")
    assert uploads == []


def test_a_clean_folder_with_big_and_parquet_files_is_pushed(dataset_folder, uploads, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", REAL)
    _shard_with_a_token_in_its_text(dataset_folder, "no key here")
    _big_file(dataset_folder, "nothing")
    hub.push_folder(dataset_folder, "me/codecfake")
    assert ("upload", "me/codecfake") in uploads


# --- a Hub that echoes the token --------------------------------------------------------------------------------
# Each command runs in a fresh process: transformers and datasets read HF_ENDPOINT when they are imported, and a
# new process has registered no token before the command line does.


def fresh(command: list[str], echo_hub: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_ENDPOINT": echo_hub, "HF_HOME": str(tmp_path / "hf-home"),
                   "HF_HUB_DISABLE_TELEMETRY": "1", "TQDM_DISABLE": "1", **env}
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", *(k for k in env if not env[k])):
        environment.pop(name, None)
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow  # a fresh process: about 10 s on an idle 2-core machine
def test_a_fresh_process_pushing_to_an_echoing_hub_shows_the_token_nowhere(echo_hub, dataset_folder, tmp_path):
    """`builder -v push`: a token no test registered, echoed by the Hub in its 401."""
    (dataset_folder / "data" / "genuine" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    done = fresh(["builder", "-v", "push", str(dataset_folder), "--repo", "me/x"], echo_hub, tmp_path, HF_TOKEN=REAL)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "401" in done.stderr and "DEBUG" in done.stderr  # the HTTP stack's lines were logged, and masked
    assert REAL not in done.stdout + done.stderr and REAL[3:] not in done.stdout + done.stderr


@pytest.mark.slow  # a fresh process that loads the dataset and transformers: about 20 s on an idle 2-core machine
@pytest.mark.parametrize("given", ["--token", "HF_TOKEN"])
def test_eval_score_against_an_echoing_hub_shows_the_token_in_no_line(given, echo_hub, tiny_codecfake,  # noqa: F811
                                                                      tmp_path):
    command = ["eval", "score", "--model_name_or_path", "me/detector", "--dataset_name", str(tiny_codecfake),
               "--output_dir", str(tmp_path / "scores"), "--device", "cpu", "--cache_dir", str(tmp_path / "cache")]
    if given == "--token":
        done = fresh([*command, "--token", PROXY], echo_hub, tmp_path, HF_TOKEN="")
    else:
        done = fresh(command, echo_hub, tmp_path, HF_TOKEN=PROXY)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "cannot load `--model_name_or_path me/detector`" in done.stderr and "401" in done.stderr
    assert "Invalid credentials ***" in done.stderr  # the Hub's answer is shown, its echo of the token is not
    assert PROXY not in done.stdout + done.stderr


@pytest.mark.slow  # a fresh process that loads the dataset and Trainer's stack: about 25 s
def test_eval_finetune_at_debug_against_an_echoing_hub_shows_the_token_in_no_line(echo_hub, tiny_codecfake,  # noqa: F811
                                                                                   tmp_path):
    done = fresh(["eval", "finetune", "--dataset_name", str(tiny_codecfake), "--model_name_or_path", "me/detector",
                  "--output_dir", str(tmp_path / "model"), "--cache_dir", str(tmp_path / "cache"), "--do_train",
                  "--use_cpu", "--report_to", "none", "--token", PROXY, "--hub_token", PROXY, "--log_level", "debug"],
                 echo_hub, tmp_path, HF_TOKEN="")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "me/detector" in done.stderr and "DEBUG" in done.stdout + done.stderr
    assert PROXY not in done.stdout + done.stderr


def test_a_token_cut_by_the_reading_pieces_is_still_found(tmp_path):
    """Files are read `CHUNK` bytes at a time: a token across two pieces is searched with both."""
    from codecfake_hf import token_scan

    path = tmp_path / "blob.bin"
    for start in (token_scan.CHUNK - 10, token_scan.CHUNK - len(REAL) + 1, token_scan.CHUNK):
        with open(path, "wb") as file:
            file.seek(start)
            file.write(REAL.encode())
            file.write(b"\0" * 100)
        assert token_scan.find_token(path), start
    path.write_bytes(b"\0" * (token_scan.CHUNK + 200))
    assert not token_scan.find_token(path)
