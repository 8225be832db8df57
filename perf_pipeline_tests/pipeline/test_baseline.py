"""Which runs a rolling baseline is made of: the main branch's, once it has any."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.config import Settings
from perf_pipeline.pipeline.baseline import baseline_for_run, screen_baseline
from perf_pipeline.store import HistoryStore
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.store.conftest import make_run, sha_of


def _workspace(tmp_path: Path, runs: list) -> Workspace:
    settings = Settings(results_dir=tmp_path / "results", machine_id="m1", confirm="off")
    settings.results_dir.mkdir(parents=True)
    with HistoryStore.open(settings.db_path) as store:
        for run in runs:
            store.ingest_run(run)
    return Workspace(settings)


def _commits(ws: Workspace, i: int) -> list[str]:
    baseline = baseline_for_run(ws, ws.store.commit_run(sha_of(i), machine_id="m1"))
    return [] if baseline is None else list(baseline.source_commits)


def test_an_unmerged_branch_never_stands_in_for_the_main_branch(tmp_path: Path) -> None:
    # Two commits of a branch three times slower, then main's first: main's first commit
    # was judged against the branch (every benchmark an "improvement").
    runs = [make_run(1, branch="feature-x", scale=3.0), make_run(2, branch="feature-x",
                                                                 scale=3.0),
            make_run(3), make_run(4, branch="feature-x", scale=3.0), make_run(5), make_run(6)]
    with _workspace(tmp_path, runs) as ws:
        assert _commits(ws, 3) == []  # the first main commit seeds the baseline
        assert _commits(ws, 5) == [sha_of(3)]
        assert _commits(ws, 6) == [sha_of(3), sha_of(5)]
        screen = screen_baseline(ws, "m1")
        assert screen is not None and list(screen.source_commits) == [
            sha_of(3), sha_of(5), sha_of(6)]


def test_a_history_without_a_main_branch_run_uses_every_branch(tmp_path: Path) -> None:
    # plain files (no branch), or a main branch named otherwise than configured
    runs = [make_run(1, branch=None), make_run(2, branch="master"), make_run(3, branch="master")]
    with _workspace(tmp_path, runs) as ws:
        assert _commits(ws, 3) == [sha_of(1), sha_of(2)]
