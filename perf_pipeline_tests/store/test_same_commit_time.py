"""Commits that share a commit time keep their ancestry order in history (both backends).

GitHub's "Rebase and merge" and ``git rebase`` give every commit they rewrite the same
committer second. History order used to break that tie by the start time, so a parent
measured after its child (the sensor measures the tip first, a backfill or culprit probe
the parent later) came after it: its rolling baseline held its child, and series ran in
the wrong order. The first-parent ordinal (``CommitInfo.ancestry_ordinal``) breaks the
tie instead; a run without one (plain pytest-benchmark files, runs stored before it)
sorts before any run with one at the same commit time, identically on both backends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from perf_pipeline.model import SuiteRun
from perf_pipeline.store import HistoryStore

from .conftest import make_run, sha_of

SAME = "2024-05-01T12:00:00+00:00"


def _run(i: int, *, ordinal: int | None, committed_at: str, started_at: str) -> SuiteRun:
    run = make_run(i, committed_at=committed_at, started_at=started_at, run_id=f"run-c{i}")
    assert run.commit is not None
    return dataclasses.replace(
        run, commit=dataclasses.replace(run.commit, ancestry_ordinal=ordinal))


def _rebased_history(store: HistoryStore) -> None:
    """c0, then c1 -> c2 -> c3 sharing one commit time; the tip c3 measured before c2."""
    store.ingest_run(_run(0, ordinal=10, committed_at="2024-04-30T12:00:00+00:00",
                          started_at="2024-05-01T11:00:00+00:00"))
    store.ingest_run(_run(1, ordinal=11, committed_at=SAME,
                          started_at="2024-05-01T12:10:00+00:00"))
    store.ingest_run(_run(3, ordinal=13, committed_at=SAME,
                          started_at="2024-05-01T12:20:00+00:00"))
    store.ingest_run(_run(2, ordinal=12, committed_at=SAME,
                          started_at="2024-05-01T13:00:00+00:00"))


def _names(shas: Iterable[str | None]) -> list[str]:
    by_sha = {sha_of(i): f"c{i}" for i in range(6)}
    return [by_sha[sha] for sha in shas if sha is not None]


def _listed(store: HistoryStore) -> list[str]:
    """The commits of ``list_runs``, in history order."""
    return _names(r.commit.sha if r.commit else None for r in store.list_runs())


def test_a_parent_measured_after_its_child_stays_before_it(store: HistoryStore) -> None:
    _rebased_history(store)
    assert _listed(store) == ["c0", "c1", "c2", "c3"]
    assert store.get_run("run-c2").commit.ancestry_ordinal == 12  # type: ignore[union-attr]
    # the rolling baseline of c2: the commits before it, never its child c3
    before_c2 = store.recent_commit_runs(n=5, before_run_id="run-c2", exclude_sha=sha_of(2))
    assert _names(r.sha for r in before_c2) == ["c0", "c1"]
    before_c3 = store.recent_commit_runs(n=5, before_run_id="run-c3", exclude_sha=sha_of(3))
    assert _names(r.sha for r in before_c3) == ["c0", "c1", "c2"]
    assert _names(r.sha for r in store.recent_runs(n=5, before_run_id="run-c2")) == [
        "c0", "c1"]
    # newest-first reads stop at the right commit: the tip is c3, though c2 came last
    assert _names(r.sha for r in store.recent_commit_runs(n=2)) == ["c2", "c3"]
    assert _names(r.sha for r in store.recent_runs(n=1)) == ["c3"]
    latest = store.latest_run()
    assert latest is not None and latest.sha == sha_of(3)
    for series in store.series():
        assert series.run_ids == ("run-c0", "run-c1", "run-c2", "run-c3")


def test_a_run_without_an_ordinal_sorts_first_among_its_commit_time(
        store: HistoryStore) -> None:
    _rebased_history(store)
    # measured last, with no ordinal (a plain pytest-benchmark file of the same time)
    store.ingest_run(_run(4, ordinal=None, committed_at=SAME,
                          started_at="2024-05-01T14:00:00+00:00"))
    assert store.get_run("run-c4").commit.ancestry_ordinal is None  # type: ignore[union-attr]
    assert _listed(store) == ["c0", "c4", "c1", "c2", "c3"]
    assert _names(r.sha for r in store.recent_commit_runs(n=5, before_run_id="run-c1")) == [
        "c0", "c4"]
