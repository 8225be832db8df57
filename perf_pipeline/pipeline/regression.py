"""Judge one run against its baseline and keep the verdict: the regression step."""

from __future__ import annotations

from collections.abc import Sequence

from perf_pipeline.analysis import SCREEN_ALPHA, compare_to_baseline, screen_run
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure import local_machine_id, store_unstored_runs
from perf_pipeline.model import TIME_METRIC, Baseline, CommitAnalysis, Environment, SuiteRun
from perf_pipeline.pipeline.baseline import baseline_for_run, machines_apart, now_iso
from perf_pipeline.pipeline.hardware_mix import hardware_change, other_hardware
from perf_pipeline.store import read_analysis, write_analysis
from perf_pipeline.workspace import Workspace

__all__ = ["analyze_commit", "analyze_run", "commit_run", "pooled_commit_run",
           "read_commit_analysis", "screen_alpha"]


def screen_alpha(settings: Settings) -> float:
    """The level of the stored-baseline comparison of a commit: loose when an A/B
    confirmation follows (``confirm = "auto"``), the gate's own level otherwise."""
    return SCREEN_ALPHA if settings.confirm == "auto" else settings.alpha


def analyze_run(run: SuiteRun, baseline: Baseline | None, settings: Settings, *,
                screen: bool = False, other_machines: Sequence[str] = ()) -> CommitAnalysis:
    """Compare ``run`` with ``baseline`` (``None``: say there is none, decide nothing).

    ``screen=False``: the one-stage gate, at ``settings.alpha`` with Holm across the run.
    ``screen=True``: the first stage of the two-stage gate, exactly ``analysis.screen_run``
    (its level, no correction, shift-relative changes kept): the function the replayed
    studies judge with, so the product flags what the README's figures describe.
    ``other_machines``: the history's machines other than the run's, when it has no
    baseline (``baseline.machines_apart``), named in the note.
    """
    alpha = SCREEN_ALPHA if screen else settings.alpha
    if baseline is None:
        note = "No baseline yet: nothing earlier to compare with. This run can seed it."
        if other_machines:
            note = (f"No baseline yet: nothing earlier measured on machine {run.machine_id}. "
                    f"The history's other runs are of machine(s) {', '.join(other_machines)}, "
                    "never compared with this one's: a new machine_id, or new hardware under "
                    "the default hardware id (CPU model or count, OS, architecture), starts "
                    "a history of its own. This run can seed it.")
        return CommitAnalysis(
            run_id=run.run_id, sha=run.sha, created_at=now_iso(), threshold=settings.threshold,
            alpha=alpha, notes=(note, *_untimed_notes(run, None)), not_judged="no_baseline")
    if baseline.machine_id and run.machine_id and baseline.machine_id != run.machine_id:
        # Timings of two machines differ by the machines; no verdict can come of it.
        return CommitAnalysis(
            run_id=run.run_id, sha=run.sha, created_at=now_iso(),
            threshold=settings.threshold, alpha=alpha, baseline_policy=baseline.policy,
            baseline_run_ids=baseline.source_run_ids,
            baseline_commits=baseline.source_commits,
            notes=(f"Not judged: the {baseline.policy} baseline was measured on machine "
                   f"{baseline.machine_id}, this run on machine {run.machine_id}. Runs of "
                   "different machines are never compared; measure a baseline on this "
                   "machine (or pin one of its runs).",), not_judged="other_machine")
    hardware = _other_hardware(baseline, run)
    if hardware is not None:  # a baseline all of other hardware (hardware_mix.py)
        return CommitAnalysis(
            run_id=run.run_id, sha=run.sha, created_at=now_iso(),
            threshold=settings.threshold, alpha=alpha, baseline_policy=baseline.policy,
            baseline_run_ids=baseline.source_run_ids,
            baseline_commits=baseline.source_commits,
            environment_differences=hardware[0].differences(hardware[1]),
            notes=(_other_hardware_note(baseline, run, *hardware),),
            not_judged="other_hardware")
    comparison = (screen_run(baseline, run, threshold=settings.threshold,
                             metrics=settings.gate_metrics) if screen
                  else compare_to_baseline(baseline, run, threshold=settings.threshold,
                                           alpha=alpha, correction="holm",
                                           metrics=settings.gate_metrics))
    notes: list[str] = list(baseline.notes)
    diffs: tuple[tuple[str, str, str], ...] = ()
    if baseline.environment and run.environment:
        diffs = baseline.environment.differences(run.environment)
        if diffs:
            notes.append("The baseline was measured in a different environment "
                         f"(fingerprint {baseline.environment.fingerprint} vs "
                         f"{run.environment.fingerprint}): differences may not be the code's.")
    if run.run_id in baseline.source_run_ids:
        notes.append("This run is itself part of the baseline it is compared with.")
    notes += _untimed_notes(run, baseline)
    return CommitAnalysis(
        run_id=run.run_id, sha=run.sha, created_at=now_iso(), threshold=settings.threshold,
        alpha=alpha, comparison=comparison, baseline_policy=baseline.policy,
        baseline_run_ids=baseline.source_run_ids, baseline_commits=baseline.source_commits,
        environment_differences=diffs, notes=tuple(notes))


def _untimed_notes(run: SuiteRun, baseline: Baseline | None) -> list[str]:
    """One note per benchmark whose time is left out of judging because rounds read
    0.0 s (``BenchmarkResult.zero_time_samples``): in this run, or in every baseline run
    (the baseline then has its other metrics but no time). Without the note such a
    benchmark just had no time verdict, as if it had not run."""
    notes = [f"Not judged on time: {b.name!r}: {b.zero_time_note()}."
             for b in run.benchmarks if b.zero_time_samples]
    timed = ({e.name for e in baseline.entries if e.metric == TIME_METRIC}
             if baseline is not None else set())
    if baseline is not None and timed:  # a baseline of times: theirs is missing
        others = {e.name for e in baseline.entries} - timed
        notes += [f"Not judged on time: {b.name!r}: no baseline run has a time for it "
                  "(their rounds read 0.0 s, below the timer's resolution)."
                  for b in run.benchmarks if b.name in others and not b.zero_time_samples]
    return notes


def _other_hardware_note(baseline: Baseline, run: SuiteRun, theirs: Environment,
                         mine: Environment) -> str:
    """Why ``run`` is not judged against ``baseline``, all of other hardware: a rolling
    window's first run on new hardware starts its hardware's baseline; a pinned baseline
    stays pinned (only a person moves it) and judges nothing on this hardware. Judged,
    a benchmark the new CPU runs slower than the rest (a smaller cache) was a confident
    "regression" of the code, with nothing said but a fingerprint warning."""
    change = hardware_change(theirs, mine)
    if baseline.policy == "pinned":
        return (f"Not judged: the pinned baseline (run {', '.join(baseline.source_run_ids)})"
                f" was measured on other hardware than this run of machine "
                f"{run.machine_id} ({change}). Runs of different hardware are never "
                "compared: pin a run of this hardware (`perf-pipeline analyze "
                "--update-baseline` pins the newest), or delete the pinned baseline file "
                "to go back to the rolling baseline.")
    return (f"Not judged: the {baseline.policy} baseline's {len(baseline.source_run_ids)} "
            f"run(s) of machine {run.machine_id} were all measured on other hardware "
            f"({change}). Runs of different hardware are never compared: this run starts "
            "the baseline of its own hardware, and the next run on it is judged against it.")


def _other_hardware(baseline: Baseline, run: SuiteRun
                    ) -> tuple[Environment, Environment] | None:
    """(the baseline's, the run's) environments when the baseline's newest run is known to
    be of other hardware than ``run``; else None."""
    theirs, mine = baseline.environment, run.environment
    if theirs is None or mine is None or not other_hardware(theirs, mine):
        return None
    return theirs, mine


def pooled_commit_run(ws: Workspace, sha: str) -> SuiteRun | None:
    """All the commit's successful benchmark runs of one machine pooled into one (its
    replicates, see ``store/pooling.py``); None if it has none.

    This machine's runs when it has any (a shared history holds runs of several
    machines), else those of the machine that measured the commit last; runs of two
    machines are never pooled, and the pooled run is judged against its own machine's.
    """
    store = ws.store
    return (store.commit_run(sha, suite="benchmarks",
                             machine_id=local_machine_id(ws.settings))
            or store.commit_run(sha, suite="benchmarks"))


def commit_run(ws: Workspace, sha: str) -> SuiteRun:
    """The commit's pooled successful runs (``pooled_commit_run``): what both stages of
    the gate judge. With none in the history, a run a killed measuring process wrote but
    never stored is stored first (``store_unstored_runs``): judging the commit again
    after its ``benchmark_results`` was killed must find the run it measured."""
    run = pooled_commit_run(ws, sha)
    if run is None and store_unstored_runs(ws.layout, ws.store):
        run = pooled_commit_run(ws, sha)
    if run is None:
        raise InvalidInputError(
            f"commit {sha}: no successful benchmark run in {ws.settings.history_label}; "
            "materialize benchmark_results for it first")
    return run


def analyze_commit(ws: Workspace, sha: str) -> CommitAnalysis:
    """Screen the commit's successful runs (pooled); write ``analysis/<sha>.json``.

    The level is ``screen_alpha(settings)``: with ``confirm = "auto"`` this is the first
    stage only, and ``regression_confirmation`` decides.
    """
    run = commit_run(ws, sha)
    baseline = baseline_for_run(ws, run)
    analysis = analyze_run(run, baseline, ws.settings,
                           other_machines=machines_apart(ws, run, baseline),
                           screen=ws.settings.confirm == "auto")
    write_analysis(ws.layout.analysis_path(sha), analysis)
    return analysis


def read_commit_analysis(ws: Workspace, sha: str) -> CommitAnalysis | None:
    return read_analysis(ws.layout.analysis_path(sha))
