"""The ``stress_results`` table: every figure of a run's stress scenarios (migration 3).

One row per (run, test, scenario, figure), linked to ``runs`` with ``ON DELETE CASCADE``
so that a run replaced or deleted by the ingest rules takes its stress figures with it
(foreign keys are on for every connection, see ``sqlite_backend.py``). A latency figure carries
its whole histogram (JSON), so later analyses can test against it bucket by bucket; the
raw per-test files stay under the run's raw directory as well.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import StressFigure

if TYPE_CHECKING:  # sqlite_utils imports pandas when installed: 0.3 s per process
    import sqlite_utils

__all__ = ["STRESS_COLUMNS", "create_stress_table", "figure_from_row", "read_stress",
           "stress_rows", "write_stress"]

STRESS_COLUMNS = ("run_id", "test", "scenario", "kind", "figure", "value", "low", "high", "count",
            "histogram_json")


def create_stress_table(db: sqlite_utils.Database) -> None:
    """Migration body: explicit types, STRICT, cascade from ``runs``."""
    db.execute(
        "CREATE TABLE stress_results ("
        " run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"
        " test TEXT NOT NULL, scenario TEXT NOT NULL, kind TEXT NOT NULL,"
        " figure TEXT NOT NULL, value REAL, low REAL, high REAL, count INTEGER,"
        " histogram_json TEXT,"
        " PRIMARY KEY (run_id, test, scenario, figure)) STRICT")


def write_stress(conn: sqlite3.Connection, run_id: str,
                 figures: Sequence[StressFigure]) -> int:
    """Replace the stress figures of ``run_id`` in one transaction; returns the count."""
    if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
        raise InvalidInputError(f"stress figures for run {run_id!r}, which is not stored")
    rows = stress_rows(run_id, figures)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM stress_results WHERE run_id = ?", (run_id,))
        marks = ", ".join("?" for _ in STRESS_COLUMNS)
        conn.executemany(f"INSERT INTO stress_results ({', '.join(STRESS_COLUMNS)}) "
                         f"VALUES ({marks})", rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return len(rows)


def read_stress(conn: sqlite3.Connection, run_id: str) -> tuple[StressFigure, ...]:
    """The stored figures of ``run_id`` (empty for a run without stress figures)."""
    cursor = conn.execute(
        "SELECT test, scenario, kind, figure, value, low, high, count, histogram_json "
        "FROM stress_results WHERE run_id = ? ORDER BY test, scenario, figure", (run_id,))
    return tuple(figure_from_row(r) for r in cursor)


def stress_rows(run_id: str, figures: Sequence[StressFigure]) -> list[tuple[object, ...]]:
    """The rows of ``figures`` in ``STRESS_COLUMNS`` order (both backends)."""
    return [(run_id, f.test, f.scenario, f.kind, f.figure, f.value, f.low, f.high,
             None if f.count is None else int(f.count), f.histogram_json) for f in figures]


def figure_from_row(r: Sequence[Any]) -> StressFigure:
    """A figure from (test, scenario, kind, figure, value, low, high, count, histogram)."""
    return StressFigure(test=r[0], scenario=r[1], kind=r[2], figure=r[3], value=r[4],
                        low=r[5], high=r[6], count=r[7], histogram_json=r[8])
