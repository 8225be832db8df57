"""A commit's runs are one point of the history: the reports pool them (per commit, on one
machine) before change points and drifts are looked for, and label what they find with
the run that names the commit's pooled run."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from perf_pipeline.config import Settings
from perf_pipeline.pipeline.alerts import alerts_of
from perf_pipeline.pipeline.reporting import build_report_data
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_bisect import STEP, repo_and_settings, run_at

N = 24


def _history(tmp_path: Path, *, step_at: int, repeats: dict[int, int]) -> tuple[Settings,
                                                                                 tuple[str, ...]]:
    """N commits measured in order; commit i measured ``repeats.get(i, 1)`` times in a row
    (STEP is 25 % slower from ``step_at`` on)."""
    settings, shas = repo_and_settings(tmp_path, N)
    rng = np.random.default_rng(3)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(N):
            for r in range(repeats.get(i, 1)):
                run = run_at(i, shas[i], rng, step_at=step_at)
                when = datetime.fromisoformat(run.started_at) + timedelta(seconds=5 * r)
                store.ingest_run(replace(run, run_id=f"{run.run_id}-{r}",
                                         started_at=when.isoformat()))
    return settings, shas


def _data(settings: Settings):
    with Workspace(settings) as ws:
        return build_report_data(ws, title="t", current=None, baseline=None, analysis=None)


def test_a_slow_commit_measured_eight_times_is_one_point_not_a_level(tmp_path: Path) -> None:
    settings, _ = _history(tmp_path, step_at=N - 1, repeats={N - 1: 8})
    data = _data(settings)
    assert sum(1 for r in data.runs if r.suite == "benchmarks") == N + 7
    # Run by run, eight slow runs would be a new level; pooled, the newest commit is one
    # point, and one point is never a change point.
    assert [cp for cp in data.change_points if cp.name == STEP] == []
    assert [d for d in data.drifts if d.name == STEP] == []


def test_a_step_at_a_replicated_commit_is_labelled_with_its_pooled_run(tmp_path: Path) -> None:
    settings, shas = _history(tmp_path, step_at=12, repeats={12: 3, 5: 2})
    data = _data(settings)
    (cp,) = [cp for cp in data.change_points if cp.name == STEP]
    with HistoryStore.open(settings.db_path) as store:
        pooled = store.commit_run(shas[12], suite="benchmarks")
    assert pooled is not None and cp.run_id == pooled.run_id == "run-012-2"
    assert cp.ratio > 1.15
    # The commit's report (its pooled run) raises the change point as an alert.
    assert [(a.kind, a.name, a.sha) for a in alerts_of(data, run_ids={pooled.run_id})] == [
        ("change_point", STEP, shas[12])]


def test_a_commit_report_shows_the_history_up_to_that_commit(tmp_path: Path) -> None:
    """Regenerated later (a re-materialized partition), an older commit's report must
    not show the commits after it: their step would appear as a change point there."""
    settings, shas = _history(tmp_path, step_at=16, repeats={10: 2})
    with Workspace(settings) as ws:
        whole = build_report_data(ws, title="t", current=None, baseline=None, analysis=None)
        cut = build_report_data(ws, title="t", current=None, baseline=None, analysis=None,
                                through_commit=shas[10])
        unknown = build_report_data(ws, title="t", current=None, baseline=None,
                                    analysis=None, through_commit="f" * 40)
    assert [cp.name for cp in whole.change_points].count(STEP) == 1
    assert [r.commit.sha for r in cut.runs if r.commit] == [*shas[:10], shas[10], shas[10]]
    assert all(len(s.run_ids) == 12 for s in cut.series)  # both runs of commit 10
    assert set(cut.series[0].run_ids) <= {r.run_id for r in cut.runs}
    assert [cp for cp in cut.change_points if cp.name == STEP] == []
    assert unknown.runs == whole.runs  # nothing to cut at: the whole history
