"""Which process runs a run, and failing the runs whose process is gone.

A run whose process was SIGKILLed (an OOM kill, a cancelled CI job, a reboot, a
``dagster dev`` killed with its process group) stays STARTED in the instance for ever,
and with ``pools.granularity: run`` the run queue counts it as holding the
``benchmark_machine`` pool: no measuring run (sensor, schedule, UI backfill) was ever
started again. Every measuring step therefore tags its run with the process that runs
it (``defs/fleet.py``: ``measuring_turn``), ``materialize_commit`` tags its runs before
they start, and ``fail_orphaned_runs`` (called by them and by the sensors on every
tick) marks failed the runs of this machine whose process is gone.
"""

from __future__ import annotations

import logging
import os
import socket

import dagster as dg

logger = logging.getLogger(__name__)

#: Tag of a run: ``<host>/<boot id>/<pid>`` of the process that executes its steps.
RUNNER_TAG = "perf_pipeline/runner"
_ACTIVE = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)

__all__ = ["RUNNER_TAG", "fail_orphaned_runs", "runner_tag"]


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:  # not Linux: a reboot is not told apart, a dead pid still is
        return "-"


def runner_tag() -> str:
    """This process, as ``RUNNER_TAG`` names it."""
    return f"{socket.gethostname()}/{_boot_id()}/{os.getpid()}"


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
    this run's, which tags it only at its first measuring step (never, re-executed from
    the report on)."""
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
