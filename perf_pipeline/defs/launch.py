"""Launch materializations from Python: what the CLI (demo, register-commit) calls.

The CLI must not import Dagster itself (layers), so the few instance operations it
needs live here, next to the definitions they act on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import yaml

from perf_pipeline.defs.fleet import asset_key, run_machine_tags
from perf_pipeline.defs.measurement import REMEASURE_TAG
from perf_pipeline.defs.partitions import commits_partitions
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.defs.run_owner import RUNNER_TAG, fail_orphaned_runs
from perf_pipeline.defs.run_owner import runner_tag as _runner_tag
from perf_pipeline.errors import Interrupted, InvalidInputError

logger = logging.getLogger(__name__)

__all__ = [
    "CommitMaterialization",
    "fail_orphaned_runs",
    "load_project_definitions",
    "materialize_commit",
    "open_instance",
    "register_commits",
]


@dataclass(frozen=True, slots=True)
class CommitMaterialization:
    """What a person needs from one commit's run: did it work, which checks failed."""

    sha: str
    success: bool
    #: Failed ERROR checks: the gate (``no_confirmed_regressions``).
    failed_checks: tuple[str, ...] = ()
    error: str | None = None
    #: Failed WARN checks (the screen's ``no_significant_regressions``): a warning, not
    #: a failed gate; the confirmation decides.
    warned_checks: tuple[str, ...] = ()
    #: The Dagster run: its event log keeps Dagster's own account of a failure.
    run_id: str | None = None
    #: Where a failed suite's output is kept (the raw ``run.json``), if a step said.
    output_path: str | None = None
    #: Why the commit has no suite to measure (``RunStatus.NO_SUITE``): the run
    #: succeeded and measured nothing; None for a commit that has one.
    no_suite: str | None = None


def failed_checks_by_severity(evaluations: Sequence[dg.AssetCheckEvaluation]
                              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(failed ERROR checks, failed WARN checks) as ``asset:check``. Only an ERROR check
    is the gate: the screen's WARN check failing on a flag the A/B cleared made
    ``backfill`` call the commit a regression and exit 1."""
    def names(severity: dg.AssetCheckSeverity) -> tuple[str, ...]:
        return tuple(f"{ev.asset_key.to_user_string()}:{ev.check_name}"
                     for ev in evaluations if not ev.passed and ev.severity == severity)

    return names(dg.AssetCheckSeverity.ERROR), names(dg.AssetCheckSeverity.WARN)


@functools.cache
def load_project_definitions() -> dg.Definitions:
    """Load ``perf_pipeline.definitions`` once per process (reloading binds global state)."""
    from perf_pipeline.definitions import defs

    return defs()


def open_instance(home: Path | None) -> dg.DagsterInstance:
    """A persistent instance at ``home`` (created if needed), else ``$DAGSTER_HOME``'s.

    What the user named may be wrong (no ``$DAGSTER_HOME``, a relative one, a file in
    the way, an instance database that does not answer): ``InvalidInputError`` naming
    the folder, never an internal error."""
    where = str(home) if home is not None else "$DAGSTER_HOME"
    check_relative_storage(home if home is not None else (
        Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else None))
    try:
        if home is None:
            return dg.DagsterInstance.get()
        home.mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.from_config(str(home))
    except OSError as exc:
        raise InvalidInputError(f"cannot use {where} as the Dagster home: "
                                f"{exc.strerror or exc}") from exc
    except Exception as exc:  # Dagster's own errors: not set, not absolute, unreachable
        if not type(exc).__module__.startswith("dagster"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"cannot open the Dagster instance of {where}: "
                                f"{first[:300]}") from exc


def _relative_base_dirs(config: object, where: str = "") -> list[str]:
    """``key.path: value`` of every relative ``base_dir`` in a parsed dagster.yaml."""
    found: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            at = f"{where}.{key}" if where else str(key)
            if key == "base_dir" and isinstance(value, str) and not Path(value).is_absolute():
                found.append(f"{at}: {value}")
            else:
                found.extend(_relative_base_dirs(value, at))
    return found


def check_relative_storage(home: Path | None) -> None:
    """Refuse an instance whose dagster.yaml keeps storage at relative paths when the
    current directory is not its home: Dagster resolves them against the current
    directory, so ``register-commit`` or ``backfill`` run from a subfolder silently made
    a second instance there (this repo's dagster.yaml uses ``.dagster_home/...``), and
    the real one never saw the commit."""
    if home is None:
        return
    config_path = home / "dagster.yaml"
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # none, or unreadable: Dagster itself says what is wrong with it
    relative = _relative_base_dirs(config)
    if relative and Path.cwd().resolve() != home.resolve():
        raise InvalidInputError(
            f"{config_path} keeps the instance's storage at relative paths "
            f"({'; '.join(relative[:3])}), which Dagster resolves against the current "
            f"directory ({Path.cwd()}), not against {home}: run this from {home}, or make "
            "those paths absolute")


def _step_failure_text(event: dg.DagsterEvent) -> str:
    """What a failed step said: a ``dg.Failure``'s description as the asset wrote it.

    The error's ``message`` is prefixed with the exception's class path, so `backfill`
    and `demo` printed "failed: dagster._core.definitions.events.Failure: ..." for
    every commit whose suite failed.
    """
    data = event.step_failure_data
    user = data.user_failure_data
    if user is not None and user.description:
        return user.description.strip()
    return data.error.message.strip() if data.error else ""


def _failure_output_path(events: Sequence[dg.DagsterEvent]) -> str | None:
    """The raw ``run.json`` a failed measuring step named (its ``raw_path`` metadata)."""
    for event in events:
        data = event.step_failure_data if event.is_step_failure else None
        user = data.user_failure_data if data is not None else None
        raw = user.metadata.get("raw_path") if user is not None else None
        if raw is not None and raw.value:
            run_json = Path(str(raw.value)) / "run.json"
            return str(run_json if run_json.is_file() else raw.value)
    return None


def register_commits(instance: dg.DagsterInstance, shas: Sequence[str]) -> tuple[str, ...]:
    """Add commit partitions that are not there yet; returns the ones added."""
    name = commits_partitions.name
    assert name is not None
    existing = set(instance.get_dynamic_partitions(name))
    new = tuple(s for s in dict.fromkeys(shas) if s not in existing)
    if new:
        instance.add_dynamic_partitions(name, list(new))
    return new


@contextlib.contextmanager
def _signals_kept() -> Iterator[list[int]]:
    """Yield the signal numbers that arrive inside the block; keep our handlers.

    Dagster's in-process execution installs its own SIGINT/SIGTERM handlers (a signal
    becomes ``DagsterExecutionInterruptedError`` inside the step, which fails the run)
    and leaves SIGTERM mapped to SIGINT's handler afterwards: ``perf-pipeline backfill``
    SIGTERMed or Ctrl-C'd went on measuring the next commits and exited 2, never 143 or
    130. Which signal it was is read from a wakeup fd: Python writes the number of every
    signal it handles there, whatever handler Dagster put in place.
    """
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # Dagster leaves the handlers alone off the main thread
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    os.set_blocking(read_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield received
    finally:
        signal.set_wakeup_fd(previous)
        with contextlib.suppress(BlockingIOError):
            received.extend(os.read(read_end, 64))
        os.close(read_end)
        os.close(write_end)
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def materialize_commit(
    *,
    instance: dg.DagsterInstance,
    sha: str,
    selection: Sequence[str],
    workspace: WorkspaceResource,
    log_level: str = "INFO",
    remeasure: bool = False,
) -> CommitMaterialization:
    """Materialize the assets named ``selection`` for one commit partition, in this process
    (this location's keys of those names: ``bench-a/benchmark_results`` in a fleet).

    Unpartitioned assets in ``selection`` (baseline, history report) are materialized
    in the same run, as ``dagster asset materialize`` would. Runs an earlier call left
    running when its process was killed are marked failed first (``fail_orphaned_runs``).
    A SIGINT, SIGTERM or SIGHUP during the run is raised here once it has ended
    (``KeyboardInterrupt``, ``Interrupted``), so a backfill stops as the signal says.
    ``log_level`` is that of Dagster's console log (stderr) only: the run's events,
    a step's failure with its stack trace among them, are in the instance's event log
    whatever it is. ``remeasure`` measures a commit the history records without the
    suite again (``REMEASURE_TAG``), which the measuring assets otherwise skip.
    """
    defs = load_project_definitions()
    fail_orphaned_runs(instance)
    assets = [*defs.assets, *(defs.asset_checks or [])]  # type: ignore[list-item]
    register_commits(instance, [sha])
    with _signals_kept() as received:
        result = dg.materialize(
            assets,  # type: ignore[arg-type]
            instance=instance,
            resources={"workspace": workspace},
            partition_key=sha,
            selection=[asset_key(name) for name in selection],
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags={**run_machine_tags(workspace.settings()), RUNNER_TAG: _runner_tag(),
                  **({REMEASURE_TAG: "true"} if remeasure else {})},
        )
    stops = [sig for sig in received
             if sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", -1))]
    if stops:  # the run failed as interrupted: stop here, as for the signal itself
        raise Interrupted(stops[0]) if stops[0] != signal.SIGINT else KeyboardInterrupt()
    failed, warned = failed_checks_by_severity(result.get_asset_check_evaluations())
    error = output = None
    if not result.success:
        error = "; ".join(filter(None, (
            _step_failure_text(ev) for ev in result.all_events if ev.is_step_failure
        ))) or "run failed"
        output = _failure_output_path(result.all_events)
    return CommitMaterialization(sha=sha, success=result.success, failed_checks=failed,
                                 error=error, warned_checks=warned, run_id=result.run_id,
                                 output_path=output)
