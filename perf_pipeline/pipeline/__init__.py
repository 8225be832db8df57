"""The pipeline's steps, each one function over a ``Workspace`` (settings, results
layout and the history store: ``perf_pipeline.workspace``).

Both the CLI and the Dagster assets call these, so a step means the same thing wherever
it runs. This layer sits above measure/, analysis/, report/ and store/ and below cli/
and defs/.

Imports are lazy (PEP 562): ``from perf_pipeline.pipeline import ingest_results`` loads
only that step's module, so a quick command does not pay for scipy and the report stack
(a no-op ``perf-pipeline ingest`` spent most of its 2.2 s importing steps it never ran).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perf_pipeline.lazy_names import lazy_names

if TYPE_CHECKING:  # for type checkers and editors; at run time names load on first use
    from perf_pipeline.pipeline.ab import ABOutcome, run_ab, run_adaptive_ab
    from perf_pipeline.pipeline.analyze import AnalyzeOutcome, analyze_results_dir
    from perf_pipeline.pipeline.baseline import (
        baseline_for_run,
        now_iso,
        pin_baseline,
        pinned_baseline,
        screen_baseline,
        seed_baseline,
        update_baseline,
    )
    from perf_pipeline.pipeline.calibration import (
        CalibrationOutcome,
        calibrate,
        detectability_of,
        newest_corpus,
    )
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
    from perf_pipeline.pipeline.no_suite import commit_without_suite
    from perf_pipeline.pipeline.profile import (
        ProfileOutcome,
        profile_commit,
        read_commit_profile,
        run_profile,
    )
    from perf_pipeline.pipeline.pull_request import PullRequestPlan, plan_pull_request
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

#: Each public name and the step module that defines it.
_WHERE: dict[str, str] = {
    "ABOutcome": "ab",
    "AnalyzeOutcome": "analyze",
    "CalibrationOutcome": "calibration",
    "ProfileOutcome": "profile",
    "RoundFeed": "confirm",
    "RoundSource": "confirm",
    "analyze_commit": "regression",
    "analyze_results_dir": "analyze",
    "analyze_run": "regression",
    "baseline_for_run": "baseline",
    "build_report_data": "reporting",
    "calibrate": "calibration",
    "detectability_of": "calibration",
    "newest_corpus": "calibration",
    "commit_run": "regression",
    "commit_without_suite": "no_suite",
    "confirm_commit": "confirm",
    "confirm_regressions": "confirm",
    "confirm_run": "confirm",
    "ingest_results": "ingest",
    "now_iso": "baseline",
    "pin_baseline": "baseline",
    "pinned_baseline": "baseline",
    "post_report_comment": "comment",
    "profile_commit": "profile",
    "read_commit_analysis": "regression",
    "read_commit_confirmation": "confirm",
    "read_commit_profile": "profile",
    "resolve_pr_number": "comment",
    "run_ab": "ab",
    "run_adaptive_ab": "ab",
    "run_profile": "profile",
    "screen_alpha": "regression",
    "screen_baseline": "baseline",
    "PullRequestPlan": "pull_request",
    "plan_pull_request": "pull_request",
    "seed_baseline": "baseline",
    "update_baseline": "baseline",
    "write_commit_report": "reporting",
    "write_history_report": "reporting",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())


__all__ = [
    "ABOutcome",
    "AnalyzeOutcome",
    "CalibrationOutcome",
    "ProfileOutcome",
    "PullRequestPlan",
    "RoundFeed",
    "RoundSource",
    "analyze_commit",
    "analyze_results_dir",
    "analyze_run",
    "baseline_for_run",
    "build_report_data",
    "calibrate",
    "commit_run",
    "commit_without_suite",
    "confirm_commit",
    "confirm_regressions",
    "confirm_run",
    "detectability_of",
    "ingest_results",
    "newest_corpus",
    "now_iso",
    "pin_baseline",
    "pinned_baseline",
    "plan_pull_request",
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
    "screen_baseline",
    "seed_baseline",
    "update_baseline",
    "write_commit_report",
    "write_history_report",
]
