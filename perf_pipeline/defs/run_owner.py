"""Which process runs a run, and failing the runs whose process is gone.

A run whose process was SIGKILLed (an OOM kill, a cancelled CI job, a reboot, a
``dagster dev`` killed with its process group) stays STARTED in the instance for ever,
and with ``pools.granularity: run`` the run queue counts it as holding the
``benchmark_machine`` pool from its start to its end, whichever step is running: no
measuring run (sensor, schedule, UI backfill) was ever started again. So every run is
tagged with the process that runs it before its first step of any kind: the
definitions' executor (``owned_in_process_executor``) tags it as the run worker starts
the plan (a run killed during a step before its first measuring step was left
untagged), every measuring step checks the tag again (``defs/fleet.py``:
``claim_machine``; ``dg.materialize`` brings its own executor), and
``materialize_commit`` tags its runs before they start.
``fail_orphaned_runs`` (called by them and by the sensors on every tick) marks failed
the runs of this machine whose process is gone.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.plan import ExecutionPlan
    from dagster._core.execution.retries import RetryMode
    from dagster._core.execution.step_dependency_config import StepDependencyConfig

logger = logging.getLogger(__name__)

#: Tag of a run: ``<host>/<boot id>/<pid>`` of the process that executes its steps.
RUNNER_TAG = "perf_pipeline/runner"
_ACTIVE = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)

__all__ = ["RUNNER_TAG", "fail_orphaned_runs", "owned_in_process_executor", "runner_tag",
           "tag_run_owner"]


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:  # not Linux: a reboot is not told apart, a dead pid still is
        return "-"


def runner_tag() -> str:
    """This process, as ``RUNNER_TAG`` names it."""
    return f"{socket.gethostname()}/{_boot_id()}/{os.getpid()}"


def tag_run_owner(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Tag ``run`` with this process (``RUNNER_TAG``) unless it already names it: a
    copied tag (a re-execution) is replaced by this run's own."""
    if run.tags.get(RUNNER_TAG) != (owner := runner_tag()):
        instance.add_run_tags(run.run_id, {RUNNER_TAG: owner})


class _OwnerTaggingExecutor(dg.Executor):
    """An executor that tags the run with its process, then lets ``inner`` run the plan.

    The executor is the first of the project's code the run worker runs for a run
    (after loading the definitions, before any resource or step), so a run killed at
    any step names the process that ran it.
    """

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self._inner.step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext,
                execution_plan: ExecutionPlan) -> Iterator[dg.DagsterEvent]:
        tag_run_owner(plan_context.instance, plan_context.dagster_run)
        yield from self._inner.execute(plan_context, execution_plan)


def _owned_in_process(init_context: dg.InitExecutorContext) -> dg.Executor:
    inner = dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    return _OwnerTaggingExecutor(inner)


#: Dagster's in-process executor (same name and config), which tags each run with the
#: process that runs it before the first step (``RUNNER_TAG``).
owned_in_process_executor = dg.ExecutorDefinition(
    name=dg.in_process_executor.name,
    config_schema=dg.in_process_executor.config_schema,
    executor_creation_fn=_owned_in_process,
    description="Dagster's in-process executor; tags the run with the process that runs "
                "it first, so a run killed before its measuring step can be failed.",
)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists, another user's; or not a possible pid
    return True


def _inherited(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether ``run``'s tag was copied from the run it re-executes (a UI re-execution,
    Dagster's run retries copy the parent's tags): it names the parent's process, not
    this run's, until the executor tags it with its own."""
    parent_id = run.tags.get("dagster/parent_run_id")
    parent = instance.get_run_by_id(parent_id) if parent_id else None
    return parent is not None and parent.tags.get(RUNNER_TAG) == run.tags.get(RUNNER_TAG)


def fail_orphaned_runs(instance: dg.DagsterInstance) -> tuple[str, ...]:
    """Mark failed the active runs tagged with a process of this machine that is gone
    (before this boot, or a pid that no longer exists); returns their ids.

    Runs of other machines, runs without the tag and runs of a live process are left alone.
    """
    host, boot = socket.gethostname(), _boot_id()
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=list(_ACTIVE))):
        run = record.dagster_run
        tag_host, _, rest = run.tags.get(RUNNER_TAG, "").partition("/")
        tag_boot, _, pid_text = rest.rpartition("/")
        if tag_host != host or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if tag_boot == boot and (pid == os.getpid() or _process_alive(pid)):
            continue
        if _inherited(instance, run):
            continue
        instance.report_run_failed(
            run, message=f"perf_pipeline: process {pid}, which ran this run, is gone "
                         "(killed: SIGKILL, an OOM kill, a reboot); marked failed so "
                         "that its measuring pool is free again")
        logger.warning("run %s was left running by process %d, which is gone: marked failed",
                       run.run_id, pid)
        failed.append(run.run_id)
    return tuple(failed)
