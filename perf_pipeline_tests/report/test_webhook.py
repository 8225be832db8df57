"""The alert webhook against a real HTTP server on 127.0.0.1: JSON body, bearer token,
retries with backoff on 5xx/429, final 4xx, unreachable receivers; the token never in
messages, repr or logs."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from perf_pipeline.errors import InvalidInputError, WebhookError
from perf_pipeline.report.webhook import WebhookClient

TOKEN = "s3cr3t-t0ken-value"


class Receiver:
    """Answers with the queued statuses (then 200) and records every request."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.retry_after: str | None = None  # sent with every error answer, when set
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status != 200 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                elif status == 429:
                    self.send_header("Retry-After", "0")
                if status == 302:
                    self.send_header("Location", "http://example.invalid/")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?sig=qs-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _client(url: str, **kw: object) -> tuple[WebhookClient, list[float]]:
    waits: list[float] = []
    return WebhookClient(url, TOKEN, sleep=waits.append, **kw), waits  # type: ignore[arg-type]


def test_post_sends_json_with_the_bearer_token(receiver: Receiver) -> None:
    client, waits = _client(receiver.url)
    result = client.post({"alerts": [{"kind": "drift", "ratio": 1.12}]})
    assert (result.status, result.attempts, waits) == (200, 1, [])
    ((path, headers, body),) = receiver.requests
    assert path == "/hook?sig=qs-secret"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"alerts": [{"kind": "drift", "ratio": 1.12}]}


def test_transient_failures_are_retried_with_growing_waits(receiver: Receiver,
                                                           caplog) -> None:
    receiver.statuses = [503, 429, 500]
    client, waits = _client(receiver.url, backoff_s=0.5)
    with caplog.at_level(logging.WARNING):
        result = client.post({"n": 1})
    assert (result.status, result.attempts) == (200, 4)
    assert waits == [0.5, 1.0, 2.0]
    keys = {h["Idempotency-Key"] for _, h, _ in receiver.requests}
    assert len(keys) == 1  # the same key on every attempt: a receiver can drop duplicates
    assert TOKEN not in caplog.text and "qs-secret" not in caplog.text


@pytest.mark.parametrize("status", [501, 507, 520, 522, 524])
def test_every_5xx_is_retried(receiver: Receiver, status: int) -> None:
    """The README says 5xx answers are retried; 507 and Cloudflare's 52x (a receiver behind
    Cloudflare: 524 is its origin timeout) were taken as a final refusal."""
    receiver.statuses = [status]
    client, waits = _client(receiver.url)
    result = client.post({"n": 1})
    assert (result.status, result.attempts, len(waits)) == (200, 2, 1)


def test_retries_are_bounded_and_the_error_hides_the_secrets(receiver: Receiver,
                                                             caplog) -> None:
    receiver.statuses = [502] * 10
    client, waits = _client(receiver.url, max_retries=2)
    with caplog.at_level(logging.WARNING), pytest.raises(WebhookError,
                                                         match="after 3 attempt") as info:
        client.post({"n": 1})
    assert len(receiver.requests) == 3 and len(waits) == 2
    for text in (str(info.value), repr(client), caplog.text):
        assert TOKEN not in text and "qs-secret" not in text


@pytest.mark.parametrize("retry_after", ["soon", "Mon, 99 Foo 2025 25:61:00 GMT",
                                         "Wed, 21 Oct 99999 07:28:00 GMT", "nan", "  "])
def test_an_unreadable_retry_after_falls_back_to_the_backoff(receiver: Receiver,
                                                            retry_after: str) -> None:
    """A receiver's odd ``Retry-After`` ("soon") made ``parsedate_to_datetime`` raise a
    ValueError out of ``post``, which crashed the history report instead of being a
    failed (or, here, a retried) delivery."""
    receiver.statuses = [503]
    receiver.retry_after = retry_after
    client, waits = _client(receiver.url, backoff_s=0.5)
    result = client.post({"n": 1})
    assert (result.status, result.attempts, waits) == (200, 2, [0.5])


def test_a_lower_case_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.statuses = [503]
    receiver.retry_after = "7"
    client, waits = _client(receiver.url, backoff_s=0.5)
    assert client._wait(0, {"retry-after": "7"}) == 7.0
    assert client.post({"n": 1}).attempts == 2 and waits == [7.0]


@pytest.fixture
def not_http() -> Iterator[str]:
    """A receiver that answers every request with a line that is not an HTTP status line
    (what a confused proxy or a non-HTTP service on the port sends)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5.0)
                conn.recv(65536)
                conn.sendall(b"HELLO THERE\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    thread.join()
    listener.close()


def test_an_answer_that_is_not_http_is_a_webhook_error(not_http: str, caplog) -> None:
    """``http.client.BadStatusLine`` is no OSError: it escaped ``post`` (and crashed the
    report) where it must be retried like a dropped connection, then a WebhookError."""
    client, waits = _client(not_http, max_retries=1)
    with caplog.at_level(logging.WARNING), pytest.raises(WebhookError,
                                                         match="failed after 2 attempt") as info:
        client.post({"n": 1})
    assert "BadStatusLine" in str(info.value) and len(waits) == 1
    assert "\n" not in str(info.value) and "\r" not in caplog.text


PATH_SECRET = "xoxbPATHs3cr3t42"


@pytest.mark.parametrize("path", [f"/services/T0001/B0001/{PATH_SECRET}",
                                  f"/api/webhooks/123456/{PATH_SECRET}"])
@pytest.mark.parametrize("statuses", [[404], [503, 503]])
def test_a_secret_in_the_path_is_never_shown(receiver: Receiver, caplog, path: str,
                                             statuses: list[int]) -> None:
    """Slack and Discord hook URLs carry their secret in the path, which ``shown_url``
    kept: it was in the error (so in the Dagster metadata), the retry log and ``repr``."""
    receiver.statuses = list(statuses)  # the receiver pops them: keep the parameter whole
    port = receiver.server.server_address[1]
    client, _ = _client(f"http://127.0.0.1:{port}{path}", max_retries=1)
    with caplog.at_level(logging.WARNING), pytest.raises(WebhookError) as info:
        client.post({"n": 1})
    assert receiver.requests[0][0] == path  # the secret is sent, just never shown
    first = path.split("/")[1]
    assert f"http://127.0.0.1:{port}/{first}/…" in str(info.value)
    for text in (str(info.value), repr(client), caplog.text):
        assert PATH_SECRET not in text and "B0001" not in text and "123456" not in text


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T1/B1/sec?x=1#f", "https://hooks.slack.com/services/…"),
    ("https://u:pw@ntfy.example:8443/secret-topic", "https://ntfy.example:8443/…"),
    ("https://hooks.example.com/", "https://hooks.example.com/"),
    ("https://hooks.example.com", "https://hooks.example.com"),
    ("https://hooks.example.com:abc/x/y", "<a malformed URL>"),
])
def test_what_a_webhook_url_shows(url: str, shown: str) -> None:
    from perf_pipeline.http_url import shown_url, shown_webhook_url

    assert shown_webhook_url(url) == shown
    # GitHub API URLs keep their path: it names the API, not a secret.
    assert shown_url("https://ghe.example/api/v3?t=1") == "https://ghe.example/api/v3"


@pytest.mark.parametrize("status", [400, 401, 404, 302])
def test_a_refusal_is_final(receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    client, waits = _client(receiver.url)
    with pytest.raises(WebhookError) as info:
        client.post({"n": 1})
    assert info.value.status == status and len(receiver.requests) == 1 and not waits
    assert TOKEN not in str(info.value)


def test_an_unreachable_receiver_is_an_error_after_retries() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, waits = _client(f"http://127.0.0.1:{port}/hook", max_retries=1)
    with pytest.raises(WebhookError, match="failed after 2 attempt"):
        client.post({"n": 1})
    assert len(waits) == 1


@pytest.mark.parametrize(("url", "token", "match"), [
    ("ftp://example.org/hook", None, "must be an http"),
    ("not a url", None, "must be an http"),
    ("http://127.0.0.1/hook", "tok\u00e9n", "not printable ASCII"),
])
def test_bad_configuration_is_rejected(url: str, token: str | None, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        WebhookClient(url, token)


def test_the_client_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(WebhookClient("http://127.0.0.1/hook", TOKEN))
