"""Reading the history db back into model objects.

History order, used by every listing: runs sort by ``sort_at`` (the commit time in UTC,
or the start time for runs without a commit; a commit dated in the future by a skewed
clock is moved back among its ancestors and descendants, ``history_order.py``), then by
the commit's ancestry ordinal (``ORDINAL_KEY``), then by start time, then by ``run_id``
so that ties are stable.
Following the commit time rather than the measuring time puts a backfilled run of an
old commit at that commit's place in history; the ordinal does the same for commits
that share a commit time (a rebase gives all it rewrites one committer second), which
the measuring time would otherwise order, putting a parent measured after its child
after it. Both backends order by the same expressions, so they list the same order.

Queries fetch whole sets at once (runs, then all their benchmarks in one statement):
the number of statements never grows with the number of runs or benchmarks.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    BenchmarkResult,
    CommitInfo,
    MetricSeries,
    RunInfo,
    RunStatus,
    SuiteRun,
)
from perf_pipeline.store.environment_json import environment_from_data
from perf_pipeline.store.samples import decode_samples

__all__ = ["RUN_COLUMNS", "RunFilter", "assemble_runs", "group_commit_rows", "load_runs",
           "read_benchmark_names", "read_machines", "read_series", "run_info",
           "select_commit_groups", "select_run", "select_runs", "series_from_rows"]

#: A missing ordinal (runs stored before it, plain pytest-benchmark files) sorts before
#: any recorded one. Spelled out rather than left to the engine: SQLite sorts NULL
#: first and PostgreSQL last. The expression indexes of the order use the same text.
ORDINAL_KEY = "COALESCE(ancestry_ordinal, -1)"
_ORDER = f"sort_at, {ORDINAL_KEY}, started_utc, run_id"
_ORDER_DESC = f"sort_at DESC, {ORDINAL_KEY} DESC, started_utc DESC, run_id DESC"
#: The columns of a run row, in the order ``run_info`` and ``assemble_runs`` unpack.
RUN_COLUMNS = ("run_id", "suite", "sha", "branch", "commit_message", "commit_author",
               "committed_at", "dirty", "started_at", "duration_s", "status", "error",
               "raw_path", "fingerprint", "environment_json", "machine_id",
               "ancestry_ordinal")
_RUN_COLUMNS = ", ".join(RUN_COLUMNS)
_RunRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs a listing wants; ``None`` means any. ``before_run_id`` keeps only runs
    strictly earlier in history order than that run."""

    suite: str | None = None
    branch: str | None = None
    sha: str | None = None
    status: RunStatus | None = None
    before_run_id: str | None = None
    machine_id: str | None = None
    #: Leave out the runs of this commit (a commit's baseline never contains itself).
    not_sha: str | None = None


def _where(conn: sqlite3.Connection, wanted: RunFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    for column, value in (("suite", wanted.suite), ("branch", wanted.branch),
                          ("sha", wanted.sha), ("machine_id", wanted.machine_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if wanted.not_sha is not None:
        clauses.append("(sha IS NULL OR sha != ?)")
        args.append(wanted.not_sha)
    if wanted.status is not None:
        clauses.append("status = ?")
        args.append(RunStatus(wanted.status).value)
    if wanted.before_run_id is not None:
        anchor = conn.execute(f"SELECT {_ORDER} FROM runs WHERE run_id = ?",
                              (wanted.before_run_id,)).fetchone()
        if anchor is None:
            raise InvalidInputError(
                f"before_run_id {wanted.before_run_id!r} is not a run in the history")
        clauses.append(f"({_ORDER}) < (?, ?, ?, ?)")
        args.extend(anchor)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def select_run(conn: sqlite3.Connection, run_id: str) -> list[_RunRow]:
    """The row of ``run_id`` as a one-element list, or an empty list."""
    return conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?",
                        (run_id,)).fetchall()


def select_runs(conn: sqlite3.Connection, wanted: RunFilter, *,
                limit: int | None = None) -> list[_RunRow]:
    """Run rows matching ``wanted``, oldest first; ``limit`` keeps the newest ones."""
    where, args = _where(conn, wanted)
    if limit is None:
        return conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY {_ORDER}",
                            args).fetchall()
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY {_ORDER_DESC} LIMIT ?",
        [*args, limit]).fetchall()
    rows.reverse()
    return rows


def select_commit_groups(conn: sqlite3.Connection, wanted: RunFilter, *,
                         n: int) -> list[list[_RunRow]]:
    """The run rows of the newest ``n`` commits matching ``wanted``, grouped per commit
    (clean runs preferred over dirty ones; of several machines, only the runs of the
    machine that measured the commit last), groups and rows oldest first (history
    order: of commits sharing a commit time, the one with the higher ordinal is newer).

    A run without a commit is a group of its own. Every run of one commit shares its
    ``sort_at`` (the commit time), so the rows are read newest first only until the
    ``sort_at`` of the n-th commit is passed: the cost follows ``n``, not the history.
    """
    where, args = _where(conn, wanted)
    cursor = conn.execute(
        f"SELECT {_RUN_COLUMNS}, sort_at FROM runs{where} ORDER BY {_ORDER_DESC}", args)
    try:
        return group_commit_rows(cursor, n=n)
    finally:
        cursor.close()


def group_commit_rows(rows: Iterable[_RunRow], *, n: int) -> list[list[_RunRow]]:
    """``select_commit_groups`` of run rows (each with its ``sort_at`` appended) read
    newest first; stops reading once the n-th commit is passed. Shared by both backends.
    """
    groups: dict[str, list[_RunRow]] = {}
    last_sort_at: str | None = None
    for row in rows:
        key = row[2] if row[2] is not None else "\0" + row[0]
        if key not in groups:
            if len(groups) >= n:
                if row[-1] != last_sort_at:
                    break
                continue
            groups[key] = []
            last_sort_at = row[-1]
        groups[key].append(tuple(row[:-1]))
    out = []
    for rows_of_commit in reversed(groups.values()):
        rows_of_commit.reverse()
        clean = [r for r in rows_of_commit if not r[7]] or rows_of_commit
        machine = clean[-1][15]  # never pool two machines' runs: the newest run's machine
        out.append([r for r in clean if r[15] == machine])
    return out


def run_info(row: _RunRow) -> RunInfo:
    """A ``RunInfo`` from a row of ``select_runs``."""
    (run_id, suite, sha, branch, message, author, committed_at, dirty, started_at,
     duration_s, status, error, _raw, fingerprint, env_json, machine_id, ordinal) = row
    commit = (CommitInfo(sha=sha, branch=branch, message=message or "", author=author or "",
                         committed_at=committed_at, dirty=bool(dirty),
                         ancestry_ordinal=ordinal)
              if sha is not None else None)
    return RunInfo(run_id=run_id, suite=suite, started_at=started_at,
                   status=RunStatus(status), commit=commit, fingerprint=fingerprint,
                   duration_s=duration_s, error=error, machine_id=machine_id,
                   hardware=_hardware_of(env_json))


@functools.lru_cache(maxsize=256)
def _hardware_of(env_json: str | None) -> str | None:
    """The hardware id of a stored environment; None without one, or for a record that
    cannot be read (a listing must not fail on it: reading the run itself says why).
    Cached: a history's runs share a handful of environments, and a listing of a
    thousand runs parsed each (50 us) on every call."""
    if env_json is None:
        return None
    try:
        return environment_from_data(json.loads(env_json), what="run").known_hardware
    except (ValueError, InvalidInputError):
        return None


def _ids_param(values: Sequence[str]) -> str:
    """Many values as one JSON parameter for ``IN (SELECT value FROM json_each(?))``:
    no limit on the number of host parameters and one statement for any count."""
    return json.dumps(list(values), ensure_ascii=False)


def load_runs(conn: sqlite3.Connection, rows: Sequence[_RunRow]) -> tuple[SuiteRun, ...]:
    """Complete ``SuiteRun`` objects for run rows, in the same order, in three queries."""
    if not rows:
        return ()
    ids = _ids_param([row[0] for row in rows])
    extra_rows = conn.execute(
        "SELECT run_id, name, metric, value FROM results "
        "WHERE run_id IN (SELECT value FROM json_each(?)) AND position >= 0 "
        "ORDER BY run_id, name, position", (ids,))
    benchmark_rows = conn.execute(
        "SELECT run_id, name, group_name, params_json, iterations, samples, summary_json "
        "FROM benchmarks WHERE run_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY run_id, position", (ids,))
    return assemble_runs(rows, extra_rows, benchmark_rows)


def assemble_runs(rows: Sequence[_RunRow], extra_rows: Iterable[Sequence[Any]],
                  benchmark_rows: Iterable[Sequence[Any]]) -> tuple[SuiteRun, ...]:
    """``SuiteRun`` objects from run rows, their extra-metric rows (run_id, name, metric,
    value; by run, name, position) and benchmark rows (run_id, name, group_name,
    params_json, iterations, samples, summary_json; by run, position). Both backends
    read the same rows and map them here, so a run reads back the same from either.
    """
    extras: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for run_id, name, metric, value in extra_rows:
        extras.setdefault((run_id, name), []).append((metric, value))
    benchmarks: dict[str, list[BenchmarkResult]] = {}
    for run_id, name, group, params_json, iterations, blob, summary_json in benchmark_rows:
        what = f"run {run_id} benchmark {name!r}"
        benchmarks.setdefault(run_id, []).append(BenchmarkResult(
            name=name,
            samples_s=decode_samples(blob, what=what),
            group=group,
            params=tuple(tuple(pair) for pair in json.loads(params_json)),
            iterations=iterations,
            extra=tuple(extras.get((run_id, name), ())),
            summary=tuple((str(k), v) for k, v in json.loads(summary_json)),
        ))
    runs = []
    for row in rows:
        info = run_info(row)
        env_json, machine_id, raw_path = row[14], row[15], row[12]
        environment = (environment_from_data(json.loads(env_json), what=f"run {info.run_id}")
                       if env_json is not None else None)
        runs.append(SuiteRun(
            run_id=info.run_id, suite=info.suite, started_at=info.started_at,
            status=info.status, benchmarks=tuple(benchmarks.get(info.run_id, ())),
            commit=info.commit, environment=environment, duration_s=info.duration_s,
            error=info.error, raw_path=raw_path, machine_id=machine_id))
    return tuple(runs)


def read_series(conn: sqlite3.Connection, *, suite: str, metrics: Sequence[str],
                names: Sequence[str] | None, status: RunStatus,
                machine_id: str | None = None) -> tuple[MetricSeries, ...]:
    """Every (benchmark, metric) as a ``MetricSeries``, from one query.

    Rows come out in history order (the planner walks the runs index and looks each
    run's results up by primary key), so Python only appends; no per-series query and
    no sort of the 500k rows of a 500 x 1000 history. Series are returned sorted by
    name, then in the order of ``metrics``.
    """
    sql = ("SELECT r.name, r.metric, r.run_id, r.value, COALESCE(r.q1, r.value), "
           "COALESCE(r.q3, r.value) "
           "FROM runs u CROSS JOIN results r ON r.run_id = u.run_id "
           "WHERE u.suite = ? AND u.status = ? "
           "AND r.metric IN (SELECT value FROM json_each(?))")
    args: list[object] = [suite, RunStatus(status).value, _ids_param(metrics)]
    if names is not None:
        sql += " AND r.name IN (SELECT value FROM json_each(?))"
        args.append(_ids_param(names))
    if machine_id is not None:
        sql += " AND u.machine_id = ?"
        args.append(machine_id)
    sql += (" ORDER BY u.sort_at, COALESCE(u.ancestry_ordinal, -1), u.started_utc, "
            "u.run_id")
    return series_from_rows(conn.execute(sql, args), metrics=metrics)


def series_from_rows(rows: Iterable[Sequence[Any]], *,
                     metrics: Sequence[str]) -> tuple[MetricSeries, ...]:
    """``MetricSeries`` from (name, metric, run_id, value, low, high) rows in history
    order: Python only appends. Sorted by name, then in the order of ``metrics``."""
    columns: dict[tuple[str, str], tuple[list, list, list, list]] = {}
    for name, metric, run_id, value, low, high in rows:
        cols = columns.get((name, metric))
        if cols is None:
            cols = columns[(name, metric)] = ([], [], [], [])
        cols[0].append(run_id)
        cols[1].append(value)
        cols[2].append(low)
        cols[3].append(high)
    metric_rank = {metric: i for i, metric in enumerate(metrics)}
    return tuple(
        MetricSeries(name=name, metric=metric, run_ids=tuple(c[0]), values=tuple(c[1]),
                     lows=tuple(c[2]), highs=tuple(c[3]))
        for (name, metric), c in sorted(columns.items(),
                                        key=lambda kv: (kv[0][0], metric_rank[kv[0][1]])))


def read_machines(conn: sqlite3.Connection, *, suite: str | None) -> tuple[str, ...]:
    """Every machine id with a run (of ``suite``, if given), the most recently used last."""
    sql = "SELECT machine_id FROM runs WHERE machine_id IS NOT NULL"
    args: list[object] = []
    if suite is not None:
        sql += " AND suite = ?"
        args.append(suite)
    sql += " GROUP BY machine_id ORDER BY MAX(sort_at), machine_id"
    return tuple(row[0] for row in conn.execute(sql, args))


def read_benchmark_names(conn: sqlite3.Connection, *, suite: str) -> tuple[str, ...]:
    """Every benchmark name ever stored for ``suite``, sorted."""
    return tuple(row[0] for row in conn.execute(
        "SELECT DISTINCT b.name FROM benchmarks b JOIN runs u ON u.run_id = b.run_id "
        "WHERE u.suite = ? ORDER BY b.name", (suite,)))
