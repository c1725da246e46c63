"""A local stand-in for the Hub's HTTP API: the calls `huggingface_hub` makes to create a dataset repository,
commit files to it (`create_commit`, regular uploads), list it (`list_repo_tree`) and download from it
(`hf_hub_download`), answered from memory on 127.0.0.1, so that builds that upload can be tested end to end
(also from other processes: point `HF_ENDPOINT` at `MockHub.url`).

It records every file each commit added (`commits`), so a test can count uploads per path. Only what the
project's code calls is answered; anything else is a 404 the test will see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class MockHub:
    """A Hub with one user (`user`, authenticated by `token`) and dataset repositories held in memory.

    Attributes:
        repos (dict): repo id -> {path: bytes}.
        commits (list): (repo id, [paths added]) of each commit, in order.
        heads (dict): repo id -> the commit id of its last commit.
    """

    def __init__(self, token: str, user: str = "me"):
        self.token, self.user = token, user
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: list[tuple[str, list[str]]] = []
        self.heads: dict[str, str] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> None:
        """A repository that is there from the start (a model's checkpoint, served as the Hub serves it)."""
        self.repos[repo_id] = dict(files)
        self.heads[repo_id] = hashlib.sha1(repo_id.encode()).hexdigest()

    def uploads(self, repo_id: str) -> Counter:
        """How many commits added each path of `repo_id`."""
        return Counter(path for repo, paths in self.commits if repo == repo_id for path in paths)

    def commit(self, repo_id: str, files: dict[str, bytes]) -> str:
        with self.lock:
            self.repos[repo_id].update(files)
            self.commits.append((repo_id, sorted(files)))
            head = hashlib.sha1(f"{repo_id}:{len(self.commits)}".encode()).hexdigest()
            self.heads[repo_id] = head
            return head


def _handler(hub: MockHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: object = None, headers: dict | None = None, raw: bytes | None = None):
            data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {hub.token}":
                return True
            self._send(401, {"error": "Invalid credentials in Authorization header"})
            return False

        def _repo(self, org: str, name: str) -> str | None:
            repo_id = f"{org}/{name}"
            if repo_id in hub.repos:
                return repo_id
            self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return None

        def do_GET(self):  # noqa: N802 (the stdlib's name)
            url = urlparse(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            if not self._authorised():
                return
            if path == "/api/whoami-v2":
                return self._send(200, {"type": "user", "name": hub.user, "auth": {"type": "access_token"}})
            if match := re.fullmatch(r"/api/datasets/([^/]+)/([^/]+)(?:/revision/[^/]+)?", path):
                if (repo_id := self._repo(*match.groups())) is None:
                    return
                return self._send(200, {"id": repo_id, "sha": hub.heads[repo_id], "private": False,
                                        "siblings": [{"rfilename": p} for p in sorted(hub.repos[repo_id])]})
            if match := re.fullmatch(r"/api/datasets/([^/]+)/([^/]+)/tree/([^/]+)/?(.*)", path):
                org, name, _, prefix = match.groups()
                if (repo_id := self._repo(org, name)) is None:
                    return
                files = hub.repos[repo_id]
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                entries = [{"type": "file", "path": p, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                           for p, data in sorted(files.items())
                           if (not prefix or p.startswith(prefix.rstrip("/") + "/"))
                           and (recursive or "/" not in p[len(prefix.rstrip("/")) + 1 if prefix else 0:])]
                return self._send(200, entries)
            if match := re.fullmatch(r"(?:/datasets)?/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path):
                org, name, _, file = match.groups()
                if (repo_id := self._repo(org, name)) is None:
                    return
                data = hub.repos[repo_id].get(file)
                if data is None:
                    return self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
                etag = f'"{hashlib.sha1(data).hexdigest()}"'
                return self._send(200, raw=data, headers={"ETag": etag, "X-Repo-Commit": hub.heads[repo_id]})
            self._send(404, {"error": f"mock hub: no GET {path}"})

        do_HEAD = do_GET

        def do_POST(self):  # noqa: N802
            path = unquote(urlparse(self.path).path)
            body = self._body()
            if not self._authorised():
                return
            if path == "/api/repos/create":
                request = json.loads(body)
                repo_id = f"{request.get('organization') or hub.user}/{request['name']}"
                with hub.lock:
                    hub.repos.setdefault(repo_id, {})
                    hub.heads.setdefault(repo_id, "0" * 40)
                return self._send(200, {"url": f"{hub.url}/datasets/{repo_id}"})
            if path == "/api/validate-yaml":
                return self._send(200, {"errors": [], "warnings": []})
            if match := re.fullmatch(r"/api/datasets/([^/]+)/([^/]+)/preupload/([^/]+)", path):
                if self._repo(*match.groups()[:2]) is None:
                    return
                files = json.loads(body)["files"]
                return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                  for f in files]})
            if match := re.fullmatch(r"/api/datasets/([^/]+)/([^/]+)/commit/([^/]+)", path):
                if (repo_id := self._repo(*match.groups()[:2])) is None:
                    return
                files = {}
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "file":
                        files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] != "header":
                        return self._send(400, {"error": f"mock hub: {item['key']} operations are not supported"})
                head = hub.commit(repo_id, files)
                return self._send(200, {"commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{head}",
                                        "commitOid": head})
            self._send(404, {"error": f"mock hub: no POST {path}"})

    return Handler
