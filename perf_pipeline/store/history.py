"""``HistoryStore``: the one door to the history of suite runs, on SQLite or PostgreSQL.

Callers get model objects (``SuiteRun``, ``RunInfo``, ``MetricSeries``), never rows, and
every failure of the database surfaces as a ``StoreError`` naming it (the file, or the
URL without its password). ``open_history(target)`` opens either backend:

- a path: a SQLite file (``sqlite_backend.py``), the embedded default. WAL mode and a
  busy timeout let several processes of one machine read and write it.
- a ``postgresql://`` URL: a shared PostgreSQL history (``postgres.py``) that several
  benchmark machines ingest into at once.

Both backends build their rows with the same code (``ingest.run_row``, ...) and map
rows back to models with the same code (``queries.assemble_runs``, ...); only the SQL
and the connection differ, so a run reads back identical from either.

One ``HistoryStore`` is one connection: use it from the thread that opened it, and open
one per process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.history_url import is_postgres_url, mask_url
from perf_pipeline.model import (
    TIME_METRIC,
    CommitInfo,
    MetricSeries,
    NoiseProfile,
    RunInfo,
    RunStatus,
    StressFigure,
    SuiteRun,
)
from perf_pipeline.store.history_args import check_count, check_strings, check_timeout, run_status
from perf_pipeline.store.history_backend import HistoryBackend
from perf_pipeline.store.pooling import pool_runs
from perf_pipeline.store.queries import RunFilter, run_info
from perf_pipeline.store.sources import SourceStamp

__all__ = ["HistoryStore", "open_history"]

logger = logging.getLogger(__name__)

#: Seconds a PostgreSQL history may take to answer one statement, fetch or commit
#: (``Settings.history_query_timeout_s``; a test keeps the two equal). Far above any
#: query of ours on a healthy server, and above the store's lock waits (``timeout_s``,
#: 60 s), which end first with an error of their own.
QUERY_TIMEOUT_S = 300.0


def open_history(target: str | Path, *, timeout_s: float = 60.0,
                 query_timeout_s: float = QUERY_TIMEOUT_S) -> HistoryStore:
    """Open the history at ``target``: a SQLite file path, or a ``postgresql://`` URL
    (``query_timeout_s``: see ``HistoryStore.open_postgres``)."""
    if is_postgres_url(target):
        return HistoryStore.open_postgres(str(target).strip(), timeout_s=timeout_s,
                                          query_timeout_s=query_timeout_s)
    if isinstance(target, str) and "://" in target:
        raise InvalidInputError(
            f"history target {mask_url(target)!r}: give a file path or a postgresql:// URL")
    return HistoryStore.open(Path(target), timeout_s=timeout_s)


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat()


class HistoryStore:
    """Runs, benchmarks and metric series of one history database.

    Create it with ``open_history(target)`` (or ``HistoryStore.open(path)`` for SQLite);
    use it as a context manager to close it.
    Listing order is history order, oldest first: commit time (UTC; a commit dated in
    the future is moved back, ``history_order.py``), then first-parent ordinal, then
    start time, then run id (see ``store/queries.py``).
    """

    def __init__(self, backend: HistoryBackend) -> None:
        self._backend = backend

    @classmethod
    def open(cls, path: Path, *, timeout_s: float = 60.0) -> HistoryStore:
        """Open (creating it and its directory if needed) and migrate the SQLite db at
        ``path``. ``open_history`` opens a path or a PostgreSQL URL alike.

        ``timeout_s`` is how long a write waits for another process's lock before
        giving up with a ``StoreError``.
        """
        check_timeout(timeout_s)
        from perf_pipeline.store.sqlite_backend import SqliteBackend

        return cls(SqliteBackend.open(Path(path), timeout_s=timeout_s))

    @classmethod
    def open_postgres(cls, url: str, *, timeout_s: float = 60.0,
                      query_timeout_s: float = QUERY_TIMEOUT_S) -> HistoryStore:
        """Connect to (and migrate) the PostgreSQL history at ``url``
        (``postgresql://user:password@host:port/db``). Several machines may write it at
        once. The password never appears in a message or ``repr``.

        ``timeout_s`` bounds connecting and each wait for a lock; ``query_timeout_s``
        each wait for the server's answer to one statement, fetch or commit (a server
        that accepts connections but never answers fails with a ``StoreError`` then).
        """
        check_timeout(timeout_s)
        check_timeout(query_timeout_s, name="query_timeout_s")
        from perf_pipeline.store.postgres import PostgresBackend

        return cls(PostgresBackend.open(url, timeout_s=timeout_s,
                                        query_timeout_s=query_timeout_s))

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for a PostgreSQL history."""
        return self._backend.path

    @property
    def target(self) -> str:
        """Where the history lives, fit to print: the file, or the URL without password."""
        return self._backend.label

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._backend.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HistoryStore({self._backend.label!r})"

    def _guard(self, action: str) -> AbstractContextManager[None]:
        """Turn driver errors into ``StoreError``/``InvalidInputError`` naming the db."""
        return self._backend.guard(action)

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
        if "\0" in run.run_id:
            # PostgreSQL cannot store it, and SQLite's json_each (how runs are read back by
            # id) cuts text at a NUL: the run read back with no benchmarks, silently.
            raise InvalidInputError(
                f"run {run.run_id!r}: a run id may not contain a NUL character")
        with self._guard(f"ingesting run {run.run_id}"):
            return self._backend.write_run(run, source=source)

    def record_source(self, source: SourceStamp, run_id: str) -> None:
        """Remember that ``source`` holds the stored run ``run_id``."""
        if not isinstance(source, SourceStamp):
            raise InvalidInputError(f"`source` must be a SourceStamp, not {source!r}")
        with self._guard(f"recording the source of run {run_id}"):
            self._backend.record_source(source, run_id, recorded_at=now_utc())

    def sources(self) -> dict[str, tuple[SourceStamp, str]]:
        """Every source a run was ingested from: absolute path -> (stamp, run id)."""
        with self._guard("reading ingested sources"):
            return self._backend.read_sources()

    def delete_run(self, run_id: str) -> None:
        """Delete a run and all its rows; an unknown ``run_id`` is an error."""
        with self._guard(f"deleting run {run_id}"):
            deleted = self._backend.delete_run(run_id)
        if not deleted:
            raise InvalidInputError(f"run {run_id!r} is not in the history db {self.target}")

    def commits_without_ordinal(self) -> tuple[str, ...]:
        """Sorted SHAs of commits whose runs record no first-parent ordinal."""
        with self._guard("listing commits without an ordinal"):
            return self._backend.read_missing_ordinals()

    def record_ancestry_ordinals(self, ordinals: Mapping[str, int]) -> int:
        """Give the runs of each commit (SHA -> first-parent ordinal) that have none
        their ordinal, and restore ancestry order (``history_order.py``); returns the
        runs updated. A recorded ordinal is never changed."""
        checked: dict[str, int] = {}
        for sha, ordinal in ordinals.items():
            commit = CommitInfo(sha=sha, ancestry_ordinal=ordinal)  # validates both
            checked[commit.sha] = ordinal
        with self._guard("recording ancestry ordinals"):
            return self._backend.write_ordinals(checked)

    def record_stress(self, run_id: str, figures: Sequence[StressFigure]) -> int:
        """Store (replace) the stress figures of a stored run; returns how many."""
        with self._guard(f"recording stress figures of run {run_id}"):
            return self._backend.write_stress(run_id, figures)

    def stress_figures(self, run_id: str) -> tuple[StressFigure, ...]:
        """The stress figures of ``run_id`` (empty if it has none)."""
        with self._guard(f"reading stress figures of run {run_id}"):
            return self._backend.read_stress(run_id)

    def record_noise_profile(self, profile: NoiseProfile, *, corpus_path: str,
                             created_at: str) -> str:
        """Store this machine's noise profile (``perf-pipeline calibrate``); return its id.

        Recording a profile of the same corpus again replaces it.
        """
        if not isinstance(profile, NoiseProfile):
            raise InvalidInputError(
                f"record_noise_profile needs a NoiseProfile, not {type(profile).__name__}")
        with self._guard(f"recording the noise profile of {profile.commit[:12]}"):
            return self._backend.write_noise_profile(profile, corpus_path=str(corpus_path),
                                                     created_at=created_at)

    # -- reads -------------------------------------------------------------------------

    def noise_profiles(self, *, suite: str = "benchmarks"
                       ) -> tuple[tuple[NoiseProfile, str, str], ...]:
        """Stored noise profiles of ``suite``, oldest first, as (profile, corpus path,
        created_at)."""
        with self._guard("reading noise profiles"):
            return self._backend.read_noise_profiles(suite=suite)

    def has_run(self, run_id: str) -> bool:
        with self._guard(f"looking up run {run_id}"):
            return self._backend.has_run(run_id)

    def get_run(self, run_id: str) -> SuiteRun:
        """The complete run: benchmarks with samples and extra metrics, commit, environment."""
        with self._guard(f"reading run {run_id}"):
            rows = self._backend.select_run(run_id)
            if not rows:
                raise InvalidInputError(f"run {run_id!r} is not in the history db {self.target}")
            return self._backend.load_runs(rows)[0]

    def list_runs(self, *, suite: str | None = None, branch: str | None = None,
                  sha: str | None = None, status: RunStatus | None = None,
                  limit: int | None = None, machine_id: str | None = None
                  ) -> tuple[RunInfo, ...]:
        """Matching runs, oldest first in history order; ``limit`` keeps the newest.

        ``machine_id`` (here and below): only runs of that machine; None means any.
        """
        check_count("limit", limit)
        wanted = RunFilter(suite=suite, branch=branch, sha=sha, status=run_status(status),
                           machine_id=machine_id)
        with self._guard("listing runs"):
            return tuple(run_info(row) for row in self._backend.select_runs(wanted, limit=limit))

    def latest_run(self, *, suite: str = "benchmarks", sha: str | None = None,
                   status: RunStatus | None = RunStatus.SUCCESS,
                   machine_id: str | None = None) -> SuiteRun | None:
        """The newest matching run in history order, complete; None if there is none."""
        wanted = RunFilter(suite=suite, sha=sha, status=run_status(status), machine_id=machine_id)
        with self._guard("reading the latest run"):
            runs = self._backend.load_runs(self._backend.select_runs(wanted, limit=1))
        return runs[0] if runs else None

    def recent_runs(self, *, suite: str = "benchmarks", branch: str | None = None,
                    n: int = 10, status: RunStatus = RunStatus.SUCCESS,
                    before_run_id: str | None = None,
                    machine_id: str | None = None) -> tuple[SuiteRun, ...]:
        """The newest ``n`` matching runs, complete, returned oldest first.

        ``before_run_id`` drops that run and everything after it in history order: the
        rolling baseline of a run is made of the runs before it, not of itself.
        """
        check_count("n", n)
        if n == 0:
            return ()
        wanted = RunFilter(suite=suite, branch=branch, status=run_status(status),
                           before_run_id=before_run_id, machine_id=machine_id)
        with self._guard("reading recent runs"):
            return self._backend.load_runs(self._backend.select_runs(wanted, limit=n))

    def commit_runs(self, sha: str, *, suite: str = "benchmarks",
                    status: RunStatus | None = RunStatus.SUCCESS,
                    machine_id: str | None = None) -> tuple[SuiteRun, ...]:
        """Every stored run of commit ``sha`` (complete, oldest first): its replicates."""
        wanted = RunFilter(suite=suite, sha=sha, status=run_status(status), machine_id=machine_id)
        with self._guard(f"reading the runs of commit {sha}"):
            return self._backend.load_runs(self._backend.select_runs(wanted))

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
            groups = self._backend.select_commit_groups(wanted, n=1)
            return pool_runs(self._backend.load_runs(groups[0])) if groups else None

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
        check_count("n", n)
        if n == 0:
            return ()
        wanted = RunFilter(suite=suite, branch=branch, status=RunStatus.SUCCESS,
                           before_run_id=before_run_id, not_sha=exclude_sha,
                           machine_id=machine_id)
        with self._guard("reading recent commits"):
            groups = self._backend.select_commit_groups(wanted, n=n)
            runs = self._backend.load_runs([row for rows in groups for row in rows])
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
        check_strings("metrics", metrics, allow_empty=False)
        check_strings("names", names, allow_empty=True)
        if names is not None and not names:
            return ()
        with self._guard("reading metric series"):
            return self._backend.read_series(suite=suite, metrics=tuple(metrics),
                                             names=tuple(names) if names is not None else None,
                                             status=run_status(status) or RunStatus.SUCCESS,
                                             machine_id=machine_id)

    def machines(self, *, suite: str | None = "benchmarks") -> tuple[str, ...]:
        """Machine ids with runs (of ``suite``; None: any), the most recently used last."""
        with self._guard("listing machines"):
            return self._backend.read_machines(suite=suite)

    def benchmark_names(self, *, suite: str = "benchmarks") -> tuple[str, ...]:
        """Every benchmark name ever stored for ``suite``, sorted."""
        with self._guard("listing benchmark names"):
            return self._backend.read_benchmark_names(suite=suite)
