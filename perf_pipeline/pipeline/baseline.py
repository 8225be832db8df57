"""Choosing and writing baselines: which runs a commit is judged against.

Rolling (the default): the last ``settings.baseline_runs`` successful runs on the main
branch before the run being judged, so a commit is never compared with itself or with
its future. Pinned: the baseline file, frozen when someone chose a run with
``--update-baseline``; it keeps the runs before the pinned one for the run-to-run spread.
"""

from __future__ import annotations

from datetime import datetime, timezone

from perf_pipeline.analysis import build_baseline
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Baseline, RunStatus, SuiteRun
from perf_pipeline.store import HistoryStore, read_baseline, write_baseline

__all__ = ["baseline_for_run", "now_iso", "pin_baseline", "update_baseline"]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _rolling_runs(store: HistoryStore, settings: Settings, *,
                  before: SuiteRun | None) -> tuple[SuiteRun, ...]:
    runs = store.recent_runs(suite="benchmarks", branch=settings.main_branch,
                             n=settings.baseline_runs,
                             before_run_id=before.run_id if before else None)
    if not runs and before is None:
        # Histories with no branch information (plain pytest-benchmark files).
        runs = store.recent_runs(suite="benchmarks", n=settings.baseline_runs)
    sha = before.sha if before else None
    return tuple(r for r in runs if sha is None or r.sha != sha)


def baseline_for_run(store: HistoryStore, settings: Settings, run: SuiteRun) -> Baseline | None:
    """The baseline ``run`` is judged against, or ``None`` when there is none yet."""
    if settings.baseline_policy == "pinned":
        return read_baseline(settings.baseline_path)
    runs = _rolling_runs(store, settings, before=run)
    if not runs:
        runs = tuple(r for r in store.recent_runs(suite="benchmarks", n=settings.baseline_runs,
                                                  before_run_id=run.run_id)
                     if r.sha is None or r.sha != run.sha)
    if not runs:
        return None
    return build_baseline(runs, policy="rolling", created_at=now_iso())


def update_baseline(store: HistoryStore, settings: Settings) -> Baseline | None:
    """Rebuild the baseline file by the configured policy; ``None`` if no run exists yet.

    A pinned baseline that already exists is left alone: only ``pin_baseline`` moves it.
    """
    if settings.baseline_policy == "pinned":
        current = read_baseline(settings.baseline_path)
        if current is not None:
            return current
        latest = store.latest_run(suite="benchmarks")
        return pin_baseline(store, settings, latest) if latest else None
    runs = _rolling_runs(store, settings, before=None)
    if not runs:
        return None
    baseline = build_baseline(runs, policy="rolling", created_at=now_iso())
    write_baseline(settings.baseline_path, baseline)
    return baseline


def pin_baseline(store: HistoryStore, settings: Settings, run: SuiteRun) -> Baseline:
    """Make ``run`` the pinned baseline (with the runs before it for the spread).

    Refuses a failed or empty run: a baseline must never be made of partial results.
    """
    if run.status is not RunStatus.SUCCESS or not run.benchmarks:
        raise InvalidInputError(
            f"run {run.run_id} ({run.status}, {len(run.benchmarks)} benchmarks) "
            "cannot become the baseline: only complete successful runs can")
    earlier: tuple[SuiteRun, ...] = ()
    if settings.baseline_runs > 1 and store.has_run(run.run_id):
        earlier = tuple(r for r in store.recent_runs(
            suite=run.suite, n=settings.baseline_runs - 1, before_run_id=run.run_id)
            if r.sha is None or r.sha != run.sha)
    baseline = build_baseline((*earlier, run), policy="pinned", created_at=now_iso())
    write_baseline(settings.baseline_path, baseline)
    return baseline
