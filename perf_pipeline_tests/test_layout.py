"""``ResultsLayout``: every path we write is named there, and discovery reads only results.

Issue 9, defect 1: ``analysis/<sha>.json`` (written by ``regression_analysis``) was read
back as a broken pytest-benchmark file, so ``analyze`` exited 2 after any Dagster run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.measure import find_result_paths, ingest_results_dir
from perf_pipeline.measure.raw import write_raw_run
from perf_pipeline.store import HistoryStore

DATA = Path(__file__).parent / "data"
SHA = "a" * 40


def _our_files(layout: ResultsLayout) -> list[Path]:
    """One of each file perf_pipeline writes under a results dir, all ``*.json``-ish."""
    return [layout.analysis_path(SHA), layout.confirmation_path(SHA),
            layout.commit_profile_path(SHA), layout.baseline_path,
            layout.baseline_history_dir / "performance_baseline-x.json",
            layout.commit_report_dir(SHA) / "payload.json",
            layout.ab_dir("20240101T000000Z-1", SHA, SHA) / "ab.json",
            layout.calibration_dir("20240101T000000Z-2", SHA) / "pair-1-a.json",
            layout.profile_raw_dir("20240101T000000Z-3", SHA, SHA) / "manifest.json",
            layout.worktrees_dir / "w" / "x.json",
            layout.noise_dir / "not-a-corpus.json"]


def test_discovery_reads_raw_runs_and_foreign_files_only(tmp_path: Path) -> None:
    layout = ResultsLayout(tmp_path / "results")
    for path in _our_files(layout):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"not": "a result"}')
    record = {"run_id": "20240101T000000Z-ab", "commit": {"sha": SHA}}
    run_dir = write_raw_run(layout.raw_dir, record)
    (layout.raw_dir / SHA / "20240101T000001Z-cd").mkdir()  # interrupted: no run.json
    foreign = layout.root / ".benchmarks" / "Linux" / "0001_x.json"
    foreign.parent.mkdir(parents=True)
    shutil.copy(DATA / "pytest_benchmark_good.json", foreign)
    top = layout.root / "bench.json"
    shutil.copy(DATA / "pytest_benchmark_good.json", top)

    assert run_dir == layout.run_dir(SHA, record["run_id"])
    assert find_result_paths(layout) == (run_dir, foreign, top)
    assert find_result_paths(layout.root) == (run_dir, foreign, top)
    assert all(layout.owns(p) for p in _our_files(layout))
    assert not layout.owns(foreign) and not layout.owns(top)


def test_a_baseline_file_elsewhere_in_the_results_dir_is_ours(tmp_path: Path) -> None:
    settings = load_settings(results_dir=tmp_path, baseline_file=tmp_path / "pinned.json",
                             environ={})
    settings.baseline_path.write_text('{"a": "baseline"}')
    assert settings.layout.owns(settings.baseline_path)
    assert find_result_paths(settings.layout) == ()
    assert find_result_paths(tmp_path) == (tmp_path / "pinned.json",)  # without the layout


def test_ingest_after_a_dagster_run_reads_no_file_of_ours(tmp_path: Path) -> None:
    layout = ResultsLayout(tmp_path)
    shutil.copy(DATA / "pytest_benchmark_good.json", tmp_path / "bench.json")
    analysis = layout.analysis_path(SHA)
    analysis.parent.mkdir()
    analysis.write_text(json.dumps({"run_id": "x", "sha": SHA}))
    with HistoryStore.open(layout.db_path) as store:
        summary = ingest_results_dir(layout, store)
    assert summary.errors == () and len(summary.ingested) == 1


@pytest.mark.parametrize("sha", ["", "..", ".hidden", "a/b", "ab", "calibrate", "profile"])
def test_unsafe_or_reserved_commit_names_are_refused(sha: str) -> None:
    with pytest.raises(InvalidInputError, match="commit sha"):
        ResultsLayout(Path("r")).run_dir(sha, "20240101T000000Z-ab")


def test_settings_paths_are_the_layouts(tmp_path: Path) -> None:
    settings = load_settings(results_dir=tmp_path, environ={})
    layout = settings.layout
    assert (settings.db_path, settings.raw_dir, settings.baseline_path, settings.reports_dir,
            settings.worktrees_dir, settings.noise_dir) == (
        layout.db_path, layout.raw_dir, layout.baseline_path, layout.reports_dir,
        layout.worktrees_dir, layout.noise_dir)
    assert layout.db_path == tmp_path / "perf_history.db"


@pytest.mark.parametrize("relative", ["results_dir", "baseline_file"])
def test_our_baseline_is_ours_whether_paths_are_relative_or_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: str) -> None:
    """A relative results dir (the default ``test-results``) with an absolute baseline
    file, or the other way round: the baseline and its archives are still ours, so
    ingest reads no file of ours and reports no error."""
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "test-results"
    baseline = results / "my_baseline.json"
    history = baseline.parent / "history" / "my_baseline-x.json"
    history.parent.mkdir(parents=True)
    baseline.write_text('{"a": "baseline"}')
    history.write_text('{"an": "archive"}')
    shutil.copy(DATA / "pytest_benchmark_good.json", results / "bench.json")
    if relative == "results_dir":
        settings = load_settings(results_dir=Path("test-results"), baseline_file=baseline,
                                 environ={})
    else:
        settings = load_settings(results_dir=results,
                                 baseline_file=Path("test-results/my_baseline.json"),
                                 environ={})
    layout = settings.layout
    assert [p.name for p in layout.foreign_result_files()] == ["bench.json"]
    assert layout.owns(Path("test-results") / "my_baseline.json")
    assert layout.owns(history) and layout.owns(Path("test-results/./x/../my_baseline.json"))
    with HistoryStore.open(tmp_path / "h.db") as store:
        summary = ingest_results_dir(layout, store)
    assert summary.errors == () and len(summary.ingested) == 1
