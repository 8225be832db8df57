"""Writing runs into the history db: one run, one transaction.

Idempotency rules (``write_run``):

- A ``run_id`` already stored is left alone: ingesting the same run twice adds nothing.
- Every other run is kept. Measuring a commit again adds a replicate beside the earlier
  runs; it replaces nothing. Repeated runs of one commit are the best estimate of
  run-to-run noise there is, and a failed run can never hide a successful one: readers
  ask for a commit's successful runs (``queries.py``, ``HistoryStore.commit_run``).
- The ``source`` the run was read from, if given, is recorded in the same transaction
  (``sources.py``), also when the run itself was already there.
- Runs of several machines sit side by side (``machine_id``): readers that pool or
  compare a commit's runs filter to one machine, since timings of two machines are
  different measurements.

Everything happens inside ``BEGIN IMMEDIATE``: the write lock is taken before the
existence check, so two processes ingesting the same run cannot both insert it. Rows go
in with ``executemany`` on the raw connection: sqlite-utils' row-dict API costs several
times more per row and this is the hot path (500 benchmarks per run).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import TIME_METRIC, BenchmarkResult, Samples, SuiteRun
from perf_pipeline.store.environment_json import environment_to_data
from perf_pipeline.store.history_order import restore_ancestry_order
from perf_pipeline.store.samples import SampleBlob, encode_sorted_blob
from perf_pipeline.store.sources import SourceStamp, record_source

__all__ = ["BENCHMARK_COLUMNS", "RESULT_COLUMNS", "RUN_COLUMNS", "benchmark_rows", "delete_runs",
           "orders_by_ancestry", "quantile", "restore_order", "run_row", "utc_sort_key",
           "write_run"]

logger = logging.getLogger(__name__)

#: Column order of the rows ``run_row``/``benchmark_rows`` build (both backends insert them).
RUN_COLUMNS = (
    "run_id", "suite", "sha", "branch", "commit_message", "commit_author", "committed_at",
    "dirty", "started_at", "duration_s", "status", "error", "raw_path", "fingerprint",
    "environment_json", "machine_id", "ingested_at", "sort_at", "started_utc",
    "ancestry_ordinal", "commit_utc",
)
BENCHMARK_COLUMNS = ("run_id", "name", "position", "group_name", "params_json",
                     "iterations", "summary_json", "samples")
RESULT_COLUMNS = ("run_id", "name", "metric", "position", "value", "n", "mean", "stddev",
                  "min", "max", "q1", "q3")
#: Larger sample BLOBs are written in pieces (``_insert_streamed``) where Python has
#: incremental BLOB I/O (3.11+); before, they are bound whole.
STREAMED_BLOB_BYTES = 1 << 20
_CAN_STREAM = hasattr(sqlite3.Connection, "blobopen")

#: ``results.position`` of the time row built from samples or summary (extras count from 0).
SAMPLES_POSITION = -1


def _insert_sql(table: str, columns: Sequence[str], *, zeroblob: str | None = None) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("zeroblob(?)" if c == zeroblob else "?" for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({marks})'


def _insert_streamed(conn: sqlite3.Connection, head: tuple[object, ...],
                     blob: SampleBlob) -> None:
    """Insert a benchmark row whose samples are a large ``SampleBlob``.

    Bound as a parameter, a BLOB is copied by SQLite and copied again into the record
    it builds: 160 MB for ten million samples, on top of the samples themselves. So
    the row goes in with a ``zeroblob`` of the right length, which SQLite does not
    materialise when it is the record's last column (``samples`` is, since
    migration 6), and the bytes are then written into it through incremental BLOB
    I/O, a megabyte at a time, inside the run's transaction.
    """
    cursor = conn.execute(_insert_sql("benchmarks", BENCHMARK_COLUMNS, zeroblob="samples"),
                          (*head, blob.size))
    with conn.blobopen("benchmarks", "samples", cursor.lastrowid) as out:
        for piece in blob.pieces():
            out.write(piece)


def utc_sort_key(stamp: str) -> str:
    """A text key that sorts ISO-8601 instants chronologically across UTC offsets.

    Naive stamps are taken as UTC (``SuiteRun.started_at`` is documented as UTC);
    a stamp that does not parse sorts by its own text, after being logged.
    """
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        logger.warning("timestamp %r is not ISO-8601; ordering it as text", stamp)
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S.%f}Z"


def quantile(ordered: Sequence[float], p: float) -> float:
    """Linear-interpolation quantile (numpy's default), so reports and analysis agree."""
    h = (len(ordered) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def _time_row(run_id: str, bench: BenchmarkResult,
              ordered: Samples) -> tuple[object, ...] | None:
    """The ``results`` row for time: the median and spread of the samples or, for a
    file that kept no samples, the summary statistics it reported; None if neither.
    ``ordered`` are the samples sorted (once per benchmark: 80 MB for 10M samples)."""
    samples = bench.samples_s
    if not samples:
        summary = dict(bench.summary)
        if "median_s" not in summary:
            return None
        return (run_id, bench.name, TIME_METRIC, SAMPLES_POSITION, summary["median_s"],
                int(summary.get("rounds", 0)), summary.get("mean_s"), summary.get("stddev_s"),
                summary.get("min_s"), summary.get("max_s"), summary.get("q1_s"),
                summary.get("q3_s"))
    n = len(ordered)
    mean = math.fsum(samples) / n
    stddev = (math.sqrt(math.fsum((x - mean) ** 2 for x in samples) / (n - 1))
              if n > 1 else None)
    mid = n // 2  # the median as BenchmarkResult.median_s takes it, without sorting again
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return (run_id, bench.name, TIME_METRIC, SAMPLES_POSITION, median, n, mean,
            stddev, ordered[0], ordered[-1], quantile(ordered, 0.25),
            quantile(ordered, 0.75))


def benchmark_rows(run: SuiteRun, *, stream: bool = False
                   ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The run's ``benchmarks`` and ``results`` rows (``BENCHMARK_COLUMNS``,
    ``RESULT_COLUMNS``). A benchmark row's last item, its samples BLOB, is ``bytes``;
    with ``stream`` (SQLite), one larger than ``STREAMED_BLOB_BYTES`` stays a
    ``SampleBlob`` for ``_insert_streamed``."""
    benchmarks: list[tuple[object, ...]] = []
    results: list[tuple[object, ...]] = []
    for position, bench in enumerate(run.benchmarks):
        extra_metrics = [metric for metric, _ in bench.extra]
        if len(extra_metrics) != len(set(extra_metrics)):
            raise InvalidInputError(
                f"run {run.run_id}: benchmark {bench.name!r} lists a metric twice in extra")
        ordered = bench.samples_s.sorted_copy()
        time_row = _time_row(run.run_id, bench, ordered)
        if time_row is not None and TIME_METRIC in extra_metrics:
            raise InvalidInputError(
                f"run {run.run_id}: benchmark {bench.name!r} has timings and also "
                f"{TIME_METRIC} in extra; only one can be the time")
        blob = encode_sorted_blob(ordered)  # a plain one is a view of ``ordered``
        benchmarks.append((run.run_id, bench.name, position, bench.group,
                           json.dumps([list(p) for p in bench.params], ensure_ascii=False),
                           bench.iterations,
                           json.dumps([list(p) for p in bench.summary], ensure_ascii=False),
                           blob if stream and blob.size > STREAMED_BLOB_BYTES
                           else blob.tobytes()))
        if time_row is not None:
            results.append(time_row)
        for index, (metric, value) in enumerate(bench.extra):
            results.append((run.run_id, bench.name, metric, index, value, 1, None, None,
                            None, None, None, None))
    return benchmarks, results


def run_row(run: SuiteRun, *, ingested_at: str) -> tuple[object, ...]:
    commit = run.commit
    environment = run.environment
    return (
        run.run_id, run.suite,
        commit.sha if commit else None,
        commit.branch if commit else None,
        commit.message if commit else None,
        commit.author if commit else None,
        commit.committed_at if commit else None,
        int(commit.dirty) if commit else 0,
        run.started_at, float(run.duration_s), run.status.value, run.error, run.raw_path,
        environment.fingerprint if environment else None,
        (json.dumps(environment_to_data(environment), ensure_ascii=False)
         if environment else None),
        run.machine_id, ingested_at,
        utc_sort_key(commit.committed_at if commit and commit.committed_at
                     else run.started_at),
        utc_sort_key(run.started_at),
        commit.ancestry_ordinal if commit else None,
        utc_sort_key(commit.committed_at) if commit and commit.committed_at else None,
    )


def orders_by_ancestry(run: SuiteRun) -> bool:
    """Whether ``run`` takes part in the ancestry order of its branch
    (``history_order.py``): it records both the branch and the ordinal of its commit."""
    return (run.commit is not None and run.commit.branch is not None
            and run.commit.ancestry_ordinal is not None)


def restore_order(conn: sqlite3.Connection, *, branch: str | None) -> None:
    """``history_order.restore_ancestry_order`` on a SQLite connection."""
    restore_ancestry_order(lambda sql, args: conn.execute(sql, args).fetchall(),
                           lambda sql, args: conn.execute(sql, args) and None,
                           branch=branch)


def delete_runs(conn: sqlite3.Connection, run_ids: Sequence[str]) -> None:
    """Delete every row of ``run_ids``; the caller holds the transaction."""
    rows = [(run_id,) for run_id in run_ids]
    for table in ("sources", "results", "benchmarks", "runs"):
        conn.executemany(f'DELETE FROM "{table}" WHERE run_id = ?', rows)


def write_run(conn: sqlite3.Connection, run: SuiteRun, *,
              source: SourceStamp | None = None) -> bool:
    """Store ``run`` under the rules in the module docstring; False if already stored."""
    ingested_at = datetime.now(timezone.utc).isoformat()
    row = run_row(run, ingested_at=ingested_at)  # validate before locking
    bench_rows, result_rows = benchmark_rows(run, stream=_CAN_STREAM)
    conn.execute("BEGIN IMMEDIATE")
    try:
        stored = conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                              (run.run_id,)).fetchone() is not None
        if stored:
            logger.debug("run %s is already in the history; nothing to do", run.run_id)
        else:
            conn.execute(_insert_sql("runs", RUN_COLUMNS), row)
            conn.executemany(_insert_sql("benchmarks", BENCHMARK_COLUMNS),
                             [r for r in bench_rows if not isinstance(r[-1], SampleBlob)])
            for r in bench_rows:
                if isinstance(r[-1], SampleBlob):
                    _insert_streamed(conn, r[:-1], r[-1])
            conn.executemany(_insert_sql("results", RESULT_COLUMNS), result_rows)
            if orders_by_ancestry(run):
                restore_order(conn, branch=run.commit.branch)  # type: ignore[union-attr]
        if source is not None:
            record_source(conn, source, run.run_id, recorded_at=ingested_at)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return not stored
