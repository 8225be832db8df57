"""`dagster dev` really works: webserver + daemon from the repo root, driven over GraphQL.

One slow test starts ``dagster dev`` on a free 127.0.0.1 port with a temporary
``DAGSTER_HOME`` (the repo's ``dagster.yaml`` with absolute storage paths, concurrency
settings unchanged), pointed at the tiny target repo. It lists assets, sensors and
schedules over GraphQL, waits for the commit sensor (RUNNING by default) to request the
target's tip on its own, registers another commit and launches its measurement through
the API, and checks that the run queue ran the two measuring runs one after the other.
The whole process group is killed at the end, and no process of that instance may survive.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml

import perf_pipeline
from perf_pipeline.defs.partitions import MEASURING_POOL

REPO_ROOT = Path(perf_pipeline.__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 75.0

ASSETS_QUERY = """
query {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        assetNodes { assetKey { path } }
        sensors { name sensorState { status } }
        schedules { name cronSchedule executionTimezone scheduleState { status } }
      }
    }
    ... on PythonError { message }
  }
}
"""

ADD_PARTITION = """
mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""

LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

RUN_STATUS = """
query($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""

SENSOR_RUNS = """
query {
  runsOrError(filter: {tags: [{key: "perf_pipeline/trigger", value: "commit_sensor"}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance_yaml(home: Path) -> str:
    """The repo's dagster.yaml with every relative ``base_dir`` moved under ``home``."""
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    for section in ("storage", "local_artifact_storage", "compute_logs"):
        holder = config[section]
        inner = holder["sqlite"] if section == "storage" else holder["config"]
        inner["base_dir"] = str(home / Path(inner["base_dir"]).relative_to(".dagster_home"))
    return yaml.safe_dump(config)


class Client:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str) -> int:
        with urllib.request.urlopen(self.base + path, timeout=5) as resp:
            return resp.status

    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(self.base + "/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            payload = json.loads(resp.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]


def wait_until(check, *, timeout_s: float, what: str, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def processes_of(home: Path) -> list[psutil.Process]:
    """Every live process started with this DAGSTER_HOME (webserver, daemon, code servers,
    run workers), found through its environment."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("DAGSTER_HOME") == str(home):
                found.append(proc)
    return found


@contextlib.contextmanager
def dagster_dev(home: Path, env: dict[str, str], log: Path) -> Iterator[Client]:
    port = free_port()
    dagster = Path(sys.executable).parent / "dagster"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            client = Client(port)

            def answers() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"dagster dev exited {proc.returncode}:\n"
                                         + log.read_text()[-3000:])
                try:
                    return client.get("/server_info") == 200
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    return False

            wait_until(answers, timeout_s=START_TIMEOUT_S, what="dagster dev to answer")
            yield client
        finally:
            # dagster dev ignores SIGTERM when started in the background: kill the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            stray = processes_of(home)
            for p in stray:  # run workers may have left the group; never leave any behind
                with contextlib.suppress(psutil.Error):
                    p.kill()
            assert not stray, f"processes survived the group kill: {stray}"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dagster_dev_serves_and_runs_one_measurement_at_a_time(tiny_target,
                                                                tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home))
    results = tmp_path / "results"
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml", results_dir=results)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PERF_PIPELINE_", "DAGSTER_"))}
    env.update({"DAGSTER_HOME": str(home), "PERF_PIPELINE_CONFIG": str(config)})
    first, _, tip = tiny_target.shas

    with dagster_dev(home, env, tmp_path / "dagster_dev.log") as client:
        repos = wait_until(
            lambda: client.gql(ASSETS_QUERY)["repositoriesOrError"].get("nodes"),
            timeout_s=START_TIMEOUT_S, what="the code location to load")
        (repo,) = repos
        assets = {"/".join(n["assetKey"]["path"]) for n in repo["assetNodes"]}
        assert {"benchmark_results", "stress_results", "performance_baseline",
                "regression_analysis", "performance_report", "performance_history"} <= assets
        sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
        assert sensors == {"new_commits_sensor": "RUNNING", "perf_automation": "RUNNING",
                           "culprit_search_sensor": "RUNNING"}
        (schedule,) = repo["schedules"]
        assert (schedule["name"], schedule["cronSchedule"], schedule["executionTimezone"]) == (
            "nightly_schedule", "0 2 * * *", "UTC")

        # The sensor starts RUNNING and asks for the target's tip by itself.
        sensor_runs = wait_until(
            lambda: client.gql(SENSOR_RUNS)["runsOrError"]["results"],
            timeout_s=45, what="the commit sensor's first run", interval_s=1)
        tags = {t["key"]: t["value"] for t in sensor_runs[0]["tags"]}
        assert tags["dagster/partition"] == tip
        assert tags["dagster/sensor_name"] == "new_commits_sensor"

        # One more commit through the API while the sensor's run is queued or running.
        selector = {"repositoryLocationName": repo["location"]["name"],
                    "repositoryName": repo["name"]}
        added = client.gql(ADD_PARTITION, {"repo": selector, "name": "commits", "key": first})
        assert added["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess"
        launched = client.gql(LAUNCH_RUN, {"params": {
            "selector": {**selector, "jobName": "__ASSET_JOB",
                         "assetSelection": [{"path": ["benchmark_results"]}]},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": first}]},
            "mode": "default",
        }})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_ids = [sensor_runs[0]["runId"], launched["run"]["runId"]]

        def finished() -> list[str] | None:
            statuses = [client.gql(RUN_STATUS, {"runId": r})["runOrError"]["status"]
                        for r in run_ids]
            return statuses if all(s in TERMINAL for s in statuses) else None

        statuses = wait_until(finished, timeout_s=RUN_TIMEOUT_S, what="both runs", interval_s=1)
        log_tail = (tmp_path / "dagster_dev.log").read_text()[-3000:]
        assert statuses == ["SUCCESS", "SUCCESS"], log_tail

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
        by_id = {r.dagster_run.run_id: r for r in records}
        spans = sorted((by_id[r].start_time, by_id[r].end_time) for r in run_ids)
        assert all(s is not None and e is not None for s, e in spans)
        assert spans[0][1] <= spans[1][0], f"measuring runs overlapped: {spans}"
        for r in run_ids:
            pools = by_id[r].dagster_run.run_op_concurrency
            assert pools is not None and set(pools.all_pools or ()) == {MEASURING_POOL}
        assert set(instance.get_dynamic_partitions("commits")) == {first, tip}


def test_repo_dagster_yaml_limits_measuring_runs_to_one(tmp_path: Path) -> None:
    """The queue settings really read from the repo's dagster.yaml: one measuring run."""
    from dagster._core.instance.config import PoolGranularity
    from dagster._core.run_coordinator import QueuedRunCoordinator

    from perf_pipeline.defs.automation import ensure_measuring_pool

    (tmp_path / "dagster.yaml").write_text(instance_yaml(tmp_path))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        config = instance.get_concurrency_config()
        assert config.pool_config.pool_granularity is PoolGranularity.RUN
        assert config.pool_config.default_pool_limit == 1
        assert config.run_queue_config is not None
        assert config.run_queue_config.should_block_op_concurrency_limited_runs
        assert config.run_queue_config.max_concurrent_runs >= 2  # analysis may run beside
        ensure_measuring_pool(instance)
        info = instance.event_log_storage.get_concurrency_info(MEASURING_POOL)
        assert info.slot_count == 1


def test_plain_dagster_commands_register_the_location_under_the_project_name() -> None:
    """Plain `dagster dev` reads [tool.dagster] of pyproject.toml, not workspace.yaml: its
    location name 'perf_pipeline' differed from [tool.dg.project]'s, and Dagster warned
    about the mismatch 35 times on every definitions load (webserver, daemon, runs)."""
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run([str(dagster), "definitions", "validate"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "does not match the name" not in output
