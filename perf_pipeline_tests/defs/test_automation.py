"""The commit sensor, the nightly schedule and automation conditions, on real git repos.

Sensor ticks are full evaluations (``evaluate_tick``), as the daemon runs them, against
real temporary repositories: first tick, several commits at once, a force-push, a deleted
branch, a missing or non-git repo, and a 10,000-commit history built with fast-import.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from perf_pipeline.config import load_settings
from perf_pipeline.defs.automation import (
    COMMIT_ASSETS,
    FORCE_PUSH_MAX_BACKLOG,
    NIGHTLY_ASSETS,
    build_nightly_schedule,
)
from perf_pipeline.defs.launch import load_project_definitions
from perf_pipeline.defs.partitions import MEASURING_POOL
from perf_pipeline.defs.resources import WorkspaceResource
from perf_pipeline_tests.measure.conftest import commit_files, git

logger = logging.getLogger(__name__)

SENSOR = "new_commits_sensor"


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return load_project_definitions()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PERF_PIPELINE_CONFIG", "PERF_PIPELINE_REPO", "PERF_PIPELINE_MAIN_BRANCH",
                "PERF_PIPELINE_WATCH_BRANCHES", "PERF_PIPELINE_MAX_RUNS_PER_TICK"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def new_repo(path: Path) -> tuple[Path, str]:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    return path, commit_files(path, {"a.txt": "0\n"}, "initial")


def target_for(tmp_path: Path, repo: Path, *, max_per_tick: int = 5,
               branches: tuple[str, ...] = ()) -> WorkspaceResource:
    config = tmp_path / f"perf_pipeline_{max_per_tick}_{len(branches)}.toml"
    config.write_text(
        "[perf_pipeline]\n"
        f"repo_path = {json.dumps(str(repo))}\n"
        f"results_dir = {json.dumps(str(tmp_path / 'results'))}\n"
        f"max_runs_per_tick = {max_per_tick}\n"
        f"watch_branches = {json.dumps(list(branches))}\n")
    return WorkspaceResource(config_file=str(config))


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, target: WorkspaceResource,
         cursor: str | None):
    ctx = dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref(),
                                  cursor=cursor, resources={"workspace": target},
                                  definitions=defs, sensor_name=SENSOR)
    return defs.resolve_sensor_def(SENSOR).evaluate_tick(ctx)


def keys(data) -> list[str | None]:
    return [r.partition_key for r in data.run_requests]


def added(data) -> list[str]:
    return [k for req in data.dynamic_partitions_requests or [] for k in req.partition_keys]


def more_commits(repo: Path, n: int, tag: str = "c") -> list[str]:
    return [commit_files(repo, {"a.txt": f"{tag}{i}\n"}, f"{tag} {i}") for i in range(n)]


# --- definitions --------------------------------------------------------------------------


def test_automation_definitions(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING
    auto = defs.resolve_sensor_def("perf_automation")
    assert isinstance(auto, dg.AutomationConditionSensorDefinition)
    assert auto.default_status is dg.DefaultSensorStatus.RUNNING
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING
    for name in ("benchmark_results", "stress_results", "regression_confirmation",
                 "regression_profile"):
        assets_def = defs.resolve_assets_def(name)
        assert assets_def.op.pool == MEASURING_POOL
    for name in ("performance_baseline", "regression_analysis", "performance_report",
                 "performance_history"):
        assert defs.resolve_assets_def(name).op.pool is None


def test_nightly_cron_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERF_PIPELINE_NIGHTLY_CRON", "30 3 * * 1-5")
    settings = load_settings()
    schedule = build_nightly_schedule(cron=settings.nightly_cron,
                                      timezone_name=settings.nightly_timezone)
    assert schedule.cron_schedule == "30 3 * * 1-5"


# --- the commit sensor --------------------------------------------------------------------


def test_first_tick_requests_the_tip_only(defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    *_, tip = more_commits(repo, 4)
    data = tick(defs, instance, target_for(tmp_path, repo), None)
    assert keys(data) == [tip] and added(data) == [tip]
    req = data.run_requests[0]
    assert req.run_key == f"{tip}:benchmarks"
    assert [k.to_user_string() for k in req.asset_selection] == list(COMMIT_ASSETS)
    assert req.tags["perf_pipeline/branch"] == "main"
    assert json.loads(data.cursor) == {"main": tip}

    again = tick(defs, instance, target_for(tmp_path, repo), data.cursor)
    assert not again.run_requests
    assert "no new commits" in again.skip_message
    assert again.cursor == data.cursor


def test_three_new_commits_two_per_tick_oldest_first(defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    target = target_for(tmp_path, repo, max_per_tick=2)
    cursor = tick(defs, instance, target, None).cursor
    c1, c2, c3 = more_commits(repo, 3)

    one = tick(defs, instance, target, cursor)
    assert keys(one) == [c1, c2] and added(one) == [c1, c2]
    assert json.loads(one.cursor) == {"main": c2}  # advanced only over what was requested
    two = tick(defs, instance, target, one.cursor)
    assert keys(two) == [c3]
    assert json.loads(two.cursor) == {"main": c3}
    three = tick(defs, instance, target, two.cursor)
    assert not three.run_requests and three.skip_message


def test_a_sha256_repository_keeps_its_cursor(defs, instance, tmp_path: Path) -> None:
    """The cursor kept only 40-char SHAs: in a SHA-256 repository it was dropped every
    tick, which then took only the tip, so two of these three commits went unmeasured."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "--object-format=sha256", "-b", "main")
    first = commit_files(repo, {"a.txt": "0\n"}, "initial")
    assert len(first) == 64
    target = target_for(tmp_path, repo)
    one = tick(defs, instance, target, None)
    assert keys(one) == [first] and json.loads(one.cursor) == {"main": first}
    pushed = more_commits(repo, 3)
    two = tick(defs, instance, target, one.cursor)
    assert keys(two) == pushed and json.loads(two.cursor) == {"main": pushed[-1]}


@pytest.mark.parametrize("sha", ["a" * 39, "a" * 41, "g" * 40, "A" * 40, "a" * 40 + "\n",
                                 "a" * 63, 1234])
def test_a_cursor_that_is_no_full_sha_is_dropped(sha: object) -> None:
    from perf_pipeline.defs.automation import _read_cursor

    good = "b" * 64
    assert _read_cursor(json.dumps({"main": sha, "dev": good})) == {"dev": good}


def test_force_push_skips_then_resumes_from_the_merge_base(defs, instance,
                                                            tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    base, _, old_tip = more_commits(repo, 3)
    target = target_for(tmp_path, repo)
    cursor = json.dumps({"main": old_tip})
    git(repo, "reset", "-q", "--hard", base)
    new1, new2 = more_commits(repo, 2, tag="rewritten")

    skipped = tick(defs, instance, target, cursor)
    assert not skipped.run_requests
    assert "force-pushed" in skipped.skip_message
    assert old_tip[:10] in skipped.skip_message and base[:10] in skipped.skip_message
    assert json.loads(skipped.cursor) == {"main": base}

    resumed = tick(defs, instance, target, skipped.cursor)
    assert keys(resumed) == [new1, new2]  # the rewritten commits only, not the history


def test_force_push_with_the_old_commit_gone_resumes_from_the_new_tip(
        defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    base, old_tip = more_commits(repo, 2)
    git(repo, "reset", "-q", "--hard", base)
    *_, new_tip = more_commits(repo, 3, tag="rewritten")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")  # the old tip no longer exists at all

    target = target_for(tmp_path, repo)
    skipped = tick(defs, instance, target, json.dumps({"main": old_tip}))
    assert not skipped.run_requests and "force-pushed" in skipped.skip_message
    assert "new tip" in skipped.skip_message
    resumed = tick(defs, instance, target, skipped.cursor)
    assert keys(resumed) == [new_tip]


def test_force_push_to_unrelated_history_resumes_from_the_new_tip(defs, instance,
                                                                   tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    *_, old_tip = more_commits(repo, 2)
    target = target_for(tmp_path, repo)
    git(repo, "checkout", "-q", "--orphan", "fresh")
    *_, new_tip = more_commits(repo, FORCE_PUSH_MAX_BACKLOG + 1, tag="orphan")
    git(repo, "branch", "-q", "-M", "fresh", "main")

    skipped = tick(defs, instance, target, json.dumps({"main": old_tip}))
    assert not skipped.run_requests and "new tip" in skipped.skip_message
    assert json.loads(skipped.cursor) == {}
    resumed = tick(defs, instance, target, skipped.cursor)
    assert keys(resumed) == [new_tip]


def test_deleted_branch_skips_and_recovers(defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    target = target_for(tmp_path, repo, branches=("main", "feature"))
    git(repo, "branch", "feature")
    cursor = tick(defs, instance, target, None).cursor
    feature_tip = json.loads(cursor)["feature"]
    git(repo, "branch", "-q", "-D", "feature")
    git(repo, "tag", "feature")  # a tag of the same name is not the branch

    gone = tick(defs, instance, target, cursor)
    assert not gone.run_requests
    assert "branch 'feature' does not exist" in gone.skip_message
    assert json.loads(gone.cursor)["feature"] == feature_tip  # kept until fixed

    git(repo, "tag", "-d", "feature")
    git(repo, "branch", "feature", feature_tip)
    git(repo, "checkout", "-q", "feature")
    (new,) = more_commits(repo, 1, tag="feature")
    back = tick(defs, instance, target, gone.cursor)
    assert keys(back) == [new]


def test_missing_then_restored_repo(defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    target = target_for(tmp_path, repo)
    cursor = tick(defs, instance, target, None).cursor
    (new,) = more_commits(repo, 1)
    moved = repo.rename(tmp_path / "elsewhere")

    missing = tick(defs, instance, target, cursor)
    assert not missing.run_requests
    assert "does not exist" in missing.skip_message and str(repo) in missing.skip_message
    assert missing.cursor == cursor

    repo.mkdir()
    not_git = tick(defs, instance, target, cursor)
    assert "not a git repository" in not_git.skip_message

    repo.rmdir()
    moved.rename(repo)
    back = tick(defs, instance, target, missing.cursor)
    assert keys(back) == [new]


def test_broken_settings_skip_with_the_reason(defs, instance, tmp_path: Path) -> None:
    target = WorkspaceResource(config_file=str(tmp_path / "missing.toml"))
    data = tick(defs, instance, target, None)
    assert not data.run_requests and "missing.toml" in data.skip_message


def test_unreadable_cursor_counts_as_first_tick(defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    *_, tip = more_commits(repo, 3)
    data = tick(defs, instance, target_for(tmp_path, repo), "{not json")
    assert keys(data) == [tip]


def test_shared_commit_on_two_branches_is_requested_once(defs, instance,
                                                         tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    target = target_for(tmp_path, repo, branches=("main", "release"))
    git(repo, "branch", "release")
    cursor = tick(defs, instance, target, None).cursor
    c1, c2 = more_commits(repo, 2)
    git(repo, "branch", "-q", "-f", "release", "main")
    data = tick(defs, instance, target, cursor)
    assert keys(data) == [c1, c2]
    assert json.loads(data.cursor) == {"main": c2, "release": c2}


def test_a_branch_watched_again_starts_from_its_tip(defs, instance, tmp_path: Path) -> None:
    """A branch dropped from watch_branches kept its cursor: watched again, the sensor
    requested every commit made on it meanwhile, oldest first, not its tip."""
    repo, _ = new_repo(tmp_path / "repo")
    git(repo, "branch", "release")
    both = target_for(tmp_path, repo, branches=("main", "release"))
    cursor = tick(defs, instance, both, None).cursor
    cursor = tick(defs, instance, target_for(tmp_path, repo, branches=("main",)), cursor).cursor
    assert set(json.loads(cursor)) == {"main"}
    git(repo, "checkout", "-q", "release")
    on_release = more_commits(repo, 7, tag="r")
    git(repo, "checkout", "-q", "main")
    assert keys(tick(defs, instance, both, cursor)) == [on_release[-1]]


# --- a large history ----------------------------------------------------------------------


def fast_import_linear(repo: Path, n: int) -> None:
    """A linear ``main`` of ``n`` commits, each changing one file, in about a second."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    chunks = []
    for i in range(1, n + 1):
        msg = f"commit {i}"
        body = f"{i}\n"
        chunks.append(
            f"commit refs/heads/main\nmark :{i}\n"
            f"committer T <t@example.com> {1_700_000_000 + i} +0000\n"
            f"data {len(msg)}\n{msg}\n"
            + (f"from :{i - 1}\n" if i > 1 else "")
            + f"M 644 inline counter.txt\ndata {len(body)}\n{body}\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"],
                   input="".join(chunks).encode(), check=True, timeout=120)
    git(repo, "reset", "-q", "--hard", "main")


@pytest.mark.slow
def test_tick_on_10000_commits_is_cheap(defs, instance, tmp_path: Path,
                                        record_property) -> None:
    repo = tmp_path / "big"
    fast_import_linear(repo, 10_000)
    assert git(repo, "rev-list", "--count", "main") == "10000"
    target = target_for(tmp_path, repo, max_per_tick=5)
    tip = git(repo, "rev-parse", "main")
    old = git(repo, "rev-parse", "main~7")
    timings: dict[str, float] = {}

    def timed(label: str, cursor: str | None):
        start = time.perf_counter()
        data = tick(defs, instance, target, cursor)
        timings[label] = time.perf_counter() - start
        return data

    assert keys(timed("first tick", None)) == [tip]
    data = timed("7 new commits", json.dumps({"main": old}))
    assert len(data.run_requests) == 5  # capped; the 2 others come next tick
    data = timed("cursor at the root", json.dumps({"main": git(repo, "rev-list",
                                                                 "--max-parents=0", "main")}))
    assert len(data.run_requests) == 5
    git(repo, "reset", "-q", "--hard", "main~100")
    more_commits(repo, 1, tag="rewrite")
    data = timed("force-push", json.dumps({"main": tip}))
    assert "force-pushed" in data.skip_message
    for label, seconds in timings.items():
        record_property(f"tick_s[{label}]", round(seconds, 3))
        logger.warning("10,000-commit repo, %s: %.3f s", label, seconds)


# --- the nightly schedule -----------------------------------------------------------------


def schedule_tick(defs, instance, target, when: datetime):
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                    resources={"workspace": target},
                                    repository_def=defs.get_repository_def())
    return defs.resolve_schedule_def("nightly_schedule").evaluate_tick(ctx)


def test_nightly_registers_the_head_and_requests_benchmarks_and_stress(
        defs, instance, tmp_path: Path) -> None:
    repo, _ = new_repo(tmp_path / "repo")
    *_, head = more_commits(repo, 2)
    git(repo, "checkout", "-q", "-b", "other")
    more_commits(repo, 1, tag="other")  # HEAD moves; the schedule still takes main
    when = datetime(2025, 3, 4, 2, 0, tzinfo=timezone.utc)
    data = schedule_tick(defs, instance, target_for(tmp_path, repo), when)
    (req,) = data.run_requests
    assert req.partition_key == head
    assert req.run_key == f"nightly:2025-03-04:{head}"
    assert [k.to_user_string() for k in req.asset_selection] == list(NIGHTLY_ASSETS)
    assert "stress_results" in NIGHTLY_ASSETS
    assert instance.get_dynamic_partitions("commits") == [head]


def test_nightly_skips_a_broken_repo(defs, instance, tmp_path: Path) -> None:
    when = datetime(2025, 3, 4, 2, 0, tzinfo=timezone.utc)
    data = schedule_tick(defs, instance, target_for(tmp_path, tmp_path / "nowhere"), when)
    assert not data.run_requests
    assert "does not exist" in data.skip_message
    assert instance.get_dynamic_partitions("commits") == []


# --- automation conditions ----------------------------------------------------------------


def requested(result) -> dict[str, set[str | None]]:
    return {key.to_user_string(): set(parts) for key, parts in
            result._requested_partitions_by_asset_key.items()}


def test_automation_recomputes_downstream_once(defs) -> None:
    with dg.instance_for_test() as instance:
        _check_automation(defs, instance)


def test_a_registered_commit_never_measured_does_not_stop_the_history(defs) -> None:
    """Plain eager waits until every commit partition of benchmark_results exists: one
    commit registered but never measured (a failed suite, one registered for a later
    backfill) stopped the baseline and the history report from ever updating."""
    with dg.instance_for_test() as instance:
        measured, unmeasured, newest = "a" * 40, "b" * 40, "c" * 40
        instance.add_dynamic_partitions("commits", [measured, unmeasured, newest])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing measured: nothing to recompute
        # A baseline materialized by hand is no measurement: no history report yet.
        instance.report_runless_asset_event(dg.AssetMaterialization("performance_baseline"))
        by_hand = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                    cursor=first.cursor)
        assert by_hand.total_requested == 0
        first = by_hand
        for sha in (measured, newest):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                "benchmark_results", partition=sha))
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=first.cursor)
        wanted = requested(after)
        assert wanted["performance_baseline"] == {None}
        assert wanted["regression_analysis"] == {measured, newest}
        assert unmeasured not in wanted["regression_analysis"]


def test_a_commit_without_the_suite_is_requested_once_like_a_measured_one(defs) -> None:
    """A commit without the suite is materialized (status ``no_suite``) rather than left
    missing, so the automation takes it as it takes any measured commit: measured alone
    (a UI backfill of ``benchmark_results``), its per-commit steps (cheap no-ops that
    judge nothing) and the history are requested once; then nothing more, and nothing
    ever targets the measuring asset again."""
    with dg.instance_for_test() as instance:
        sha = "d" * 40
        instance.add_dynamic_partitions("commits", [sha])
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # a missing partition asks for nothing
        instance.report_runless_asset_event(dg.AssetMaterialization(
            "benchmark_results", partition=sha, metadata={"status": "no_suite"}))
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=first.cursor)
        wanted = requested(after)
        assert wanted == {"performance_baseline": {None}, "regression_analysis": {sha},
                          "regression_confirmation": {sha}, "regression_profile": {sha},
                          "performance_report": {sha}, "performance_history": {None}}
        for name, parts in wanted.items():
            for part in parts:
                instance.report_runless_asset_event(dg.AssetMaterialization(
                    name, partition=part, metadata={"status": "no_suite"}))
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=after.cursor)
        assert quiet.total_requested == 0, requested(quiet)


def test_a_culprit_search_probe_requests_no_per_commit_gate(defs) -> None:
    """A probe (the culprit sensor's ``benchmark_results`` of an old commit) made the
    per-commit automation request that commit's screen, A/B confirmation, profile and
    report: up to ``confirm_budget_s`` of the measuring pool per probe, judging an old
    commit against today's baseline. A commit measured by any other run still is."""
    from perf_pipeline.defs.analysis import CULPRIT_SEARCH_TRIGGER, TRIGGER_TAG
    from perf_pipeline.defs.partitions import commits_partitions

    @dg.asset(name="benchmark_results", partitions_def=commits_partitions)
    def measured() -> None:  # stands in for the measuring asset: only its run's tags matter
        return None

    probed, added, measured_sha = "a" * 40, "c" * 40, "b" * 40
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("commits", [probed, measured_sha])
        # An instance with a history (a search needs one): the tick before has an event.
        instance.report_runless_asset_event(dg.AssetMaterialization("performance_history"))
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        instance.add_dynamic_partitions("commits", [added])  # the search registers it
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                 cursor=tick.cursor)
        assert "regression_analysis" not in requested(tick)  # not measured yet
        for sha, trigger in ((probed, CULPRIT_SEARCH_TRIGGER), (added, CULPRIT_SEARCH_TRIGGER),
                             (measured_sha, "commit_sensor")):
            assert dg.materialize([measured], instance=instance, partition_key=sha,
                                  tags={TRIGGER_TAG: trigger}).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                 cursor=tick.cursor)
        wanted = requested(tick)
        assert wanted["regression_analysis"] == {measured_sha}
        assert wanted["performance_baseline"] == {None}  # the history still learns of all
        later = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=tick.cursor)
        assert "regression_analysis" not in requested(later)  # nor on a later tick


def _check_automation(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    sha = "a" * 40
    instance.add_dynamic_partitions("commits", [sha])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing measured yet: nothing to recompute

    # A sensor run materializes the whole chain of one commit: only the history follows.
    for name in COMMIT_ASSETS:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            name, partition=None if name == "performance_baseline" else sha))
    after_run = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor)
    assert requested(after_run) == {"performance_history": {None}}
    instance.report_runless_asset_event(dg.AssetMaterialization("performance_history"))
    quiet = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=after_run.cursor)
    assert quiet.total_requested == 0

    # Re-measuring the commit alone recomputes everything downstream of it, for it only.
    instance.report_runless_asset_event(dg.AssetMaterialization("benchmark_results",
                                                                partition=sha))
    again = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=quiet.cursor)
    assert requested(again) == {"performance_baseline": {None}, "regression_analysis": {sha},
                                "regression_confirmation": {sha},
                                "regression_profile": {sha},
                                "performance_report": {sha}, "performance_history": {None}}



# --- backfill -----------------------------------------------------------------------------


@pytest.mark.slow
def test_backfill_measures_each_commit_once_in_order(tiny_target, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from perf_pipeline.store import HistoryStore

    outputs: list[str] = []

    def main(argv: list[str]) -> subprocess.CompletedProcess[str]:
        # A real CLI process: in-process Dagster loads after other tests of the session
        # sometimes met a context bound to an instance those tests had closed. The
        # timeout only stops a hang: 300 s cut off a backfill on a VM running slowly.
        cli = Path(sys.executable).parent / "perf-pipeline"
        proc = subprocess.run([str(cli), *argv], env=dict(os.environ), capture_output=True,
                              text=True, timeout=900, check=False)
        assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-3000:]
        outputs.append(proc.stdout)
        return proc

    results = tmp_path / "results"
    config = tiny_target.write_config(tmp_path / "perf_pipeline.toml", results_dir=results)
    monkeypatch.setenv("PERF_PIPELINE_CONFIG", str(config))
    for var in ("PERFORMANCE_THRESHOLD", "SIGNIFICANCE_LEVEL", "PERF_PIPELINE_RESULTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    # The backfill is under test, not the profile of its regression (test_end_to_end
    # profiles one): six untimed processes fewer.
    monkeypatch.setenv("PERF_PIPELINE_PROFILE", "off")
    home = tmp_path / "dagster_home"
    argv = ["backfill", "--last", "3", "--dagster-home", str(home)]

    # The third commit is a real slowdown: its gate fails, the backfill still finishes.
    proc = main([*argv, "--json"])
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)  # all of stdout; each commit's line went to stderr
    assert (doc["command"], doc["verdict"], doc["skipped"]) == ("backfill", "regression", [])
    assert [c["sha"] for c in doc["commits"]] == list(tiny_target.shas)
    assert doc["commits"][0]["verdict"] == "no_baseline"
    assert doc["commits"][2]["verdict"] == "regression"
    lines = [line for line in proc.stderr.splitlines()
             if line[:10] in {sha[:10] for sha in tiny_target.shas}]
    assert [line.split()[:2] for line in lines] == [
        [c["sha"][:10], c["verdict"]] for c in doc["commits"]]
    assert "RuntimeWarning" not in proc.stderr
    with HistoryStore.open(results / "perf_history.db") as store:
        runs = store.list_runs(suite="benchmarks")
    assert [r.commit.sha for r in runs if r.commit] == list(tiny_target.shas)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("commits") == list(tiny_target.shas)
        for name in ("regression_analysis", "performance_report"):
            assert instance.get_materialized_partitions(dg.AssetKey(name)) == set(
                tiny_target.shas)
        assert instance.get_latest_materialization_event(
            dg.AssetKey("performance_baseline")) is not None

    proc = main(argv)  # everything measured already: nothing runs twice
    assert proc.returncode == 0
    assert "0 commit(s) measured, 3 already measured" in proc.stdout
    with HistoryStore.open(results / "perf_history.db") as store:
        assert len(store.list_runs(suite="benchmarks")) == 3

    # Issue 9, defect 1: the files the Dagster run wrote (analysis/<sha>.json,
    # confirmation/<sha>.json, ...) are not results; analyze/ingest used to exit 2 on them.
    assert (results / "analysis" / f"{tiny_target.shas[-1]}.json").is_file()
    assert main(["ingest", "--results-dir", str(results)]).returncode == 0
    assert "ingested 0 new run(s), 3 already known, 0 bad file(s)" in outputs[-1]
    report = tmp_path / "report.md"
    # Exit 0 or 1 with a verdict (whether 2 baseline runs suffice at alpha 0.01 without
    # the confirmation is a matter of power, not of this test).
    main(["analyze", "--results-dir", str(results), "--confirm", "off", "--report", str(report)])
    assert "verdict: " in outputs[-1] and "bad file" not in outputs[-1]
    assert f"newest run: {runs[-1].run_id}" in outputs[-1]
    assert main(["visualize", "--results-dir", str(results)]).returncode == 0


# --- the instance the automations run in ----------------------------------------------------


@pytest.mark.parametrize("automation", ["new_commits_sensor", "nightly_schedule",
                                        "culprit_search_sensor"])
def test_an_instance_opened_in_a_subfolder_measures_nothing(
        defs, instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, automation) -> None:
    """`dagster dev` started in a subfolder of the project (DAGSTER_HOME = the project,
    whose dagster.yaml keeps storage at relative paths) opened a second, empty instance
    there; its commit sensor had no cursor and measured the tip again, replacing that
    commit's confirmation and report in the shared results dir."""
    repo, _ = new_repo(tmp_path / "repo")
    more_commits(repo, 1)
    home = tmp_path / "project"
    (home / "docs").mkdir(parents=True)
    (home / "dagster.yaml").write_text(
        "storage:\n  sqlite:\n    base_dir: .dagster_home/storage\n")
    target = target_for(tmp_path, repo)
    when = datetime(2025, 3, 4, 2, 0, tzinfo=timezone.utc)

    def evaluate():
        if automation == "nightly_schedule":
            return schedule_tick(defs, instance, target, when)
        if automation == "new_commits_sensor":
            return tick(defs, instance, target, None)
        ctx = dg.build_sensor_context(instance=instance, resources={"workspace": target})
        return defs.resolve_sensor_def(automation)(ctx)

    # Undone before the instance fixture closes: the autouse fixture made `monkeypatch`
    # first, so its own undo came last and set $DAGSTER_HOME back to the test
    # instance's deleted temp dir for every later test of the worker.
    with monkeypatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        mp.chdir(home / "docs")
        data = evaluate()
        assert not data.run_requests
        assert "relative paths" in (data.skip_message if automation != "culprit_search_sensor"
                                    else data.skip_reason.skip_message)
        assert instance.get_dynamic_partitions("commits") == []

        mp.chdir(home)  # from the project's root the automations run as usual
        assert "relative paths" not in str(evaluate())
