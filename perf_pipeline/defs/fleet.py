"""The Dagster side of fleet routing (names and rules: ``perf_pipeline.pipeline.fleet``).

``claim_machine`` is the first thing every measuring step does: it refuses a run tagged
for another machine, and tags a run launched without a machine (``dagster asset
materialize``, a UI launch) with the machine that measures it, so every measuring run in
the instance names its machine. Sensors, schedules and backfills tag their runs before
they are queued (``run_machine_tags``), which is what the run queue's per-machine tag
limit (fleet/dagster.yaml) acts on.

Asset keys: a location that names its machine prefixes every asset key with it
(``pipeline.fleet.asset_key_prefix``). The asset and check decorators use plain names;
``prefix_location_keys`` rewrites the loaded definitions once (keys, deps, check
targets), in ``perf_pipeline/definitions.py``. What names assets from outside a
decorator (sensor and schedule targets, run requests, automation conditions, the
backfill) cannot be rewritten after the fact, so it names them through ``asset_key`` /
``asset_selection``, which apply the same prefix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import dagster as dg

from perf_pipeline.config import Settings
from perf_pipeline.defs.run_owner import RUNNER_TAG, runner_tag
from perf_pipeline.measure import holder_of, local_machine_id, measuring_lock
from perf_pipeline.pipeline.fleet import (
    asset_key_prefix,
    check_run_machine,
    location_machine,
    machine_tags,
    tagged_machine,
)

#: The machine this code location measures on (``PERF_PIPELINE_MACHINE_ID`` when the
#: definitions are imported), None on one machine. Read once, so that the pools, the
#: asset keys and every selection of one load agree.
LOCATION_MACHINE = location_machine()
#: The prefix of this location's asset keys: ``()`` on one machine, ``(machine,)`` in a fleet.
KEY_PREFIX = asset_key_prefix(LOCATION_MACHINE)


def asset_key(name: str) -> dg.AssetKey:
    """This location's key of the asset named ``name`` (``bench-a/benchmark_results``)."""
    return dg.AssetKey([*KEY_PREFIX, name])


def asset_selection(*names: str) -> dg.AssetSelection:
    """This location's assets named ``names``, for sensor/schedule targets and conditions."""
    return dg.AssetSelection.assets(*(asset_key(n) for n in names))


def prefix_location_keys(defs: dg.Definitions,
                         prefix: tuple[str, ...] = KEY_PREFIX) -> dg.Definitions:
    """``defs`` with every asset key (and its deps and checks) under ``prefix``.

    With no prefix (one machine) ``defs`` is returned as it is. Otherwise each asset or
    check definition is rewritten with ``AssetsDefinition.with_attributes`` (what
    ``load_assets_from_modules(key_prefix=...)`` does): the ops keep their names, so run
    config (``ops: {culprit_confirmation: ...}``) and step keys are the same on every
    machine. The defs folder lists an asset once per module that imports it; each is
    rewritten once (two rewritten copies would be two definitions of one key).
    """
    if not prefix:
        return defs
    assets = _unique_definitions(defs.assets or ())
    checks = _unique_definitions(defs.asset_checks or ())
    keys = {k for a in assets for k in a.keys} | {c.asset_key for d in checks
                                                   for c in d.check_keys}
    replacements = {key: key.with_prefix(list(prefix)) for key in keys}
    return dg.Definitions(
        assets=[a.with_attributes(asset_key_replacements=replacements) for a in assets],
        # with_attributes returns a plain AssetsDefinition; Dagster's loader converts back.
        asset_checks=[c.with_attributes(asset_key_replacements=replacements)
                      .coerce_to_checks_def() for c in checks],
        schedules=defs.schedules, sensors=defs.sensors, jobs=defs.jobs,
        resources=defs.resources, executor=defs.executor, loggers=defs.loggers,
        metadata=defs.metadata, component_tree=defs.component_tree)


def _unique_definitions(items: Iterable[object]) -> list[dg.AssetsDefinition]:
    """Each definition once (by identity); only @asset / @asset_check ones can be prefixed."""
    unique = list({id(item): item for item in items}.values())
    others = [item for item in unique if not isinstance(item, dg.AssetsDefinition)]
    if others:
        raise TypeError(f"cannot prefix the asset keys of {others!r}: only @asset and "
                        "@asset_check definitions are supported")
    return [item for item in unique if isinstance(item, dg.AssetsDefinition)]


def run_machine_tags(settings: Settings) -> dict[str, str]:
    """The tags of a run this location launches: its machine, as the store names it."""
    return machine_tags(local_machine_id(settings))


@contextlib.contextmanager
def measuring_turn(context: dg.AssetExecutionContext, settings: Settings) -> Iterator[str]:
    """``claim_machine``, then this machine's measuring lock for the step's body
    (``measure/measuring_lock.py``): the pool holds only runs the queue started, and an
    in-process run (backfill, demo, ``dagster asset materialize``) or a CLI command
    measured beside them."""
    machine = claim_machine(context, settings)
    lock = settings.measuring_lock_path

    def waiting() -> None:
        context.log.info(f"another measuring process on this machine holds {lock}"
                         f"{holder_of(lock)}; waiting for it to finish")

    with measuring_lock(lock, on_wait=waiting):
        yield machine


def claim_machine(context: dg.AssetExecutionContext, settings: Settings) -> str:
    """This machine's id, after checking the run is for it (``WrongMachineError``
    otherwise) and tagging it if it was launched untagged; the run is also tagged with
    the process that runs it (``RUNNER_TAG``)."""
    here = local_machine_id(settings)
    try:
        run = context.run
    except dg.DagsterError:  # invoked directly (a unit test): no run to check or tag
        return here
    check_run_machine(run.tags, here)
    tags = {} if tagged_machine(run.tags) is not None else machine_tags(here)
    # The process that measures: a run whose process is killed (a `dagster dev` killed
    # with its process group, an OOM kill, a reboot) stays STARTED and holds the
    # measuring pool for ever; the sensors fail it by this tag (``defs/run_owner.py``).
    if run.tags.get(RUNNER_TAG) != (owner := runner_tag()):
        tags[RUNNER_TAG] = owner
    if tags:
        context.instance.add_run_tags(run.run_id, tags)
    return here
