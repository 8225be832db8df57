"""Settings: where the target lives, what to run, how strict to be.

Resolution order (later wins): built-in defaults (the example target in this repo),
or a caller's own (``load_settings(defaults=...)``, the demo's) →
``perf_pipeline.toml`` (or the file named by ``PERF_PIPELINE_CONFIG``) → environment
variables → explicit keyword overrides from the CLI or a Dagster resource.

Beside it, each with a job of its own: ``config_checks.py`` holds the rules a ``Settings``
must satisfy (and the values some may take), ``config_values.py`` reads a value of the file or
the environment, ``config_env.py`` names the environment variables, ``history_url.py``
tells and masks history store URLs, and ``measuring_lock_path.py`` finds the default
measuring lock file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from perf_pipeline.config_checks import (
    CONFIRM_MODES,
    MAX_STRESS_MULTIPLIER,
    RUNNERS,
    check_settings,
)
from perf_pipeline.config_env import (
    HISTORY_URL_ENV,
    MEASURING_LOCK_ENV,
    SECRET_ENV_VARS,
    SETTING_ENV_VARS,
    WEBHOOK_TOKEN_ENV,
    WEBHOOK_URL_ENV,
)
from perf_pipeline.config_values import coerce_value, read_config_file
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.history_url import is_postgres_url, mask_url
from perf_pipeline.layout import ResultsLayout
from perf_pipeline.measuring_lock_path import machine_measuring_lock

# The variables' names, the lock's default path and the URL helpers live in config_env,
# measuring_lock_path and history_url; they are named here too, as part of the settings' API.
__all__ = ["CONFIRM_MODES", "HISTORY_URL_ENV", "MAX_STRESS_MULTIPLIER", "MEASURING_LOCK_ENV",
           "PROJECT_ROOT", "RUNNERS",
           "SECRET_ENV_VARS", "WEBHOOK_TOKEN_ENV", "WEBHOOK_URL_ENV", "Settings", "is_postgres_url",
           "load_settings", "machine_measuring_lock", "mask_url"]

#: The perf_pipeline checkout itself; the default target repo is this repo.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


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
        check_settings(self)

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
