"""The fleet's Dagster instance on PostgreSQL (fleet/dagster.yaml), driven as CI drives it.

``DAGSTER_HOME`` is a temp dir holding the repo's ``fleet/dagster.yaml`` unchanged, its
``DAGSTER_PG_*`` variables pointing at a fresh database; the code location names its
machine (``PERF_PIPELINE_MACHINE_ID=bench-a``), so its keys carry the machine. One
``dagster asset materialize`` of ``bench-a/benchmark_results`` on the tiny target (one
pytest process) in a subprocess; then the run must be in the PostgreSQL run storage,
succeeded, tagged for its machine, its step in that machine's pool, and the
materialization (under the prefixed key only) must name the machine the history recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import pytest

import perf_pipeline
from perf_pipeline.cli import main
from perf_pipeline.pipeline.fleet import MACHINE_ENV, MACHINE_TAG, asset_key_path, measuring_pool
from perf_pipeline_tests.conftest import TinyTarget

REPO_ROOT = Path(perf_pipeline.__file__).resolve().parents[1]
MACHINE = "bench-a"


def postgres_env(url: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables fleet/dagster.yaml reads, from a postgresql:// URL."""
    parts = urlsplit(url)
    return {"DAGSTER_PG_HOST": parts.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(parts.port or 5432),
            "DAGSTER_PG_USER": unquote(parts.username or ""),
            "DAGSTER_PG_PASSWORD": unquote(parts.password or ""),
            "DAGSTER_PG_DB": parts.path.lstrip("/")}


@pytest.mark.slow
def test_materialize_through_a_postgres_instance_records_the_machine(
        postgres_url: str, tiny_target: TinyTarget, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_postgres import PostgresRunStorage

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "fleet" / "dagster.yaml", home / "dagster.yaml")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text(  # the cheapest real measurement: one benchmark, one process
        "[perf_pipeline]\n"
        f"repo_path = {json.dumps(str(tiny_target.repo))}\n"
        'project_subdir = "."\n'
        f"results_dir = {json.dumps(str(tmp_path / 'results'))}\n"
        'benchmark_paths = ["tests/test_perf.py::test_fib"]\n'
        'pytest_args = ["--benchmark-min-rounds=5", "--benchmark-max-time=0.05"]\n'
        "processes = 1\n")
    for var in [v for v in os.environ if v.startswith(("PERF_PIPELINE_", "PYTEST_XDIST"))
                and v != "PERF_PIPELINE_TEST_POSTGRES_URL"]:
        monkeypatch.delenv(var)
    for var, value in {**postgres_env(postgres_url), "DAGSTER_HOME": str(home),
                       "PERF_PIPELINE_CONFIG": str(config), MACHINE_ENV: MACHINE}.items():
        monkeypatch.setenv(var, value)
    sha = tiny_target.shas[0]
    assert main(["register-commit", "--repo", str(tiny_target.repo), "--dagster-home",
                 str(home), sha]) == 0

    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "asset", "materialize",
         "-m", "perf_pipeline.definitions",
         "--select", asset_key_path(MACHINE, "benchmark_results"),
         "--partition", sha],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags[MACHINE_TAG] == MACHINE
        assert run.tags["dagster/partition"] == sha
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        assert {s.key: s.pool for s in plan.steps} == {
            "benchmark_results": measuring_pool(MACHINE)}
        assert instance.get_latest_materialization_event(  # nothing under the bare key
            dg.AssetKey("benchmark_results")) is None
        event = instance.get_latest_materialization_event(
            dg.AssetKey([MACHINE, "benchmark_results"]))
        assert event is not None and event.run_id == run.run_id
        materialization = event.asset_materialization
        assert materialization is not None and materialization.partition == sha
        assert materialization.metadata["machine_id"].value == MACHINE
        assert instance.get_dynamic_partitions("commits") == [sha]
