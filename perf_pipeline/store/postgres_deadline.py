"""A time limit on every wait for the PostgreSQL history server's answer.

The TCP limits of the connection (``postgres_engine._dead_peer_limits``) catch a server whose
host is gone. They cannot catch one that is up but never answers (a stuck pgbouncer or
proxy, a backend stopped or blocked on a full disk): its kernel acknowledges our data and
answers keepalives, and libpq has no query time limit of its own, so a command (and a
fleet step holding the measuring lock) waited for ever. A server-side
``statement_timeout`` does not help either: the server that would enforce it is the one
not answering.

So the limit is client-side, on each round trip (one statement, one batch a server-side
cursor fetches, a commit), not on a transaction: a backfill's long transaction of many
quick statements is never cut. psycopg makes every round trip of a sync connection wait
in ``Connection.wait`` (in every psycopg 3 release, though the arguments changed; only
late 3.3 releases take a timeout there, so we keep our own). ``DeadlineConnection``
arms a deadline around that wait (one watchdog thread serves every connection: a thread
per round trip doubled a local query's latency); when it passes, the watchdog shuts the
connection's socket down,
which ends the wait as a lost connection would, closes the connection (its state is
unknown: the query may still run) and raises ``NoAnswerError``, a
``psycopg.OperationalError`` whose closed connection SQLAlchemy drops from its pool.
Connecting has its own limit, libpq's ``connect_timeout``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import psycopg

__all__ = ["DeadlineConnection", "NoAnswerError"]

logger = logging.getLogger(__name__)


class NoAnswerError(psycopg.OperationalError):
    """The server did not answer a round trip within the limit; the connection is closed."""


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server end after ``answer_limit_s``."""

    #: Seconds a round trip may wait for the server; None: no limit (psycopg's own).
    answer_limit_s: float | None = None

    def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        limit = self.answer_limit_s
        if limit is None or self.closed:
            return super().wait(gen, *args, **kwargs)
        try:
            fileno = self.fileno()
        except psycopg.OperationalError:  # the connection is lost: psycopg says so
            return super().wait(gen, *args, **kwargs)
        watch = _Watch(fileno)
        _WATCHDOG.arm(watch, time.monotonic() + limit)
        try:
            result = super().wait(gen, *args, **kwargs)
        except psycopg.OperationalError as exc:
            if _WATCHDOG.disarm(watch):
                raise self._no_answer(limit) from exc
            raise
        finally:
            expired = _WATCHDOG.disarm(watch)
        if expired:  # answered just as the socket was shut: it is unusable now
            raise self._no_answer(limit)
        return result

    def _no_answer(self, limit: float) -> NoAnswerError:
        logger.warning("history db server gave no answer within %g s: closing the "
                       "connection", limit)
        self.close()
        return NoAnswerError(
            f"the server gave no answer within {limit:g} s (the connection was closed; "
            "history_query_timeout_s, PERF_PIPELINE_HISTORY_QUERY_TIMEOUT, sets the "
            "limit)")


class _Watch:
    """One round trip's socket, shut down if its deadline passes before it is disarmed."""

    __slots__ = ("expired", "fileno")

    def __init__(self, fileno: int) -> None:
        self.fileno = fileno
        self.expired = False

    def shut(self) -> None:
        """End the wait as a lost connection would: shut the socket down (through a
        duplicate of its descriptor, so the connection's own stays valid until closed)."""
        self.expired = True
        try:
            with socket.socket(fileno=os.dup(self.fileno)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already gone: the wait ends on its own
            pass


class _Watchdog:
    """One daemon thread that shuts down the sockets of round trips past their deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[_Watch, float] = {}
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread looks next: earlier deadlines wake it

    def arm(self, watch: _Watch, deadline: float) -> None:
        with self._cond:
            self._armed[watch] = deadline
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="perf_pipeline history deadline")
                self._thread.start()
            elif deadline < self._wakes_at:
                self._cond.notify()

    def disarm(self, watch: _Watch) -> bool:
        """Forget ``watch``; True if its deadline had passed (its socket is shut)."""
        with self._cond:
            self._armed.pop(watch, None)
            return watch.expired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for watch, deadline in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[watch]
                        watch.shut()
                self._wakes_at = min(self._armed.values(), default=now + 60.0)
                self._cond.wait(min(self._wakes_at - now, 60.0))  # an infinite limit too


_WATCHDOG = _Watchdog()
