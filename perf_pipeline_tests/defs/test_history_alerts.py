"""performance_history through Dagster: it lists change points, drifts and culprits in
its metadata and posts new alerts to the configured webhook (a server on 127.0.0.1),
the token coming from the environment and never shown (that each alert goes out once
is tested in pipeline/test_alerts.py)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from perf_pipeline.defs.launch import load_project_definitions
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_alerts import searched  # noqa: F401
from perf_pipeline_tests.pipeline.test_bisect import STEP_AT
from perf_pipeline_tests.report.test_webhook import TOKEN, Receiver, receiver  # noqa: F401


def test_history_asset_lists_findings_and_alerts_the_webhook(
        searched, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    settings, shas = searched
    monkeypatch.delenv("PERF_PIPELINE_CONFIG", raising=False)
    monkeypatch.setenv("PERF_PIPELINE_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("PERF_PIPELINE_WEBHOOK_TOKEN", TOKEN)
    defs = load_project_definitions()
    resources = {"workspace": WorkspaceResource(repo_path=str(settings.repo_path),
                                                project_subdir=".",
                                                results_dir=str(settings.results_dir))}
    with dg.instance_for_test() as instance:
        result = dg.materialize([*defs.assets], instance=instance,  # type: ignore[list-item]
                                resources=resources, selection=["performance_history"])
        assert result.success and len(receiver.requests) == 1
        meta = result.asset_materializations_for_node("performance_history")[0].metadata
    assert meta["change_points"].value >= 1 and meta["culprits"].value == 1
    assert f"change {STEP_AT}" in meta["culprit_table"].value
    assert meta["alerts_delivery"].value.startswith("sent: 2 sent")
    _, headers, body = receiver.requests[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    kinds = {(a["kind"], a["sha"]) for a in json.loads(body)["alerts"]}
    assert ("culprit", shas[STEP_AT]) in kinds
    with Workspace(settings) as ws:  # the machine whose history raised them: none recorded
        assert not ws.store.machines(suite="benchmarks")  # in this synthetic history
    assert json.loads(body)["machine"] is None  # (a named one: pipeline/test_alerts.py)
    assert all(TOKEN not in str(v.value) for v in meta.values())
