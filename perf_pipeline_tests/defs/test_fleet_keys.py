"""Per-machine asset keys (docs/deployment.md): a code location that names its machine
defines ``<machine>/<asset>`` keys, and everything that names assets follows.

The prefix is fixed when the definitions are imported (as the measuring pool is), so the
fleet case loads them in a fresh interpreter with ``PERF_PIPELINE_MACHINE_ID=bench-a``.
That process loads ``perf_pipeline.definitions`` as ``dagster code-server`` would, checks
it is loadable, resolves every sensor and schedule target and every selection inside an
automation condition strictly (a selection naming a bare key fails), ticks the real commit
sensor on a real repo, and reports what it found as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

import perf_pipeline
from perf_pipeline.defs.fleet import prefix_location_keys
from perf_pipeline.defs.launch import load_project_definitions
from perf_pipeline.pipeline.fleet import MACHINE_ENV

REPO_ROOT = Path(perf_pipeline.__file__).resolve().parents[1]
MACHINE = "bench-a"

PROBE = r"""
import json, sys
from pathlib import Path
import dagster as dg
from perf_pipeline.definitions import defs as load
from perf_pipeline.defs.automation import commit_run_request
from perf_pipeline.defs.culprit import action_run_request
from perf_pipeline.pipeline.bisect import CulpritAction, SearchSpec
from perf_pipeline_tests.defs.test_automation import new_repo, target_for, tick

defs = load()
dg.Definitions.validate_loadable(defs)
repo = defs.get_repository_def()
graph = repo.asset_graph
keys = lambda sel: sorted(k.to_user_string() for k in sel)

def target_selection(definition):
    if getattr(definition, "asset_selection", None) is not None:
        return definition.asset_selection
    (target,) = getattr(definition, "targets", None) or [definition.target]
    return target.resolvable_to_job.selection

def condition_selections(condition):
    for attr in ("allow_selection", "ignore_selection"):
        sel = getattr(condition, attr, None)
        if sel is not None:
            yield keys(sel.resolve(graph))  # strict: a missing key raises
    for child in condition.children:
        yield from condition_selections(child)

spec = SearchSpec(good="a" * 40, bad="b" * 40, benchmark="tests/t.py::test_x")
probe = action_run_request(CulpritAction("measure", "c" * 40, spec), machine="m")
confirm = action_run_request(CulpritAction("confirm", "c" * 40, spec), machine="m")
confirm_job = repo.get_implicit_job_def_for_assets(confirm.asset_selection).get_subset(
    asset_selection=set(confirm.asset_selection))
tmp = Path(sys.argv[1])
git_repo, _ = new_repo(tmp / "repo")
with dg.instance_for_test() as instance:
    first = tick(defs, instance, target_for(tmp, git_repo), None)
print(json.dumps({
    "assets": keys(defs.resolve_all_asset_keys()),
    "checks": sorted(c.to_user_string() for c in graph.asset_check_keys),
    "ops": sorted({a.node_def.name for a in defs.assets}),
    "sensor_targets": {s.name: keys(target_selection(s).resolve(graph))
                       for s in repo.sensor_defs},
    "schedule_targets": {s.name: keys(target_selection(s).resolve(graph))
                         for s in repo.schedule_defs},
    "conditions": {key.to_user_string(): list(condition_selections(cond))
                   for key, cond in ((k, graph.get(k).automation_condition)
                                     for k in graph.materializable_asset_keys)
                   if cond is not None},
    "sensor_run_selections": [keys(r.asset_selection) for r in first.run_requests],
    "culprit_selections": [keys(probe.asset_selection), keys(confirm.asset_selection)],
    "culprit_config_valid": dg.validate_run_config(confirm_job, confirm.run_config) is not None,
}))
"""


def test_one_machine_keeps_the_bare_keys() -> None:
    defs = load_project_definitions()
    assert prefix_location_keys(defs, ()) is defs
    assert all(len(key.path) == 1 for key in defs.resolve_all_asset_keys())


def test_what_cannot_be_prefixed_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="external_table"):  # a spec has no op to rewrite
        prefix_location_keys(dg.Definitions(assets=[dg.AssetSpec("external_table")]),
                             (MACHINE,))


def test_a_named_machine_prefixes_every_key_and_everything_that_names_one(
        tmp_path: Path) -> None:
    bare = sorted(k.to_user_string() for k in load_project_definitions().resolve_all_asset_keys())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERF_PIPELINE_", "PYTEST_XDIST", "DAGSTER_HOME"))}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO_ROOT,
                          env={**env, MACHINE_ENV: MACHINE}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])

    prefixed = [f"{MACHINE}/{name}" for name in bare]
    assert found["assets"] == prefixed
    assert found["checks"] == [f"{MACHINE}/performance_report:no_confirmed_regressions",
                               f"{MACHINE}/regression_analysis:no_significant_regressions",
                               f"{MACHINE}/stress_analysis:no_confirmed_stress_regressions"]
    assert found["ops"] == bare  # ops keep their names: run config is the same everywhere
    selections = [*found["sensor_targets"].values(), *found["schedule_targets"].values(),
                  *(s for sels in found["conditions"].values() for s in sels),
                  *found["sensor_run_selections"], *found["culprit_selections"]]
    assert all(sel and set(sel) <= set(prefixed) for sel in selections), selections
    assert set(found["sensor_targets"]) == {"new_commits_sensor", "culprit_search_sensor",
                                            "perf_automation"}
    assert found["sensor_targets"]["perf_automation"] == prefixed
    assert f"{MACHINE}/stress_analysis" in found["schedule_targets"]["nightly_schedule"]
    # the per-commit assets ignore this location's baseline, not a key it does not have
    assert {tuple(sel) for sel in found["conditions"][f"{MACHINE}/regression_analysis"]} == {
        (f"{MACHINE}/performance_baseline",)}
    assert found["sensor_run_selections"] and all(
        f"{MACHINE}/benchmark_results" in sel for sel in found["sensor_run_selections"])
    assert found["culprit_selections"] == [[f"{MACHINE}/benchmark_results"],
                                           [f"{MACHINE}/culprit_confirmation"]]
    assert found["culprit_config_valid"]
