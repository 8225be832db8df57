"""A PostgreSQL history server that accepts connections but never answers
(``postgres_deadline.py``): real PostgreSQL behind a relay that can freeze, as a stuck
pgbouncer does. Its sockets stay open, so the kernel acknowledges what we send and
answers keepalives: only a limit on the wait for an answer ends the command."""

from __future__ import annotations

import select
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from perf_pipeline.cli import main
from perf_pipeline.config import Settings, load_settings
from perf_pipeline.errors import StoreError
from perf_pipeline.store.postgres_deadline import DeadlineConnection, NoAnswerError
from perf_pipeline.workspace import Workspace

from .conftest import make_run

GOOD = Path(__file__).resolve().parents[1] / "data" / "pytest_benchmark_good.json"
#: Far above the limits the tests set (1 s, plus a 1 s reconnect): reached only by a hang.
HANG_S = 30.0


class FreezingRelay:
    """A TCP relay to the PostgreSQL server that stops relaying (keeping its sockets
    open) on ``freeze()`` or once the client sends ``freeze_on``."""

    def __init__(self, host: str, port: int, *, freeze_on: bytes | None = None) -> None:
        self._target = (host, port)
        self._freeze_on = freeze_on
        self.frozen = threading.Event()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def freeze(self) -> None:
        self.frozen.set()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                if not select.select([self._server], [], [], 0.1)[0]:
                    continue
                client, _ = self._server.accept()
                upstream = socket.create_connection(self._target)
            except (OSError, ValueError):  # closed by close()
                return
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        while not self._stop.is_set():
            if self.frozen.is_set():
                self._stop.wait(0.05)
                continue
            try:
                ready = select.select([client, upstream], [], [], 0.05)[0]
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self._freeze_on and self._freeze_on in data:
                        self.frozen.set()  # the statement never reaches the server
                        break
                    (upstream if sock is client else client).sendall(data)
            except (OSError, ValueError):  # closed by close()
                return

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join()
        for sock in (self._server, *self._sockets):
            sock.close()


@pytest.fixture
def relay_url(postgres_url: str) -> Iterator[Callable[..., tuple[str, FreezingRelay]]]:
    from perf_pipeline.store import open_history

    # migrated directly, under the default limit: the tests' 1 s limits then only meet
    # a few tiny queries before the relay freezes (a loaded machine's CREATE TABLEs and
    # commits could take longer)
    open_history(postgres_url).close()
    relays: list[FreezingRelay] = []

    def make(*, freeze_on: bytes | None = None) -> tuple[str, FreezingRelay]:
        parts = urlsplit(postgres_url)
        relay = FreezingRelay(parts.hostname or "127.0.0.1", parts.port or 5432,
                              freeze_on=freeze_on)
        relays.append(relay)
        netloc = f"{parts.username}:{parts.password or ''}@127.0.0.1:{relay.port}"
        return urlunsplit(parts._replace(netloc=netloc)), relay

    yield make
    for relay in relays:  # also ends a hung client's wait (EOF) on the old code
        relay.close()


def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call``; return what it raised (None if nothing), failing if it hangs."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting for the history server after {seconds:g} s")
    return outcome[0]


def test_a_round_trip_the_server_never_answers_ends_and_closes_the_connection(
        relay_url: Callable[..., tuple[str, FreezingRelay]]) -> None:
    url, relay = relay_url()
    conn = DeadlineConnection.connect(url, autocommit=True)
    conn.answer_limit_s = 0.5
    assert conn.execute("SELECT 1").fetchone() == (1,)
    relay.freeze()
    exc = _within(HANG_S, lambda: conn.execute("SELECT 2"))
    assert isinstance(exc, NoAnswerError), exc
    assert "no answer within 0.5 s" in str(exc)
    assert "PERF_PIPELINE_HISTORY_QUERY_TIMEOUT" in str(exc)
    assert conn.closed


def test_the_limit_is_per_round_trip_not_per_transaction(postgres_url: str) -> None:
    """A transaction longer than the limit, of statements each within it, is not cut."""
    with DeadlineConnection.connect(postgres_url) as conn:
        conn.answer_limit_s = 1.0
        with conn.transaction():
            for _ in range(3):
                conn.execute("SELECT pg_sleep(0.5)")
        assert not conn.closed and conn.execute("SELECT 1").fetchone() == (1,)


def test_an_ingest_the_server_never_answers_fails_naming_the_server_and_the_setting(
        relay_url: Callable[..., tuple[str, FreezingRelay]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stuck pgbouncer (or a backend blocked on a full disk) hung the write for ever:
    the TCP limits never fire while the peer's kernel acknowledges."""
    monkeypatch.chdir(tmp_path)  # no perf_pipeline.toml
    url, relay = relay_url(freeze_on=b'INSERT INTO runs')
    settings = load_settings(results_dir=tmp_path, environ={}, history_url=url,
                             history_query_timeout_s=1)
    with Workspace(settings) as ws:
        store = ws.store
        assert store.list_runs() == ()
        exc = _within(HANG_S, lambda: store.ingest_run(make_run(1)))
    assert relay.frozen.is_set()
    assert isinstance(exc, StoreError), exc
    message = str(exc)
    assert "ingesting run" in message and "no answer within 1 s" in message
    assert f"127.0.0.1:{relay.port}" in message and "history_query_timeout_s" in message
    password = urlsplit(url).password
    assert password and f":{password}@" not in message and "***" in message


def test_a_frozen_server_between_commands_fails_the_next_one_too(
        relay_url: Callable[..., tuple[str, FreezingRelay]]) -> None:
    """The pool's liveness ping of a kept connection gets no answer either: the store
    reconnects, which ``connect_timeout`` bounds."""
    from perf_pipeline.store import open_history

    url, relay = relay_url()
    with open_history(url, timeout_s=1, query_timeout_s=1) as store:
        assert store.list_runs() == ()
        relay.freeze()
        exc = _within(HANG_S, store.list_runs)
    assert isinstance(exc, StoreError) and f"127.0.0.1:{relay.port}" in str(exc), exc


def test_cli_ingest_against_a_stuck_server_exits_2_naming_the_server(
        relay_url: Callable[..., tuple[str, FreezingRelay]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url, relay = relay_url(freeze_on=b'INSERT INTO runs')
    for var in ("PERF_PIPELINE_RESULTS_DIR", "PERF_PIPELINE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERF_PIPELINE_HISTORY_URL", url)
    monkeypatch.setenv("PERF_PIPELINE_HISTORY_QUERY_TIMEOUT", "1")
    results = tmp_path / "test-results"
    results.mkdir()
    shutil.copy(GOOD, results / "good.json")
    codes: list[int] = []
    assert _within(HANG_S, lambda: codes.append(
        main(["ingest", "--results-dir", str(results)]))) is None
    assert relay.frozen.is_set() and codes == [2]
    err = capsys.readouterr().err
    assert f"127.0.0.1:{relay.port}" in err and "PERF_PIPELINE_HISTORY_QUERY_TIMEOUT" in err


def test_the_setting_defaults_to_the_store_limit_and_must_be_positive(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from perf_pipeline.errors import InvalidInputError
    from perf_pipeline.store.history import QUERY_TIMEOUT_S

    monkeypatch.chdir(tmp_path)  # no perf_pipeline.toml
    assert Settings().history_query_timeout_s == QUERY_TIMEOUT_S
    assert load_settings(environ={"PERF_PIPELINE_HISTORY_QUERY_TIMEOUT": "42.5"},
                         ).history_query_timeout_s == 42.5
    for bad in ("0", "-1", "inf"):
        with pytest.raises(InvalidInputError, match="history_query_timeout_s"):
            load_settings(environ={"PERF_PIPELINE_HISTORY_QUERY_TIMEOUT": bad})
