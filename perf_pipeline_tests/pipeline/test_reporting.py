"""The reporting step: what a commit's report and the history dashboard are built from."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from perf_pipeline.config import Settings
from perf_pipeline.model import (
    BenchmarkResult,
    CommitInfo,
    Confirmation,
    RunStatus,
    SuiteRun,
    Verdict,
)
from perf_pipeline.pipeline.baseline import baseline_for_run
from perf_pipeline.pipeline.regression import analyze_run
from perf_pipeline.pipeline.reporting import write_commit_report, write_history_report
from perf_pipeline.store import HistoryStore, write_confirmation
from perf_pipeline.workspace import Workspace

NAMES = tuple(f"test_{k}" for k in range(6))


def _run(i: int, rng: np.random.Generator) -> SuiteRun:
    benchmarks = tuple(
        BenchmarkResult(name=name, samples_s=tuple(
            float((k + 1) * 1e-3 * math.exp(rng.normal(0.0, 0.02))) for _ in range(12)))
        for k, name in enumerate(NAMES))
    commit = CommitInfo(sha=f"{i:040x}", branch="main", message=f"commit {i}",
                        committed_at=f"2024-01-01T{i:02d}:00:00+00:00")
    return SuiteRun(run_id=f"run-{i:02d}", suite="benchmarks",
                    started_at=f"2024-01-01T{i:02d}:30:00+00:00", status=RunStatus.SUCCESS,
                    benchmarks=benchmarks, commit=commit, machine_id="box")


def test_the_dashboard_shows_the_newest_commit_as_its_gate_judged_it(tmp_path: Path) -> None:
    # Commit 9's A/B confirmed a regression the stored-baseline comparison alone did not
    # call: its report (and the gate) say so, and so must the dashboard, both stages shown.
    settings = Settings(results_dir=tmp_path / "results", machine_id="box")
    rng = np.random.default_rng(3)
    store = HistoryStore.open(settings.db_path)
    for i in range(1, 10):
        store.ingest_run(_run(i, rng))
    store.close()
    sha = f"{9:040x}"
    with Workspace(settings) as ws:
        run = ws.store.commit_run(sha, suite="benchmarks", machine_id="box")
        assert run is not None
        standing = analyze_run(run, baseline_for_run(ws, run), settings).comparison
        assert standing is not None and not standing.has_regression
        final = replace(standing, results=tuple(
            replace(r, comparison=replace(r.comparison, verdict=Verdict.REGRESSION,
                                          ratio=1.3, significant=True))
            if r.name == "test_0" and r.metric == "time_s" else r for r in standing.results))
        write_confirmation(ws.layout.confirmation_path(sha), Confirmation(
            sha=sha, run_id=run.run_id, created_at="2024-01-02T00:00:00+00:00",
            status="confirmed", screen_alpha=0.5, screen=standing, final=final,
            base_sha=f"{8:040x}", flagged=("test_0",), ab=final, rounds_used=5,
            max_rounds=100, stopped="decided", decided_at=(("test_0", 5),)))
        _, commit_files = write_commit_report(ws, sha)
        data, history_files = write_history_report(
            ws, markdown_path=ws.layout.reports_dir / "performance-report.md")
    assert data.confirmation is not None and data.comparison == final
    assert commit_files.markdown is not None and history_files.markdown is not None
    for path in (commit_files.markdown, history_files.markdown):
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[1].startswith("❌ 1 significant regression"), path
        assert "### Confirmation" in text
    assert "1 significant regression" in history_files.html.read_text(encoding="utf-8")


def test_the_dashboard_says_when_the_newest_commit_is_not_confirmed_yet(
        tmp_path: Path) -> None:
    settings = Settings(results_dir=tmp_path / "results", machine_id="box")
    rng = np.random.default_rng(3)
    store = HistoryStore.open(settings.db_path)
    for i in range(1, 6):
        store.ingest_run(_run(i, rng))
    store.close()
    with Workspace(settings) as ws:
        data, _ = write_history_report(ws)
    assert data.confirmation is None
    assert any(n.startswith("No confirmation of this run yet") for n in data.notes)
