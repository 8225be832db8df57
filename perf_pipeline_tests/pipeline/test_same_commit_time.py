"""The reviewer's scenario end to end: commits a rebase gave one commit time, the tip
measured first. A commit's rolling baseline never holds its future (its child)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from perf_pipeline.config import load_settings
from perf_pipeline.pipeline.baseline import baseline_for_run
from perf_pipeline.pipeline.regression import commit_run
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.store.conftest import make_run, sha_of

SAME = "2024-05-01T12:00:00+00:00"


def test_the_baseline_of_a_parent_measured_after_its_child_holds_no_child(
        tmp_path: Path) -> None:
    settings = load_settings(environ={}, config_file=None, results_dir=tmp_path / "results",
                             baseline_runs=5, confirm="off")
    with HistoryStore.open(settings.db_path) as store:
        # c0; then c1 -> c2 -> c3 sharing one commit time; the tip c3 measured before c2
        for i, committed_at, started_at in (
                (0, "2024-04-30T12:00:00+00:00", "2024-05-01T11:00:00+00:00"),
                (1, SAME, "2024-05-01T12:10:00+00:00"),
                (3, SAME, "2024-05-01T12:20:00+00:00"),
                (2, SAME, "2024-05-01T13:00:00+00:00")):
            run = make_run(i, committed_at=committed_at, started_at=started_at)
            assert run.commit is not None
            store.ingest_run(dataclasses.replace(run, commit=dataclasses.replace(
                run.commit, ancestry_ordinal=100 + i)))
    with Workspace(settings) as ws:
        baseline = baseline_for_run(ws, commit_run(ws, sha_of(2)))
        assert baseline is not None
        assert set(baseline.source_commits) == {sha_of(0), sha_of(1)}  # not its child c3
        baseline = baseline_for_run(ws, commit_run(ws, sha_of(3)))
        assert baseline is not None
        assert set(baseline.source_commits) == {sha_of(0), sha_of(1), sha_of(2)}


def test_the_newest_commit_of_a_baseline_is_the_newest_in_history_not_the_last_measured(
        tmp_path: Path) -> None:
    """The tip c3 measured first, a backfill measured c0-c2 after it: c4's baseline is
    c0..c3 in that order, and its confirmation's reference is its parent c3 (it was the
    last commit measured, c2, so the A/B blamed c4 for what c3 did)."""
    from perf_pipeline.pipeline.confirm import _base_sha

    settings = load_settings(environ={}, config_file=None, results_dir=tmp_path / "results",
                             baseline_runs=5, confirm="off")
    with HistoryStore.open(settings.db_path) as store:
        for i, started_at in ((3, "2024-05-02T08:00:00+00:00"),
                              (0, "2024-05-02T09:00:00+00:00"),
                              (1, "2024-05-02T10:00:00+00:00"),
                              (2, "2024-05-02T11:00:00+00:00"),
                              (4, "2024-05-02T12:00:00+00:00")):
            store.ingest_run(make_run(i, started_at=started_at))
    with Workspace(settings) as ws:
        baseline = baseline_for_run(ws, commit_run(ws, sha_of(4)))
        assert baseline is not None
        assert baseline.source_commits == tuple(sha_of(i) for i in range(4))
        assert _base_sha(ws.settings, baseline) == sha_of(3)
