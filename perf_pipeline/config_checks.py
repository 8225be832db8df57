"""The rules a ``Settings`` must satisfy, and the values some settings may take.

Checked once, as ``Settings`` is built (its ``__post_init__``), so a bad value in a config
file, the environment or a CLI option is refused by every command before anything is
measured; and kept apart from ``config.py``, which says what the settings are and where
they are read from.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from perf_pipeline.cron import check_cron, check_timezone
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.history_url import is_postgres_url, mask_url
from perf_pipeline.http_url import check_http_url, check_report_url, shown_webhook_url
from perf_pipeline.model import METRICS

if TYPE_CHECKING:
    from perf_pipeline.config import Settings

__all__ = ["AB_PRIOR_MODES", "CONFIRM_MODES", "MAX_STRESS_MULTIPLIER", "MIN_ALPHA",
           "PROFILE_MODES", "RUNNERS", "check_settings"]

#: Smallest significance level. Far below any level in use (five sigma is 6e-7), and far
#: above the subnormal floats where a test's z-score is infinite: 1e-320 passed "(0, 1)"
#: and crashed the comparison after an A/B had measured.
MIN_ALPHA = 1e-10

#: Largest STRESS_MULTIPLIER: beyond it a sweep's first sizes alone run for hours. The
#: staged harness refuses the same (``measure.stress_session.MAX_MULTIPLIER``; a test
#: pins the two together, since that module may import nothing of ours).
MAX_STRESS_MULTIPLIER = 100.0

#: How the target's interpreter is found (``measure/environments.py``): this interpreter,
#: ``uv run`` in the target's uv project, a user's argv template, or a virtual environment
#: built per dependency set.
RUNNERS = ("current", "uv", "command", "venv")
#: A machine id names a folder and a filter: letters, digits, ``.``, ``_``, ``-``.
_MACHINE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

#: Values of the ``confirm`` setting: confirm every flag of the screen by an interleaved
#: A/B ("auto"), or judge by the stored-baseline comparison alone ("off").
CONFIRM_MODES = ("auto", "off")
#: Values of the ``ab_prior`` setting: moderate each A/B benchmark's t by this machine's
#: recorded spread when a ``calibrate`` profile of it exists ("auto"), or never ("off").
AB_PRIOR_MODES = ("auto", "off")
#: Values of the ``profile`` setting: profile each confirmed regression against the A/B's
#: base commit ("auto"), or never ("off": a gate that only has to pass or fail saves the
#: six untimed processes, three per side, the profile of a commit's regressions takes).
PROFILE_MODES = ("auto", "off")


def check_settings(settings: Settings) -> None:
    """Refuse ``settings`` with an ``InvalidInputError`` naming the first bad value."""
    if settings.runner not in RUNNERS:
        raise InvalidInputError(f"runner must be one of {RUNNERS}, not {settings.runner!r}")
    if settings.runner == "command" and not settings.runner_command:
        raise InvalidInputError(
            "runner 'command' needs runner_command, the interpreter's argv "
            "(e.g. [\"poetry\", \"run\", \"python\"])")
    if any(not command or not all(command) for command in settings.setup):
        raise InvalidInputError(f"setup commands must be non-empty argv lists: {settings.setup!r}")
    if not settings.setup_timeout_s > 0:
        raise InvalidInputError(f"setup_timeout_s must be > 0, not {settings.setup_timeout_s!r}")
    if not (math.isfinite(settings.history_query_timeout_s)
            and settings.history_query_timeout_s > 0):
        raise InvalidInputError(f"history_query_timeout_s must be a finite number > 0, "
                                f"not {settings.history_query_timeout_s!r}")
    if settings.machine_id is not None and (
            not settings.machine_id or set(settings.machine_id) - _MACHINE_ID_CHARS
            or settings.machine_id.startswith(".") or len(settings.machine_id) > 64):
        raise InvalidInputError(
            "machine_id must be 1-64 letters, digits, '.', '_' or '-' (not starting "
            f"with '.'), not {settings.machine_id!r}")
    if settings.history_url is not None and "://" in settings.history_url \
            and not is_postgres_url(settings.history_url):
        raise InvalidInputError(
            f"history_url must be a postgresql:// URL or a file path, not "
            f"{mask_url(settings.history_url)!r}")
    if settings.webhook_url:
        # Checked here, not first when an alert is sent: a malformed URL in a config
        # file is then refused by every command, before anything is measured.
        check_http_url(settings.webhook_url, "webhook_url", "https://hooks.example.com/perf",
                       shown=shown_webhook_url)
    if settings.report_url:
        check_report_url(settings.report_url)
    if not (math.isfinite(settings.threshold) and settings.threshold >= 1.0):
        # inf once passed here and was refused only after an A/B had measured.
        raise InvalidInputError(f"threshold must be a finite number >= 1.0, not "
                                f"{settings.threshold!r}")
    if not MIN_ALPHA <= settings.alpha < 1.0:
        raise InvalidInputError(f"alpha (significance) must be in [{MIN_ALPHA:g}, 1), not "
                                f"{settings.alpha!r}")
    if not 1 <= settings.processes <= 50:
        raise InvalidInputError(f"processes must be in 1..50, not {settings.processes!r}")
    if not settings.suite_timeout_s > 0:
        raise InvalidInputError(f"suite_timeout_s must be > 0, not {settings.suite_timeout_s!r}")
    if settings.baseline_policy not in ("rolling", "pinned"):
        raise InvalidInputError(
            f"baseline_policy must be 'rolling' or 'pinned', not {settings.baseline_policy!r}")
    unknown = sorted(set(settings.gate_metrics) - set(METRICS))
    if unknown or not settings.gate_metrics:
        raise InvalidInputError(
            f"gate_metrics must name metrics among {sorted(METRICS)}, not {unknown or '()'}")
    for setting in ("baseline_runs", "max_runs_per_tick", "keep_envs"):
        if getattr(settings, setting) < 1:
            raise InvalidInputError(
                f"{setting} must be >= 1, not {getattr(settings, setting)!r}")
    if not 0 < settings.stress_multiplier <= MAX_STRESS_MULTIPLIER:  # nan and inf fail
        raise InvalidInputError(
            f"stress_multiplier must be > 0 and at most {MAX_STRESS_MULTIPLIER:g}, not "
            f"{settings.stress_multiplier!r}")
    if settings.confirm not in CONFIRM_MODES:
        raise InvalidInputError(
            f"confirm must be one of {CONFIRM_MODES}, not {settings.confirm!r}")
    if settings.ab_prior not in AB_PRIOR_MODES:
        raise InvalidInputError(
            f"ab_prior must be one of {AB_PRIOR_MODES}, not {settings.ab_prior!r}")
    if settings.profile not in PROFILE_MODES:
        raise InvalidInputError(
            f"profile must be one of {PROFILE_MODES}, not {settings.profile!r}")
    # The sequential A/B looks first after 5 rounds (analysis.sequential).
    if not 5 <= settings.confirm_max_rounds <= 1000:
        raise InvalidInputError(
            f"confirm_max_rounds must be in 5..1000, not {settings.confirm_max_rounds!r}")
    if not 1 <= settings.stress_confirm_pairs <= 16:
        raise InvalidInputError(f"stress_confirm_pairs must be in 1..16, not "
                                f"{settings.stress_confirm_pairs!r}")
    if not 1 <= settings.ab_processes <= 20:
        raise InvalidInputError(f"ab_processes must be in 1..20, not {settings.ab_processes!r}")
    if not settings.confirm_budget_s > 0:
        raise InvalidInputError(
            f"confirm_budget_s must be > 0, not {settings.confirm_budget_s!r}")
    if settings.confirm_min_history < 0:
        raise InvalidInputError(
            f"confirm_min_history must be >= 0, not {settings.confirm_min_history!r}")
    if settings.confirm_base is not None and settings.confirm_base.startswith("-"):
        raise InvalidInputError(
            f"confirm_base must be a commit, not an option: {settings.confirm_base!r}")
    for setting, branches in (("main_branch", (settings.main_branch,)),
                              ("watch_branches", settings.watch_branches)):
        # "" or "-x" recorded main-branch runs on no branch, without a word.
        for branch in branches:
            if not branch or branch.startswith("-") or any(c.isspace() for c in branch):
                raise InvalidInputError(
                    f"{setting} must name branches (not empty, no spaces, not starting "
                    f"with '-'), not {branch!r}")
    check_cron("nightly_cron", settings.nightly_cron)
    check_timezone("nightly_timezone", settings.nightly_timezone)
    if Path(settings.project_subdir).is_absolute() or ".." in Path(settings.project_subdir).parts:
        raise InvalidInputError(
            f"project_subdir must be a relative path inside the repo: {settings.project_subdir!r}")
    for setting, paths in (("benchmark_paths", settings.benchmark_paths),
                           ("stress_paths", settings.stress_paths)):
        for path in paths:
            # pytest measured an absolute path (or one climbing out of the repo) from
            # outside the commit's worktree: every commit ran the same files.
            inside = os.path.normpath(os.path.join(settings.project_subdir,
                                                   path.split("::")[0]))
            if Path(path).is_absolute() or inside == ".." or inside.startswith(
                    ".." + os.sep):
                raise InvalidInputError(
                    f"{setting} must be paths inside the repo, relative to "
                    f"project_subdir ({settings.project_subdir!r}), not {path!r}")
