"""The one push path (`hub.push`) against a token-echoing server on 127.0.0.1: one-line errors, no token anywhere."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants

from builder.__main__ import main as builder_main
from codecfake_hf import hub, redact
from codecfake_hf.errors import CodecFakeError

SECRET = "hf_EchoedSecret0123456789abcdefghijkl"  # hf_ + 34, as real tokens


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with the server's status and echoes the request's Authorization header back,
    in a header and in the JSON body, as a hostile or careless server might."""

    status = 401

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"error": f"refused {auth}", "echo": auth}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo-Authorization", auth)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def echo_server(monkeypatch):
    """`start(status)` -> the endpoint URL of a server answering every request with `status`."""
    servers = []

    def start(status: int) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        server.status = status
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


@pytest.fixture
def dataset_folder(tmp_path) -> Path:
    folder = tmp_path / "ds"
    (folder / "data" / "genuine").mkdir(parents=True)
    (folder / "data" / "genuine" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    (folder / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# a card\n")
    return folder


def use_endpoint(monkeypatch, url: str) -> None:
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", SECRET)


@pytest.mark.parametrize("status, message", [
    (401, "the Hub refused the token (401 Unauthorized: invalid or expired). Log in again"),
    (403, "the token may not write there (403 Forbidden). Use a token with write access to 'me'"),
    (404, "not found (404) at http://127.0.0.1:"),
    (None, "cannot be reached (ConnectError"),
])
def test_builder_push_errors_are_one_line_without_the_token_at_debug(
        status, message, echo_server, dataset_folder, monkeypatch, capsys, caplog):
    use_endpoint(monkeypatch, echo_server(status) if status else closed_port())
    caplog.set_level(logging.DEBUG)
    assert builder_main(["-v", "push", str(dataset_folder), "--repo", "me/codecfake"]) == 2
    out = capsys.readouterr()
    err = out.err.strip()
    assert message in err and err.startswith("error: push of ") and "\n" not in err and "Traceback" not in err
    assert SECRET not in out.out + out.err + caplog.text
    if status:  # the HTTP stack's DEBUG lines were there (and redacted), not merely switched off
        assert "X-Echo-Authorization" in caplog.text or "x-echo-authorization" in caplog.text.lower()


def test_model_push_errors_name_the_model_repository(echo_server, tmp_path, monkeypatch, caplog):
    use_endpoint(monkeypatch, echo_server(403))
    caplog.set_level(logging.DEBUG)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "README.md").write_text("# a model\n")
    with pytest.raises(CodecFakeError) as error:
        hub.push(tmp_path / "model", "me/detector", repo_type="model")
    assert "to the model repository me/detector failed: the token may not write there (403" in str(error.value)
    assert SECRET not in str(error.value) + caplog.text


def test_training_args_bin_with_a_token_stays_local_and_other_token_files_stop_the_push(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: None)
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(kw) or "https://hub/commit")
    monkeypatch.setenv("HF_TOKEN", SECRET)
    model = tmp_path / "model"
    (model / "checkpoint-3").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "training_args.bin").write_bytes(b"PK\x03\x04 pickled args hub_token=" + SECRET.encode())
    (model / "checkpoint-3" / "training_args.bin").write_bytes(SECRET.encode())
    hub.push(model, "me/detector", repo_type="model")
    ignored = calls[0]["ignore_patterns"]
    assert "training_args.bin" in ignored and "checkpoint-*" in ignored
    # a token-free training_args.bin is uploaded as usual
    (model / "training_args.bin").write_bytes(b"PK\x03\x04 pickled args hub_token=None")
    hub.push(model, "me/detector", repo_type="model")
    assert "training_args.bin" not in calls[1]["ignore_patterns"]
    # any other file that holds a token stops the push before anything is sent
    (model / "notes.txt").write_text("token hf_" + "AnotherUsersToken0123456789abcdefgh"[:34])  # not the one in use
    with pytest.raises(CodecFakeError, match="notes.txt holds a Hub token"):
        hub.push(model, "me/detector", repo_type="model")
    assert len(calls) == 2


@pytest.mark.parametrize("line", [
    f"send_request_headers.started request=<Request [b'POST']> headers=[(b'Authorization', b'Bearer {SECRET}')]",
    "receive_response_headers.complete return_value=(b'HTTP/1.1', 401, [(b'authorization', b'Bearer abc.def-ghi')])",
    "{'authorization': 'Bearer someOpaqueToken123'}",
    "Authorization: Basic dXNlcjpwYXNz",
    f"token={SECRET} in the URL",
])
def test_redact_masks_tokens_and_authorization_values(line):
    cleaned = redact.redact(line)
    for secret in (SECRET, "abc.def-ghi", "someOpaqueToken123", "dXNlcjpwYXNz"):
        assert secret not in cleaned
    assert "***" in cleaned


def test_redacting_filter_covers_records_of_any_logger_and_their_tracebacks(caplog):
    redact.install()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpcore2.http11").debug("headers %s", [(b"Authorization", f"Bearer {SECRET}".encode())])
    try:
        raise RuntimeError(f"server said: Bearer {SECRET}")
    except RuntimeError:
        logging.getLogger("some.library").exception("failed")
    assert SECRET not in caplog.text and "Bearer ***" in caplog.text
