"""The history database schema and its numbered migrations.

The schema version lives in ``PRAGMA user_version`` so that it travels with the file and
is updated in the same transaction as the tables it describes. Migration ``n`` brings a
database from version ``n - 1`` to ``n``; a database written by a newer perf_pipeline
(a version we do not know) is refused rather than guessed at.

Tables are STRICT and every column type is spelled out: left to itself sqlite-utils
would infer types from the first row it sees (``None`` → TEXT, floats stored as text).

- ``runs``: one row per suite run (commit, environment, status). ``sort_at`` and
  ``started_utc`` are UTC-normalised copies of the commit time (or the start time for
  runs without a commit) and of the start time: they define history order, because
  ISO strings with different offsets do not sort correctly as text.
- ``benchmarks``: one row per benchmark of a run, with its metadata, all raw time
  samples packed as little-endian float64 in a BLOB (see ``samples.py``) and the
  summary statistics the results file itself reported (JSON pairs).
- ``results``: one row per benchmark and metric with the run's summary (``value`` is the
  median for time) and, for time, the spread of the samples (or, for a foreign file
  that kept no samples, the file's own summary statistics). ``series`` reads only
  this table and ``runs``, never the sample blobs.
- ``noise_profiles`` (migration 2): one row per noise profile of a machine (see
  ``analysis/noise.py``): the commit and machine a calibration measured, its pairs, the
  suite factor's spread and the corpus file it was computed from. ``noise_benchmarks``
  holds its per-benchmark spreads. A spread the data could not show is NULL.
- ``stress_results`` (migration 3): the stress figures of a run, see
  ``stress.py``.
- ``runs.machine_id`` (migration 4): it becomes the hardware id of the run's
  environment (``model.hardware_machine_id``) instead of the host name older versions
  stored, so old and new runs of one machine share an id; and an index serves the
  per-machine history queries. Runs without a recorded environment keep what they have.
- migration 5 (every run kept, compact samples): sample BLOBs get a codec byte and are
  stored sorted and compressed (see ``samples.py``); existing BLOBs are rewritten.
  ``sources`` remembers which file or raw run dir each ingested run came from, with the
  size and mtime it had, so an ingest recognises what it stored before without parsing
  it (``store/sources.py``). Runs are no longer replaced: every run of a commit is kept
  (``ingest.py``), so nothing in the schema is unique per commit.
- migration 6 (samples last): ``benchmarks`` is rebuilt with ``samples`` as its last
  column. Ingest inserts a large BLOB as a ``zeroblob`` and writes the bytes in pieces
  (``ingest.py``); SQLite leaves a zeroblob unmaterialised only at the end of a record,
  so anywhere else a ten-million-sample BLOB would still be built in memory.
- migration 7 (ancestry ordinal): ``runs.ancestry_ordinal`` is the first-parent count
  of the run's commit (``CommitInfo.ancestry_ordinal``), the second key of history
  order: commits a rebase rewrote share one commit time, and the start time ordered
  them by when they were measured, so a parent measured after its child came after it
  (and its baseline held its child). Existing rows get NULL (ordered as -1, before any
  ordinal, on both backends, see ``queries.py``). The indexes that serve history order
  are rebuilt with the ordinal's expression in it, so it stays an index walk, not a sort.
- migration 8 (commits dated in the future): ``runs.commit_utc`` keeps the UTC commit
  time, so that ``sort_at`` may differ from it: a commit time later than the commit's
  first run started is wrong (a skewed clock), and ``history_order.py`` moves such a
  commit to its place among its ancestors and descendants. An index on (branch,
  ordinal) serves the bounds it reads at every ingest.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.errors import StoreError
from perf_pipeline.model import hardware_machine_id
from perf_pipeline.store.samples import decode_legacy_samples, encode_samples
from perf_pipeline.store.stress import create_stress_table

if TYPE_CHECKING:  # sqlite_utils imports pandas when installed: 0.3 s per process
    import sqlite_utils

__all__ = ["LATEST_VERSION", "migrate"]

logger = logging.getLogger(__name__)


def _migration_1(db: sqlite_utils.Database) -> None:
    """Create runs, benchmarks, results and the indexes history queries rely on."""
    db["runs"].create(
        {
            "run_id": str,
            "suite": str,
            "sha": str,
            "branch": str,
            "commit_message": str,
            "commit_author": str,
            "committed_at": str,
            "dirty": int,
            "started_at": str,
            "duration_s": float,
            "status": str,
            "error": str,
            "raw_path": str,
            "fingerprint": str,
            "environment_json": str,
            "machine_id": str,
            "ingested_at": str,
            "sort_at": str,
            "started_utc": str,
        },
        pk="run_id",
        not_null=["suite", "dirty", "started_at", "duration_s", "status", "ingested_at",
                  "sort_at", "started_utc"],
        strict=True,
    )
    db["benchmarks"].create(
        {
            "run_id": str,
            "name": str,
            "position": int,
            "group_name": str,
            "params_json": str,
            "iterations": int,
            "samples": bytes,
            "summary_json": str,
        },
        pk=("run_id", "name"),
        foreign_keys=[("run_id", "runs", "run_id")],
        not_null=["position", "params_json", "iterations", "samples", "summary_json"],
        strict=True,
    )
    db["results"].create(
        {
            "run_id": str,
            "name": str,
            "metric": str,
            "position": int,  # -1: time summary of the samples; else index in ``extra``
            "value": float,
            "n": int,
            "mean": float,
            "stddev": float,
            "min": float,
            "max": float,
            "q1": float,
            "q3": float,
        },
        pk=("run_id", "name", "metric"),
        foreign_keys=[("run_id", "runs", "run_id")],
        not_null=["position", "value", "n"],
        strict=True,
    )
    # No results(name, metric) index: series queries walk runs in history order and
    # find each run's rows through the primary key (run_id, name, metric), which also
    # serves one benchmark's series; a second index would be ~16% of the file, unused.
    db["runs"].create_index(["suite", "status", "sort_at", "started_utc", "run_id"],
                            index_name="idx_runs_suite_status_order")
    db["runs"].create_index(["suite", "sort_at", "started_utc", "run_id"],
                            index_name="idx_runs_suite_order")
    db["runs"].create_index(["sha", "suite"], index_name="idx_runs_sha_suite")


def _migration_2(db: sqlite_utils.Database) -> None:
    """Create noise_profiles and noise_benchmarks (``perf-pipeline calibrate``)."""
    db["noise_profiles"].create(
        {
            "profile_id": str,
            "suite": str,
            "sha": str,
            "machine_json": str,
            "recorded_at": str,
            "created_at": str,
            "pairs": int,
            "suite_factor_log_sd": float,
            "notes_json": str,
            "corpus_path": str,
        },
        pk="profile_id",
        not_null=["suite", "sha", "machine_json", "recorded_at", "created_at", "pairs",
                  "notes_json", "corpus_path"],
        strict=True,
    )
    db["noise_benchmarks"].create(
        {
            "profile_id": str,
            "name": str,
            "position": int,
            "median_s": float,
            "unpaired_log_sd": float,
            "paired_log_sd": float,
            "paired_residual_log_sd": float,
        },
        pk=("profile_id", "name"),
        foreign_keys=[("profile_id", "noise_profiles", "profile_id")],
        not_null=["position", "median_s"],
        strict=True,
    )
    db["noise_profiles"].create_index(["suite", "created_at"],
                                      index_name="idx_noise_profiles_suite_created")


def _migration_3(db: sqlite_utils.Database) -> None:
    """Create stress_results (the stress harness's figures, linked to their run).

    Self-contained: it only needs ``runs``.
    """
    create_stress_table(db)


def _hardware_id(environment_json: str) -> str | None:
    """The hardware id of a stored environment, or None if it cannot tell."""
    try:
        data = json.loads(environment_json)
        return hardware_machine_id(os=str(data.get("os", "")),
                                   machine=str(data.get("machine", "")),
                                   cpu_model=str(data.get("cpu_model", "")),
                                   cpu_count=int(data.get("cpu_count", 0) or 0))
    except (ValueError, TypeError, AttributeError):
        return None


def _migration_4(db: sqlite_utils.Database) -> None:
    """Machine ids from the hardware, not the host name; an index for per-machine order.

    Self-contained: it reads and writes only ``runs`` columns of migration 1.
    """
    conn = db.conn
    updates = [(machine, run_id) for run_id, env in conn.execute(
        "SELECT run_id, environment_json FROM runs WHERE environment_json IS NOT NULL")
        if (machine := _hardware_id(env)) is not None]
    conn.executemany("UPDATE runs SET machine_id = ? WHERE run_id = ?", updates)
    db["runs"].create_index(["suite", "machine_id", "status", "sort_at", "started_utc", "run_id"],
                            index_name="idx_runs_suite_machine_order", if_not_exists=True)


def _migration_5(db: sqlite_utils.Database) -> None:
    """Rewrite sample BLOBs sorted and compressed; create ``sources``.

    Self-contained: it reads and writes only tables of migration 1. The BLOBs are
    rewritten in batches by rowid, so memory stays bounded on a large history. The file
    keeps its size until ``VACUUM`` (SQLite reuses the freed pages for new runs).
    """
    conn = db.conn
    last = 0
    batch = 500
    while True:
        rows = conn.execute(
            "SELECT rowid, run_id, name, samples FROM benchmarks WHERE rowid > ? "
            "ORDER BY rowid LIMIT ?", (last, batch)).fetchall()
        if not rows:
            break
        conn.executemany(
            "UPDATE benchmarks SET samples = ? WHERE rowid = ?",
            [(encode_samples(decode_legacy_samples(blob, what=f"run {run_id} benchmark "
                                                             f"{name!r}")), rowid)
             for rowid, run_id, name, blob in rows])
        last = rows[-1][0]
    db["sources"].create(
        {
            "path": str,
            "size": int,
            "mtime_ns": int,
            "run_id": str,
            "recorded_at": str,
        },
        pk="path",
        foreign_keys=[("run_id", "runs", "run_id")],
        not_null=["size", "mtime_ns", "run_id", "recorded_at"],
        strict=True,
    )
    db["sources"].create_index(["run_id"], index_name="idx_sources_run")


#: ``benchmarks`` as migration 6 leaves it: migration 1's columns, ``samples`` last.
_BENCHMARKS_V6 = (
    ("run_id", "TEXT"), ("name", "TEXT"), ("position", "INTEGER NOT NULL"),
    ("group_name", "TEXT"), ("params_json", "TEXT NOT NULL"),
    ("iterations", "INTEGER NOT NULL"), ("summary_json", "TEXT NOT NULL"),
    ("samples", "BLOB NOT NULL"),
)


def _migration_6(db: sqlite_utils.Database) -> None:
    """Rebuild ``benchmarks`` with ``samples`` as the last column (see the docstring).

    Self-contained: it reads and writes only ``benchmarks`` as migration 1 made it (and
    names ``runs`` in the foreign key). SQLite cannot move a column, so this is its
    documented table rebuild: a new table, the rows copied in rowid order (one row in
    memory at a time), the old table dropped and the new one renamed. Nothing refers
    to ``benchmarks`` and it has no index besides its primary key's, so nothing else
    needs recreating. It runs inside ``migrate``'s transaction: all or nothing.
    """
    conn = db.conn
    columns = ", ".join(f'"{name}" {kind}' for name, kind in _BENCHMARKS_V6)
    names = ", ".join(f'"{name}"' for name, _ in _BENCHMARKS_V6)
    conn.execute(f'CREATE TABLE "benchmarks_v6" ({columns}, PRIMARY KEY ("run_id", "name"), '
                 f'FOREIGN KEY ("run_id") REFERENCES "runs"("run_id")) STRICT')
    conn.execute(f'INSERT INTO "benchmarks_v6" ({names}) SELECT {names} FROM "benchmarks" '
                 f"ORDER BY rowid")
    conn.execute('DROP TABLE "benchmarks"')
    conn.execute('ALTER TABLE "benchmarks_v6" RENAME TO "benchmarks"')


#: The indexes of history order as migration 7 leaves them: (name, leading columns).
#: Written out here, not shared with ``queries.ORDINAL_KEY``: a released migration
#: never changes, whatever later code does.
_ORDER_INDEXES_V7 = (
    ("idx_runs_suite_status_order", '"suite", "status"'),
    ("idx_runs_suite_order", '"suite"'),
    ("idx_runs_suite_machine_order", '"suite", "machine_id", "status"'),
)


def _migration_7(db: sqlite_utils.Database) -> None:
    """Add ``runs.ancestry_ordinal`` (NULL for existing rows) and put it into the
    indexes of history order (see the docstring).

    Self-contained: it reads and writes only ``runs`` and the indexes of migrations 1
    and 4. ``ADD COLUMN`` of a nullable column without a default rewrites no row.
    """
    conn = db.conn
    conn.execute('ALTER TABLE "runs" ADD COLUMN "ancestry_ordinal" INTEGER')
    for name, leading in _ORDER_INDEXES_V7:
        conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        conn.execute(f'CREATE INDEX "{name}" ON "runs" ({leading}, "sort_at", '
                     f'COALESCE("ancestry_ordinal", -1), "started_utc", "run_id")')


def _migration_8(db: sqlite_utils.Database) -> None:
    """Add ``runs.commit_utc`` (the commit time in UTC, which ``sort_at`` of a run with
    a commit time has held so far) and an index on (branch, ordinal).

    Self-contained: it reads and writes only ``runs`` as migration 7 left it. Every row
    is kept and ``sort_at`` is not changed here: the next write puts commits dated in
    the future in their place (``history_order.py``). Safe to run again.
    """
    conn = db.conn
    columns = [row[1] for row in conn.execute('PRAGMA table_info("runs")')]
    if "commit_utc" not in columns:
        conn.execute('ALTER TABLE "runs" ADD COLUMN "commit_utc" TEXT')
    conn.execute('UPDATE "runs" SET "commit_utc" = "sort_at" '
                 'WHERE "committed_at" IS NOT NULL AND "commit_utc" IS NULL')
    conn.execute('CREATE INDEX IF NOT EXISTS "idx_runs_branch_ordinal" '
                 'ON "runs" ("branch", "ancestry_ordinal")')


#: Migration ``i + 1`` is ``_MIGRATIONS[i]``. Append only; never edit a released one.
_MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6,
    _migration_7, _migration_8)

#: The schema version this code writes and reads.
LATEST_VERSION = len(_MIGRATIONS)


def refuse_newer(label: object, version: int, latest: int, *, kind: str = "") -> int:
    """``version``, unless a newer perf_pipeline wrote it: then a ``StoreError`` (an old
    one must never read, let alone migrate, a schema it does not know). Both backends."""
    if version > latest:
        raise StoreError(
            f"history db {label} has {kind}schema version {version}, newer than the "
            f"{latest} this perf_pipeline knows; upgrade perf_pipeline")
    return version


def _version(conn: sqlite3.Connection, *, path: Path) -> int:
    return refuse_newer(path, conn.execute("PRAGMA user_version").fetchone()[0], LATEST_VERSION)


def migrate(db: sqlite_utils.Database, *, path: Path) -> int:
    """Bring ``db`` to ``LATEST_VERSION`` in one IMMEDIATE transaction; return the version.

    An up-to-date database is not locked at all. Otherwise the write lock is taken
    before the version is read again, so two processes opening a new database at once
    cannot both run migration 1: the second waits, then sees version 1.
    """
    conn = db.conn
    if _version(conn, path=path) == LATEST_VERSION:
        return LATEST_VERSION  # the common case: no write lock, so no wait on writers
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn, path=path)
        for number in range(version + 1, LATEST_VERSION + 1):
            logger.info("history db %s: applying migration %d", path, number)
            _MIGRATIONS[number - 1](db)
            conn.execute(f"PRAGMA user_version = {number:d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return LATEST_VERSION
