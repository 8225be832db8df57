"""Resources: thin wrappers that turn Dagster config into library objects.

Unset fields fall back to ``load_settings()`` (``perf_pipeline.toml`` and environment
variables), so ``dagster dev`` and ``dagster asset materialize`` work with no run config,
and the CLI's demo can point the same assets at another repo by passing fields.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Optional

import dagster as dg

from perf_pipeline.config import Settings, load_settings
from perf_pipeline.store import HistoryStore


class TargetRepoResource(dg.ConfigurableResource):
    """The repository being measured and how to run its suites."""

    repo_path: Optional[str] = None  # noqa: UP045 - Dagster config needs Optional
    project_subdir: Optional[str] = None  # noqa: UP045
    results_dir: Optional[str] = None  # noqa: UP045
    runner: Optional[str] = None  # noqa: UP045
    main_branch: Optional[str] = None  # noqa: UP045
    suite_timeout_s: Optional[float] = None  # noqa: UP045
    processes: Optional[int] = None  # noqa: UP045
    pytest_args: Optional[list[str]] = None  # noqa: UP045
    benchmark_paths: Optional[list[str]] = None  # noqa: UP045
    stress_paths: Optional[list[str]] = None  # noqa: UP045
    config_file: Optional[str] = None  # noqa: UP045
    confirm: Optional[str] = None  # noqa: UP045
    confirm_max_rounds: Optional[int] = None  # noqa: UP045
    confirm_budget_s: Optional[float] = None  # noqa: UP045
    confirm_base: Optional[str] = None  # noqa: UP045

    def settings(self) -> Settings:
        from pathlib import Path

        return load_settings(
            config_file=Path(self.config_file) if self.config_file else None,
            repo_path=self.repo_path,
            project_subdir=self.project_subdir,
            results_dir=self.results_dir,
            runner=self.runner,
            main_branch=self.main_branch,
            suite_timeout_s=self.suite_timeout_s,
            processes=self.processes,
            pytest_args=self.pytest_args,
            benchmark_paths=self.benchmark_paths,
            stress_paths=self.stress_paths,
            confirm=self.confirm,
            confirm_max_rounds=self.confirm_max_rounds,
            confirm_budget_s=self.confirm_budget_s,
            confirm_base=self.confirm_base,
        )


class HistoryStoreResource(dg.ConfigurableResource):
    """The SQLite history; by default ``<results_dir>/perf_history.db`` of the settings."""

    results_dir: Optional[str] = None  # noqa: UP045

    def open(self) -> AbstractContextManager[HistoryStore]:
        settings = load_settings(results_dir=self.results_dir)
        return HistoryStore.open(settings.db_path)


@dg.definitions
def resources() -> dg.Definitions:
    # In-process: measuring steps of one run must never overlap (dagster-notes: the
    # multiprocess executor produced a false +24 % regression on 2 cores).
    return dg.Definitions(
        resources={"target": TargetRepoResource(), "history": HistoryStoreResource()},
        executor=dg.in_process_executor,
    )
