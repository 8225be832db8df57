"""Choosing and writing baselines: which runs a commit is judged against.

Rolling (the default): the last ``settings.baseline_runs`` commits with successful runs
on the main branch before the run being judged (each commit's runs pooled into one), so
a commit is never compared with itself or with its future, and the run-to-run spread
comes from history. Only runs of the judged run's machine count: timings of two machines
are different measurements, not noise (and are never pooled); nor, under one machine id
kept across a CPU swap, runs of other hardware (``pipeline/hardware_mix.py``).

Pinned: one named run, set with ``perf-pipeline analyze --update-baseline``; a pinned
baseline file wins over the rolling policy until it is replaced or deleted (that is what
pinning means). A pinned baseline records its machine, and a run of another machine is
not judged against it (``pipeline/regression.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from perf_pipeline.analysis import build_baseline
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import local_machine_id
from perf_pipeline.model import Baseline, Environment, RunStatus, SuiteRun
from perf_pipeline.pipeline.hardware_mix import left_out_note, other_hardware, split_by_hardware
from perf_pipeline.store import HistoryStore, read_baseline, write_baseline
from perf_pipeline.workspace import Workspace

__all__ = [
    "baseline_for_run",
    "check_baseline_run",
    "machines_apart",
    "now_iso",
    "pin_baseline",
    "pinned_baseline",
    "screen_baseline",
    "seed_baseline",
    "update_baseline",
]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def pinned_baseline(ws: Workspace) -> Baseline | None:
    """The baseline file if someone pinned it; a rolling file is only a snapshot."""
    baseline = read_baseline(ws.layout.baseline_path)
    return baseline if baseline is not None and baseline.policy == "pinned" else None


def _rolling_runs(ws: Workspace, *, before: SuiteRun | None,
                  machine_id: str | None = None) -> tuple[SuiteRun, ...]:
    """Main-branch runs; a history with no main-branch run at all (plain files, a main
    branch configured under another name) uses the runs of every branch.

    Once the main branch has a run, another branch's never stands in for it: the first
    main commit measured after an unmerged branch's commits was judged against them
    (three times slower there: every benchmark an "improvement"), and confirmed against
    one of them. Only runs of ``before``'s machine (else of ``machine_id``; a run with no
    machine id is an old record: any machine).
    """
    store: HistoryStore = ws.store
    settings = ws.settings
    before_id = before.run_id if before is not None and store.has_run(before.run_id) else None
    sha = before.sha if before else None
    machine = before.machine_id if before is not None else machine_id
    main_has_runs = bool(store.list_runs(suite="benchmarks", branch=settings.main_branch,
                                         limit=1, machine_id=machine))
    return store.recent_commit_runs(  # each commit's runs pooled into one
        suite="benchmarks", branch=settings.main_branch if main_has_runs else None,
        n=settings.baseline_runs, before_run_id=before_id, exclude_sha=sha, machine_id=machine)


def baseline_for_run(ws: Workspace, run: SuiteRun) -> Baseline | None:
    """The baseline ``run`` is judged against, or ``None`` when there is none yet.

    A rolling window that holds runs of other hardware under the run's machine id keeps
    only the runs of the run's hardware, and its ``notes`` say how many were left out;
    with none left, the window stands and is not judged against
    (``pipeline/hardware_mix.py``).
    """
    pinned = pinned_baseline(ws)
    if pinned is not None or ws.settings.baseline_policy == "pinned":
        return pinned
    runs = _rolling_runs(ws, before=run)
    return _rolling_baseline(runs, run.environment, run.machine_id) if runs else None


def _rolling_baseline(runs: tuple[SuiteRun, ...], environment: Environment | None,
                      machine_id: str | None) -> Baseline:
    """The rolling baseline of the window ``runs`` (of ``machine_id``) for a run measured
    in ``environment``: the runs on its hardware when the window also holds others
    (``pipeline/hardware_mix.py``)."""
    kept, apart = split_by_hardware(runs, environment)
    if not (kept and apart) or environment is None:
        return build_baseline(runs, policy="rolling", created_at=now_iso())
    baseline = build_baseline(kept, policy="rolling", created_at=now_iso())
    return replace(baseline, notes=(left_out_note(machine_id, environment, kept, apart),))


def screen_baseline(ws: Workspace, machine_id: str, *,
                    environment: Environment | None = None) -> Baseline | None:
    """The baseline a new run of ``machine_id`` measured in ``environment`` would be
    judged against (as ``baseline_for_run`` and ``pipeline/regression.py`` decide: runs
    of other hardware left out, and a window all of other hardware judges nothing), or
    ``None``: a pinned baseline of another machine, or of other hardware, judges nothing."""
    pinned = pinned_baseline(ws)
    if pinned is not None or ws.settings.baseline_policy == "pinned":
        if pinned is not None and pinned.machine_id and pinned.machine_id != machine_id:
            return None
        if pinned is not None and other_hardware(pinned.environment, environment):
            return None
        return pinned
    runs = _rolling_runs(ws, before=None, machine_id=machine_id)
    if not split_by_hardware(runs, environment)[0]:
        return None  # nothing here, or only runs of other hardware
    return _rolling_baseline(runs, environment, machine_id)


def machines_apart(ws: Workspace, run: SuiteRun, baseline: Baseline | None
                   ) -> tuple[str, ...]:
    """The other machines with benchmark runs in the history, when ``run`` has no
    baseline (else none): its machine's history is empty, not the history. A new
    ``machine_id``, or new hardware under the default hardware id (a new CPU), starts a
    history of its own, and "nothing earlier to compare with" beside hundreds of runs of
    the machine's old id left the user guessing where they went."""
    if baseline is not None or run.machine_id is None:
        return ()
    return tuple(m for m in ws.store.machines(suite="benchmarks") if m != run.machine_id)


def judging_machine(ws: Workspace) -> str | None:
    """The machine whose history a step that names no run reads (the newest run, the
    baseline file, a culprit search): this machine when it has benchmark runs here,
    else the one that measured last; None for a history that records no machines.
    Runs of two machines are never compared, so taking the newest run of *any* machine
    judged, pinned or bisected another machine's numbers."""
    local = local_machine_id(ws.settings)
    if local in ws.store.machines(suite="benchmarks"):
        return local
    newest = ws.store.latest_run(suite="benchmarks", status=None)
    return newest.machine_id if newest is not None else None


def update_baseline(ws: Workspace) -> Baseline | None:
    """Bring the baseline file up to date; ``None`` if there is no successful run yet.

    A pinned file is left alone (only ``pin_baseline`` moves it). Under the pinned policy
    with no file yet, the newest run is pinned. Otherwise the file is the rolling
    baseline of the newest runs, rewritten only when its source runs changed.
    """
    pinned = pinned_baseline(ws)
    if pinned is not None:
        return pinned
    machine = judging_machine(ws)
    latest = ws.store.latest_run(suite="benchmarks", machine_id=machine)
    if latest is None:  # no successful run of that machine: nothing to build (never a mix)
        return None
    if latest.sha is not None:
        latest = ws.store.commit_run(latest.sha, suite="benchmarks",
                                     machine_id=latest.machine_id) or latest
    if ws.settings.baseline_policy == "pinned":
        return pin_baseline(ws, latest)
    runs = _rolling_runs(ws, before=None, machine_id=latest.machine_id)
    if not runs:
        return None
    baseline = _rolling_baseline(runs, latest.environment, latest.machine_id)
    current = read_baseline(ws.layout.baseline_path)
    if current is None or current.source_run_ids != baseline.source_run_ids:
        write_baseline(ws.layout.baseline_path, baseline)
    return baseline


def check_baseline_run(run: SuiteRun) -> None:
    """``InvalidInputError`` unless ``run`` may become a baseline: callers that write
    something else first (a report) check before, so a refusal leaves nothing half done."""
    if run.status is not RunStatus.SUCCESS or not run.benchmarks:
        raise InvalidInputError(
            f"run {run.run_id} ({run.status}, {len(run.benchmarks)} benchmarks) "
            "cannot become the baseline: only complete successful runs can")


def pin_baseline(ws: Workspace, run: SuiteRun) -> Baseline:
    """Make ``run`` the pinned baseline (the previous file is kept in its history folder).

    Refuses a failed or empty run: a baseline must never be made of partial results.
    """
    check_baseline_run(run)
    baseline = build_baseline((run,), policy="pinned", created_at=now_iso())
    write_baseline(ws.layout.baseline_path, baseline)
    return baseline


def seed_baseline(ws: Workspace, run: SuiteRun) -> Baseline:
    """The first baseline, from the only run there is, under the configured policy."""
    if ws.settings.baseline_policy == "pinned":
        return pin_baseline(ws, run)
    baseline = build_baseline((run,), policy="rolling", created_at=now_iso())
    write_baseline(ws.layout.baseline_path, baseline)
    return baseline
