"""The environment variables of the settings: which one sets which setting, and which
of them hold our secrets.

Kept apart from ``config.py`` (which owns the settings and their rules) because the names
are a contract of their own: the README lists them (a test keeps the two equal), the
measuring lock reads its variable without the settings, and the runner removes the
secret ones from the measured suite's environment.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DAGSTER_PG_PASSWORD_ENV", "HISTORY_URL_ENV", "MEASURING_LOCK_ENV", "SECRET_ENV_VARS",
           "SETTING_ENV_VARS", "WEBHOOK_TOKEN_ENV", "WEBHOOK_URL_ENV"]

#: The environment variable of the history store's URL (it may hold a password).
HISTORY_URL_ENV = "PERF_PIPELINE_HISTORY_URL"
#: The environment variable of the webhook's URL (Slack and Discord keep its secret in
#: the path).
WEBHOOK_URL_ENV = "PERF_PIPELINE_WEBHOOK_URL"
#: The environment variable of the webhook's bearer token (never a setting).
WEBHOOK_TOKEN_ENV = "PERF_PIPELINE_WEBHOOK_TOKEN"
#: The environment variable of the measuring lock file (``Settings.measuring_lock_path``).
MEASURING_LOCK_ENV = "PERF_PIPELINE_MEASURING_LOCK"
#: The password of a fleet's Dagster instance database (``fleet/dagster.yaml``): every
#: benchmark machine's code server has it in its environment (docs/deployment.md), and
#: its run workers, which start the measured suites, inherit that environment.
DAGSTER_PG_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"
#: Variables holding our secrets: the measured suite (a PR's code) never sees them.
SECRET_ENV_VARS = (HISTORY_URL_ENV, WEBHOOK_URL_ENV, WEBHOOK_TOKEN_ENV,
                   DAGSTER_PG_PASSWORD_ENV)

#: The variable of each setting that has one (``load_settings`` reads them).
SETTING_ENV_VARS: Mapping[str, str] = {
    "repo_path": "PERF_PIPELINE_REPO",
    "project_subdir": "PERF_PIPELINE_PROJECT_DIR",
    "results_dir": "PERF_PIPELINE_RESULTS_DIR",
    "main_branch": "PERF_PIPELINE_MAIN_BRANCH",
    "runner": "PERF_PIPELINE_RUNNER",
    "suite_timeout_s": "PERF_PIPELINE_SUITE_TIMEOUT",
    "processes": "PERF_PIPELINE_PROCESSES",
    "threshold": "PERFORMANCE_THRESHOLD",
    "alpha": "SIGNIFICANCE_LEVEL",
    "stress_multiplier": "STRESS_MULTIPLIER",
    "stress_per_commit": "PERF_PIPELINE_STRESS_PER_COMMIT",
    "stress_confirm_pairs": "PERF_PIPELINE_STRESS_CONFIRM_PAIRS",
    "baseline_policy": "PERF_PIPELINE_BASELINE_POLICY",
    "baseline_runs": "PERF_PIPELINE_BASELINE_RUNS",
    "watch_branches": "PERF_PIPELINE_WATCH_BRANCHES",
    "max_runs_per_tick": "PERF_PIPELINE_MAX_RUNS_PER_TICK",
    "nightly_cron": "PERF_PIPELINE_NIGHTLY_CRON",
    "nightly_timezone": "PERF_PIPELINE_NIGHTLY_TIMEZONE",
    "confirm": "PERF_PIPELINE_CONFIRM",
    "confirm_max_rounds": "PERF_PIPELINE_CONFIRM_MAX_ROUNDS",
    "ab_processes": "PERF_PIPELINE_AB_PROCESSES",
    "ab_prior": "PERF_PIPELINE_AB_PRIOR",
    "profile": "PERF_PIPELINE_PROFILE",
    "confirm_budget_s": "PERF_PIPELINE_CONFIRM_BUDGET",
    "confirm_min_history": "PERF_PIPELINE_CONFIRM_MIN_HISTORY",
    "confirm_base": "PERF_PIPELINE_CONFIRM_BASE",
    "uv_args": "PERF_PIPELINE_UV_ARGS",
    "machine_id": "PERF_PIPELINE_MACHINE_ID",
    "measuring_lock": MEASURING_LOCK_ENV,
    "webhook_url": WEBHOOK_URL_ENV,
    "report_url": "PERF_PIPELINE_REPORT_URL",
    "history_url": HISTORY_URL_ENV,
    "history_query_timeout_s": "PERF_PIPELINE_HISTORY_QUERY_TIMEOUT",
}
