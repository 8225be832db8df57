"""The SQLite side of ``HistoryStore``: one file, one connection, sqlite-utils schema.

The file runs in WAL mode with a busy timeout: readers never block the writer, and a
second writer (another Dagster step, a CLI run) waits for the lock instead of failing.
Every failure of SQLite surfaces as a ``StoreError`` naming the database file. The SQL
itself lives in ``ingest.py``, ``queries.py`` and friends; this class only holds the
connection and calls them. ``postgres.py`` is the other backend, with the same methods.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import MetricSeries, NoiseProfile, RunStatus, StressFigure, SuiteRun
from perf_pipeline.store import history_order, ingest, noise_profiles, queries, sources, stress
from perf_pipeline.store.disk_trouble import disk_trouble
from perf_pipeline.store.queries import RunFilter
from perf_pipeline.store.schema import migrate
from perf_pipeline.store.sources import SourceStamp

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["SqliteBackend"]

logger = logging.getLogger(__name__)

_Row = tuple[object, ...]


def _enable_wal(conn: sqlite3.Connection, *, path: Path, timeout_s: float) -> None:
    """Switch the file to WAL, retrying while another process holds a lock.

    ``PRAGMA journal_mode = wal`` needs a moment of exclusive access and, unlike other
    statements, fails at once with "database is locked" instead of waiting out the busy
    timeout, so N processes opening a new db at the same instant would fail. It is
    retried with jittered exponential backoff until ``timeout_s``. Once a file is in
    WAL mode it stays so, and the pragma then needs no lock at all.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = wal").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise
            logger.debug("history db %s: WAL setup waits for a lock (%s)", path, exc)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
            continue
        if str(mode).lower() != "wal":
            logger.warning("history db %s: journal mode is %s, not wal", path, mode)
        return


def _failure(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """``StoreError`` "history db PATH: WHAT: SQLite's words", with the file system's
    reason when SQLite's words hide it (``disk_trouble``)."""
    hint = disk_trouble(exc, path)
    return StoreError(f"history db {path}: {what}: {exc}" + (f" ({hint})" if hint else ""))


class SqliteBackend:
    """The connection layer of a SQLite history file (see the module docstring)."""

    def __init__(self, db: sqlite_utils.Database, *, path: Path) -> None:
        self._db = db
        self._conn = db.conn
        self.path: Path | None = path
        self.label = str(path)

    @classmethod
    def open(cls, path: Path, *, timeout_s: float) -> SqliteBackend:
        """Open (creating it and its directory if needed) and migrate the db at ``path``."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"history db {path}: cannot create its directory: {exc}") from exc
        try:
            conn = sqlite3.connect(str(path), timeout=timeout_s)
        except sqlite3.Error as exc:
            raise _failure(path, "cannot open", exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000):d}")
            # imported here, not at the top: sqlite_utils imports pandas whenever it is
            # installed (0.3 s), and loading the Dagster definitions or the CLI's --help
            # opens no history
            import sqlite_utils

            db = sqlite_utils.Database(conn, execute_plugins=False)
            _enable_wal(conn, path=path, timeout_s=timeout_s)
            conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL; fsync per checkpoint
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(db, path=path)
        except sqlite3.Error as exc:
            conn.close()
            raise _failure(path, "cannot open or migrate", exc) from exc
        except BaseException:
            conn.close()
            raise
        logger.debug("opened history db %s", path)
        return cls(db, path=path)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn driver errors into ``StoreError``/``InvalidInputError`` naming the db."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _failure(self.path or Path(self.label), f"{action} failed", exc) from exc
        except UnicodeError as exc:  # lone surrogates cannot be stored as UTF-8
            raise InvalidInputError(
                f"history db {self.label}: {action}: text is not valid Unicode: {exc}"
            ) from exc
        except OverflowError as exc:  # an integer beyond SQLite's 64 bits
            raise InvalidInputError(
                f"history db {self.label}: {action}: a number is out of range: {exc}"
            ) from exc

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        """One write transaction that takes the lock first (``BEGIN IMMEDIATE``)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    # -- writes ------------------------------------------------------------------------

    def write_run(self, run: SuiteRun, *, source: SourceStamp | None) -> bool:
        return ingest.write_run(self._conn, run, source=source)

    def record_source(self, source: SourceStamp, run_id: str, *, recorded_at: str) -> None:
        with self._immediate():
            sources.record_source(self._conn, source, run_id, recorded_at=recorded_at)

    def delete_run(self, run_id: str) -> bool:
        with self._immediate():
            if not self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                      (run_id,)).fetchone():
                return False
            ingest.delete_runs(self._conn, [run_id])
            ingest.restore_order(self._conn, branch=None)  # its bounds may be gone
        return True

    def write_stress(self, run_id: str, figures: Sequence[StressFigure]) -> int:
        return stress.write_stress(self._conn, run_id, figures)

    def write_ordinals(self, ordinals: dict[str, int]) -> int:
        with self._immediate():
            before = self._conn.total_changes
            self._conn.executemany(history_order.SET_ORDINAL_SQL, [
                {"sha": sha, "ordinal": ordinal} for sha, ordinal in ordinals.items()])
            updated = self._conn.total_changes - before
            ingest.restore_order(self._conn, branch=None)
        return updated

    def write_noise_profile(self, profile: NoiseProfile, *, corpus_path: str,
                            created_at: str) -> str:
        return noise_profiles.write_noise_profile(self._conn, profile,
                                                  corpus_path=corpus_path,
                                                  created_at=created_at)

    # -- reads -------------------------------------------------------------------------

    def read_sources(self) -> dict[str, tuple[SourceStamp, str]]:
        return sources.read_sources(self._conn)

    def read_stress(self, run_id: str) -> tuple[StressFigure, ...]:
        return stress.read_stress(self._conn, run_id)

    def read_noise_profiles(self, *, suite: str) -> tuple[tuple[NoiseProfile, str, str], ...]:
        return noise_profiles.read_noise_profiles(self._conn, suite=suite)

    def read_missing_ordinals(self) -> tuple[str, ...]:
        return tuple(row[0] for row in self._conn.execute(
            history_order.MISSING_ORDINALS_SQL))

    def has_run(self, run_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                  (run_id,)).fetchone() is not None

    def select_run(self, run_id: str) -> list[_Row]:
        return queries.select_run(self._conn, run_id)

    def select_runs(self, wanted: RunFilter, *, limit: int | None = None) -> list[_Row]:
        return queries.select_runs(self._conn, wanted, limit=limit)

    def select_commit_groups(self, wanted: RunFilter, *, n: int) -> list[list[_Row]]:
        return queries.select_commit_groups(self._conn, wanted, n=n)

    def load_runs(self, rows: Sequence[_Row]) -> tuple[SuiteRun, ...]:
        return queries.load_runs(self._conn, rows)

    def read_series(self, *, suite: str, metrics: Sequence[str], names: Sequence[str] | None,
                    status: RunStatus, machine_id: str | None
                    ) -> tuple[MetricSeries, ...]:
        return queries.read_series(self._conn, suite=suite, metrics=metrics, names=names,
                                   status=status, machine_id=machine_id)

    def read_machines(self, *, suite: str | None) -> tuple[str, ...]:
        return queries.read_machines(self._conn, suite=suite)

    def read_benchmark_names(self, *, suite: str) -> tuple[str, ...]:
        return queries.read_benchmark_names(self._conn, suite=suite)

