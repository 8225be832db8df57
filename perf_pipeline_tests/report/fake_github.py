"""A small stand-in for the GitHub REST API's issue-comment endpoints, on 127.0.0.1.

Real HTTP over a real socket (``ThreadingHTTPServer`` on port 0), so the client's
headers, pagination, retries and error handling are exercised as on github.com.
Every request is recorded; failures can be scripted per method.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghp_SECRET123"


@dataclass
class Received:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    """Answer the next matching request with this status (and headers, message)."""

    method: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "failure"
    path_contains: str = ""
    apply: bool = False  # do the work anyway, then answer with the failure (a lost reply)
    errors: list[Any] | None = None  # a 422's "errors" list, as GitHub sends it

    def answer(self) -> dict[str, Any]:
        return {"message": self.message,
                **({"errors": self.errors} if self.errors is not None else {})}


@dataclass
class FakeGitHub:
    prefix: str = ""
    token: str = TOKEN
    per_page_cap: int = 100
    comments: dict[tuple[str, str, int], list[dict[str, Any]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    always_fail: Failure | None = None
    next_id: int = 1000
    base_url: str = ""
    link_base: str | None = None  # where pagination links point (default: base_url)
    #: Whom the token belongs to: None plays an Actions/app token (``GET /user`` is 403 and
    #: what it posts is by ``github-actions[bot]``), a login plays a personal token.
    user_login: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def author(self) -> dict[str, str]:
        """Who the token posts as."""
        if self.user_login is None:
            return {"login": "github-actions[bot]", "type": "Bot"}
        return {"login": self.user_login, "type": "User"}

    def add_comments(self, repo: str, pr: int, bodies: list[str], *,
                     user: dict[str, str] | None = None) -> list[int]:
        """Comments already on the PR, by ``user`` (default: a person, ``someone``)."""
        owner, name = repo.split("/")
        ids = []
        with self.lock:
            for body in bodies:
                self.next_id += 1
                self.comments.setdefault((owner, name, pr), []).append(
                    {"id": self.next_id, "body": body,
                     "user": dict(user or {"login": "someone", "type": "User"}),
                     "html_url": self._html(owner, name, pr, self.next_id)})
                ids.append(self.next_id)
        return ids

    def bodies(self, repo: str, pr: int) -> list[str]:
        owner, name = repo.split("/")
        return [c["body"] for c in self.comments.get((owner, name, pr), [])]

    def methods(self) -> list[str]:
        """Methods of the comment-endpoint calls (``GET /user``, who-am-I, left out)."""
        return [r.method for r in self.received if not r.path.endswith("/user")]

    @staticmethod
    def _html(owner: str, name: str, pr: int, cid: int) -> str:
        return f"https://github.example/{owner}/{name}/pull/{pr}#issuecomment-{cid}"

    # -- request handling (called on the server's threads) ----------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(raw_path)
        payload = json.loads(body) if body else None
        with self.lock:
            self.received.append(Received(method, parts.path, parse_qs(parts.query),
                                          headers, payload))
            fail = self._take_failure(method, parts.path)
        if fail is not None and not fail.apply:
            return fail.status, fail.headers, fail.answer()
        result = self._route(method, parts.path, parts.query, headers, payload)
        if fail is not None:
            return fail.status, fail.headers, fail.answer()
        return result

    def _route(self, method: str, raw: str, query: str, headers: dict[str, str],
               payload: Any) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials"}
        if not raw.startswith(self.prefix + "/"):
            return 404, {}, {"message": "Not Found"}
        path = raw[len(self.prefix):]
        if path == "/user" and method == "GET":
            if self.user_login is None:
                return 403, {}, {"message": "Resource not accessible by integration"}
            return 200, {}, self.author()
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/(\d+)/comments", path)
        if m and method == "GET":
            return self._list(m.group(1), m.group(2), int(m.group(3)), parse_qs(query))
        if m and method == "POST":
            return self._create(m.group(1), m.group(2), int(m.group(3)), payload)
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)", path)
        if m and method == "PATCH":
            return self._update(m.group(1), m.group(2), int(m.group(3)), payload)
        return 404, {}, {"message": "Not Found"}

    def _take_failure(self, method: str, path: str) -> Failure | None:
        if self.always_fail is not None and self.always_fail.method in (method, "*"):
            return self.always_fail
        for i, fail in enumerate(self.failures):
            if fail.method in (method, "*") and fail.path_contains in path:
                return self.failures.pop(i)
        return None

    def _list(self, owner: str, name: str, pr: int,
              query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        per_page = min(int(query.get("per_page", ["30"])[0]), self.per_page_cap)
        page = int(query.get("page", ["1"])[0])
        with self.lock:
            items = list(self.comments.get((owner, name, pr), []))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            url = (f"{self.link_base or self.base_url}/repos/{owner}/{name}/issues/{pr}/comments"
                   f"?per_page={per_page}&page={page + 1}")
            headers["Link"] = f'<{url}>; rel="next", <{url}>; rel="last"'
        return 200, headers, chunk

    def _create(self, owner: str, name: str, pr: int,
                payload: Any) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.next_id += 1
            comment = {"id": self.next_id, "body": payload["body"],
                       "user": self.author(),
                       "html_url": self._html(owner, name, pr, self.next_id)}
            self.comments.setdefault((owner, name, pr), []).append(comment)
        return 201, {}, comment

    def _update(self, owner: str, name: str, cid: int,
                payload: Any) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            for (o, n, _pr), items in self.comments.items():
                for comment in items:
                    if (o, n) == (owner, name) and comment["id"] == cid:
                        comment["body"] = payload["body"]
                        return 200, {}, comment
        return 404, {}, {"message": "Not Found"}


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received = {k.lower(): v for k, v in self.headers.items()}
            status, headers, data = fake.handle(self.command, self.path, received, body)
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    fake.base_url = f"http://{host}:{port}{fake.prefix}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
