"""Settings: where the target lives, what to run, how strict to be.

Resolution order (later wins): built-in defaults (the example target in this repo),
or a caller's own (``load_settings(defaults=...)``, the demo's) →
``perf_pipeline.toml`` (or the file named by ``PERF_PIPELINE_CONFIG``) → environment
variables → explicit keyword overrides from the CLI or a Dagster resource.

Beside it, each with a job of its own: ``config_values.py`` reads a value of the file or
the environment, ``config_env.py`` names the environment variables, ``history_url.py``
tells and masks history store URLs, and ``measuring_lock_path.py`` finds the default
measuring lock file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from perf_pipeline.config_env import (
    HISTORY_URL_ENV,
    MEASURING_LOCK_ENV,
    SECRET_ENV_VARS,
    SETTING_ENV_VARS,
    WEBHOOK_TOKEN_ENV,
    WEBHOOK_URL_ENV,
)
from perf_pipeline.config_values import coerce_value, read_config_file
from perf_pipeline.cron import check_cron, check_timezone
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.history_url import is_postgres_url, mask_url
from perf_pipeline.http_url import check_http_url, check_report_url, shown_webhook_url
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.measuring_lock_path import machine_measuring_lock
from perf_pipeline.model import METRICS

#: Smallest significance level. Far below any level in use (five sigma is 6e-7), and far
#: above the subnormal floats where a test's z-score is infinite: 1e-320 passed "(0, 1)"
#: and crashed the comparison after an A/B had measured.
MIN_ALPHA = 1e-10

#: Largest STRESS_MULTIPLIER: beyond it a sweep's first sizes alone run for hours. The
#: staged harness refuses the same (``measure.stress_session.MAX_MULTIPLIER``; a test
#: pins the two together, since that module may import nothing of ours).
MAX_STRESS_MULTIPLIER = 100.0

# The variables' names, the lock's default path and the URL helpers live in config_env,
# measuring_lock_path and history_url; they are named here too, as part of the settings' API.
__all__ = ["CONFIRM_MODES", "HISTORY_URL_ENV", "MEASURING_LOCK_ENV", "PROJECT_ROOT", "RUNNERS",
           "SECRET_ENV_VARS", "WEBHOOK_TOKEN_ENV", "WEBHOOK_URL_ENV", "Settings", "is_postgres_url",
           "load_settings", "machine_measuring_lock", "mask_url"]

#: The perf_pipeline checkout itself; the default target repo is this repo.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

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


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, validated once.

    ``repo_path`` is the git repository to measure; ``project_subdir`` the folder inside
    it where pytest runs (the example target lives in ``examples/ml_pipeline`` of this
    repo). ``runner`` is one of ``RUNNERS``: ``"current"`` (this interpreter), ``"uv"``
    (the target's own uv project at the measured commit, with ``uv_args``), ``"command"``
    (``runner_command``, an argv template of the interpreter) or ``"venv"`` (a virtual
    environment per dependency set). ``setup`` commands run once per worktree before
    measuring (``measure/environments.py`` documents the placeholders).
    """

    repo_path: Path = PROJECT_ROOT
    project_subdir: str = "examples/ml_pipeline"
    benchmark_paths: tuple[str, ...] = ("tests/ml/integration/test_performance.py",)
    stress_paths: tuple[str, ...] = ("tests/ml/integration/test_stress.py",)
    results_dir: Path = Path("test-results")
    main_branch: str = "main"
    runner: str = "current"
    suite_timeout_s: float = 900.0
    #: pytest processes per run; their samples are pooled (see measure/session.py).
    processes: int = 3
    threshold: float = 1.2
    alpha: float = 0.01
    stress_multiplier: float = 1.0
    #: Also run the stress suite (and its analysis) in every commit's run, not only
    #: nightly: costs the stress suite's time per commit.
    stress_per_commit: bool = False
    baseline_policy: str = "rolling"
    baseline_runs: int = 10
    pytest_args: tuple[str, ...] = ()
    baseline_file: Path | None = None  # default: <results_dir>/baseline/performance_baseline.json
    #: Metrics the regression gate judges (each with its own default threshold; the
    #: ``threshold`` setting applies to time).
    gate_metrics: tuple[str, ...] = ("time_s", "tracemalloc_peak_bytes", "peak_rss_bytes")
    # Automation (defs/automation.py): branches the commit sensor watches (empty: the
    # main branch), runs it requests per tick at most, and the nightly cron (UTC).
    watch_branches: tuple[str, ...] = ()
    max_runs_per_tick: int = 5
    nightly_cron: str = "0 2 * * *"
    nightly_timezone: str = "UTC"
    # Two-stage gate (pipeline/confirm.py): with "auto" the stored-baseline comparison is
    # a sensitive screen and every flag is confirmed by a sequential interleaved A/B of
    # the baseline's commit against the candidate, at most ``confirm_max_rounds`` rounds
    # and ``confirm_budget_s`` seconds. ``confirm_base``: the reference commit of that A/B
    # (a PR's merge base); unset, the newest source commit of the baseline. A branch
    # with fewer than ``confirm_min_history`` runs gives a PR no baseline worth
    # screening with: CI then goes straight to ``perf-pipeline ab --adaptive``.
    confirm: str = "auto"
    confirm_max_rounds: int = 100  # analysis.CONFIRM_MAX_ROUNDS (a test keeps them equal)
    #: pytest processes per side of each A/B round (``perf-pipeline ab`` and the
    #: confirmation); a side's value is the fastest sample of them all.
    ab_processes: int = 2  # analysis.AB_PROCESSES (a test keeps them equal)
    #: "auto": the A/B's t borrows this machine's recorded spread per round (its newest
    #: ``calibrate`` profile, pipeline/ab_prior.py); "off": the rounds' own spread only.
    ab_prior: str = "auto"
    #: "auto": ``regression_profile`` profiles what the confirmation confirmed; "off": never.
    profile: str = "auto"
    #: About 70 rounds of two processes per side for five of the example's benchmarks.
    confirm_budget_s: float = 1800.0
    confirm_min_history: int = 3
    confirm_base: str | None = None
    #: With confirm "auto", a flagged stress figure is measured again in up to this many
    #: fresh interleaved pairs of runs (analysis/stress_confirm.py); 2**-pairs must reach
    #: ``alpha`` over the flagged figures, or they stay inconclusive.
    stress_confirm_pairs: int = 10  # analysis.STRESS_CONFIRM_PAIRS (a test keeps them equal)
    # Runners for real projects (measure/environments.py). ``uv_args`` go to ``uv run``
    # (runner "uv") or ``uv pip install`` (runner "venv"): groups, extras, a Python.
    uv_args: tuple[str, ...] = ()
    #: Runner "command": the interpreter's argv, e.g. ("poetry", "run", "python").
    runner_command: tuple[str, ...] = ()
    #: Commands run once per worktree before measuring (e.g. build an extension).
    setup: tuple[tuple[str, ...], ...] = ()
    setup_timeout_s: float = 900.0
    #: Runner "venv": the interpreter the environments are made from (default: this one),
    #: and how many environments (one per dependency set) are kept, the ones used last.
    venv_python: str | None = None
    keep_envs: int = 5
    #: Which machine a run was measured on; unset, a hash of the hardware (see
    #: ``model.hardware_machine_id``). Runs of different machines are never compared.
    machine_id: str | None = None
    #: The file every measuring process takes turns on (``measure/measuring_lock.py``);
    #: unset, this user's lock on this machine (``measuring_lock_path``). One file on a
    #: mount several users or containers share makes them take turns as well.
    measuring_lock: Path | None = None
    #: Where new change points, drifts and culprits are POSTed as JSON (unset: nowhere).
    #: Its token comes only from the environment (PERF_PIPELINE_WEBHOOK_TOKEN). Kept
    #: out of ``repr``: Slack and Discord hook URLs carry their secret in the path.
    webhook_url: str | None = field(default=None, repr=False)
    #: The HTML report's http(s) address the Markdown links (``{path}`` in it: the report's
    #: path under the results dir); unset, ``pipeline/report_location.py`` says where it is.
    report_url: str | None = None
    #: The history store: unset, the SQLite file of the results layout; else a
    #: ``postgresql://user:password@host/db`` URL (a history several machines share)
    #: or another SQLite file. Kept out of ``repr``: it may hold a password
    #: (``history_label`` is the printable form).
    history_url: str | None = field(default=None, repr=False)
    #: Seconds a PostgreSQL history may take to answer one statement, fetch or commit
    #: before the command fails (a server that accepts connections but never answers,
    #: a stuck pgbouncer, hung it for ever). store.history.QUERY_TIMEOUT_S (a test keeps
    #: them equal).
    history_query_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.runner not in RUNNERS:
            raise InvalidInputError(f"runner must be one of {RUNNERS}, not {self.runner!r}")
        if self.runner == "command" and not self.runner_command:
            raise InvalidInputError(
                "runner 'command' needs runner_command, the interpreter's argv "
                "(e.g. [\"poetry\", \"run\", \"python\"])")
        if any(not command or not all(command) for command in self.setup):
            raise InvalidInputError(f"setup commands must be non-empty argv lists: {self.setup!r}")
        if not self.setup_timeout_s > 0:
            raise InvalidInputError(f"setup_timeout_s must be > 0, not {self.setup_timeout_s!r}")
        if not (math.isfinite(self.history_query_timeout_s)
                and self.history_query_timeout_s > 0):
            raise InvalidInputError(f"history_query_timeout_s must be a finite number > 0, "
                                    f"not {self.history_query_timeout_s!r}")
        if self.machine_id is not None and (
                not self.machine_id or set(self.machine_id) - _MACHINE_ID_CHARS
                or self.machine_id.startswith(".") or len(self.machine_id) > 64):
            raise InvalidInputError(
                "machine_id must be 1-64 letters, digits, '.', '_' or '-' (not starting "
                f"with '.'), not {self.machine_id!r}")
        if self.history_url is not None and "://" in self.history_url \
                and not is_postgres_url(self.history_url):
            raise InvalidInputError(
                f"history_url must be a postgresql:// URL or a file path, not "
                f"{mask_url(self.history_url)!r}")
        if self.webhook_url:
            # Checked here, not first when an alert is sent: a malformed URL in a config
            # file is then refused by every command, before anything is measured.
            check_http_url(self.webhook_url, "webhook_url", "https://hooks.example.com/perf",
                           shown=shown_webhook_url)
        if self.report_url:
            check_report_url(self.report_url)
        if not (math.isfinite(self.threshold) and self.threshold >= 1.0):
            # inf once passed here and was refused only after an A/B had measured.
            raise InvalidInputError(f"threshold must be a finite number >= 1.0, not "
                                    f"{self.threshold!r}")
        if not MIN_ALPHA <= self.alpha < 1.0:
            raise InvalidInputError(f"alpha (significance) must be in [{MIN_ALPHA:g}, 1), not "
                                    f"{self.alpha!r}")
        if not 1 <= self.processes <= 50:
            raise InvalidInputError(f"processes must be in 1..50, not {self.processes!r}")
        if not self.suite_timeout_s > 0:
            raise InvalidInputError(f"suite_timeout_s must be > 0, not {self.suite_timeout_s!r}")
        if self.baseline_policy not in ("rolling", "pinned"):
            raise InvalidInputError(
                f"baseline_policy must be 'rolling' or 'pinned', not {self.baseline_policy!r}")
        unknown = sorted(set(self.gate_metrics) - set(METRICS))
        if unknown or not self.gate_metrics:
            raise InvalidInputError(
                f"gate_metrics must name metrics among {sorted(METRICS)}, not {unknown or '()'}")
        for setting in ("baseline_runs", "max_runs_per_tick", "keep_envs"):
            if getattr(self, setting) < 1:
                raise InvalidInputError(
                    f"{setting} must be >= 1, not {getattr(self, setting)!r}")
        if not 0 < self.stress_multiplier <= MAX_STRESS_MULTIPLIER:  # nan and inf fail
            raise InvalidInputError(
                f"stress_multiplier must be > 0 and at most {MAX_STRESS_MULTIPLIER:g}, not "
                f"{self.stress_multiplier!r}")
        if self.confirm not in CONFIRM_MODES:
            raise InvalidInputError(
                f"confirm must be one of {CONFIRM_MODES}, not {self.confirm!r}")
        if self.ab_prior not in AB_PRIOR_MODES:
            raise InvalidInputError(
                f"ab_prior must be one of {AB_PRIOR_MODES}, not {self.ab_prior!r}")
        if self.profile not in PROFILE_MODES:
            raise InvalidInputError(
                f"profile must be one of {PROFILE_MODES}, not {self.profile!r}")
        # The sequential A/B looks first after 5 rounds (analysis.sequential).
        if not 5 <= self.confirm_max_rounds <= 1000:
            raise InvalidInputError(
                f"confirm_max_rounds must be in 5..1000, not {self.confirm_max_rounds!r}")
        if not 1 <= self.stress_confirm_pairs <= 16:
            raise InvalidInputError(f"stress_confirm_pairs must be in 1..16, not "
                                    f"{self.stress_confirm_pairs!r}")
        if not 1 <= self.ab_processes <= 20:
            raise InvalidInputError(f"ab_processes must be in 1..20, not {self.ab_processes!r}")
        if not self.confirm_budget_s > 0:
            raise InvalidInputError(
                f"confirm_budget_s must be > 0, not {self.confirm_budget_s!r}")
        if self.confirm_min_history < 0:
            raise InvalidInputError(
                f"confirm_min_history must be >= 0, not {self.confirm_min_history!r}")
        if self.confirm_base is not None and self.confirm_base.startswith("-"):
            raise InvalidInputError(
                f"confirm_base must be a commit, not an option: {self.confirm_base!r}")
        for setting, branches in (("main_branch", (self.main_branch,)),
                                  ("watch_branches", self.watch_branches)):
            # "" or "-x" recorded main-branch runs on no branch, without a word.
            for branch in branches:
                if not branch or branch.startswith("-") or any(c.isspace() for c in branch):
                    raise InvalidInputError(
                        f"{setting} must name branches (not empty, no spaces, not starting "
                        f"with '-'), not {branch!r}")
        check_cron("nightly_cron", self.nightly_cron)
        check_timezone("nightly_timezone", self.nightly_timezone)
        if Path(self.project_subdir).is_absolute() or ".." in Path(self.project_subdir).parts:
            raise InvalidInputError(
                f"project_subdir must be a relative path inside the repo: {self.project_subdir!r}")
        for setting, paths in (("benchmark_paths", self.benchmark_paths),
                               ("stress_paths", self.stress_paths)):
            for path in paths:
                # pytest measured an absolute path (or one climbing out of the repo) from
                # outside the commit's worktree: every commit ran the same files.
                inside = os.path.normpath(os.path.join(self.project_subdir,
                                                       path.split("::")[0]))
                if Path(path).is_absolute() or inside == ".." or inside.startswith(
                        ".." + os.sep):
                    raise InvalidInputError(
                        f"{setting} must be paths inside the repo, relative to "
                        f"project_subdir ({self.project_subdir!r}), not {path!r}")

    @property
    def project_dir(self) -> Path:
        return self.repo_path / self.project_subdir

    @property
    def layout(self) -> ResultsLayout:
        """Every path under ``results_dir`` (and the baseline's): see ``layout.py``."""
        return ResultsLayout(self.results_dir, self.baseline_file)

    # Shorthands for the layout's most used paths; the layout is the one that names them.
    @property
    def db_path(self) -> Path:
        return self.layout.db_path

    @property
    def history_target(self) -> str | Path:
        """What ``store.open_history`` opens: ``history_url``, else the layout's db file."""
        if self.history_url is None:
            return self.layout.db_path
        return self.history_url if is_postgres_url(self.history_url) else Path(
            self.history_url).expanduser()

    @property
    def history_label(self) -> str:
        """The history store fit to print: its file, or its URL without the password."""
        return mask_url(str(self.history_target))

    @property
    def raw_dir(self) -> Path:
        return self.layout.raw_dir

    @property
    def baseline_path(self) -> Path:
        return self.layout.baseline_path

    @property
    def reports_dir(self) -> Path:
        return self.layout.reports_dir

    @property
    def worktrees_dir(self) -> Path:
        return self.layout.worktrees_dir

    @property
    def measuring_lock_path(self) -> Path:
        """The measuring lock file: the setting, else ``machine_measuring_lock()``."""
        return self.measuring_lock or machine_measuring_lock()

    @property
    def envs_dir(self) -> Path:
        """Virtual environments of runner "venv", one per dependency set."""
        return self.layout.envs_dir

    @property
    def setup_logs_dir(self) -> Path:
        """Output of each commit's setup commands and environment builds."""
        return self.layout.setup_logs_dir

    @property
    def noise_dir(self) -> Path:
        """Noise corpora written by ``perf-pipeline calibrate``."""
        return self.layout.noise_dir


def _coerce(name: str, value: object) -> object:
    """``value`` as the kind of the ``Settings`` field ``name``."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    return coerce_value(name, str(kind), value)


def _read_config_file(path: Path) -> dict[str, object]:
    known = {f.name for f in fields(Settings)}
    return {k: _coerce(k, v) for k, v in read_config_file(path, known).items()}


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, object] | None = None,
    **overrides: object,
) -> Settings:
    """Build ``Settings`` from defaults, config file, environment and overrides.

    ``defaults`` replace the built-in defaults of a caller with needs of its own (the
    demo): the config file and the environment still win over them. ``None`` overrides
    are ignored so callers can pass optional CLI flags straight in.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    known = {f.name for f in fields(Settings)}
    for name, value in (defaults or {}).items():
        if name not in known:
            raise InvalidInputError(f"unknown setting {name!r}")
        values[name] = _coerce(name, value)
    path = config_file or (Path(env["PERF_PIPELINE_CONFIG"]) if env.get("PERF_PIPELINE_CONFIG")
                           else Path("perf_pipeline.toml"))
    if path.is_file():
        values.update(_read_config_file(path))
    elif config_file is not None or env.get("PERF_PIPELINE_CONFIG"):
        raise InvalidInputError(f"config file {path} " + (
            "is not a file" if path.exists() else "does not exist"))
    for name, var in SETTING_ENV_VARS.items():
        if env.get(var, "").strip():
            try:
                values[name] = _coerce(name, env[var].strip())
            except InvalidInputError as exc:  # name what the user set, not our field
                raise InvalidInputError(f"environment variable {var}: {exc}") from exc
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in known:
            raise InvalidInputError(f"unknown setting {name!r}")
        values[name] = _coerce(name, value)
    return replace(Settings(), **values)  # type: ignore[arg-type]
