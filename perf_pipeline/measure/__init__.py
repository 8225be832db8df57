"""measure: the only layer that runs git or subprocesses.

Resolve a ref, check it out in a worktree, run the suite with our pytest plugin, keep
the raw outputs, and parse pytest-benchmark JSON (ours or anyone's) into ``SuiteRun``.
"""

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
from perf_pipeline.measure.measuring_lock import holder_of, measuring_lock
from perf_pipeline.measure.profile import ProfileRun, measure_profiles
from perf_pipeline.measure.raw import new_run_id, write_raw_run
from perf_pipeline.measure.results import load_results
from perf_pipeline.measure.runner import SuiteOutcome, build_command, run_suite
from perf_pipeline.measure.session import SUITES, local_machine_id, measure_commit
from perf_pipeline.measure.suite_presence import known_without_suite, newest_no_suite_runs
from perf_pipeline.measure.worktree import git_worktree, prune_worktrees

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
