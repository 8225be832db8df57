"""measure: the only layer that runs git or subprocesses.

Resolve a ref, check it out in a worktree, run the suite with our pytest plugin, keep
the raw outputs, and parse pytest-benchmark JSON (ours or anyone's) into ``SuiteRun``.

The names below are loaded on first use (PEP 562): every measured pytest process
imports this package, for its plugin (``measure.plugin``, standard library only), and
importing every module here took it 0.2-0.4 s more per process (git, the store,
calibration, numpy): start-up before any benchmark ran, and memory it did not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_pipeline.lazy_names import lazy_names

# A function named as its module is imported now: importing the module later (as
# ``perf_pipeline.measure.measuring_lock``) would leave the module under its name here.
from perf_pipeline.measure.measuring_lock import holder_of, measuring_lock

if TYPE_CHECKING:
    from perf_pipeline.measure.ancestry import backfill_ancestry_ordinals
    from perf_pipeline.measure.calibrate import (
        CalibrationRun,
        corpus_from_raw_pairs,
        measure_calibration,
    )
    from perf_pipeline.measure.collect import (
        IngestSummary,
        check_results_dir,
        find_result_paths,
        ingest_results_dir,
        store_unstored_runs,
    )
    from perf_pipeline.measure.demo_repo import HistoryStep, build_history
    from perf_pipeline.measure.fingerprint import (
        KEY_PACKAGES,
        collect_environment,
        environment_fingerprint,
        find_lock_file,
    )
    from perf_pipeline.measure.git import (
        commit_info,
        current_branch,
        is_ancestor,
        is_full_sha,
        new_commits,
        resolve_commit,
    )
    from perf_pipeline.measure.profile import ProfileRun, measure_profiles
    from perf_pipeline.measure.raw import new_run_id, write_raw_run
    from perf_pipeline.measure.results import load_results
    from perf_pipeline.measure.runner import SuiteOutcome, build_command, run_suite
    from perf_pipeline.measure.session import SUITES, local_machine_id, measure_commit
    from perf_pipeline.measure.suite_presence import known_without_suite, newest_no_suite_runs
    from perf_pipeline.measure.worktree import git_worktree, prune_worktrees

#: Which module of this package each public name comes from.
_MODULE_OF = {
    "backfill_ancestry_ordinals": "ancestry",
    "CalibrationRun": "calibrate",
    "corpus_from_raw_pairs": "calibrate",
    "measure_calibration": "calibrate",
    "IngestSummary": "collect",
    "check_results_dir": "collect",
    "find_result_paths": "collect",
    "ingest_results_dir": "collect",
    "store_unstored_runs": "collect",
    "HistoryStep": "demo_repo",
    "build_history": "demo_repo",
    "KEY_PACKAGES": "fingerprint",
    "collect_environment": "fingerprint",
    "environment_fingerprint": "fingerprint",
    "find_lock_file": "fingerprint",
    "commit_info": "git",
    "current_branch": "git",
    "is_ancestor": "git",
    "is_full_sha": "git",
    "new_commits": "git",
    "resolve_commit": "git",
    "ProfileRun": "profile",
    "measure_profiles": "profile",
    "new_run_id": "raw",
    "write_raw_run": "raw",
    "load_results": "results",
    "SuiteOutcome": "runner",
    "build_command": "runner",
    "run_suite": "runner",
    "SUITES": "session",
    "local_machine_id": "session",
    "measure_commit": "session",
    "known_without_suite": "suite_presence",
    "newest_no_suite_runs": "suite_presence",
    "git_worktree": "worktree",
    "prune_worktrees": "worktree",
}

__all__ = [
    "KEY_PACKAGES",
    "SUITES",
    "CalibrationRun",
    "HistoryStep",
    "IngestSummary",
    "ProfileRun",
    "SuiteOutcome",
    "backfill_ancestry_ordinals",
    "build_command",
    "build_history",
    "check_results_dir",
    "collect_environment",
    "commit_info",
    "corpus_from_raw_pairs",
    "current_branch",
    "environment_fingerprint",
    "find_lock_file",
    "find_result_paths",
    "git_worktree",
    "holder_of",
    "ingest_results_dir",
    "is_ancestor",
    "is_full_sha",
    "known_without_suite",
    "load_results",
    "local_machine_id",
    "measure_calibration",
    "measure_commit",
    "measure_profiles",
    "measuring_lock",
    "new_commits",
    "new_run_id",
    "newest_no_suite_runs",
    "prune_worktrees",
    "resolve_commit",
    "run_suite",
    "store_unstored_runs",
    "write_raw_run",
]


__getattr__, __dir__ = lazy_names(__name__, _MODULE_OF, globals())
