"""One machine id, two hardware: a rolling baseline is made of the judged run's hardware.

Machine ``bench-a`` measures commits 1..6 on an old CPU, then its CPU is replaced by one
30 % faster and the id kept. Pooled, the window of 8 mixed six old runs with the new ones
and nothing said so; kept apart, the new runs are judged against the new CPU's runs, and
the report says how many were left out and why.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perf_pipeline.config import Settings
from perf_pipeline.model import Environment, SuiteRun
from perf_pipeline.pipeline.analyze import analyze_results_dir
from perf_pipeline.pipeline.baseline import (
    baseline_for_run,
    pin_baseline,
    screen_baseline,
    update_baseline,
)
from perf_pipeline.pipeline.hardware_mix import split_by_hardware
from perf_pipeline.pipeline.regression import analyze_run
from perf_pipeline.store import HistoryStore, read_baseline
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.test_machines import _run

OLD = Environment(python_version="3.11.7", python_implementation="CPython", os="Linux 6.1",
                  machine="x86_64", cpu_model="Old CPU 2000", cpu_count=8)
NEW = replace(OLD, cpu_model="New CPU 3000", os="Linux 6.5")


def _history(tmp_path: Path, *, new_runs: int, old_env: Environment | None = OLD
             ) -> Settings:
    settings = Settings(results_dir=tmp_path / "results", confirm="off", baseline_runs=8,
                        machine_id="bench-a")
    rng = np.random.default_rng(5)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(1, 7):
            store.ingest_run(replace(_run(i, "bench-a", 1.0, rng), environment=old_env))
        for i in range(7, 7 + new_runs):
            store.ingest_run(replace(_run(i, "bench-a", 1 / 1.3, rng), environment=NEW))
    return settings


def _newest(ws: Workspace) -> SuiteRun:
    run = ws.store.latest_run(suite="benchmarks")
    assert run is not None
    return run


def test_a_window_of_two_hardware_keeps_only_the_judged_runs_hardware(tmp_path: Path
                                                                     ) -> None:
    settings = _history(tmp_path, new_runs=3)
    out = analyze_results_dir(Workspace(settings), report_path=tmp_path / "a.md")
    analysis = out.analysis
    assert analysis.baseline_run_ids == ("run-07-bench-a", "run-08-bench-a")
    assert analysis.comparison is not None and not analysis.comparison.has_regression
    note = next(n for n in analysis.notes if n.startswith("Baseline of this hardware only"))
    assert "6 of the 8 runs" in note and "machine bench-a" in note
    assert "'Old CPU 2000' → 'New CPU 3000'" in note
    assert "OS" not in note  # a kernel update is not new hardware
    assert "Baseline of this hardware only" in (tmp_path / "a.md").read_text()


def test_the_baseline_file_is_made_of_the_newest_runs_hardware(tmp_path: Path) -> None:
    settings = _history(tmp_path, new_runs=3)
    with Workspace(settings) as ws:
        written = update_baseline(ws)
        assert written is not None
        assert written.source_run_ids == ("run-07-bench-a", "run-08-bench-a",
                                          "run-09-bench-a")
        stored = read_baseline(ws.layout.baseline_path)
    assert stored is not None and stored.source_run_ids == written.source_run_ids
    assert stored.notes == ()  # notes describe a choice, they are not part of the file


def test_the_first_run_on_new_hardware_is_not_judged_against_the_old(tmp_path: Path
                                                                     ) -> None:
    settings = _history(tmp_path, new_runs=1)
    with Workspace(settings) as ws:
        run = _newest(ws)
        baseline = baseline_for_run(ws, run)
        assert baseline is not None and len(baseline.source_run_ids) == 6
        analysis = analyze_run(run, baseline, settings)
    assert analysis.comparison is None  # 30 % faster by the CPU, not by the code
    assert analysis.notes[0].startswith("Not judged: the rolling baseline's 6 run(s) of "
                                        "machine bench-a were all measured on other hardware")
    assert ("cpu_model", "Old CPU 2000", "New CPU 3000") in analysis.environment_differences
    # The next run on the new CPU is judged against this one.
    with HistoryStore.open(settings.db_path) as store:
        store.ingest_run(replace(_run(8, "bench-a", 1 / 1.3, np.random.default_rng(9)),
                                 environment=NEW))
    with Workspace(settings) as ws:
        run = _newest(ws)
        baseline = baseline_for_run(ws, run)
        assert baseline is not None and baseline.source_run_ids == ("run-07-bench-a",)
        assert analyze_run(run, baseline, settings).comparison is not None


@pytest.mark.parametrize("old_env", [None, replace(OLD, cpu_model="", cpu_count=0)],
                         ids=["no environment", "no cpu facts"])
def test_runs_of_unknown_hardware_are_kept(tmp_path: Path, old_env: Environment | None
                                           ) -> None:
    settings = _history(tmp_path, new_runs=3, old_env=old_env)
    with Workspace(settings) as ws:
        run = _newest(ws)
        baseline = baseline_for_run(ws, run)
    assert baseline is not None and len(baseline.source_run_ids) == 8
    assert baseline.notes == ()


def test_a_run_of_unknown_hardware_keeps_the_whole_window(tmp_path: Path) -> None:
    settings = _history(tmp_path, new_runs=3)
    with Workspace(settings) as ws:
        window = ws.store.recent_commit_runs(n=8, machine_id="bench-a")
    kept, apart = split_by_hardware(window, None)
    assert len(kept) == 8 and apart == ()


def test_a_baseline_pinned_on_the_old_hardware_judges_nothing_on_the_new(tmp_path: Path
                                                                          ) -> None:
    """Pinned on the old CPU, then the CPU replaced by one with a smaller cache: test_0
    (memory-bound) runs 50 % slower on it, the rest the same, and no commit changed a
    thing. Judged against the pin, test_0 was a confident regression, and the report
    said only that the fingerprint differed."""
    settings = Settings(results_dir=tmp_path / "results", confirm="off", baseline_runs=8,
                        machine_id="bench-a")
    rng = np.random.default_rng(5)
    with HistoryStore.open(settings.db_path) as store:
        for i in range(1, 7):
            store.ingest_run(replace(_run(i, "bench-a", 1.0, rng), environment=OLD))
        with Workspace(settings) as ws:
            pin_baseline(ws, store.get_run("run-06-bench-a"))
        store.ingest_run(replace(_run(7, "bench-a", 1.0, rng, slowed=1.5), environment=NEW))
    out = analyze_results_dir(Workspace(settings), report_path=tmp_path / "a.md")
    analysis = out.analysis
    assert analysis.baseline_policy == "pinned" and analysis.comparison is None
    assert analysis.notes[0].startswith(
        "Not judged: the pinned baseline (run run-06-bench-a) was measured on other "
        "hardware than this run of machine bench-a (CPU model 'Old CPU 2000' → "
        "'New CPU 3000')")
    assert "--update-baseline" in analysis.notes[0]
    assert "measured on other hardware" in (tmp_path / "a.md").read_text()
    with Workspace(settings) as ws:  # a pull request's plan sees no baseline here either
        assert screen_baseline(ws, "bench-a", environment=NEW) is None
        assert screen_baseline(ws, "bench-a", environment=OLD) is not None


def _swapped_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, swap: int,
                     code_step: int | None = None, n: int = 41
                     ) -> tuple[Settings, tuple[str, ...]]:
    """Machine bench-a measures every other commit of ``n`` (a real repo); from commit
    ``swap`` on, on a new CPU on which test_step runs 25 % slower relative to the rest
    (no commit changed it); from ``code_step`` on, test_steady_a is 30 % slower (a real
    change of the code). This machine measures (probes too) on the new CPU now."""
    from perf_pipeline.pipeline import culprit_history
    from perf_pipeline_tests.pipeline.test_bisect import CONTROLS, repo_and_settings, run_at

    settings, shas = repo_and_settings(tmp_path, n, machine_id="bench-a", confirm="off")
    rng = np.random.default_rng(7)

    def slowed(run: SuiteRun, name: str, ratio: float) -> SuiteRun:
        return replace(run, benchmarks=tuple(
            replace(b, samples_s=tuple(x * ratio for x in b.samples_s))
            if b.name == name else b for b in run.benchmarks))

    with HistoryStore.open(settings.db_path) as store:
        for i in range(0, n, 2):
            run = run_at(i, shas[i], rng, step_at=swap, ratio=1.25)
            if code_step is not None and i >= code_step:
                run = slowed(run, CONTROLS[0], 1.3)
            store.ingest_run(replace(run, machine_id="bench-a",
                                     environment=OLD if i < swap else NEW))
    monkeypatch.setattr(culprit_history, "environment_fingerprint", lambda **_kw: NEW,
                        raising=False)
    return settings, shas


def test_a_cpu_swap_is_no_change_point_alert_or_culprit_search(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Across the swap test_step's level moved by the CPU: it was a change point, an
    alert, and a culprit search whose probe, measured on the new CPU, named the innocent
    first commit of the range."""
    from perf_pipeline.pipeline.alerts import alerts_of
    from perf_pipeline.pipeline.bisect import culprit_actions, open_culprit_searches
    from perf_pipeline.pipeline.reporting import write_history_report

    settings, _ = _swapped_history(tmp_path, monkeypatch, swap=22)
    ws = Workspace(settings)
    data, _ = write_history_report(ws)
    assert data.change_points == () and data.drifts == ()
    assert alerts_of(data) == ()
    assert any("span 2 hardware" in n for n in data.notes)
    assert open_culprit_searches(ws) == () and culprit_actions(ws) == ()


def test_a_step_of_the_code_on_the_new_cpu_is_still_found_and_searched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perf_pipeline.pipeline.bisect import open_culprit_searches
    from perf_pipeline.pipeline.reporting import write_history_report
    from perf_pipeline_tests.pipeline.test_bisect import CONTROLS

    settings, shas = _swapped_history(tmp_path, monkeypatch, swap=20, code_step=39, n=61)
    ws = Workspace(settings)
    data, _ = write_history_report(ws)
    sha_of = {r.run_id: r.commit.sha for r in data.runs if r.commit is not None}
    assert [(c.name, shas.index(sha_of[c.run_id])) for c in data.change_points] == [
        (CONTROLS[0], 40)]
    (spec,) = open_culprit_searches(ws)
    assert (spec.benchmark, shas.index(spec.good), shas.index(spec.bad)) == (
        CONTROLS[0], 38, 40)


def test_hardware_groups_put_a_run_of_unknown_hardware_with_the_run_before_it() -> None:
    from perf_pipeline.model import RunInfo, RunStatus
    from perf_pipeline.pipeline.hardware_mix import hardware_groups

    def info(run_id: str, hw: str | None) -> RunInfo:
        return RunInfo(run_id=run_id, suite="benchmarks", started_at="2024-01-01",
                       status=RunStatus.SUCCESS, hardware=hw)

    runs = [info("u0", None), info("a1", "A"), info("u2", None), info("b3", "B"),
            info("u4", None), info("a5", "A")]
    assert hardware_groups(runs) == (frozenset({"u0", "a1", "u2", "a5"}),
                                     frozenset({"b3", "u4"}))
    assert hardware_groups(runs[:3]) == (frozenset({"u0", "a1", "u2"}),)
    assert hardware_groups([]) == ()
