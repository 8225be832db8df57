"""The ``stress_per_commit`` setting: the commit sensor's runs include the stress suite."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.defs.automation import COMMIT_ASSETS, STRESS_ASSETS
from perf_pipeline.defs.launch import load_project_definitions
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.errors import InvalidInputError
from perf_pipeline_tests.defs.test_automation import new_repo, tick


def test_stress_per_commit_parses_as_a_flag() -> None:
    assert load_settings(environ={}).stress_per_commit is False
    assert load_settings(environ={"PERF_PIPELINE_STRESS_PER_COMMIT": "yes"}).stress_per_commit
    with pytest.raises(InvalidInputError, match="stress_per_commit"):
        load_settings(environ={"PERF_PIPELINE_STRESS_PER_COMMIT": "sometimes"})


def test_the_commit_sensor_adds_the_stress_assets_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(Without the setting, test_automation's first-tick test sees COMMIT_ASSETS only.)"""
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_REPO", "PERF_PIPELINE_MAIN_BRANCH",
                "PERF_PIPELINE_WATCH_BRANCHES", "PERF_PIPELINE_STRESS_PER_COMMIT"):
        monkeypatch.delenv(var, raising=False)
    repo, sha = new_repo(tmp_path / "repo")
    config = tmp_path / "perf_pipeline.toml"
    config.write_text("[perf_pipeline]\n"
                      f"repo_path = {json.dumps(str(repo))}\n"
                      f"results_dir = {json.dumps(str(tmp_path / 'results'))}\n"
                      "stress_per_commit = true\n")
    with dg.instance_for_test() as instance:
        data = tick(load_project_definitions(), instance,
                    WorkspaceResource(config_file=str(config)), None)
    (request,) = data.run_requests
    assert request.partition_key == sha
    wanted = [*COMMIT_ASSETS, *STRESS_ASSETS]
    assert [k.to_user_string() for k in request.asset_selection] == wanted
