"""``perf-pipeline profile BASE CANDIDATE``: why is it slower? Profiles and their diff.

A regression verdict says *that* a benchmark got slower; this step says *where*. It
profiles the selected benchmarks at both commits in processes of their own (never the
timed ones, ``measure.measure_profiles``), diffs each benchmark's profiles function by
function (``analysis.diff_profiles``), draws the memory-over-time plot of each, and
writes a report. ``profile_commit`` is the same step for the regressions of a commit
that the gate's confirmation confirmed (``confirmation/<sha>.json``), against the
confirmation's base commit; it keeps the result in ``profile/<sha>.json``, where the
commit's report picks it up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from perf_pipeline.analysis import SUITE_SHIFT_NAME, diff_profiles
from perf_pipeline.atomic_file import write_atomic
from perf_pipeline.errors import InvalidInputError, PerfPipelineError, StoreError
from perf_pipeline.measure import ProfileRun, measure_profiles
from perf_pipeline.measure.profiling import benchmark_slug
from perf_pipeline.model import ProfileComparison, ProfileDiff, ReportData
from perf_pipeline.pipeline.baseline import now_iso
from perf_pipeline.pipeline.confirm import read_commit_confirmation
from perf_pipeline.pipeline.regression import read_commit_analysis
from perf_pipeline.pipeline.report_location import with_report_location
from perf_pipeline.report import ReportFiles, write_report
from perf_pipeline.report.profile import render_memory_png
from perf_pipeline.store import read_profile_comparison, write_profile_comparison
from perf_pipeline.workspace import Workspace

__all__ = ["ProfileOutcome", "profile_commit", "read_commit_profile", "run_profile"]

logger = logging.getLogger(__name__)

#: Report file names of a profile run (in ``reports/profile/<id>/``).
PROFILE_MARKDOWN = "profile-report.md"


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    """What a profile step did: the comparison and its report, or why nothing ran."""

    comparison: ProfileComparison | None
    files: ReportFiles | None = None
    skipped: str | None = None  # why nothing was profiled (a no-op is not an error)
    #: Selected benchmarks profiled on one side only, so with no diff: no base-side
    #: profile (at the candidate only: a new benchmark), no candidate-side profile.
    candidate_only: tuple[str, ...] = ()
    base_only: tuple[str, ...] = ()
    #: ``profile_commit`` only: why profiling the confirmed regressions failed. The
    #: profile is a diagnosis, so its failure must not keep the report from being written.
    error: str | None = None


def read_commit_profile(ws: Workspace, sha: str) -> ProfileComparison | None:
    return read_profile_comparison(ws.layout.commit_profile_path(sha))


def _diff_one(run: ProfileRun, name: str, fold: bool) -> ProfileDiff:
    base = [side[name] for side in run.base_profiles]
    cand = [side[name] for side in run.candidate_profiles]
    base_memory = [p.memory for p in base if p.memory is not None]
    cand_memory = [p.memory for p in cand if p.memory is not None]
    measured = len(base_memory) == len(base) and len(cand_memory) == len(cand)
    diff = diff_profiles([p.time for p in base], [p.time for p in cand],
                         base_memory=base_memory if measured else (),
                         candidate_memory=cand_memory if measured else (), fold=fold)
    # Absolute: a relative results dir (the default ``test-results``) gave paths relative
    # to the working directory, which the report then linked as if relative to itself.
    artifacts = [("base .prof", str(Path(base[0].prof_path).absolute())),
                 ("candidate .prof", str(Path(cand[0].prof_path).absolute()))]
    if measured:  # a one-shot benchmark has no memory passes (``profile_only_call``)
        png = run.raw_dir / f"{benchmark_slug(name)}.memory.png"
        try:
            write_atomic(png, render_memory_png(
                name, [(m.series_t_s, m.series_rss_bytes) for m in base_memory],
                [(m.series_t_s, m.series_rss_bytes) for m in cand_memory]))
        except OSError as exc:
            raise StoreError(f"memory plot {png}: cannot write: {exc}") from exc
        artifacts.append(("memory plot", str(png.absolute())))
    return replace(diff, artifacts=tuple(artifacts))


def _memory_notes(run: ProfileRun, names: Sequence[str]) -> tuple[str, ...]:
    """Why a benchmark's memory was not profiled, once per benchmark."""
    notes = []
    for name in names:
        reason = next((p[name].memory_not_measured
                       for p in (*run.base_profiles, *run.candidate_profiles)
                       if name in p and p[name].memory_not_measured), None)
        if reason:
            notes.append(f"{name}: one call profiled, memory not profiled ({reason})")
    return tuple(notes)


def _one_sided_lines(run: ProfileRun) -> list[str]:
    """Why a selected benchmark has no diff: it was profiled on one side only."""
    lines = []
    if run.candidate_only:
        lines.append(f"No base-side profile (not at the base commit {run.base.sha[:10]}; "
                     "profiled at the candidate only, e.g. a new benchmark): "
                     + ", ".join(run.candidate_only))
    if run.base_only:
        lines.append(f"No candidate-side profile (not at the candidate commit "
                     f"{run.candidate.sha[:10]}; profiled at the base only, e.g. a removed "
                     "benchmark): " + ", ".join(run.base_only))
    return lines


def _notes(run: ProfileRun, missing: Sequence[str]) -> tuple[str, ...]:
    notes = [f"Profiles of {run.candidate.sha[:10]} against {run.base.sha[:10]}: "
             f"{len(run.base_profiles)} untimed pytest process(es) per side, each benchmark's "
             "calls profiled with cProfile, traced with tracemalloc and sampled for RSS in "
             f"three separate passes. Raw files: {run.raw_dir}",
             f"Open a profile with `snakeviz {run.raw_dir}/base-1/<benchmark>.prof` or "
             "`python -m pstats`."]
    notes.extend(_one_sided_lines(run))
    one_sided = {*run.candidate_only, *run.base_only}
    partial = [name for name in missing if name not in one_sided]
    if partial:
        notes.append("Not profiled in every process of both sides: " + ", ".join(partial))
    return tuple(notes)


def run_profile(
    ws: Workspace,
    base_ref: str,
    candidate_ref: str,
    *,
    node_ids: Sequence[str] = (),
    keyword: str | None = None,
    repeats: int = 3,
    fold: bool = True,
    min_s: float = 0.3,
    report_path: Path | None = None,
    on_process: Callable[[int, int], None] | None = None,
) -> ProfileOutcome:
    """Profile the selected benchmarks at both commits; diff; write the report."""
    run = measure_profiles(ws.settings, base_ref, candidate_ref, node_ids=node_ids,
                           keyword=keyword, repeats=repeats, min_s=min_s,
                           on_process=on_process)
    names = run.benchmarks
    every = {n for side in (*run.base_profiles, *run.candidate_profiles) for n in side}
    if not names:
        why = "; ".join(_one_sided_lines(run))
        raise InvalidInputError("no benchmark was profiled at both commits"
                                + (f": {why}" if why else "")
                                + f" (raw files in {run.raw_dir})")
    diffs = sorted((_diff_one(run, name, fold) for name in names),
                   key=lambda d: d.base_total_s.median - d.candidate_total_s.median)
    comparison = ProfileComparison(
        profile_id=run.profile_id, base_sha=run.base.sha, candidate_sha=run.candidate.sha,
        created_at=now_iso(), diffs=tuple(diffs), raw_dir=str(run.raw_dir),
        notes=(*_notes(run, sorted(every - set(names))), *_memory_notes(run, names)))
    out_dir = ws.layout.profile_report_dir(run.raw_dir)
    data = ReportData(title=f"Profile: {run.candidate.sha[:7]} against {run.base.sha[:7]}",
                      generated_at=comparison.created_at, notes=comparison.notes,
                      profiles=comparison)
    files = write_report(with_report_location(ws, data, out_dir), out_dir,
                         markdown_path=report_path or out_dir / PROFILE_MARKDOWN,
                         plots=False)
    return ProfileOutcome(comparison=comparison, files=files,
                          candidate_only=run.candidate_only, base_only=run.base_only)


def _clear_commit_profile(ws: Workspace, sha: str) -> None:
    """Remove a profile of an earlier run, so the report never shows a stale one."""
    path = ws.layout.commit_profile_path(sha)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot remove: {exc}") from exc


def profile_commit(ws: Workspace, sha: str, *, repeats: int = 3) -> ProfileOutcome:
    """Profile the confirmed regressions of ``sha`` against the confirmation's base commit.

    Reads the commit's confirmation (``regression_confirmation``), which must be of the
    latest regression analysis. A cheap no-op (``skipped`` says why; an earlier profile
    of the commit is removed) when the confirmation confirmed no regression of a single
    benchmark, there is no base commit to compare with, or profiling is off (setting
    ``profile``). The base is the commit the
    A/B measured against (a PR: the merge base); with ``confirm = "off"`` the baseline's
    newest commit. Keeps the result as ``profile/<sha>.json``.
    """
    if ws.settings.profile == "off":  # before anything is read: a gate with profiling
        # off needs no confirmation file of this commit to skip its profile
        _clear_commit_profile(ws, sha)
        return ProfileOutcome(comparison=None, skipped='profiling is off (profile = "off")')
    analysis = read_commit_analysis(ws, sha)
    confirmation = read_commit_confirmation(
        ws, sha, run_id=analysis.run_id if analysis is not None else None)
    if confirmation is None:
        raise InvalidInputError(f"commit {sha}: no confirmation of its latest regression "
                                "analysis; materialize regression_confirmation first")
    confirmed = sorted({r.name for r in confirmation.regressions} - {SUITE_SHIFT_NAME})
    skipped = None
    if not confirmed:
        skipped = ("a suite-wide shift only: no single benchmark to profile"
                   if confirmation.regressions else
                   "no confirmed regression: nothing to profile")
    baseline_commits = analysis.baseline_commits if analysis is not None else ()
    base = confirmation.base_sha or next(
        (c for c in reversed(baseline_commits) if c != sha), None)
    if skipped is None and (base is None or base == sha):
        skipped = "no base commit other than this one to profile against"
    if skipped is not None:
        _clear_commit_profile(ws, sha)
        return ProfileOutcome(comparison=None, skipped=skipped)
    assert base is not None
    _clear_commit_profile(ws, sha)
    try:
        outcome = run_profile(ws, base, sha, node_ids=confirmed, repeats=repeats)
    except PerfPipelineError as exc:
        logger.warning("profiling the confirmed regressions of %s failed: %s", sha, exc)
        return ProfileOutcome(comparison=None, error=f"profiling failed: {exc}")
    if outcome.comparison is not None:
        write_profile_comparison(ws.layout.commit_profile_path(sha), outcome.comparison)
    return outcome
