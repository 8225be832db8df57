"""Every run kept, incremental ingest: raw run dirs and foreign files, real files and db
(SQLite and PostgreSQL: ``history_target``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import collect, ingest_results_dir, write_raw_run
from perf_pipeline.model import RunStatus
from perf_pipeline.store import open_history

DATA = Path(__file__).resolve().parents[1] / "data"
GOOD = DATA / "pytest_benchmark_good.json"
SHA = "c" * 40


def _record(run_id: str, started_at: str, status: str = "success") -> dict[str, object]:
    return {"run_id": run_id, "suite": "benchmarks", "status": status,
            "commit": {"sha": SHA, "branch": "main", "committed_at": "2024-01-01T00:00:00Z"},
            "started_at": started_at, "duration_s": 2.0,
            "error": "boom" if status == "failed" else None,
            "benchmark_files": 1 if status == "success" else 0}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """One commit measured twice, then a failed third attempt, and a foreign file."""
    results = tmp_path / "results"
    write_raw_run(results / "raw", _record("20240101T010000Z-00000001", "2024-01-01T01:00Z"),
                  benchmark_json=GOOD)
    write_raw_run(results / "raw", _record("20240101T020000Z-00000002", "2024-01-01T02:00Z"),
                  benchmark_json=GOOD)
    write_raw_run(results / "raw",
                  _record("20240101T030000Z-00000003", "2024-01-01T03:00Z", "failed"))
    shutil.copy(GOOD, results / "foreign.json")
    return results


def test_every_run_is_kept_and_a_no_op_ingest_parses_nothing(
        results: Path, history_target: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_history(history_target) as store:
        first = ingest_results_dir(results, store)
        assert len(first.ingested) == 4 and not first.errors
        assert [r.status for r in store.commit_runs(SHA, status=None)] == [
            RunStatus.SUCCESS, RunStatus.SUCCESS, RunStatus.FAILED]
        pooled = store.commit_run(SHA)  # the failed newest attempt hides nothing
        assert pooled is not None and pooled.run_id == "20240101T020000Z-00000002"
        single = store.get_run("20240101T010000Z-00000001")
        assert [len(b.samples_s) for b in pooled.benchmarks] == [
            2 * len(b.samples_s) for b in single.benchmarks]

        def no_parsing(path: Path) -> None:
            raise AssertionError(f"{path} was parsed again")

        monkeypatch.setattr(collect, "load_results", no_parsing)
        again = ingest_results_dir(results, store)
        assert again.ingested == () and sorted(again.skipped) == sorted(first.ingested)
        assert len(store.list_runs()) == 4


def test_a_changed_foreign_file_is_read_again(results: Path, history_target: Path | str) -> None:
    with open_history(history_target) as store:
        ingest_results_dir(results, store)
        foreign = results / "foreign.json"
        foreign.write_bytes(foreign.read_bytes() + b"\n")  # new bytes: a new run id
        again = ingest_results_dir(results, store)
        assert len(again.ingested) == 1 and again.ingested[0].startswith("file-")
        assert ingest_results_dir(results, store).ingested == ()


def test_runs_stored_without_a_source_are_parsed_once(results: Path,
                                                      history_target: Path | str) -> None:
    """A db from before sources existed (or a run stored by another path) learns them."""
    from perf_pipeline.measure import load_results

    with open_history(history_target) as store:
        for run_dir in sorted((results / "raw" / SHA).iterdir()):
            store.ingest_run(load_results(run_dir))  # no source recorded
        assert store.sources() == {}
        first = ingest_results_dir(results, store)
        assert first.ingested == (first.ingested[0],) and len(first.skipped) == 3
        assert len(store.sources()) == 4


def test_bad_file_is_reported_every_time(results: Path, history_target: Path | str) -> None:
    shutil.copy(DATA / "pytest_benchmark_truncated.json", results / "broken.json")
    with open_history(history_target) as store:
        for _ in range(2):
            summary = ingest_results_dir(results, store)
            assert [Path(p).name for p, _ in summary.errors] == ["broken.json"]


def test_ingest_run_refuses_a_source_that_is_not_a_stamp(
        results: Path, history_target: Path | str) -> None:
    from perf_pipeline.measure import load_results

    run = load_results(results / "foreign.json")
    with open_history(history_target) as store, pytest.raises(InvalidInputError):
        store.ingest_run(run, source=str(results / "foreign.json"))  # type: ignore[arg-type]


def test_pooled_percentiles_and_extras_match_the_processes_rule(results: Path) -> None:
    """Runs pool like processes do: percentiles of all samples, other metrics' median."""
    from perf_pipeline.measure import load_results
    from perf_pipeline.measure.percentiles import latency_percentiles
    from perf_pipeline.store import pool_runs

    runs = [load_results(p) for p in sorted((results / "raw" / SHA).iterdir())[:2]]
    pooled = pool_runs(runs)
    for bench in pooled.benchmarks:
        extra = dict(bench.extra)
        for key, value in latency_percentiles(bench.samples_s).items():
            assert extra[key] == pytest.approx(value, rel=1e-12)
        assert bench.median_s == runs[1].benchmark(bench.name).median_s  # same file twice
    assert pool_runs(runs[:1]) is runs[0]
