"""A commit without the benchmark suite, as the Dagster UI sees its partition."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.defs.automation import COMMIT_ASSETS
from perf_pipeline.defs.launch import materialize_commit
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline.model import RunStatus
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.conftest import TINY_PYTEST_ARGS
from perf_pipeline_tests.defs.test_backfill_no_suite import _young_target

#: The per-commit assets after the measurement.
_JUDGING = ("regression_analysis", "regression_confirmation", "regression_profile",
            "performance_report")


pytestmark = pytest.mark.usefixtures("default_settings_env")


def _meta(instance: dg.DagsterInstance, asset: str, sha: str) -> dict[str, object]:
    (record,) = [r for r in instance.fetch_materializations(dg.AssetKey(asset), limit=20).records
                 if r.asset_materialization and r.asset_materialization.partition == sha][:1]
    assert record.asset_materialization is not None
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.mark.slow
def test_a_commit_without_the_suite_is_materialized_as_such_and_judges_nothing(
        instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """Its measuring step materialized nothing (only an observation), so the UI listed the
    partition of every per-commit asset as missing for ever, and each "materialize
    missing" backfill launched a run for it again (2.2 s each, every time). Now every
    per-commit asset is materialized, saying "no benchmark suite at this commit": the
    measurement with the history's run, each later step as a no-op that judged nothing
    and wrote no file, and the checks (the blocking gate too) pass saying the same. The
    next commit, which has the suite, is judged as before: the commit without the suite
    is in neither its baseline nor anything it judges."""
    repo, shas = _young_target(tmp_path)  # two commits without the suite, then the suite
    settings = load_settings(repo_path=str(repo), project_subdir=".",
                             results_dir=str(tmp_path / "results"), benchmark_paths=["tests"],
                             pytest_args=list(TINY_PYTEST_ARGS), processes=1)
    workspace = WorkspaceResource.of(settings)
    empty, suite = shas[0], shas[2]
    for sha in (empty, suite):
        outcome = materialize_commit(instance=instance, sha=sha, selection=COMMIT_ASSETS,
                                     workspace=workspace, log_level="CRITICAL")
        assert outcome.success, outcome.error
        assert outcome.failed_checks == () and outcome.warned_checks == ()

    for name in ("benchmark_results", *_JUDGING):  # not missing: no backfill asks again
        assert instance.get_materialized_partitions(dg.AssetKey(name)) == {empty, suite}, name
    with Workspace(settings) as ws:
        (run,) = ws.store.list_runs(suite="benchmarks", sha=empty)
        assert run.status is RunStatus.NO_SUITE
        measured = _meta(instance, "benchmark_results", empty)
        assert measured["status"] == "no_suite" and measured["run_id"] == run.run_id
        assert measured["summary"] == "no benchmark suite at this commit"
        assert measured["measured_again"] is True and "benchmark_count" not in measured
        for name in _JUDGING:
            meta = _meta(instance, name, empty)
            assert (meta["status"], meta["judged"], meta["run_id"]) == (
                "no_suite", False, run.run_id), name
            assert "Not judged: no benchmark suite at this commit" in str(meta["summary"])
            assert not {"unchanged", "regressions", "confirmed_regressions"} & set(meta)
        # Nothing written for it: no analysis, verdict or report to read as "unchanged".
        layout = ws.layout
        assert not layout.analysis_path(empty).exists()
        assert not layout.confirmation_path(empty).exists()
        assert not layout.commit_profile_path(empty).exists()
        assert not layout.commit_report_dir(empty).exists()
        # The later commit with the suite: its first run, so no baseline (the commit
        # without the suite is none), and the baseline is made of it alone.
        analysis = json.loads(layout.analysis_path(suite).read_text())
        assert analysis["baseline_run_ids"] == []
        baseline = json.loads(layout.baseline_path.read_text())
        assert empty not in json.dumps(baseline) and suite in json.dumps(baseline)
        assert (layout.commit_report_dir(suite) / "performance-report.md").is_file()

    for asset, check in (("regression_analysis", "no_significant_regressions"),
                         ("performance_report", "no_confirmed_regressions")):
        (record,) = [r for r in instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(asset), check), limit=10) if r.partition == empty]
        evaluation = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
        assert evaluation.passed, check
        assert evaluation.description.startswith(
            "not judged: no benchmark suite at this commit"), evaluation.description
        assert evaluation.metadata["judged"].value is False
