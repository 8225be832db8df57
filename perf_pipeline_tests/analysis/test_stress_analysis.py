"""Stress figures judged by their own rules, and the store/pipeline path behind them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from perf_pipeline.analysis.stress import compare_stress
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.latency_histogram import LatencyHistogram
from perf_pipeline.model import StressFigure, Verdict


def _fig(figure: str, value: float, **kw: object) -> StressFigure:
    return StressFigure(test="t.py::test_x", scenario="s", kind="ramp", figure=figure,
                        value=value, **kw)  # type: ignore[arg-type]


def _hist(values: list[float]) -> str:
    return json.dumps(LatencyHistogram.of_seconds(values).to_dict())


def _verdicts(base: list[StressFigure], cur: list[StressFigure]) -> dict[str, Verdict]:
    return {c.figure: c.verdict for c in compare_stress(base, cur)}


def test_each_figure_has_its_direction_and_rule() -> None:
    rng = random.Random(0)
    fast = [rng.uniform(0.001, 0.002) for _ in range(2000)]
    slow = [v * (3 if i % 10 == 0 else 1) for i, v in enumerate(fast)]  # 10 % tail x3
    base = [_fig("throughput_ops_s", 1000.0), _fig("p99_s", 0.00199, histogram_json=_hist(fast)),
            _fig("breaking_point", 8.0), _fig("exponent", 1.0, low=0.95, high=1.05),
            _fig("leak", 0.0), _fig("error_rate", 0.0)]
    worse = [_fig("throughput_ops_s", 600.0), _fig("p99_s", 0.0058, histogram_json=_hist(slow)),
             _fig("breaking_point", 4.0), _fig("exponent", 1.9, low=1.8, high=2.0),
             _fig("leak", 1.0), _fig("error_rate", 0.05)]
    assert set(_verdicts(base, worse).values()) == {Verdict.REGRESSION}
    same = [_fig("throughput_ops_s", 950.0), _fig("p99_s", 0.002, histogram_json=_hist(fast)),
            _fig("breaking_point", 8.0), _fig("exponent", 1.1, low=0.9, high=1.2),
            _fig("leak", 0.0), _fig("error_rate", 0.0)]
    assert set(_verdicts(base, same).values()) == {Verdict.UNCHANGED}
    # An exponent that rose but whose interval still overlaps is not a regression.
    wide = [_fig("exponent", 1.4, low=1.0, high=1.9)]
    assert _verdicts(base, wide) == {"exponent": Verdict.UNCHANGED}
    # A p99 ratio alone, on a histogram whose tail is not heavier, is not a regression.
    assert _verdicts(base, [_fig("p99_s", 0.0031, histogram_json=_hist(fast))]) == {
        "p99_s": Verdict.UNCHANGED}
    assert _verdicts([], [_fig("leak", 1.0)]) == {"leak": Verdict.INCONCLUSIVE}


def test_a_throughput_drop_on_a_handful_of_operations_is_not_a_regression() -> None:
    # 10 s each: 20 operations then 12 (x0.6, past the 1.3 ratio) is well within what
    # counting alone gives; 20,000 then 12,000 is not.
    few = _verdicts([_fig("throughput_ops_s", 2.0, count=20)],
                    [_fig("throughput_ops_s", 1.2, count=12)])
    assert few == {"throughput_ops_s": Verdict.INCONCLUSIVE}
    many = _verdicts([_fig("throughput_ops_s", 2000.0, count=20_000)],
                     [_fig("throughput_ops_s", 1200.0, count=12_000)])
    assert many == {"throughput_ops_s": Verdict.REGRESSION}
    up = _verdicts([_fig("throughput_ops_s", 1000.0, count=10_000)],
                   [_fig("throughput_ops_s", 1500.0, count=15_000)])
    assert up == {"throughput_ops_s": Verdict.IMPROVEMENT}
    # Within the ratio the counts do not matter: machine load, not the code.
    assert _verdicts([_fig("throughput_ops_s", 1000.0, count=10_000)],
                     [_fig("throughput_ops_s", 850.0, count=8_500)]) == {
        "throughput_ops_s": Verdict.UNCHANGED}


def test_a_figure_missing_from_the_current_run_does_not_blame_the_baseline() -> None:
    """A run that completed nothing has no p99; the row said "no baseline figure to
    compare with" beside the baseline's 24 ms."""
    base = (StressFigure(test="t::x", scenario="s", kind="closed", figure="p99_s",
                         value=0.024, count=50),)
    cur = (StressFigure(test="t::x", scenario="s", kind="closed", figure="p99_s",
                        value=None, count=0),)
    [row] = compare_stress(base, cur)
    assert row.verdict == Verdict.INCONCLUSIVE
    assert "baseline" not in row.detail and "this run" in row.detail


def test_compare_stress_rejects_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="alpha"):
        compare_stress([], [], alpha=2.0)
    with pytest.raises(InvalidInputError, match="not finite"):
        _fig("p99_s", float("nan"))


def test_stress_figures_round_trip_through_the_store_and_cascade(tmp_path: Path) -> None:
    from perf_pipeline.model import CommitInfo, RunStatus, SuiteRun
    from perf_pipeline.store import HistoryStore

    commit = CommitInfo(sha="a" * 40, branch="main", message="m", author="x",
                        committed_at="2024-01-01T00:00:00+00:00")
    figures = (_fig("p99_s", 0.002, histogram_json=_hist([0.002])),
               _fig("exponent", 1.0, low=0.9, high=1.1, count=6))
    with HistoryStore.open(tmp_path / "h.db") as store:
        for run_id in ("r1", "r2"):
            store.ingest_run(SuiteRun(run_id=run_id, suite="stress", status=RunStatus.SUCCESS,
                                      started_at="2024-01-01T00:00:00+00:00", commit=commit))
            if run_id == "r1":
                assert store.record_stress("r1", figures) == 2
                assert store.record_stress("r1", figures) == 2  # replaces, not duplicates
                assert sorted(store.stress_figures("r1"), key=lambda f: f.figure) == sorted(
                    figures, key=lambda f: f.figure)
        # r2 is a replicate beside r1 (every run is kept): r1 keeps its figures...
        assert len(store.stress_figures("r1")) == 2 and store.stress_figures("r2") == ()
        store.delete_run("r1")  # ...until r1 is deleted: its figures go with it
        assert store.stress_figures("r1") == ()
        with pytest.raises(InvalidInputError, match="not stored"):
            store.record_stress("r1", figures)


def test_a_db_without_stress_results_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from perf_pipeline.model import RunStatus, SuiteRun
    from perf_pipeline.store import LATEST_VERSION, HistoryStore

    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        store.ingest_run(SuiteRun(run_id="r", suite="stress", status=RunStatus.SUCCESS,
                                  started_at="2024-01-01T00:00:00+00:00"))
    conn = sqlite3.connect(path)  # back to what the migrations before this one wrote
    conn.execute("DROP TABLE stress_results")
    conn.execute("DROP TABLE sources")  # migration 5 (after it) makes it again
    # migration 8 (after it) adds runs.commit_utc and an index on (branch, ordinal)
    conn.execute("DROP INDEX idx_runs_branch_ordinal")
    conn.execute("ALTER TABLE runs DROP COLUMN commit_utc")
    # migration 7 (after it) adds runs.ancestry_ordinal and rebuilds the order indexes
    for index in ("idx_runs_suite_status_order", "idx_runs_suite_order",
                  "idx_runs_suite_machine_order"):
        conn.execute(f"DROP INDEX {index}")
    conn.execute("ALTER TABLE runs DROP COLUMN ancestry_ordinal")
    conn.execute("PRAGMA user_version = 2")  # stress_results is migration 3
    conn.commit()
    conn.close()
    with HistoryStore.open(path) as store:
        assert store.has_run("r") and store.stress_figures("r") == ()
        assert LATEST_VERSION >= 3
        store.record_stress("r", (_fig("leak", 1.0),))
        assert store.stress_figures("r")[0].value == 1.0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    with pytest.raises(sqlite3.IntegrityError):  # STRICT: no text in a REAL column
        conn.execute("INSERT INTO stress_results (run_id, test, scenario, kind, figure, value)"
                     " VALUES ('r', 't', 's', 'k', 'f2', 'slow')")
    conn.close()
