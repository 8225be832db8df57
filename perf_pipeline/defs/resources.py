"""The one resource: ``workspace``, Dagster config turned into a ``Workspace``.

Unset fields fall back to ``load_settings()`` (``perf_pipeline.toml`` and environment
variables), so ``dagster dev`` and ``dagster asset materialize`` work with no run config,
and the CLI's demo and backfill can point the same assets at another repo by passing
fields. Settings, results layout and history store come from this one resource, so no
asset opens a db of its own and nothing keeps two resources in step by hand.
"""

from __future__ import annotations

import os
from dataclasses import fields
from typing import Optional

import dagster as dg

from perf_pipeline.config import (
    HISTORY_URL_ENV,
    WEBHOOK_URL_ENV,
    Settings,
    is_postgres_url,
    load_settings,
)
from perf_pipeline.defs.run_owner import owned_in_process_executor
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.workspace import Workspace


class WorkspaceResource(dg.ConfigurableResource):
    """The repository being measured, how to run its suites, and where results go.

    ``open()`` gives the ``Workspace`` a step works in; its store opens on first use and
    closes when the step's ``with`` block ends.
    """

    # One field per ``Settings`` field (test_workspace checks it), so the resource can
    # carry any settings; unset (None) fields come from the config file / environment.
    repo_path: Optional[str] = None  # noqa: UP045 - Dagster config needs Optional
    project_subdir: Optional[str] = None  # noqa: UP045
    benchmark_paths: Optional[list[str]] = None  # noqa: UP045
    stress_paths: Optional[list[str]] = None  # noqa: UP045
    results_dir: Optional[str] = None  # noqa: UP045
    main_branch: Optional[str] = None  # noqa: UP045
    runner: Optional[str] = None  # noqa: UP045
    suite_timeout_s: Optional[float] = None  # noqa: UP045
    processes: Optional[int] = None  # noqa: UP045
    threshold: Optional[float] = None  # noqa: UP045
    alpha: Optional[float] = None  # noqa: UP045
    stress_multiplier: Optional[float] = None  # noqa: UP045
    baseline_policy: Optional[str] = None  # noqa: UP045
    baseline_runs: Optional[int] = None  # noqa: UP045
    pytest_args: Optional[list[str]] = None  # noqa: UP045
    baseline_file: Optional[str] = None  # noqa: UP045
    gate_metrics: Optional[list[str]] = None  # noqa: UP045
    watch_branches: Optional[list[str]] = None  # noqa: UP045
    max_runs_per_tick: Optional[int] = None  # noqa: UP045
    nightly_cron: Optional[str] = None  # noqa: UP045
    nightly_timezone: Optional[str] = None  # noqa: UP045
    confirm: Optional[str] = None  # noqa: UP045
    confirm_max_rounds: Optional[int] = None  # noqa: UP045
    confirm_budget_s: Optional[float] = None  # noqa: UP045
    confirm_min_history: Optional[int] = None  # noqa: UP045
    confirm_base: Optional[str] = None  # noqa: UP045
    ab_processes: Optional[int] = None  # noqa: UP045
    ab_prior: Optional[str] = None  # noqa: UP045
    profile: Optional[str] = None  # noqa: UP045
    stress_per_commit: Optional[bool] = None  # noqa: UP045
    stress_confirm_pairs: Optional[int] = None  # noqa: UP045
    uv_args: Optional[list[str]] = None  # noqa: UP045
    runner_command: Optional[list[str]] = None  # noqa: UP045
    setup: Optional[list[list[str]]] = None  # noqa: UP045
    setup_timeout_s: Optional[float] = None  # noqa: UP045
    venv_python: Optional[str] = None  # noqa: UP045
    keep_envs: Optional[int] = None  # noqa: UP045
    machine_id: Optional[str] = None  # noqa: UP045
    measuring_lock: Optional[str] = None  # noqa: UP045
    webhook_url: Optional[str] = None  # noqa: UP045
    report_url: Optional[str] = None  # noqa: UP045
    # A postgresql:// URL holds a password: give it as dg.EnvVar("...") or leave it unset
    # (PERF_PIPELINE_HISTORY_URL is read then), never as plain run config.
    history_url: Optional[str] = None  # noqa: UP045
    history_query_timeout_s: Optional[float] = None  # noqa: UP045
    config_file: Optional[str] = None  # noqa: UP045

    @classmethod
    def of(cls, settings: Settings) -> WorkspaceResource:
        """The resource whose Workspace has exactly ``settings`` (demo, backfill).

        A PostgreSQL history URL and a webhook URL go in as ``dg.EnvVar``, their values
        put in this process's environment (where the in-process runs resolve them): as
        plain values they were stored in every run's job snapshot, so anyone who could
        read the instance's run storage (a fleet's shared database) could read the
        password, or the secret a Slack or Discord hook URL carries in its path.
        """
        values = {f.name: _config_value(getattr(settings, f.name))
                  for f in fields(Settings) if f.name in cls.model_fields}
        if is_postgres_url(settings.history_url):
            os.environ[HISTORY_URL_ENV] = str(settings.history_url)
            values["history_url"] = dg.EnvVar(HISTORY_URL_ENV)
        if settings.webhook_url:  # a hook's secret is in its path: the same way
            os.environ[WEBHOOK_URL_ENV] = settings.webhook_url
            values["webhook_url"] = dg.EnvVar(WEBHOOK_URL_ENV)
        resource = cls(**values)
        carried = resource.settings()
        if carried != settings:
            lost = sorted(f.name for f in fields(Settings)
                          if getattr(carried, f.name) != getattr(settings, f.name))
            raise InvalidInputError(
                f"settings {lost}: the Dagster resource would run with other values (an "
                "unset value cannot override the config file or the environment)")
        return resource

    def settings(self) -> Settings:
        """Defaults, then the config file and environment, then the fields that are set."""
        from pathlib import Path

        return load_settings(
            config_file=Path(self.config_file) if self.config_file else None,
            **{f.name: _resolved(getattr(self, f.name)) for f in fields(Settings)
               if f.name in type(self).model_fields})

    def open(self) -> Workspace:
        """A Workspace of these settings for one step: ``with workspace.open() as ws:``.

        One per step rather than per run: a lifecycle hook would make this a generator
        resource, which sensor and schedule contexts must then be entered for, and a
        store (one SQLite connection) must stay in the thread that opened it.
        """
        return Workspace(self.settings())


def _resolved(value: object) -> object:
    """A field's value: an ``EnvVar`` not yet resolved by Dagster (outside a run) read
    from the environment, never taken for the variable's name."""
    return value.get_value() if isinstance(value, dg.EnvVar) else value


def _config_value(value: object) -> object:
    """A ``Settings`` value as Dagster config: paths as text, tuples as lists."""
    from pathlib import Path

    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_config_value(v) for v in value]
    return value


@dg.definitions
def resources() -> dg.Definitions:
    # In-process: measuring steps of one run must never overlap (dagster-notes: the
    # multiprocess executor produced a false +24 % regression on 2 cores). Owned: the
    # run is tagged with its process before its first step (defs/run_owner.py).
    return dg.Definitions(
        resources={"workspace": WorkspaceResource()},
        executor=owned_in_process_executor,
    )
