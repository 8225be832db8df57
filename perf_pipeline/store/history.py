"""``HistoryStore``: the one door to the SQLite history of suite runs.

Callers get model objects (``SuiteRun``, ``RunInfo``, ``MetricSeries``), never rows, and
every failure of SQLite surfaces as a ``StoreError`` naming the database file. The file
runs in WAL mode with a busy timeout: readers never block the writer, and a second
writer (another Dagster step, a CLI run) waits for the lock instead of failing.

One ``HistoryStore`` is one connection: use it from the thread that opened it, and open
one per process.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import sqlite_utils

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import (
    TIME_METRIC,
    MetricSeries,
    NoiseProfile,
    RunInfo,
    RunStatus,
    StressFigure,
    SuiteRun,
)
from perf_pipeline.store.ingest import delete_runs, write_run
from perf_pipeline.store.noise_profiles import read_noise_profiles, write_noise_profile
from perf_pipeline.store.pooling import pool_runs
from perf_pipeline.store.queries import (
    RunFilter,
    load_runs,
    read_benchmark_names,
    read_machines,
    read_series,
    run_info,
    select_commit_groups,
    select_run,
    select_runs,
)
from perf_pipeline.store.schema import migrate
from perf_pipeline.store.sources import SourceStamp, read_sources, record_source
from perf_pipeline.store.stress import read_stress, write_stress

__all__ = ["HistoryStore"]

logger = logging.getLogger(__name__)


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat()


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 0):
        raise InvalidInputError(f"`{name}` must be a whole number >= 0, not {value!r}")


def _check_strings(name: str, values: Sequence[str] | None, *, allow_empty: bool) -> None:
    if values is None:
        return
    if isinstance(values, (str, bytes)) or not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"`{name}` must be a sequence of strings, not {values!r}")
    if not allow_empty and not values:
        raise InvalidInputError(f"`{name}` must not be empty")


def _status(value: RunStatus | str | None) -> RunStatus | None:
    if value is None:
        return None
    try:
        return RunStatus(value)
    except ValueError as exc:
        raise InvalidInputError(f"`status` must be one of success/failed, not {value!r}") from exc


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


class HistoryStore:
    """Runs, benchmarks and metric series of one history database file.

    Create it with ``HistoryStore.open(path)``; use it as a context manager to close it.
    Listing order is history order, oldest first: commit time (UTC), then start time,
    then run id (see ``store/queries.py``).
    """

    def __init__(self, db: sqlite_utils.Database, *, path: Path) -> None:
        self._db = db
        self._conn = db.conn
        self._path = path

    @classmethod
    def open(cls, path: Path, *, timeout_s: float = 60.0) -> HistoryStore:
        """Open (creating it and its directory if needed) and migrate the db at ``path``.

        ``timeout_s`` is how long a write waits for another process's lock before
        giving up with a ``StoreError``.
        """
        if not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise InvalidInputError(f"`timeout_s` must be > 0, not {timeout_s!r}")
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"history db {path}: cannot create its directory: {exc}") from exc
        try:
            conn = sqlite3.connect(str(path), timeout=timeout_s)
        except sqlite3.Error as exc:
            raise StoreError(f"history db {path}: cannot open: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000):d}")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            _enable_wal(conn, path=path, timeout_s=timeout_s)
            conn.execute("PRAGMA synchronous = NORMAL")  # safe in WAL; fsync per checkpoint
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(db, path=path)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"history db {path}: cannot open or migrate: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        logger.debug("opened history db %s", path)
        return cls(db, path=path)

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HistoryStore({str(self._path)!r})"

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn driver errors into ``StoreError``/``InvalidInputError`` naming the db."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"history db {self._path}: {action} failed: {exc}") from exc
        except UnicodeError as exc:  # lone surrogates cannot be stored as UTF-8
            raise InvalidInputError(
                f"history db {self._path}: {action}: text is not valid Unicode: {exc}"
            ) from exc
        except OverflowError as exc:  # an integer beyond SQLite's 64 bits
            raise InvalidInputError(
                f"history db {self._path}: {action}: a number is out of range: {exc}"
            ) from exc

    # -- writes ------------------------------------------------------------------------

    def ingest_run(self, run: SuiteRun, *, source: SourceStamp | None = None) -> bool:
        """Store ``run`` in one transaction; False if its ``run_id`` was already stored.

        Every run is kept: a new run of a commit is a replicate beside the earlier ones,
        never a replacement. ``source`` (the stamp of the file or raw run dir it was read
        from) is remembered, so the next ingest knows that source without parsing it.
        """
        if not isinstance(run, SuiteRun):
            raise InvalidInputError(f"ingest_run needs a SuiteRun, not {type(run).__name__}")
        if source is not None and not isinstance(source, SourceStamp):
            raise InvalidInputError(f"`source` must be a SourceStamp, not {source!r}")
        with self._guard(f"ingesting run {run.run_id}"):
            return write_run(self._conn, run, source=source)

    def record_source(self, source: SourceStamp, run_id: str) -> None:
        """Remember that ``source`` holds the stored run ``run_id``."""
        if not isinstance(source, SourceStamp):
            raise InvalidInputError(f"`source` must be a SourceStamp, not {source!r}")
        with self._guard(f"recording the source of run {run_id}"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                record_source(self._conn, source, run_id, recorded_at=now_utc())
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def sources(self) -> dict[str, tuple[SourceStamp, str]]:
        """Every source a run was ingested from: absolute path -> (stamp, run id)."""
        with self._guard("reading ingested sources"):
            return read_sources(self._conn)

    def delete_run(self, run_id: str) -> None:
        """Delete a run and all its rows; an unknown ``run_id`` is an error."""
        with self._guard(f"deleting run {run_id}"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if not self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                          (run_id,)).fetchone():
                    raise InvalidInputError(
                        f"run {run_id!r} is not in the history db {self._path}")
                delete_runs(self._conn, [run_id])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def record_stress(self, run_id: str, figures: Sequence[StressFigure]) -> int:
        """Store (replace) the stress figures of a stored run; returns how many."""
        with self._guard(f"recording stress figures of run {run_id}"):
            return write_stress(self._conn, run_id, figures)

    def stress_figures(self, run_id: str) -> tuple[StressFigure, ...]:
        """The stress figures of ``run_id`` (empty if it has none)."""
        with self._guard(f"reading stress figures of run {run_id}"):
            return read_stress(self._conn, run_id)

    def record_noise_profile(self, profile: NoiseProfile, *, corpus_path: str,
                             created_at: str) -> str:
        """Store this machine's noise profile (``perf-pipeline calibrate``); return its id.

        Recording a profile of the same corpus again replaces it.
        """
        if not isinstance(profile, NoiseProfile):
            raise InvalidInputError(
                f"record_noise_profile needs a NoiseProfile, not {type(profile).__name__}")
        with self._guard(f"recording the noise profile of {profile.commit[:12]}"):
            return write_noise_profile(self._conn, profile, corpus_path=str(corpus_path),
                                       created_at=created_at)

    # -- reads -------------------------------------------------------------------------

    def noise_profiles(self, *, suite: str = "benchmarks"
                       ) -> tuple[tuple[NoiseProfile, str, str], ...]:
        """Stored noise profiles of ``suite``, oldest first, as (profile, corpus path,
        created_at)."""
        with self._guard("reading noise profiles"):
            return read_noise_profiles(self._conn, suite=suite)

    def has_run(self, run_id: str) -> bool:
        with self._guard(f"looking up run {run_id}"):
            return self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                      (run_id,)).fetchone() is not None

    def get_run(self, run_id: str) -> SuiteRun:
        """The complete run: benchmarks with samples and extra metrics, commit, environment."""
        with self._guard(f"reading run {run_id}"):
            rows = select_run(self._conn, run_id)
            if not rows:
                raise InvalidInputError(f"run {run_id!r} is not in the history db {self._path}")
            return load_runs(self._conn, rows)[0]

    def list_runs(self, *, suite: str | None = None, branch: str | None = None,
                  sha: str | None = None, status: RunStatus | None = None,
                  limit: int | None = None, machine_id: str | None = None
                  ) -> tuple[RunInfo, ...]:
        """Matching runs, oldest first in history order; ``limit`` keeps the newest.

        ``machine_id`` (here and below): only runs of that machine; None means any.
        """
        _check_count("limit", limit)
        wanted = RunFilter(suite=suite, branch=branch, sha=sha, status=_status(status),
                           machine_id=machine_id)
        with self._guard("listing runs"):
            return tuple(run_info(row) for row in select_runs(self._conn, wanted, limit=limit))

    def latest_run(self, *, suite: str = "benchmarks", sha: str | None = None,
                   status: RunStatus | None = RunStatus.SUCCESS,
                   machine_id: str | None = None) -> SuiteRun | None:
        """The newest matching run in history order, complete; None if there is none."""
        wanted = RunFilter(suite=suite, sha=sha, status=_status(status), machine_id=machine_id)
        with self._guard("reading the latest run"):
            runs = load_runs(self._conn, select_runs(self._conn, wanted, limit=1))
        return runs[0] if runs else None

    def recent_runs(self, *, suite: str = "benchmarks", branch: str | None = None,
                    n: int = 10, status: RunStatus = RunStatus.SUCCESS,
                    before_run_id: str | None = None,
                    machine_id: str | None = None) -> tuple[SuiteRun, ...]:
        """The newest ``n`` matching runs, complete, returned oldest first.

        ``before_run_id`` drops that run and everything after it in history order: the
        rolling baseline of a run is made of the runs before it, not of itself.
        """
        _check_count("n", n)
        if n == 0:
            return ()
        wanted = RunFilter(suite=suite, branch=branch, status=_status(status),
                           before_run_id=before_run_id, machine_id=machine_id)
        with self._guard("reading recent runs"):
            return load_runs(self._conn, select_runs(self._conn, wanted, limit=n))

    def commit_runs(self, sha: str, *, suite: str = "benchmarks",
                    status: RunStatus | None = RunStatus.SUCCESS,
                    machine_id: str | None = None) -> tuple[SuiteRun, ...]:
        """Every stored run of commit ``sha`` (complete, oldest first): its replicates."""
        wanted = RunFilter(suite=suite, sha=sha, status=_status(status), machine_id=machine_id)
        with self._guard(f"reading the runs of commit {sha}"):
            return load_runs(self._conn, select_runs(self._conn, wanted))

    def commit_run(self, sha: str, *, suite: str = "benchmarks",
                   machine_id: str | None = None) -> SuiteRun | None:
        """All successful runs of commit ``sha`` pooled into one (``pooling.py``); None
        if it has none. Clean runs are pooled when there are any, else dirty ones; a
        failed run is never part of it, whenever it was measured.

        Pass ``machine_id`` whenever the history may hold several machines: runs of
        different machines must never be pooled (their timings are not comparable)."""
        wanted = RunFilter(suite=suite, sha=sha, status=RunStatus.SUCCESS,
                           machine_id=machine_id)
        with self._guard(f"reading the runs of commit {sha}"):
            groups = select_commit_groups(self._conn, wanted, n=1)
            return pool_runs(load_runs(self._conn, groups[0])) if groups else None

    def recent_commit_runs(self, *, suite: str = "benchmarks", branch: str | None = None,
                           n: int = 10, before_run_id: str | None = None,
                           exclude_sha: str | None = None,
                           machine_id: str | None = None) -> tuple[SuiteRun, ...]:
        """The newest ``n`` commits' successful runs, each commit's pooled into one
        (``commit_run``), oldest first: what a rolling baseline is made of.

        ``before_run_id`` keeps only runs before that run in history order;
        ``exclude_sha`` leaves that commit out (a commit is never its own baseline);
        ``machine_id`` keeps one machine's runs (never pool or compare across machines).
        """
        _check_count("n", n)
        if n == 0:
            return ()
        wanted = RunFilter(suite=suite, branch=branch, status=RunStatus.SUCCESS,
                           before_run_id=before_run_id, not_sha=exclude_sha,
                           machine_id=machine_id)
        with self._guard("reading recent commits"):
            groups = select_commit_groups(self._conn, wanted, n=n)
            runs = load_runs(self._conn, [row for rows in groups for row in rows])
        by_id = {run.run_id: run for run in runs}
        return tuple(pool_runs([by_id[row[0]] for row in rows]) for rows in groups)

    def series(self, *, suite: str = "benchmarks", metrics: Sequence[str] = (TIME_METRIC,),
               names: Sequence[str] | None = None,
               status: RunStatus = RunStatus.SUCCESS,
               machine_id: str | None = None) -> tuple[MetricSeries, ...]:
        """One ``MetricSeries`` per (benchmark, metric) stored, runs oldest first.

        ``values`` are the run medians for time and the recorded value otherwise;
        ``lows``/``highs`` the quartiles of the samples for time and the value otherwise.
        ``names=None`` means every benchmark. Sorted by name, then ``metrics`` order.
        """
        _check_strings("metrics", metrics, allow_empty=False)
        _check_strings("names", names, allow_empty=True)
        if names is not None and not names:
            return ()
        with self._guard("reading metric series"):
            return read_series(self._conn, suite=suite, metrics=tuple(metrics),
                               names=tuple(names) if names is not None else None,
                               status=_status(status) or RunStatus.SUCCESS,
                               machine_id=machine_id)

    def machines(self, *, suite: str | None = "benchmarks") -> tuple[str, ...]:
        """Machine ids with runs (of ``suite``; None: any), the most recently used last."""
        with self._guard("listing machines"):
            return read_machines(self._conn, suite=suite)

    def benchmark_names(self, *, suite: str = "benchmarks") -> tuple[str, ...]:
        """Every benchmark name ever stored for ``suite``, sorted."""
        with self._guard("listing benchmark names"):
            return read_benchmark_names(self._conn, suite=suite)
