"""A commit measured several times is judged, and enters baselines, with all its runs."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.config import load_settings
from perf_pipeline.model import RunStatus
from perf_pipeline.pipeline.baseline import baseline_for_run
from perf_pipeline.pipeline.regression import analyze_commit, commit_run
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.store.conftest import make_run, sha_of


def test_judging_and_baselines_pool_each_commits_successful_runs(tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_file=None, results_dir=tmp_path / "results",
                             baseline_runs=3, confirm="off")
    ws = Workspace(settings)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(1, 6):
            store.ingest_run(make_run(i))
        store.ingest_run(make_run(3, run_id="again-3", started_at="2024-01-01T09:00:00Z"))
        store.ingest_run(make_run(5, run_id="again-5", scale=1.01,
                                  started_at="2024-01-01T09:00:00Z"))
        store.ingest_run(make_run(5, run_id="failed-5", status=RunStatus.FAILED,
                                  started_at="2024-01-01T10:00:00Z"))
        run = commit_run(ws, sha_of(5))
        assert run.run_id == "again-5"  # the newest successful run names the pool
        assert len(run.benchmarks[0].samples_s) == 10  # 5 samples from each run
        baseline = baseline_for_run(ws, run)
        assert baseline is not None
        # the last 3 commits before commit 5, in history order (commit 3 was measured
        # again last, it is still before 4); commit 3 once, named by its newest run
        assert baseline.source_commits == (sha_of(2), sha_of(3), sha_of(4))
        assert baseline.source_run_ids == ("run-benchmarks-0002", "again-3",
                                           "run-benchmarks-0004")
        entry = baseline.entry("test_a", "time_s")
        assert entry is not None and len(entry.run_values) == 3  # one value per commit
    analysis = analyze_commit(ws, sha_of(5))
    assert analysis.run_id == "again-5" and analysis.comparison is not None
    assert analysis.baseline_commits == (sha_of(2), sha_of(3), sha_of(4))


def test_a_failed_re_run_does_not_hide_the_commits_successful_run(tmp_path: Path) -> None:
    from perf_pipeline.measure import write_raw_run
    from perf_pipeline.pipeline.analyze import analyze_results_dir

    good = Path(__file__).resolve().parents[1] / "data" / "pytest_benchmark_good.json"
    settings = load_settings(environ={}, config_file=None, results_dir=tmp_path / "results",
                             confirm="off")
    for i, (sha, status) in enumerate((("a" * 40, "success"), ("b" * 40, "success"),
                                       ("b" * 40, "failed"))):
        write_raw_run(settings.raw_dir, {
            "run_id": f"2024010{i + 1}T000000Z-0000000{i}", "suite": "benchmarks",
            "status": status, "commit": {"sha": sha, "branch": "main",
                                         "committed_at": f"2024-01-0{i + 1}T00:00:00Z"},
            "started_at": f"2024-01-0{i + 1}T01:00:00Z", "duration_s": 1.0,
            "error": "boom" if status == "failed" else None,
            "benchmark_files": 1 if status == "success" else 0},
            benchmark_json=good if status == "success" else None)
    outcome = analyze_results_dir(Workspace(settings), report_path=tmp_path / "report.md")
    assert outcome.run.run_id == "20240102T000000Z-00000001" and outcome.run.sha == "b" * 40
    assert outcome.analysis.comparison is not None
    assert outcome.analysis.baseline_commits == ("a" * 40,)
