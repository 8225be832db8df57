"""The PostgreSQL history schema (SQLAlchemy Core) and its own numbered migrations.

The tables and columns are those of the SQLite schema after all of its migrations
(``schema.py``): ``runs``, ``benchmarks``, ``results``, ``noise_profiles``,
``noise_benchmarks``, ``stress_results``, ``sources``, with the same names, so the
shared row code (``ingest.run_row``, ``queries.assemble_runs``, ...) serves both. The
differences are PostgreSQL's:

- integers are BIGINT (SQLite's INTEGER is 64-bit), reals DOUBLE PRECISION, samples BYTEA
  and the last column of ``benchmarks`` (it is the large one; its storage is EXTERNAL
  because the samples are already compressed, ``samples.py``);
- every text column uses the "C" collation, so ORDER BY and row comparisons sort by
  code point as SQLite does, whatever the database's locale;
- the schema version is the one row of ``perf_pipeline_schema`` (SQLite keeps it in
  ``PRAGMA user_version``). PostgreSQL migration ``n`` brings a database from version
  ``n - 1`` to ``n``; they are numbered on their own, not like SQLite's. A database of a
  newer version is refused.

PostgreSQL migrations: 1 creates every table of SQLite's schema 5 (6 moved a column
PostgreSQL already had last); 2 is SQLite's 7, ``runs.ancestry_ordinal`` and the
indexes of history order rebuilt on ``COALESCE(ancestry_ordinal, -1)``; 3 is SQLite's 8,
``runs.commit_utc`` (``history_order.py``).

``migrate`` runs in one transaction under an advisory lock, so machines that connect to
a new database at the same instant migrate it once; an up-to-date database takes no lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from perf_pipeline.errors import StoreError
from perf_pipeline.store.schema import refuse_newer

__all__ = ["LATEST_PG_VERSION", "TABLES", "migrate_postgres"]

logger = logging.getLogger(__name__)

#: Any constant of our own: the key of the advisory lock migrations take.
_MIGRATION_LOCK_KEY = 0x70657266  # "perf"


def _text() -> sa.Text:
    return sa.Text(collation="C")


def _tables_v1(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The tables of PostgreSQL schema version 1 (SQLite's schema after migration 5)."""
    runs = sa.Table(
        "runs", metadata,
        sa.Column("run_id", _text(), primary_key=True),
        sa.Column("suite", _text(), nullable=False),
        sa.Column("sha", _text()),
        sa.Column("branch", _text()),
        sa.Column("commit_message", _text()),
        sa.Column("commit_author", _text()),
        sa.Column("committed_at", _text()),
        sa.Column("dirty", sa.BigInteger, nullable=False),
        sa.Column("started_at", _text(), nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("status", _text(), nullable=False),
        sa.Column("error", _text()),
        sa.Column("raw_path", _text()),
        sa.Column("fingerprint", _text()),
        sa.Column("environment_json", _text()),
        sa.Column("machine_id", _text()),
        sa.Column("ingested_at", _text(), nullable=False),
        sa.Column("sort_at", _text(), nullable=False),
        sa.Column("started_utc", _text(), nullable=False),
        sa.Index("idx_runs_suite_status_order", "suite", "status", "sort_at", "started_utc",
                 "run_id"),
        sa.Index("idx_runs_suite_order", "suite", "sort_at", "started_utc", "run_id"),
        sa.Index("idx_runs_sha_suite", "sha", "suite"),
        sa.Index("idx_runs_suite_machine_order", "suite", "machine_id", "status", "sort_at",
                 "started_utc", "run_id"),
    )
    benchmarks = sa.Table(
        "benchmarks", metadata,
        sa.Column("run_id", _text(), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("name", _text(), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("group_name", _text()),
        sa.Column("params_json", _text(), nullable=False),
        sa.Column("iterations", sa.BigInteger, nullable=False),
        sa.Column("summary_json", _text(), nullable=False),
        sa.Column("samples", sa.LargeBinary, nullable=False),  # last: the large one
    )
    results = sa.Table(
        "results", metadata,
        sa.Column("run_id", _text(), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("name", _text(), primary_key=True),
        sa.Column("metric", _text(), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        *(sa.Column(c, sa.Double) for c in ("mean", "stddev", "min", "max", "q1", "q3")),
    )
    noise_profiles = sa.Table(
        "noise_profiles", metadata,
        sa.Column("profile_id", _text(), primary_key=True),
        *(sa.Column(c, _text(), nullable=False)
          for c in ("suite", "sha", "machine_json", "recorded_at", "created_at")),
        sa.Column("pairs", sa.BigInteger, nullable=False),
        sa.Column("suite_factor_log_sd", sa.Double),
        sa.Column("notes_json", _text(), nullable=False),
        sa.Column("corpus_path", _text(), nullable=False),
        sa.Index("idx_noise_profiles_suite_created", "suite", "created_at"),
    )
    noise_benchmarks = sa.Table(
        "noise_benchmarks", metadata,
        sa.Column("profile_id", _text(), sa.ForeignKey("noise_profiles.profile_id"),
                  primary_key=True),
        sa.Column("name", _text(), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("median_s", sa.Double, nullable=False),
        *(sa.Column(c, sa.Double)
          for c in ("unpaired_log_sd", "paired_log_sd", "paired_residual_log_sd")),
    )
    stress_results = sa.Table(
        "stress_results", metadata,
        sa.Column("run_id", _text(), sa.ForeignKey("runs.run_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("test", _text(), primary_key=True),
        sa.Column("scenario", _text(), primary_key=True),
        sa.Column("kind", _text(), nullable=False),
        sa.Column("figure", _text(), primary_key=True),
        *(sa.Column(c, sa.Double) for c in ("value", "low", "high")),
        sa.Column("count", sa.BigInteger),
        sa.Column("histogram_json", _text()),
    )
    sources = sa.Table(
        "sources", metadata,
        sa.Column("path", _text(), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("run_id", _text(), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("recorded_at", _text(), nullable=False),
        sa.Index("idx_sources_run", "run_id"),
    )
    return {t.name: t for t in (runs, benchmarks, results, noise_profiles, noise_benchmarks,
                                stress_results, sources)}


_VERSION_TABLE = sa.Table("perf_pipeline_schema", sa.MetaData(),
                          sa.Column("version", sa.Integer, nullable=False))


def _migration_1(conn: sa.Connection) -> None:
    """Create every table of SQLite schema 5 (own definitions: never edit them later)."""
    metadata = sa.MetaData()
    _tables_v1(metadata)
    metadata.create_all(conn)
    # the samples are compressed already (samples.py): out of line, no pglz pass
    conn.execute(sa.text("ALTER TABLE benchmarks ALTER COLUMN samples SET STORAGE EXTERNAL"))


#: The indexes of history order as migration 2 leaves them: (name, leading columns).
_ORDER_INDEXES_V2 = (
    ("idx_runs_suite_status_order", "suite, status"),
    ("idx_runs_suite_order", "suite"),
    ("idx_runs_suite_machine_order", "suite, machine_id, status"),
)


def _migration_2(conn: sa.Connection) -> None:
    """Add ``runs.ancestry_ordinal`` (NULL for existing rows: no row is rewritten) and
    rebuild the indexes of history order with it, as SQLite migration 7 does (the
    reason is in ``schema.py``). Own statements: never edit them later."""
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN ancestry_ordinal BIGINT"))
    for name, leading in _ORDER_INDEXES_V2:
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE INDEX {name} ON runs ({leading}, sort_at, "
                             "COALESCE(ancestry_ordinal, -1), started_utc, run_id)"))


def _migration_3(conn: sa.Connection) -> None:
    """Add ``runs.commit_utc`` and an index on (branch, ordinal), as SQLite migration 8
    does (the reason is in ``history_order.py``). Own statements: never edit them later.
    Every row is kept; safe to run again."""
    conn.execute(sa.text('ALTER TABLE runs ADD COLUMN IF NOT EXISTS commit_utc TEXT '
                         'COLLATE "C"'))
    conn.execute(sa.text("UPDATE runs SET commit_utc = sort_at "
                         "WHERE committed_at IS NOT NULL AND commit_utc IS NULL"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS idx_runs_branch_ordinal "
                         "ON runs (branch, ancestry_ordinal)"))


#: Migration ``i + 1`` is ``_PG_MIGRATIONS[i]``. Append only; never edit a released one.
_PG_MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_migration_1, _migration_2,
                                                                _migration_3)

#: The PostgreSQL schema version this code writes and reads.
LATEST_PG_VERSION = len(_PG_MIGRATIONS)


def _tables_latest() -> dict[str, sa.Table]:
    """The tables as queries use them: version 1's with the columns later migrations
    added. Queries only: its index definitions are version 1's, and nothing is ever
    created from it (migrations create the schema)."""
    tables = _tables_v1(sa.MetaData())
    tables["runs"].append_column(sa.Column("ancestry_ordinal", sa.BigInteger))
    tables["runs"].append_column(sa.Column("commit_utc", _text()))
    return tables


#: The tables as queries use them: the latest version's.
TABLES: dict[str, sa.Table] = _tables_latest()


def _version(conn: sa.Connection, *, label: str) -> int:
    if not sa.inspect(conn).has_table(_VERSION_TABLE.name):
        return 0
    version = conn.execute(sa.select(sa.func.max(_VERSION_TABLE.c.version))).scalar() or 0
    return refuse_newer(label, version, LATEST_PG_VERSION, kind="PostgreSQL ")


def migrate_postgres(engine: sa.Engine, *, label: str) -> int:
    """Bring the database to ``LATEST_PG_VERSION`` in one transaction; return it."""
    with engine.connect() as conn:
        if _version(conn, label=label) == LATEST_PG_VERSION:
            return LATEST_PG_VERSION  # the common case: no lock at all
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        version = _version(conn, label=label)
        if version == 0:
            # create_all skips a table whose name exists: it adopted a Dagster instance's
            # own ``runs`` table, recorded the version, and every read failed after.
            taken = sorted(set(TABLES) & set(sa.inspect(conn).get_table_names()))
            if taken:
                raise StoreError(
                    f"history db {label}: it already holds tables perf_pipeline did not "
                    f"create ({', '.join(taken)}; a Dagster instance's storage has 'runs'): "
                    "give the history a database (or a schema on the role's search_path) "
                    "of its own")
            _VERSION_TABLE.create(conn)
            conn.execute(sa.insert(_VERSION_TABLE).values(version=0))
        for number in range(version + 1, LATEST_PG_VERSION + 1):
            logger.info("history db %s: applying PostgreSQL migration %d", label, number)
            _PG_MIGRATIONS[number - 1](conn)
            conn.execute(sa.update(_VERSION_TABLE).values(version=number))
    return LATEST_PG_VERSION
