"""HistoryStore against real SQLite files and real PostgreSQL databases (the ``store``
fixture runs each test on both): round trips, replicates, ordering, series."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy

from perf_pipeline.errors import InvalidInputError, StoreError
from perf_pipeline.model import (
    TIME_METRIC,
    BenchmarkResult,
    CommitInfo,
    RunStatus,
    StressFigure,
    SuiteRun,
)
from perf_pipeline.store import HistoryStore, SourceStamp, open_history, pool_runs
from perf_pipeline.store import ingest as ingest_module
from perf_pipeline.store import postgres as postgres_module

from .conftest import ENV, make_run, sha_of

Counts = Callable[[], dict[str, int]]

HOSTILE_NAMES = (
    "test_x[param-'; DROP TABLE runs; --]",
    'test_"quoted"[a\\b]',
    "tests/ml/test_perf.py::TestClass::test_unicode[日本語-ß-🚀]",
    "test_newline[a\nb\tc]",
    "test_nul[a\x00b]",
    "test_percent[%s_%%_?]",
    " leading and trailing spaces ",
)


def test_open_creates_parent_dir_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "perf_history.db"
    with HistoryStore.open(path) as store:
        assert store.path == path
        conn = store._backend._conn  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60000
    assert path.is_file()


def test_round_trip_gives_an_equal_run(store: HistoryStore) -> None:
    if store.path is None:  # PostgreSQL text cannot hold NUL: refused, nothing stored
        with pytest.raises(InvalidInputError, match="NUL"):
            store.ingest_run(make_run(1, run_id="nul", names=HOSTILE_NAMES))
        assert not store.has_run("nul")
    names = HOSTILE_NAMES if store.path is not None else tuple(
        n for n in HOSTILE_NAMES if "\x00" not in n)
    run = make_run(1, names=names)
    assert store.ingest_run(run) is True
    assert store.get_run(run.run_id) == run
    assert store.has_run(run.run_id)


def test_round_trip_keeps_every_field_and_order(store: HistoryStore) -> None:
    benchmarks = (
        BenchmarkResult(name="z_first", samples_s=(-0.0, 5e-324, 3e-9, 1.0000000000000002),
                        group=None, params=(("b", "2"), ("a", "ünï")), iterations=1000,
                        extra=(("tracemalloc_peak_bytes", 5.0), ("cpu_user_s", 0.25))),
        BenchmarkResult(name="a_second", samples_s=(0.5,)),
        BenchmarkResult(name="no_timings_at_all", samples_s=()),
        BenchmarkResult(name="foreign_summary_only", samples_s=(),
                        summary=(("median_s", 0.002), ("min_s", 0.001), ("max_s", 0.004),
                                 ("mean_s", 0.0021), ("stddev_s", 0.0005), ("q1_s", 0.0015),
                                 ("q3_s", 0.003), ("rounds", 7))),
    )
    run = SuiteRun(run_id="run ✓ 'unicode'", suite="stress", started_at="2024-05-01T10:00:00Z",
                   status=RunStatus.SUCCESS, benchmarks=benchmarks,
                   commit=CommitInfo(sha="ABCDEF" + "0" * 34, branch=None,
                                     message="fix: ünïcode\n\nbody", author="Zoë",
                                     committed_at=None, dirty=True),
                   environment=None, duration_s=0.0, error=None, raw_path=None,
                   machine_id=None)
    store.ingest_run(run)
    assert store.get_run(run.run_id) == run


def test_round_trip_of_run_without_commit_and_failed_run(store: HistoryStore) -> None:
    no_commit = make_run(1, sha=None)
    failed = make_run(2, status=RunStatus.FAILED)
    for run in (no_commit, failed):
        store.ingest_run(run)
        assert store.get_run(run.run_id) == run
    assert store.get_run(failed.run_id).error == "boom"


def test_environment_round_trip_keeps_fingerprint(store: HistoryStore) -> None:
    run = make_run(1)
    store.ingest_run(run)
    got = store.get_run(run.run_id)
    assert got.environment is not None and run.environment is not None
    assert got.environment.fingerprint == run.environment.fingerprint
    assert store.list_runs()[0].fingerprint == run.environment.fingerprint


def test_ingest_is_idempotent(store: HistoryStore, row_counts: Counts) -> None:
    run = make_run(1)
    assert store.ingest_run(run) is True
    before = row_counts()
    assert store.ingest_run(run) is False
    assert row_counts() == before
    assert len(store.list_runs()) == 1


def test_new_run_of_same_commit_is_a_replicate(store: HistoryStore, row_counts: Counts) -> None:
    first = make_run(1, run_id="first")
    second = make_run(1, run_id="second", scale=2.0, started_at="2024-01-01T05:00:00Z")
    other_suite = make_run(1, run_id="stress-run", suite="stress")
    for run in (first, other_suite, second):
        assert store.ingest_run(run)
    assert [r.run_id for r in store.list_runs(suite="benchmarks")] == ["first", "second"]
    assert [r.run_id for r in store.commit_runs(sha_of(1))] == ["first", "second"]
    assert row_counts() == {"runs": 3, "benchmarks": 6, "results": 12}
    # a failed re-run is kept too, but never hides the successful runs
    store.ingest_run(make_run(1, run_id="third", status=RunStatus.FAILED,
                              started_at="2024-01-01T06:00:00Z"))
    assert [r.status for r in store.list_runs(suite="benchmarks")][-1] is RunStatus.FAILED
    assert [r.run_id for r in store.commit_runs(sha_of(1))] == ["first", "second"]
    assert len(store.commit_runs(sha_of(1), status=None)) == 3
    pooled = store.commit_run(sha_of(1))
    assert pooled is not None and pooled.run_id == "second"  # the newest successful run
    bench = pooled.benchmark("test_a")
    assert bench is not None
    assert sorted(bench.samples_s) == sorted(first.benchmarks[0].samples_s
                                             + second.benchmarks[0].samples_s)
    assert pooled.duration_s == first.duration_s + second.duration_s


def test_commit_run_prefers_clean_runs_to_dirty_ones(store: HistoryStore) -> None:
    store.ingest_run(make_run(1, run_id="dirty-1", dirty=True))
    assert store.commit_run(sha_of(1)).run_id == "dirty-1"  # type: ignore[union-attr]
    store.ingest_run(make_run(1, run_id="clean"))
    store.ingest_run(make_run(1, run_id="dirty-2", dirty=True))
    assert sorted(r.run_id for r in store.list_runs()) == ["clean", "dirty-1", "dirty-2"]
    assert store.commit_run(sha_of(1)) == store.get_run("clean")
    assert store.commit_run(sha_of(2)) is None


def test_recent_commit_runs_pool_each_commit_and_leave_one_out(store: HistoryStore) -> None:
    for i in range(1, 6):
        store.ingest_run(make_run(i))
    store.ingest_run(make_run(3, run_id="again-3", scale=2.0, started_at="2024-01-01T09:00Z"))
    store.ingest_run(make_run(4, run_id="failed-4", status=RunStatus.FAILED))
    runs = store.recent_commit_runs(n=3)
    assert [r.sha for r in runs] == [sha_of(3), sha_of(4), sha_of(5)]
    assert [r.run_id for r in runs] == ["again-3", "run-benchmarks-0004", "run-benchmarks-0005"]
    assert len(runs[0].benchmarks[0].samples_s) == 10  # both runs of commit 3
    before = store.recent_commit_runs(n=3, before_run_id="run-benchmarks-0005",
                                      exclude_sha=sha_of(4))
    assert [r.sha for r in before] == [sha_of(1), sha_of(2), sha_of(3)]
    assert store.recent_commit_runs(n=0) == ()


def test_runs_of_two_machines_are_never_pooled(store: HistoryStore) -> None:
    a1, b1, a2 = (dataclasses.replace(make_run(1, run_id=rid, scale=scale, started_at=at),
                                      machine_id=m)
                  for rid, scale, at, m in (("a1", 1.0, "2024-01-01T05:00Z", "box-a"),
                                            ("b1", 3.0, "2024-01-01T06:00Z", "box-b"),
                                            ("a2", 2.0, "2024-01-01T07:00Z", "box-a")))
    store.ingest_run(dataclasses.replace(make_run(2, run_id="b2"), machine_id="box-b"))
    for run in (a1, b1, a2):
        assert store.ingest_run(run)
    assert len(store.commit_runs(sha_of(1))) == 3  # every run is kept
    mine = store.commit_run(sha_of(1), machine_id="box-b")
    assert mine is not None and mine.run_id == "b1" and mine.machine_id == "box-b"
    newest = store.commit_run(sha_of(1))  # no machine named: the last one's runs only
    assert newest is not None and newest.machine_id == "box-a" and newest.run_id == "a2"
    bench = newest.benchmark("test_a")
    assert bench is not None and sorted(bench.samples_s) == sorted(
        a1.benchmarks[0].samples_s + a2.benchmarks[0].samples_s)
    assert [(r.run_id, r.machine_id) for r in store.recent_commit_runs(n=2)] == [
        ("a2", "box-a"), ("b2", "box-b")]
    assert [r.run_id for r in store.recent_commit_runs(n=2, machine_id="box-b")] == [
        "b1", "b2"]
    with pytest.raises(ValueError, match="one machine"):
        pool_runs([a1, b1])


def test_a_commits_runs_on_a_replaced_cpu_are_never_pooled_with_the_new_ones(
        store: HistoryStore) -> None:
    """One machine_id, its CPU replaced between two runs of an unchanged commit: the
    pooled run was half the old CPU's samples, labelled with the new CPU."""
    old, unknown, new = (
        dataclasses.replace(make_run(1, run_id=rid, scale=scale, started_at=at),
                            machine_id="bench-a", environment=env)
        for rid, scale, at, env in (
            ("old", 1.4, "2024-01-01T05:00Z", ENV),
            ("unknown", 1.0, "2024-01-01T06:00Z", dataclasses.replace(ENV, cpu_model="")),
            ("new", 1.0, "2024-01-01T07:00Z", dataclasses.replace(ENV, cpu_model="New CPU"))))
    for run in (old, unknown, new):
        assert store.ingest_run(run)
    pooled = store.commit_run(sha_of(1), machine_id="bench-a")
    assert pooled is not None and pooled.run_id == "new"
    bench = pooled.benchmark("test_a")
    assert bench is not None and sorted(bench.samples_s) == sorted(  # not the old CPU's
        unknown.benchmarks[0].samples_s + new.benchmarks[0].samples_s)
    (recent,) = store.recent_commit_runs(n=1, machine_id="bench-a")
    assert recent.benchmarks == pooled.benchmarks
    assert pool_runs([old]) is old  # a run alone is itself


def test_runs_without_commit_never_replace_each_other(store: HistoryStore) -> None:
    for i in range(3):
        store.ingest_run(make_run(i, sha=None))
    assert len(store.list_runs()) == 3


def test_list_runs_orders_by_commit_time_across_offsets(store: HistoryStore) -> None:
    # 10:00+02:00 is 08:00Z: earlier than 09:00Z although it sorts later as text
    store.ingest_run(make_run(1, run_id="b", committed_at="2024-01-01T09:00:00Z"))
    store.ingest_run(make_run(2, run_id="a", committed_at="2024-01-01T10:00:00+02:00"))
    # measured last, but of the oldest commit: a backfill lands at its commit's place
    store.ingest_run(make_run(3, run_id="backfill", committed_at="2023-12-31T00:00:00Z",
                              started_at="2024-02-01T00:00:00Z"))
    # no commit: ordered by its start time
    store.ingest_run(make_run(4, run_id="nocommit", sha=None,
                              started_at="2024-01-01T08:30:00Z"))
    assert [r.run_id for r in store.list_runs()] == ["backfill", "a", "nocommit", "b"]


def test_list_runs_filters_and_limit_keeps_the_newest(store: HistoryStore) -> None:
    for i in range(6):
        store.ingest_run(make_run(i, branch="main" if i % 2 == 0 else "feature",
                                  status=RunStatus.FAILED if i == 4 else RunStatus.SUCCESS))
    store.ingest_run(make_run(7, suite="stress"))
    ids = [r.run_id for r in store.list_runs(suite="benchmarks")]
    assert ids == [f"run-benchmarks-{i:04d}" for i in range(6)]
    assert [r.run_id for r in store.list_runs(suite="benchmarks", limit=2)] == ids[-2:]
    assert store.list_runs(limit=0) == ()
    assert [r.commit.branch for r in store.list_runs(branch="feature")] == ["feature"] * 3
    assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED)] == [ids[4]]
    assert [r.run_id for r in store.list_runs(status="failed")] == [ids[4]]
    assert [r.run_id for r in store.list_runs(sha=sha_of(3))] == [ids[3]]
    assert store.list_runs(suite="nope") == ()
    info = store.list_runs(sha=sha_of(3))[0]
    assert info.commit is not None and info.commit.subject == "commit 3"
    assert info.duration_s == 12.5 and info.label == sha_of(3)[:10]


def test_latest_run(store: HistoryStore) -> None:
    assert store.latest_run() is None
    for i in range(3):
        store.ingest_run(make_run(i))
    store.ingest_run(make_run(3, status=RunStatus.FAILED))
    assert store.latest_run() == make_run(2)
    assert store.latest_run(status=None) == make_run(3, status=RunStatus.FAILED)
    assert store.latest_run(sha=sha_of(1)) == make_run(1)
    assert store.latest_run(suite="stress") is None


def test_recent_runs_newest_n_oldest_first(store: HistoryStore) -> None:
    for i in range(8):
        store.ingest_run(make_run(i, status=RunStatus.FAILED if i == 5 else RunStatus.SUCCESS,
                                  branch="feature" if i == 6 else "main"))
    got = store.recent_runs(n=3)
    assert [r.run_id for r in got] == ["run-benchmarks-0004", "run-benchmarks-0006",
                                       "run-benchmarks-0007"]
    assert got[0] == make_run(4)  # complete runs, samples included
    assert [r.run_id[-1] for r in store.recent_runs(n=3, branch="main")] == ["3", "4", "7"]
    before = store.recent_runs(n=3, before_run_id="run-benchmarks-0006")
    assert [r.run_id[-1] for r in before] == ["2", "3", "4"]
    assert store.recent_runs(n=10, before_run_id="run-benchmarks-0000") == ()
    assert store.recent_runs(n=0) == ()
    assert len(store.recent_runs(n=100)) == 7


def test_recent_runs_rejects_unknown_anchor(store: HistoryStore) -> None:
    with pytest.raises(InvalidInputError, match="no-such-run"):
        store.recent_runs(before_run_id="no-such-run")


def test_series_columns_and_order(store: HistoryStore) -> None:
    for i in (2, 0, 1):  # ingestion order does not matter, history order does
        store.ingest_run(make_run(i, scale=1.0 + i))
    store.ingest_run(make_run(3, status=RunStatus.FAILED))
    store.ingest_run(make_run(4, suite="stress"))
    series = store.series(metrics=(TIME_METRIC, "peak_rss_bytes"))
    assert [(s.name, s.metric) for s in series] == [
        ("test_a", TIME_METRIC), ("test_a", "peak_rss_bytes"),
        ("test_b", TIME_METRIC), ("test_b", "peak_rss_bytes")]
    time_a = series[0]
    assert time_a.run_ids == tuple(f"run-benchmarks-{i:04d}" for i in range(3))
    for i, run_id in enumerate(time_a.run_ids):
        bench = make_run(i, scale=1.0 + i).benchmarks[0]
        assert time_a.values[i] == pytest.approx(bench.median_s)
        assert time_a.lows[i] < time_a.values[i] < time_a.highs[i]
        assert store.get_run(run_id).benchmark("test_a") == bench
    # samples (1, 2, 3, 4, 5) * s / 1000: quartiles 2 and 4 (linear interpolation)
    assert time_a.lows[0] == pytest.approx(0.002) and time_a.highs[0] == pytest.approx(0.004)
    rss_b = series[3]
    assert rss_b.values == rss_b.lows == rss_b.highs == (2e6, 4e6, 6e6)
    only_b = store.series(names=["test_b"])
    assert [(s.name, s.metric) for s in only_b] == [("test_b", TIME_METRIC)]
    assert store.series(names=[]) == ()
    assert store.series(names=["missing"]) == ()
    assert len(store.series(suite="stress")) == 2
    assert store.series(status=RunStatus.FAILED) == ()


def test_series_uses_summary_median_of_foreign_files(store: HistoryStore) -> None:
    bench = BenchmarkResult(name="foreign", samples_s=(),
                            summary=(("median_s", 0.5), ("q1_s", 0.4), ("q3_s", 0.7)))
    store.ingest_run(SuiteRun(run_id="f", suite="benchmarks", started_at="2024-01-01T00:00:00Z",
                              status=RunStatus.SUCCESS, benchmarks=(bench,)))
    (series,) = store.series()
    assert (series.values, series.lows, series.highs) == ((0.5,), (0.4,), (0.7,))


def test_benchmark_names(store: HistoryStore) -> None:
    store.ingest_run(make_run(1, names=("b", "a")))
    store.ingest_run(make_run(2, names=("c", "a")))
    store.ingest_run(make_run(3, suite="stress", names=("s",)))
    assert store.benchmark_names() == ("a", "b", "c")
    assert store.benchmark_names(suite="stress") == ("s",)


def test_delete_run(store: HistoryStore, row_counts: Counts) -> None:
    store.ingest_run(make_run(1))
    store.ingest_run(make_run(2))
    store.delete_run("run-benchmarks-0001")
    assert [r.run_id for r in store.list_runs()] == ["run-benchmarks-0002"]
    assert row_counts() == {"runs": 1, "benchmarks": 2, "results": 4}
    with pytest.raises(InvalidInputError, match="run-benchmarks-0001"):
        store.delete_run("run-benchmarks-0001")


def test_stress_figures_round_trip_are_replaced_and_go_with_their_run(
        store: HistoryStore) -> None:
    store.ingest_run(make_run(1))
    figures = (StressFigure(test="t::load", scenario="x4", kind="latency", figure="p99_s",
                            value=0.25, low=0.2, high=0.3, count=1000,
                            histogram_json='{"buckets": [1, 2]}'),
               StressFigure(test="t::load", scenario="x4", kind="throughput",
                            figure="ops_per_s", value=1e4, low=None, high=None, count=None,
                            histogram_json=None))
    assert store.record_stress("run-benchmarks-0001", figures) == 2
    assert store.stress_figures("run-benchmarks-0001") == tuple(
        sorted(figures, key=lambda f: (f.test, f.scenario, f.figure)))
    assert store.record_stress("run-benchmarks-0001", figures[:1]) == 1  # replaced
    assert store.stress_figures("run-benchmarks-0001") == figures[:1]
    with pytest.raises(InvalidInputError, match="no-such-run"):
        store.record_stress("no-such-run", figures)
    store.delete_run("run-benchmarks-0001")
    assert store.stress_figures("run-benchmarks-0001") == ()


def test_machines_most_recently_used_last(store: HistoryStore) -> None:
    for i, machine in ((1, "box-b"), (2, "box-a"), (3, "box-b")):
        store.ingest_run(dataclasses.replace(make_run(i), machine_id=machine))
    store.ingest_run(dataclasses.replace(make_run(4, suite="stress"), machine_id="box-c"))
    assert store.machines() == ("box-a", "box-b")
    assert store.machines(suite=None) == ("box-a", "box-b", "box-c")
    assert [r.run_id for r in store.list_runs(machine_id="box-b")] == [
        "run-benchmarks-0001", "run-benchmarks-0003"]


def test_get_run_unknown_names_it(store: HistoryStore) -> None:
    with pytest.raises(InvalidInputError, match="nope"):
        store.get_run("nope")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"limit": -1}, "limit"), ({"limit": 1.5}, "limit"), ({"status": "partial"}, "status")])
def test_list_runs_rejects_bad_arguments(store: HistoryStore, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        store.list_runs(**kwargs)


def test_series_rejects_a_bare_string(store: HistoryStore) -> None:
    with pytest.raises(InvalidInputError, match="metrics"):
        store.series(metrics="time_s")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="metrics"):
        store.series(metrics=())
    with pytest.raises(InvalidInputError, match="names"):
        store.series(names="test_a")  # type: ignore[arg-type]


def test_ingest_rejects_lone_surrogate_and_leaves_db_unchanged(store: HistoryStore,
                                                               row_counts: Counts) -> None:
    store.ingest_run(make_run(1))
    before = row_counts()
    with pytest.raises(InvalidInputError, match="Unicode"):
        store.ingest_run(make_run(1, run_id="bad", names=("ok", "bad\udcff")))
    assert row_counts() == before
    assert store.has_run("run-benchmarks-0001")


def test_ingest_rejects_an_integer_beyond_64_bits(store: HistoryStore) -> None:
    bench = BenchmarkResult(name="t", samples_s=(1.0,), iterations=2**64)
    run = SuiteRun(run_id="huge", suite="benchmarks", started_at="2024-01-01T00:00:00Z",
                   status=RunStatus.SUCCESS, benchmarks=(bench,))
    with pytest.raises(InvalidInputError, match="range"):
        store.ingest_run(run)
    assert not store.has_run("huge")


def test_ingest_rejects_time_both_in_samples_and_extra(store: HistoryStore) -> None:
    bench = BenchmarkResult(name="t", samples_s=(1.0,), extra=((TIME_METRIC, 2.0),))
    run = SuiteRun(run_id="x", suite="benchmarks", started_at="2024-01-01T00:00:00Z",
                   status=RunStatus.SUCCESS, benchmarks=(bench,))
    with pytest.raises(InvalidInputError, match="'t'"):
        store.ingest_run(run)
    assert not store.has_run("x")


def test_failure_mid_ingest_rolls_back_every_row(store: HistoryStore, row_counts: Counts) -> None:
    """A constraint violation on the last row undoes the run's earlier rows too."""
    old = make_run(1, run_id="old")
    store.ingest_run(old)
    before = row_counts()
    new = make_run(1, run_id="new", names=("test_a", "test_b", "test_c"))
    # Bypass the model's validation to get a duplicate name: a PRIMARY KEY violation.
    dupes = (*new.benchmarks, dataclasses.replace(new.benchmarks[0], samples_s=(9.0,)))
    object.__setattr__(new, "benchmarks", dupes)
    with pytest.raises(StoreError, match=re.escape(store.target) + ".*ingesting run new"):
        store.ingest_run(new)
    assert row_counts() == before
    assert store.get_run("old") == old
    assert not store.has_run("new")
    store.ingest_run(make_run(2))  # the connection is usable afterwards
    assert len(store.list_runs()) == 2


def test_monkeypatched_error_mid_ingest_rolls_back(store: HistoryStore, row_counts: Counts,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store.ingest_run(make_run(1, run_id="old"))
    before = row_counts()
    # the last write inside the run's transaction fails: on SQLite recording the source,
    # on PostgreSQL its upsert
    module, name = ((ingest_module, "record_source") if store.path is not None
                    else (postgres_module, "_upsert_source"))
    real_record = getattr(module, name)

    def record_then_fail(conn: object, *args: object, **kwargs: object) -> None:
        real_record(conn, *args, **kwargs)
        if store.path is not None:
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        raise sqlalchemy.exc.OperationalError("INSERT", {}, OSError("disk I/O (simulated)"))

    monkeypatch.setattr(module, name, record_then_fail)
    stamp = SourceStamp(path="/r/run.json", size=1, mtime_ns=2)
    with pytest.raises(StoreError, match="simulated"):
        store.ingest_run(make_run(1, run_id="new"), source=stamp)
    assert row_counts() == before
    assert store.has_run("old") and not store.has_run("new")
    assert store.sources() == {}


def test_errors_after_close_are_store_errors(history_target: Path | str) -> None:
    store = open_history(history_target)
    store.close()
    with pytest.raises(StoreError, match=re.escape(store.target)):
        store.list_runs()


def test_a_run_id_with_a_nul_is_refused_on_both_backends(store: HistoryStore) -> None:
    """SQLite stored it but read the run back with no benchmarks (json_each cuts text at
    a NUL); PostgreSQL refused it. Both now refuse it, naming the run, and store nothing."""
    with pytest.raises(InvalidInputError, match="may not contain a NUL"):
        store.ingest_run(make_run(1, run_id="r\x001"))
    assert store.list_runs() == ()
