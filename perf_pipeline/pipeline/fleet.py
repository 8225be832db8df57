"""Routing measuring runs to benchmark machines: run tags, concurrency pools, locations.

Dagster-free, so tests and docs can name the same things the Dagster layer uses
(docs/deployment.md). A *fleet* is one Dagster instance (on PostgreSQL) with one code
location per benchmark machine; each location's code server runs on its machine, so the
runs it launches measure there. Three rules keep measurements of two machines apart:

* every measuring run carries the run tag ``perf_pipeline/machine`` naming the machine
  that measures it: the same id the history store records (``machine_id``), so a
  run in Dagster and its rows in the history say the same thing;
* measuring assets sit in one concurrency pool per machine (``benchmark_machine/<id>``)
  when the location names its machine, so one measuring run at a time runs *per machine*
  (a single ``benchmark_machine`` pool would serialise the whole fleet);
* a measuring step refuses a run tagged for another machine (a run launched from the
  wrong location would otherwise store one machine's timings under another's id);
* every asset key of a location that names its machine starts with the machine id
  (``bench-a/benchmark_results``), so each machine has its own assets, partition status
  and catalog entries, and no two locations define the same key.

A location names its machine with ``PERF_PIPELINE_MACHINE_ID``, the variable that already
sets the store's ``machine_id``: one name per machine, so the tag, the pool, the asset keys
and the history cannot disagree. Unset (one machine), the pool is the plain
``benchmark_machine``, asset keys have no prefix, and runs are tagged with the machine's
hardware id.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError

__all__ = [
    "LOCATION_PREFIX",
    "MACHINE_ENV",
    "MACHINE_TAG",
    "MEASURING_POOL",
    "WrongMachineError",
    "asset_key_path",
    "asset_key_prefix",
    "check_run_machine",
    "is_for_machine",
    "location_machine",
    "location_name",
    "machine_tags",
    "measuring_pool",
    "tagged_machine",
]

#: The run tag naming the benchmark machine a run measures on.
MACHINE_TAG = "perf_pipeline/machine"
#: The environment variable that names a code location's machine (also the store's
#: ``machine_id`` setting, see config.py).
MACHINE_ENV = "PERF_PIPELINE_MACHINE_ID"
#: The measuring pool of a single machine, and the prefix of every machine's pool.
MEASURING_POOL = "benchmark_machine"
#: Code location names in a fleet workspace: ``perf_pipeline-<machine>``.
LOCATION_PREFIX = "perf_pipeline"


class WrongMachineError(InvalidInputError):
    """A run tagged for one machine was started on another."""


def location_machine(environ: Mapping[str, str] | None = None) -> str | None:
    """The machine this code location measures on, if the environment names one.

    Read when the definitions load (pools are fixed then). A bad id fails the load with
    the variable's name, rather than creating a pool no run will ever match.
    """
    value = (os.environ if environ is None else environ).get(MACHINE_ENV, "").strip()
    if not value:
        return None
    try:
        Settings(machine_id=value)  # the store's rule for machine ids, in one place
    except InvalidInputError as exc:
        raise InvalidInputError(f"{MACHINE_ENV}={value!r}: {exc}") from exc
    return value


def measuring_pool(machine: str | None) -> str:
    """The concurrency pool of measuring assets: one per named machine."""
    return MEASURING_POOL if machine is None else f"{MEASURING_POOL}/{machine}"


def asset_key_prefix(machine: str | None) -> tuple[str, ...]:
    """The prefix of every asset key of a location: none on one machine (the keys stay
    ``benchmark_results`` …), the machine id in a fleet (``bench-a/benchmark_results``).

    Two locations that defined the same keys would share one catalog entry, one
    partition status and one latest materialization, whichever machine ran last.
    """
    return () if machine is None else (machine,)


def asset_key_path(machine: str | None, name: str) -> str:
    """An asset's key as Dagster's selections and UI write it (``bench-a/benchmark_results``,
    e.g. for ``dagster asset materialize --select``)."""
    return "/".join((*asset_key_prefix(machine), name))


def location_name(machine: str | None) -> str:
    """The code location name of a machine in a fleet workspace (workspace.yaml)."""
    return LOCATION_PREFIX if machine is None else f"{LOCATION_PREFIX}-{machine}"


def machine_tags(machine: str) -> dict[str, str]:
    """The run tags that route a run to ``machine`` (sensors, schedules, backfills)."""
    return {MACHINE_TAG: machine}


def tagged_machine(tags: Mapping[str, str]) -> str | None:
    """The machine a run is tagged for, or None for an untagged run (CLI, UI launch)."""
    return tags.get(MACHINE_TAG) or None


def is_for_machine(tags: Mapping[str, str], machine: str) -> bool:
    """Whether a run with ``tags`` may measure on ``machine``: untagged runs may (they
    are tagged when they start), tagged ones only on their own machine."""
    tagged = tagged_machine(tags)
    return tagged is None or tagged == machine


def check_run_machine(tags: Mapping[str, str], machine: str) -> None:
    """Refuse to measure a run tagged for another machine, naming both."""
    if not is_for_machine(tags, machine):
        raise WrongMachineError(
            f"this run is tagged {MACHINE_TAG}={tagged_machine(tags)!r} but this code "
            f"location measures on machine {machine!r}: launch it from the location of "
            f"machine {tagged_machine(tags)!r} ({location_name(tagged_machine(tags))}), "
            "or drop the tag")
