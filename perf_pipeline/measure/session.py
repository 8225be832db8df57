"""Measure one commit: ref → worktree → suite run → raw files → SuiteRun (→ store).

This is the one function the Dagster assets and the CLI call to measure. A suite that
crashes, fails or times out, or whose processes measure different benchmarks (a flaky
skip), is a FAILED ``SuiteRun`` carrying the error text, not an exception: whether
that stops anything is the caller's decision. An unknown ref is bad input and raises
``InvalidInputError``.

A commit that has no suite to run (no project folder, none of the suite's paths, no
test collected, or none that uses the ``benchmark`` fixture, or for the stress suite none
that is a stress test; see ``suite_failure.no_suite_reason``) is a ``NO_SUITE`` run: a
commit from before the suite existed is no broken commit, and measuring it again changes
nothing. A suite that exists
and breaks (a collection error, a skipped benchmark), or is gone at a commit whose
measured ancestor had it (``suite_presence``), stays a failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.atomic_file import check_writable_file
from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError, interruption_text
from perf_pipeline.measure.ancestry import backfill_ancestry_ordinals
from perf_pipeline.measure.collect import store_unstored_runs
from perf_pipeline.measure.environments import prepare_worktree
from perf_pipeline.measure.fingerprint import environment_fingerprint, find_lock_file
from perf_pipeline.measure.git import (
    branch_tip,
    commit_info,
    first_parent_ordinal,
    is_ancestor,
    resolve_commit,
    run_git,
)
from perf_pipeline.measure.measuring_lock import measuring_lock
from perf_pipeline.measure.output_tail import output_tail
from perf_pipeline.measure.pytest_root import config_isolation_args
from perf_pipeline.measure.raw import (
    RUN_FILE,
    new_run_id,
    sweep_interrupted_run_dirs,
    write_raw_run,
)
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.runner import SuiteOutcome, run_suite
from perf_pipeline.measure.stress_results import load_stress_figures
from perf_pipeline.measure.stress_session import STRESS_DIR_ENV
from perf_pipeline.measure.suite_presence import (
    no_project_dir,
    suite_paths_at,
    suite_removed,
)
from perf_pipeline.measure.tempdirs import measuring_temp_dir, sweep_stale_temp_dirs
from perf_pipeline.measure.worktree import git_worktree, prune_worktrees
from perf_pipeline.model import SuiteRun
from perf_pipeline.store.sources import source_stamp

if TYPE_CHECKING:  # the store is only called, never constructed, here
    from perf_pipeline.store import HistoryStore

__all__ = ["SUITES", "local_machine_id", "measure_commit", "no_project_dir", "run_prepared"]

logger = logging.getLogger(__name__)

#: The suites we know how to run.
SUITES = ("benchmarks", "stress")

#: Worktrees kept after a run (the most recently used ones), for cheap re-runs.
KEEP_WORKTREES = 5


@dataclass(frozen=True, slots=True)
class _SuitePlan:
    """How to run one suite: paths, ``-m`` expression, extra environment.

    ``benchmarks_required``: the benchmark suite exists to time code, so a run in which
    no test used the ``benchmark`` fixture is a mistake (wrong paths or markers). A stress
    suite checks that code holds up under load; its tests assert and record figures of
    their own, and a benchmark among them is optional. ``members``: which collected tests
    make up the suite, so a commit without any is told from a broken run (the stress
    suite's are its stress tests, not the benchmarks it may share a folder with).
    """

    paths: tuple[str, ...]
    markers: str | None
    env: Mapping[str, str]
    benchmarks_required: bool
    members: str


def _suite_plan(settings: Settings, suite: str) -> _SuitePlan:
    if suite == "benchmarks":
        return _SuitePlan(settings.benchmark_paths, None, {}, benchmarks_required=True,
                          members="benchmark")
    if suite == "stress":
        return _SuitePlan(settings.stress_paths, "stress",
                          {"STRESS_MULTIPLIER": f"{settings.stress_multiplier:g}"},
                          benchmarks_required=False, members="stress")
    raise InvalidInputError(f"suite must be one of {SUITES}, not {suite!r}")


def local_machine_id(settings: Settings) -> str:
    """The id of the machine this process measures on: the configured ``machine_id``, or
    the hash of this machine's hardware (``model.hardware_machine_id``), whatever runner
    measures (the target's interpreter runs on the same hardware)."""
    if settings.machine_id:
        return settings.machine_id
    return environment_fingerprint(packages=()).machine_id


def _branch_of(repo: Path, ref: str, sha: str) -> str | None:
    """``ref`` itself if it names a local branch whose tip is ``sha``, the commit ``ref``
    resolved to (so history knows where a run came from).

    A branch of that name is not enough: git resolves a tag before a branch of the same
    name (``main`` the tag, not ``main`` the branch), and the rolling baseline picks runs
    by branch, so a commit never merged would have entered the main branch's baseline.
    ``show-ref --verify`` takes the exact ref only (``main~1`` names no branch, although
    ``refs/heads/main~1`` would resolve); ``branch_tip`` reads ``refs/heads/<ref>`` only.
    """
    proc = run_git(repo, ["show-ref", "--verify", "--quiet", f"refs/heads/{ref}"], check=False)
    if proc.returncode != 0:
        return None
    try:
        return ref if branch_tip(repo, ref) == sha else None
    except InvalidInputError:  # deleted meanwhile
        return None


def _on_main_branch(repo: Path, sha: str, main_branch: str) -> bool:
    """Whether ``sha`` is reachable from the tip of the local branch ``main_branch``: the
    branch's ref itself, never a tag of the same name (as a plain ref would resolve)."""
    try:
        tip = branch_tip(repo, main_branch)
    except InvalidInputError:  # no such branch (yet)
        return False
    return is_ancestor(repo, sha, tip)


def _unlike_first_process(names: frozenset[str], first: frozenset[str]) -> str | None:
    """Why a process that measured ``names`` cannot join a run whose process 1 measured
    ``first``, or None if it measured the same benchmarks.

    A run pools each benchmark's samples over all its processes, and its loader
    (``merge_processes``) refuses a run whose processes disagree: a benchmark skipped or
    deselected in only some of them (a flaky ``pytest.skip``) would have made a run
    directory that can never be read. Such a suite is misbehaving, and recorded as a
    failed run that says so, never as a partial one.
    """
    if names == first:
        return None
    parts = []
    if first - names:
        parts.append(f"benchmarks measured in process 1 but not in this one: "
                     f"{sorted(first - names)}")
    if names - first:
        parts.append(f"benchmarks measured in this process but not in process 1: "
                     f"{sorted(names - first)}")
    return ("; ".join(parts) + " (skipped or deselected in only some processes, e.g. a "
            "flaky pytest.skip; a run pools every benchmark over all its processes)")


def run_in_worktree(settings: Settings, sha: str, suite: str, json_path: Path,
                    extra_args: Sequence[str], *,
                    paths: Sequence[str] | None = None,
                    env: Mapping[str, str] | None = None) -> SuiteOutcome:
    """One pytest process of ``suite`` at ``sha``; ``paths`` (e.g. node ids) override
    what the suite collects by default."""
    plan = _suite_plan(settings, suite)
    with git_worktree(settings.repo_path, sha, root=settings.worktrees_dir) as worktree:
        project_dir = worktree / settings.project_subdir
        if not project_dir.is_dir():
            return SuiteOutcome(
                returncode=None, timed_out=False, duration_s=0.0, stdout_tail="",
                stderr_tail="", json_path=None,
                error=no_project_dir(settings, sha), no_suite=True)
        chosen, absent = ((tuple(paths), None) if paths
                          else suite_paths_at(settings, project_dir, sha, suite, plan.paths))
        if absent is not None:  # before the environment is set up: that costs minutes
            return SuiteOutcome(
                returncode=None, timed_out=False, duration_s=0.0, stdout_tail="",
                stderr_tail="", json_path=None, error=absent, no_suite=True)
        return run_prepared(settings, worktree, sha, json_path=json_path,
                            paths=chosen,
                            extra_args=(*settings.pytest_args, *extra_args),
                            env={**plan.env, **(env or {})},
                            markers=plan.markers, benchmarks_required=plan.benchmarks_required,
                            members=plan.members)


def run_prepared(settings: Settings, worktree: Path, sha: str, *, json_path: Path,
                 paths: Sequence[str], extra_args: Sequence[str],
                 env: Mapping[str, str] | None = None, markers: str | None = None,
                 benchmarks_required: bool = True, members: str = "benchmark") -> SuiteOutcome:
    """Prepare the worktree for ``settings.runner`` (setup, environment) and run pytest
    in its project directory. Every measuring path goes through here, so each runner
    works for runs, A/B rounds, calibration and profiles alike. A failed preparation is
    a failed outcome whose output is the preparation log's tail. It holds the measuring
    lock throughout, the setup included (a build beside a measurement disturbs it too).
    """
    with measuring_lock(settings.measuring_lock_path):
        return _run_prepared(settings, worktree, sha, json_path=json_path, paths=paths,
                             extra_args=extra_args, env=env, markers=markers,
                             benchmarks_required=benchmarks_required, members=members)


def _run_prepared(settings: Settings, worktree: Path, sha: str, *, json_path: Path,
                  paths: Sequence[str], extra_args: Sequence[str],
                  env: Mapping[str, str] | None, markers: str | None,
                  benchmarks_required: bool, members: str) -> SuiteOutcome:
    prepared = prepare_worktree(settings, worktree, sha)
    if prepared.error is not None:
        log = prepared.log_path
        return SuiteOutcome(
            returncode=None, timed_out=False, duration_s=0.0,
            stdout_tail=output_tail(log) if log is not None and log.is_file() else "",
            stderr_tail="", json_path=None,
            error=f"preparing commit {sha} failed: {prepared.error} (log: {log})")
    project_dir = worktree / settings.project_subdir
    # A target without a pytest configuration of its own must not take one from the
    # folders above its worktree (measure/pytest_root.py).
    isolation = config_isolation_args(worktree, project_dir, paths)
    return run_suite(project_dir, paths=paths, json_path=json_path,
                     timeout_s=settings.suite_timeout_s, runner=settings.runner,
                     extra_args=(*isolation, *extra_args), env={**(env or {}), **prepared.env},
                     markers=markers, benchmarks_required=benchmarks_required,
                     members=members, uv_args=settings.uv_args,
                     interpreter=prepared.interpreter)


def error_text(outcome: SuiteOutcome) -> str | None:
    """The reason plus the output a person needs to see why (pytest reports on stdout)."""
    if outcome.error is None:
        return None
    parts = [outcome.error]
    if outcome.stderr_tail.strip():
        parts.append("--- stderr (tail) ---\n" + outcome.stderr_tail.strip()[-2000:])
    if outcome.stdout_tail.strip():
        parts.append("--- stdout (tail) ---\n" + outcome.stdout_tail.strip()[-2000:])
    return "\n".join(parts)


def measure_commit(
    settings: Settings,
    ref: str,
    *,
    suite: str = "benchmarks",
    store: HistoryStore | None = None,
    extra_args: Sequence[str] = (),
    branch: str | None = None,
) -> SuiteRun:
    """Run ``suite`` at the commit ``ref`` names; write raw outputs; ingest if ``store``.

    Returns the run as ``load_results`` reads it back from the raw directory, so the
    returned object and the stored files can never disagree. What an earlier, killed
    call left is cleaned up first: its temp folders and half-written run directories
    are removed and, with ``store``, a run it wrote but never stored is stored
    (``store_unstored_runs``).
    """
    _suite_plan(settings, suite)  # validate before any work
    repo = Path(settings.repo_path)
    sha = resolve_commit(repo, ref)
    branch = branch or _branch_of(repo, ref, sha)
    if branch is None and _on_main_branch(repo, sha, settings.main_branch):
        branch = settings.main_branch
    commit = replace(commit_info(repo, sha, branch=branch),
                     ancestry_ordinal=first_parent_ordinal(repo, sha))
    run_id = new_run_id()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Before measuring: a results dir we cannot write in ended the run in an OSError
    # (exit 3, "a bug") at the worktree lock, or after minutes of measuring at the raw
    # files.
    check_writable_file(settings.layout.run_dir(sha, run_id),
                        "raw run folder (under --results-dir)")
    check_writable_file(settings.worktrees_dir / ".locks" / f"{sha}.lock",
                        "worktree lock (under --results-dir)")
    sweep_stale_temp_dirs()
    sweep_interrupted_run_dirs(settings.layout.run_dir_candidates())
    if store is not None:
        store_unstored_runs(settings.layout, store)
    interrupted: BaseException | None = None
    # The run's processes measure one after another, none beside another measuring run.
    with measuring_lock(settings.measuring_lock_path), measuring_temp_dir("json") as tmp:
        # Several processes per run: process-level effects (hash seed, memory layout, a
        # busy spell) are the unit of replication, not the rounds inside one process.
        # A suite that ran no benchmark (a stress suite of plain tests) has no samples
        # to replicate: one process, and a run without benchmark files.
        json_paths: list[Path] = []
        first_names: frozenset[str] | None = None  # the benchmarks process 1 measured
        duration_s = 0.0
        error = None
        no_suite = False  # process 1 found no suite at this commit (not a failure)
        outcome: SuiteOutcome | None = None
        process = 0
        try:
            for process in range(1, settings.processes + 1):
                json_path = Path(tmp) / f"benchmark-{process}.json"
                # The stress harness writes one figures file per test here (process 1
                # only: a suite without benchmarks runs once).
                stress_env = {STRESS_DIR_ENV: str(Path(tmp) / "stress")} if (
                    suite == "stress" and process == 1) else None
                outcome = run_in_worktree(settings, sha, suite, json_path, extra_args,
                                          env=stress_env)
                duration_s += outcome.duration_s
                error = error_text(outcome)
                if error is None and outcome.json_path is None and json_paths:
                    error = "ran no benchmark, although process 1 did"
                elif error is None and outcome.json_path is not None:
                    try:
                        measured = load_results(outcome.json_path, suite=suite)  # validate
                    except InvalidInputError as exc:
                        error = f"suite at {sha} wrote invalid benchmark JSON: {exc}"
                    else:
                        names = frozenset(b.name for b in measured.benchmarks)
                        del measured  # its samples: a large run's would stay alive
                        first_names = first_names if first_names is not None else names
                        unlike = _unlike_first_process(names, first_names)
                        if unlike is not None:
                            error = error_text(replace(outcome, error=unlike))
                if error is not None and outcome.no_suite and process == 1:
                    error = outcome.error  # the reason; the output is in run.json
                    no_suite = True
                if error is not None:
                    if process > 1:
                        error = f"process {process} of {settings.processes}: {error}"
                    break
                if outcome.json_path is None:
                    break
                json_paths.append(outcome.json_path)
        except BaseException as exc:  # Ctrl-C, or SIGTERM/SIGHUP via the CLI
            # ...or a host's own form of them (Dagster raises its
            # DagsterExecutionInterruptedError, no KeyboardInterrupt, inside a step).
            if isinstance(exc, (Exception, SystemExit, GeneratorExit)):
                raise
            # The suite's group is already ended (runner.py); record why the run stopped,
            # so the history shows a failed run rather than nothing, then re-raise.
            interrupted = exc
            error = (interruption_text(exc) if isinstance(exc, KeyboardInterrupt)
                     else f"interrupted ({type(exc).__name__})")
            outcome = None
            no_suite = False
        if interrupted is None:
            # Worktrees are kept for reuse (A/B re-runs); keep the few most recent only.
            prune_worktrees(repo, settings.worktrees_dir, keep=KEEP_WORKTREES)
        removed = (suite_removed(repo, sha, suite, store)
                   if no_suite and store is not None else None)
        if removed is not None:
            no_suite = False
            error = f"{removed}: {error_text(outcome) if outcome is not None else error}"
        kept = () if error else tuple(json_paths)  # a failed run keeps no partial results
        environment = None
        if settings.runner == "current" and interrupted is None:
            environment = environment_fingerprint(
                lock_file=find_lock_file(repo / settings.project_subdir)).to_dict()
        record = {
            "run_id": run_id, "suite": suite,
            "status": "no_suite" if no_suite else "failed" if error else "success",
            "commit": {"sha": commit.sha, "branch": commit.branch, "message": commit.message,
                       "author": commit.author, "committed_at": commit.committed_at,
                       "dirty": False, "ancestry_ordinal": commit.ancestry_ordinal},
            "started_at": started_at, "duration_s": duration_s, "error": error,
            "processes": process,  # that ran; fewer than the setting after a failure
            "benchmark_files": len(kept),
            "returncode": outcome.returncode if outcome else None,
            "timed_out": outcome.timed_out if outcome else False,
            "command": list(outcome.command) if outcome else [],
            "stdout_tail": outcome.stdout_tail if outcome else "",
            "stderr_tail": outcome.stderr_tail if outcome else "", "environment": environment,
            "machine_id": local_machine_id(settings), "runner": settings.runner,
        }
        # A stress test's figures file is whole on its own (written atomically when the
        # test ends), and a stress test that fails its own assertion (a leak, errors
        # under load) is a finding whose figures say how bad: kept, even from a run
        # that failed. Samples of benchmarks are pooled over processes: never partial.
        stress_files = tuple(sorted((Path(tmp) / "stress").glob("*.stress.json"))) if (
            suite == "stress") else ()
        run_dir = write_raw_run(settings.raw_dir, record,
                                benchmark_json=kept[0] if kept else None,
                                more_benchmark_json=kept[1:], stress_files=stress_files)
    if no_suite:
        logger.info("run %s of %s at %s: %s", run_id, suite, sha, error)
    elif error:
        logger.warning("run %s of %s at %s failed: %s", run_id, suite, sha,
                       error.splitlines()[0])
    run = load_results(run_dir)
    if store is not None:  # with its source, so a later ingest need not parse it
        store.ingest_run(run, source=source_stamp(run_dir / RUN_FILE))
        if stress_files:
            store.record_stress(run.run_id, load_stress_figures(run_dir))
        backfill_ancestry_ordinals(repo, store)  # runs stored without one
    if interrupted is not None:
        raise interrupted
    return run
