"""Whether a commit has the suite to measure, or predates it.

A commit from before the benchmarks were written is no broken commit: measuring it again
finds nothing again, so it is recorded as ``RunStatus.NO_SUITE`` and not retried. A
commit whose suite is gone although an ancestor of it had one (measured successfully) is
another matter: the commit removed or moved the suite, and a gate that passed it with
nothing measured would hide that. So "no suite" holds only for a commit none of whose
measured ancestors had the suite.

Not retried also means not set up again: a run that asks to measure a commit already
recorded as having no suite (a Dagster run of its partition, a second backfill racing
the first) learns that from the history (``known_without_suite``) instead of a
worktree, an environment and a pytest session.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from perf_pipeline.config import Settings
from perf_pipeline.config_env import SETTING_ENV_VARS
from perf_pipeline.errors import MeasurementError
from perf_pipeline.measure.git import paths_at, run_git
from perf_pipeline.model import RunInfo, RunStatus

if TYPE_CHECKING:
    from perf_pipeline.store import HistoryStore

logger = logging.getLogger(__name__)

__all__ = ["known_without_suite", "measured_ancestor", "newest_no_suite_runs",
           "no_project_dir", "no_suite_paths", "paths_written_later", "suite_exists_at",
           "suite_paths_at", "suite_removed"]


def no_suite_paths(project_dir: Path, paths: Sequence[str], sha: str,
                   suite: str) -> str | None:
    """Why ``sha`` has no ``suite`` to run when none of its paths exists there (a commit
    from before the suite was written), or it has no paths at all (``stress_paths = []``:
    a target without a stress suite, whose nightly stress run failed on an empty pytest
    command), else None. One path that exists is a suite: pytest then says what is wrong
    with the others."""
    files = [p.split("::", 1)[0] for p in paths]
    if not files:
        setting = "stress_paths" if suite == "stress" else "benchmark_paths"
        return f"the {suite} suite has no paths: the `{setting}` setting is empty"
    if any(f.startswith("-") or (project_dir / f).exists() for f in files):
        return None
    return (f"the {suite} suite does not exist at commit {sha}: none of its paths {files} "
            "is there (the `benchmark_paths`/`stress_paths` setting, relative to "
            "`project_subdir`)")


def measured_ancestor(repo: Path, sha: str, measured: Collection[str]) -> str | None:
    """A proper ancestor of ``sha`` among the ``measured`` commits (those with a
    successful run of the suite), or None: one ``git rev-list``."""
    wanted = set(measured) - {sha}
    if not wanted:
        return None
    proc = run_git(repo, ["rev-list", sha, "--"])
    return next((s for s in proc.stdout.split() if s in wanted), None)


def suite_exists_at(repo: Path, sha: str, project_subdir: str, paths: Sequence[str]) -> bool:
    """Whether any of the suite's ``paths`` (relative to ``project_subdir``) exists at
    ``sha``, read from git without a checkout (one ``git ls-tree``): a PR that adds the
    suite has none at its base, and an A/B against that base has nothing to measure.

    Paths that exist hold no suite either when no Python file of the commit names the
    ``benchmark`` fixture (one ``git grep``): a ``tests`` folder of plain unit tests, to
    which the PR adds the first benchmarks. Any mention counts as a suite (conservative:
    the A/B then decides, as before)."""
    files = [p.split("::", 1)[0] for p in paths]
    if not files or any(f.startswith("-") for f in files):
        return True
    wanted = [str(PurePosixPath(project_subdir) / f) for f in files]
    if not paths_at(repo, sha, wanted):
        return False
    grep = run_git(repo, ["grep", "-q", "-w", "-I", "-e", "benchmark", sha, "--", "*.py"],
                   check=False)
    return grep.returncode != 1  # 1: no match; an error (other codes) assumes a suite


def paths_written_later(repo: Path, project_dir: Path, project_subdir: str,
                        paths: Sequence[str]) -> tuple[str, ...]:
    """Those of ``paths`` missing from this commit's ``project_dir`` that exist at the
    repository's ``HEAD``: files added to ``benchmark_paths`` after this commit was
    written. pytest refuses a missing path (exit code 4), so one file added to the list
    failed every older commit, and every backfill measured them all again. A path missing
    at ``HEAD`` too (a typo, or a file a later commit removed) is kept: pytest then says
    what is wrong."""
    missing = [p for p in paths if not p.startswith("-")
               and not (project_dir / p.split("::", 1)[0]).exists()]
    if not missing:
        return ()
    files = {p: str(PurePosixPath(project_subdir) / p.split("::", 1)[0]) for p in missing}
    try:
        at_head = paths_at(repo, "HEAD", sorted(set(files.values())))
    except MeasurementError:  # no HEAD to read: nothing to go by
        return ()
    return tuple(p for p in missing if files[p] in at_head)


def no_project_dir(settings: Settings, sha: str) -> str:
    """Why ``sha`` cannot be measured when its checkout lacks the project directory. The
    built-in default is the example target's folder, so a new user's first config (only
    ``repo_path``) met this with nothing saying which setting names the folder."""
    return (f"commit {sha} has no project directory {settings.project_subdir!r} (the "
            f"`project_subdir` setting, {SETTING_ENV_VARS['project_subdir']}: the folder of "
            f"the repository that holds the benchmarks' pytest project, '.' for its root)")


def suite_removed(repo: Path, sha: str, suite: str, store: HistoryStore) -> str | None:
    """Why a commit without the suite is a failure after all: an ancestor of it had the
    suite (``suite_presence``), so this commit removed or moved it."""
    measured = {r.commit.sha for r in store.list_runs(suite=suite, status=RunStatus.SUCCESS)
                if r.commit is not None}
    earlier = measured_ancestor(repo, sha, measured)
    if earlier is None:
        return None
    return (f"the {suite} suite is gone at commit {sha}, although its ancestor {earlier} "
            "had one (measured successfully): a commit that removes or moves the suite "
            "is a failed run, not one from before the suite existed")


def suite_paths_at(settings: Settings, project_dir: Path, sha: str, suite: str,
                   paths: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """(the suite's ``paths`` to run at ``sha``, why it has no suite there or None): the
    one choice every whole-suite run makes (``run``, profiles), checked before the
    environment is set up. Paths written later are left out, with a warning."""
    absent = no_suite_paths(project_dir, paths, sha, suite)
    if absent is not None:
        return (), absent
    later = paths_written_later(settings.repo_path, project_dir, settings.project_subdir,
                                paths)
    if later:
        logger.warning("%s suite at commit %s: %s not there yet (added to the repository "
                       "later); measured without", suite, sha[:12], ", ".join(later))
    return tuple(p for p in paths if p not in later), None


def newest_no_suite_runs(store: HistoryStore, *, suite: str, machine_id: str,
                         sha: str | None = None) -> dict[str, RunInfo]:
    """The commits (only ``sha``, when given) whose newest run of ``suite`` on
    ``machine_id`` found no suite there, with that run. A commit measured since (after
    the settings' paths were fixed) is not one."""
    newest: dict[str, RunInfo] = {}
    for run in store.list_runs(suite=suite, sha=sha, machine_id=machine_id):  # oldest first
        if run.commit is not None:
            newest[run.commit.sha] = run
    return {s: run for s, run in newest.items() if run.status is RunStatus.NO_SUITE}


def known_without_suite(repo: Path, sha: str, suite: str, store: HistoryStore, *,
                        machine_id: str) -> RunInfo | None:
    """The run that found no ``suite`` at ``sha`` on this machine, when measuring it again
    would only find that again; else None (measure it).

    Read from the history, plus one ``git rev-list``: a commit recorded without the suite
    before any ancestor of it was measured with one (the tip measured first) is measured
    again once one was, since it then removed the suite: a failure (``suite_removed``)."""
    known = newest_no_suite_runs(store, suite=suite, machine_id=machine_id, sha=sha).get(sha)
    if known is None or suite_removed(repo, sha, suite, store) is not None:
        return None
    return known
