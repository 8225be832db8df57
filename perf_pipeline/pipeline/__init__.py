"""The pipeline's steps, each one function over a ``Workspace`` (settings, results
layout and the history store: ``perf_pipeline.workspace``).

Both the CLI and the Dagster assets call these, so a step means the same thing wherever
it runs. This layer sits above measure/, analysis/, report/ and store/ and below cli/
and defs/.
"""

from perf_pipeline.pipeline.ab import ABOutcome, run_ab, run_adaptive_ab
from perf_pipeline.pipeline.analyze import AnalyzeOutcome, analyze_results_dir
from perf_pipeline.pipeline.baseline import (
    baseline_for_run,
    now_iso,
    pin_baseline,
    pinned_baseline,
    seed_baseline,
    update_baseline,
)
from perf_pipeline.pipeline.calibrate import CalibrationOutcome, calibrate
from perf_pipeline.pipeline.comment import post_report_comment, resolve_pr_number
from perf_pipeline.pipeline.confirm import (
    RoundFeed,
    RoundSource,
    confirm_commit,
    confirm_regressions,
    confirm_run,
    read_commit_confirmation,
)
from perf_pipeline.pipeline.ingest import ingest_results
from perf_pipeline.pipeline.profile import (
    ProfileOutcome,
    profile_commit,
    read_commit_profile,
    run_profile,
)
from perf_pipeline.pipeline.regression import (
    analyze_commit,
    analyze_run,
    commit_run,
    read_commit_analysis,
    screen_alpha,
)
from perf_pipeline.pipeline.reporting import (
    build_report_data,
    write_commit_report,
    write_history_report,
)

__all__ = [
    "ABOutcome",
    "AnalyzeOutcome",
    "CalibrationOutcome",
    "ProfileOutcome",
    "RoundFeed",
    "RoundSource",
    "analyze_commit",
    "analyze_results_dir",
    "analyze_run",
    "baseline_for_run",
    "build_report_data",
    "calibrate",
    "commit_run",
    "confirm_commit",
    "confirm_regressions",
    "confirm_run",
    "ingest_results",
    "now_iso",
    "pin_baseline",
    "pinned_baseline",
    "post_report_comment",
    "profile_commit",
    "read_commit_analysis",
    "read_commit_confirmation",
    "read_commit_profile",
    "resolve_pr_number",
    "run_ab",
    "run_adaptive_ab",
    "run_profile",
    "screen_alpha",
    "seed_baseline",
    "update_baseline",
    "write_commit_report",
    "write_history_report",
]
