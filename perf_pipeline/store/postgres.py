"""The PostgreSQL side of ``HistoryStore``: a history several machines write at once.

SQLAlchemy Core over psycopg 3; every value is a bound parameter. Rows are built and
read back by the same code as SQLite's (``ingest.run_row``/``benchmark_rows``,
``queries.assemble_runs``/``group_commit_rows``/``series_from_rows``, the noise-profile
and stress row functions); only the statements differ.

Concurrent writers (several benchmark machines, several Dagster steps):

- a run is written in one transaction: ``INSERT ... ON CONFLICT (run_id) DO NOTHING
  RETURNING``; only the transaction that inserted the run row writes its benchmarks
  and results. A second writer of the same run waits on the unique index until the
  first commits, then inserts nothing: a re-ingested run is never duplicated;
- ``sources`` is an upsert; a noise profile is an upsert of its row, which locks it,
  before its benchmarks are replaced; stress figures lock their run row first;
- migrations take an advisory lock (``postgres_schema.py``).

The URL's password is never shown: ``label`` (used in every message and ``repr``) is
the URL with the password masked, and driver messages are searched for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import MetricSeries, NoiseProfile, RunStatus, StressFigure, SuiteRun
from perf_pipeline.store.history_order import (
    MISSING_ORDINALS_SQL,
    SET_ORDINAL_SQL,
    restore_ancestry_order,
)
from perf_pipeline.store.ingest import (
    BENCHMARK_COLUMNS,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    benchmark_rows,
    orders_by_ancestry,
    run_row,
)
from perf_pipeline.store.noise_profiles import (
    NOISE_BENCHMARK_COLUMNS,
    PROFILE_COLUMNS,
    profile_from_rows,
    profile_rows,
)
from perf_pipeline.store.postgres_engine import connect_engine
from perf_pipeline.store.postgres_schema import TABLES, migrate_postgres
from perf_pipeline.store.queries import RUN_COLUMNS as READ_COLUMNS
from perf_pipeline.store.queries import (
    RunFilter,
    assemble_runs,
    group_commit_rows,
    series_from_rows,
)
from perf_pipeline.store.sources import SourceStamp
from perf_pipeline.store.stress import STRESS_COLUMNS, figure_from_row, stress_rows

__all__ = ["PostgresBackend"]

logger = logging.getLogger(__name__)

_Row = tuple[object, ...]
_runs = TABLES["runs"]
_benchmarks = TABLES["benchmarks"]
_results = TABLES["results"]
_sources = TABLES["sources"]
_stress = TABLES["stress_results"]
_profiles = TABLES["noise_profiles"]
_noise_benchmarks = TABLES["noise_benchmarks"]
_RUN_READ = [_runs.c[name] for name in READ_COLUMNS]
#: History order (``queries.py``): the same keys, and the same COALESCE, as SQLite's, so
#: a missing ordinal sorts first on both (PostgreSQL alone would put NULL last).
_ORDINAL = sa.func.coalesce(_runs.c.ancestry_ordinal,
                            sa.literal_column("-1", sa.BigInteger))  # as the index has it
_ORDER = (_runs.c.sort_at, _ORDINAL, _runs.c.started_utc, _runs.c.run_id)
_ORDER_DESC = tuple(c.desc() for c in _ORDER)
#: Rows a commit-group scan fetches at a time (it stops after the n-th commit).
_SCAN_BATCH = 200


def _any(values: Sequence[str]) -> sa.BindParameter:
    """Many values as one array parameter, for ``column == any_(...)``."""
    return sa.bindparam(None, list(values), type_=ARRAY(sa.Text), unique=True)


class PostgresBackend:
    """The connection layer of a PostgreSQL history (see the module docstring)."""

    def __init__(self, engine: sa.Engine, *, label: str, password: str | None) -> None:
        self._engine = engine
        self._password = password
        self._closed = False
        self.path: Path | None = None
        self.label = label

    @classmethod
    def open(cls, target: str, *, timeout_s: float,
             query_timeout_s: float | None = None) -> PostgresBackend:
        """Connect to ``target`` (a ``postgresql://`` URL) and migrate its schema.

        ``timeout_s`` bounds connecting and lock waits; ``query_timeout_s`` each wait for
        the server's answer (None: no limit)."""
        engine, label, password = connect_engine(target, timeout_s=timeout_s,
                                                 query_timeout_s=query_timeout_s)
        backend = cls(engine, label=label, password=password)
        try:
            with backend.guard("connecting and migrating"):
                migrate_postgres(engine, label=label)
        except BaseException:
            engine.dispose()
            raise
        logger.debug("opened history db %s", label)
        return backend

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    def _clean(self, message: str) -> str:
        if self._password:
            message = message.replace(self._password, "***")
        return message.strip().splitlines()[0] if message.strip() else message

    @contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn driver errors into ``StoreError``/``InvalidInputError`` naming the db."""
        if self._closed:
            raise StoreError(f"history db {self.label}: {action} failed: the store is closed")
        try:
            yield
        except sa.exc.DataError as exc:  # NUL in text, an integer beyond 64 bits, ...
            raise InvalidInputError(
                f"history db {self.label}: {action}: a value cannot be stored: "
                f"{self._clean(str(exc.orig))}") from exc
        except sa.exc.StatementError as exc:
            cause = exc.orig if exc.orig is not None else exc
            if isinstance(cause, UnicodeError):
                raise InvalidInputError(
                    f"history db {self.label}: {action}: text is not valid Unicode: {cause}"
                ) from exc
            raise StoreError(f"history db {self.label}: {action} failed: "
                             f"{self._clean(str(cause))}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"history db {self.label}: {action} failed: "
                             f"{self._clean(str(exc))}") from exc
        except UnicodeError as exc:  # lone surrogates cannot be stored as UTF-8
            raise InvalidInputError(
                f"history db {self.label}: {action}: text is not valid Unicode: {exc}"
            ) from exc

    # -- writes ------------------------------------------------------------------------

    def write_run(self, run: SuiteRun, *, source: SourceStamp | None) -> bool:
        ingested_at = datetime.now(timezone.utc).isoformat()
        row = dict(zip(RUN_COLUMNS, run_row(run, ingested_at=ingested_at), strict=True))
        bench_rows, result_rows = benchmark_rows(run)  # validated before connecting
        with self._engine.begin() as conn:
            inserted = conn.execute(
                insert(_runs).values(row).on_conflict_do_nothing(index_elements=["run_id"])
                .returning(_runs.c.run_id)).first() is not None
            if inserted:
                if bench_rows:
                    conn.execute(insert(_benchmarks), [
                        dict(zip(BENCHMARK_COLUMNS, r, strict=True)) for r in bench_rows])
                if result_rows:
                    conn.execute(insert(_results), [
                        dict(zip(RESULT_COLUMNS, r, strict=True)) for r in result_rows])
                if orders_by_ancestry(run):
                    _restore_order(conn, branch=str(row["branch"]))
            else:
                logger.debug("run %s is already in the history; nothing to do", run.run_id)
            if source is not None:
                _upsert_source(conn, source, run.run_id, recorded_at=ingested_at)
        return inserted

    def record_source(self, source: SourceStamp, run_id: str, *, recorded_at: str) -> None:
        with self._engine.begin() as conn:
            _upsert_source(conn, source, run_id, recorded_at=recorded_at)

    def delete_run(self, run_id: str) -> bool:
        with self._engine.begin() as conn:
            _lock_order(conn)  # before any row lock: an ingest takes them in that order
            if conn.execute(sa.select(_runs.c.run_id).where(_runs.c.run_id == run_id)
                            .with_for_update()).first() is None:
                return False
            for table in (_sources, _results, _benchmarks, _runs):
                conn.execute(sa.delete(table).where(table.c.run_id == run_id))
            _restore_order(conn, branch=None)  # its bounds may be gone
        return True

    def write_stress(self, run_id: str, figures: Sequence[StressFigure]) -> int:
        rows = stress_rows(run_id, figures)
        with self._engine.begin() as conn:
            if conn.execute(sa.select(_runs.c.run_id).where(_runs.c.run_id == run_id)
                            .with_for_update()).first() is None:
                raise InvalidInputError(f"stress figures for run {run_id!r}, which is not stored")
            conn.execute(sa.delete(_stress).where(_stress.c.run_id == run_id))
            if rows:
                conn.execute(insert(_stress),
                             [dict(zip(STRESS_COLUMNS, r, strict=True)) for r in rows])
        return len(rows)

    def write_ordinals(self, ordinals: dict[str, int]) -> int:
        with self._engine.begin() as conn:
            # before any row lock: an ingest holding the lock of history order may move
            # the runs this updates (else PostgreSQL aborts one of the two: a deadlock)
            _lock_order(conn)
            updated = conn.execute(sa.text(SET_ORDINAL_SQL), [
                {"sha": sha, "ordinal": ordinal} for sha, ordinal in ordinals.items()
            ]).rowcount if ordinals else 0
            _restore_order(conn, branch=None)
        return max(updated, 0)

    def write_noise_profile(self, profile: NoiseProfile, *, corpus_path: str,
                            created_at: str) -> str:
        profile_id, row, bench_rows = profile_rows(profile, corpus_path=corpus_path,
                                                   created_at=created_at)
        values = dict(zip(PROFILE_COLUMNS, row, strict=True))
        stmt = insert(_profiles).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["profile_id"],
            set_={c: stmt.excluded[c] for c in PROFILE_COLUMNS if c != "profile_id"})
        with self._engine.begin() as conn:
            conn.execute(stmt)  # locks the profile's row until commit
            conn.execute(sa.delete(_noise_benchmarks)
                         .where(_noise_benchmarks.c.profile_id == profile_id))
            if bench_rows:
                conn.execute(insert(_noise_benchmarks), [
                    dict(zip(NOISE_BENCHMARK_COLUMNS, r, strict=True)) for r in bench_rows])
        return profile_id

    # -- reads -------------------------------------------------------------------------

    def _rows(self, stmt: sa.Executable) -> list[_Row]:
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def read_sources(self) -> dict[str, tuple[SourceStamp, str]]:
        return {path: (SourceStamp(path, size, mtime_ns), run_id)
                for path, size, mtime_ns, run_id in self._rows(sa.select(
                    _sources.c.path, _sources.c.size, _sources.c.mtime_ns, _sources.c.run_id))}

    def read_stress(self, run_id: str) -> tuple[StressFigure, ...]:
        cols = [_stress.c[c] for c in STRESS_COLUMNS[1:]]
        return tuple(figure_from_row(r) for r in self._rows(
            sa.select(*cols).where(_stress.c.run_id == run_id)
            .order_by(_stress.c.test, _stress.c.scenario, _stress.c.figure)))

    def read_noise_profiles(self, *, suite: str) -> tuple[tuple[NoiseProfile, str, str], ...]:
        p, b = _profiles, _noise_benchmarks
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(p.c.profile_id, p.c.sha, p.c.machine_json, p.c.recorded_at,
                          p.c.created_at, p.c.pairs, p.c.suite_factor_log_sd, p.c.notes_json,
                          p.c.corpus_path)
                .where(p.c.suite == suite).order_by(p.c.created_at, p.c.profile_id)).all()
            return tuple(profile_from_rows(suite, row, conn.execute(
                sa.select(b.c.name, b.c.median_s, b.c.unpaired_log_sd, b.c.paired_log_sd,
                          b.c.paired_residual_log_sd)
                .where(b.c.profile_id == row[0]).order_by(b.c.position))) for row in rows)

    def read_missing_ordinals(self) -> tuple[str, ...]:
        return tuple(str(row[0]) for row in self._rows(sa.text(MISSING_ORDINALS_SQL)))

    def has_run(self, run_id: str) -> bool:
        return bool(self._rows(sa.select(_runs.c.run_id).where(_runs.c.run_id == run_id)))

    def select_run(self, run_id: str) -> list[_Row]:
        return self._rows(sa.select(*_RUN_READ).where(_runs.c.run_id == run_id))

    def _where(self, conn: sa.Connection, wanted: RunFilter) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [
            _runs.c[column] == value
            for column, value in (("suite", wanted.suite), ("branch", wanted.branch),
                                  ("sha", wanted.sha), ("machine_id", wanted.machine_id))
            if value is not None]
        if wanted.not_sha is not None:
            clauses.append(sa.or_(_runs.c.sha.is_(None), _runs.c.sha != wanted.not_sha))
        if wanted.status is not None:
            clauses.append(_runs.c.status == RunStatus(wanted.status).value)
        if wanted.before_run_id is not None:
            anchor = conn.execute(sa.select(*_ORDER).where(
                _runs.c.run_id == wanted.before_run_id)).first()
            if anchor is None:
                raise InvalidInputError(
                    f"before_run_id {wanted.before_run_id!r} is not a run in the history")
            clauses.append(sa.tuple_(*_ORDER) < sa.tuple_(
                *(sa.literal(v, c.type) for v, c in zip(anchor, _ORDER, strict=True))))
        return clauses

    def select_runs(self, wanted: RunFilter, *, limit: int | None = None) -> list[_Row]:
        with self._engine.connect() as conn:
            stmt = sa.select(*_RUN_READ).where(*self._where(conn, wanted))
            if limit is None:
                return [tuple(r) for r in conn.execute(stmt.order_by(*_ORDER))]
            rows = [tuple(r) for r in conn.execute(stmt.order_by(*_ORDER_DESC).limit(limit))]
        rows.reverse()
        return rows

    def select_commit_groups(self, wanted: RunFilter, *, n: int) -> list[list[_Row]]:
        with self._engine.connect() as conn:
            stmt = (sa.select(*_RUN_READ, _runs.c.sort_at).where(*self._where(conn, wanted))
                    .order_by(*_ORDER_DESC))
            # a server-side cursor: rows come only as far as the n-th commit
            result = conn.execution_options(yield_per=_SCAN_BATCH).execute(stmt)
            try:
                return group_commit_rows((tuple(r) for r in result), n=n)
            finally:
                result.close()

    def load_runs(self, rows: Sequence[_Row]) -> tuple[SuiteRun, ...]:
        if not rows:
            return ()
        ids = _any([str(row[0]) for row in rows])
        r, b = _results, _benchmarks
        with self._engine.connect() as conn:
            extra_rows = conn.execute(
                sa.select(r.c.run_id, r.c.name, r.c.metric, r.c.value)
                .where(r.c.run_id == sa.any_(ids), r.c.position >= 0)
                .order_by(r.c.run_id, r.c.name, r.c.position)).all()
            bench_rows = conn.execute(
                sa.select(b.c.run_id, b.c.name, b.c.group_name, b.c.params_json,
                          b.c.iterations, b.c.samples, b.c.summary_json)
                .where(b.c.run_id == sa.any_(ids))
                .order_by(b.c.run_id, b.c.position))
            return assemble_runs(rows, extra_rows, bench_rows)

    def read_series(self, *, suite: str, metrics: Sequence[str], names: Sequence[str] | None,
                    status: RunStatus, machine_id: str | None) -> tuple[MetricSeries, ...]:
        u, r = _runs, _results
        stmt = (sa.select(r.c.name, r.c.metric, r.c.run_id, r.c.value,
                          sa.func.coalesce(r.c.q1, r.c.value),
                          sa.func.coalesce(r.c.q3, r.c.value))
                .select_from(u.join(r, r.c.run_id == u.c.run_id))
                .where(u.c.suite == suite, u.c.status == RunStatus(status).value,
                       r.c.metric == sa.any_(_any(metrics))))
        if names is not None:
            stmt = stmt.where(r.c.name == sa.any_(_any(names)))
        if machine_id is not None:
            stmt = stmt.where(u.c.machine_id == machine_id)
        stmt = stmt.order_by(*_ORDER)
        with self._engine.connect() as conn:
            return series_from_rows(conn.execute(stmt), metrics=metrics)

    def read_machines(self, *, suite: str | None) -> tuple[str, ...]:
        stmt = sa.select(_runs.c.machine_id).where(_runs.c.machine_id.is_not(None))
        if suite is not None:
            stmt = stmt.where(_runs.c.suite == suite)
        stmt = (stmt.group_by(_runs.c.machine_id)
                .order_by(sa.func.max(_runs.c.sort_at), _runs.c.machine_id))
        return tuple(str(row[0]) for row in self._rows(stmt))

    def read_benchmark_names(self, *, suite: str) -> tuple[str, ...]:
        stmt = (sa.select(_benchmarks.c.name).distinct()
                .select_from(_benchmarks.join(_runs, _runs.c.run_id == _benchmarks.c.run_id))
                .where(_runs.c.suite == suite).order_by(_benchmarks.c.name))
        return tuple(str(row[0]) for row in self._rows(stmt))


#: The advisory lock of history order (two int4 keys: never the migrations' key).
_ORDER_LOCK = (0x6f72, 0)  # "or"


def _lock_order(conn: sa.Connection) -> None:
    """Take the lock of history order for the caller's transaction (re-entrant)."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
        *(sa.literal(key, sa.Integer) for key in _ORDER_LOCK))))


def _restore_order(conn: sa.Connection, *, branch: str | None) -> None:
    """``history_order.restore_ancestry_order`` on PostgreSQL, in the caller's
    transaction. Two machines ingesting a commit and its child at once would each miss
    the other's row, so it runs under one lock, taken first (one for every branch: a
    pass over all of them must not run beside a pass over one); each statement after it
    sees what the other transaction committed (READ COMMITTED)."""
    _lock_order(conn)
    restore_ancestry_order(lambda sql, args: conn.execute(sa.text(sql), args).all(),
                           lambda sql, args: conn.execute(sa.text(sql), args) and None,
                           branch=branch)


def _upsert_source(conn: sa.Connection, stamp: SourceStamp, run_id: str, *,
                   recorded_at: str) -> None:
    """Remember that ``stamp`` holds ``run_id``; the caller holds the transaction."""
    stmt = insert(_sources).values(path=stamp.path, size=int(stamp.size),
                                   mtime_ns=int(stamp.mtime_ns), run_id=run_id,
                                   recorded_at=recorded_at)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["path"],
        set_={c: stmt.excluded[c] for c in ("size", "mtime_ns", "run_id", "recorded_at")}))
