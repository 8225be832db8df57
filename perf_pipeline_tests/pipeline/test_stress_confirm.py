"""The stress gate's second stage over a real history: fresh pairs decide, the file
keeps the answer for every reader, and a re-run does not measure twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf_pipeline.config import Settings
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.measure.git import resolve_commit
from perf_pipeline.model import StressFigure, Verdict
from perf_pipeline.pipeline.stress import analyze_stress_commit, judge_stress
from perf_pipeline.workspace import Workspace
from perf_pipeline_tests.pipeline.stress_history import record_stress_runs

BASE, CAND = "a" * 40, "b" * 40
TEST = "tests/test_stress.py::test_flood"


def _figures(throughput: float, exponent: float = 1.0) -> tuple[StressFigure, ...]:
    return (StressFigure(test=TEST, scenario="flood", kind="closed",
                         figure="throughput_ops_s", value=throughput,
                         count=int(throughput * 3)),
            StressFigure(test="tests/test_stress.py::test_sweep", scenario="sweep",
                         kind="sweep", figure="exponent", value=exponent,
                         low=exponent - 0.1, high=exponent + 0.1))


def _history(tmp_path: Path, **settings: object) -> Workspace:
    """Commit a, then b whose stress run did 0.4 of a's work per second: one flag."""
    s = Settings(results_dir=tmp_path / "results", **settings)  # type: ignore[arg-type]
    record_stress_runs(s.db_path, [(BASE, _figures(1000.0)), (CAND, _figures(400.0))])
    return Workspace(s)


def _pairs(candidate: float, log: list[int] | None = None):
    for i in range(100):
        if log is not None:
            log.append(i)
        yield _figures(1000.0 + i), _figures(candidate + i)


def test_a_busy_spell_flag_is_cleared_and_every_reader_sees_the_cleared_verdict(
        tmp_path: Path) -> None:
    ws = _history(tmp_path)
    pulled: list[int] = []
    outcome = analyze_stress_commit(ws, CAND, pairs=_pairs(1000.0, pulled))
    assert outcome.screen_flagged == 1 and not outcome.regressions
    assert outcome.confirmation_pairs == len(pulled) < 10
    row = {c.figure: c for c in outcome.comparisons}["throughput_ops_s"]
    assert row.verdict is Verdict.UNCHANGED
    assert row.detail.startswith("cleared: ") and "screen: throughput x0.40" in row.detail
    assert "measured again in" in outcome.markdown and "0 confirmed" in outcome.markdown
    # The commit's performance report judges the same stress rows (file, not a re-run).
    judged = judge_stress(ws, CAND)
    assert judged is not None and not judged.regressions
    stored = json.loads(ws.layout.stress_confirmation_path(CAND).read_text())
    assert stored["run_id"] == "run2" and stored["baseline_run_id"] == "run1"
    assert stored["figures"][0]["verdict"] == "unchanged"


def test_a_real_drop_is_confirmed_and_a_rerun_does_not_measure_again(tmp_path: Path) -> None:
    ws = _history(tmp_path)
    outcome = analyze_stress_commit(ws, CAND, pairs=_pairs(400.0))
    assert [c.figure for c in outcome.regressions] == ["throughput_ops_s"]
    assert outcome.confirmation_pairs == 10
    assert "confirmed: worse in 10 of 10 fresh pair(s)" in outcome.markdown
    pulled: list[int] = []
    again = analyze_stress_commit(ws, CAND, pairs=_pairs(1000.0, pulled))
    assert not pulled and [c.figure for c in again.regressions] == ["throughput_ops_s"]


def test_confirm_off_keeps_the_screen_alone(tmp_path: Path) -> None:
    ws = _history(tmp_path, confirm="off")
    pulled: list[int] = []
    outcome = analyze_stress_commit(ws, CAND, pairs=_pairs(1000.0, pulled))
    assert not pulled and [c.figure for c in outcome.regressions] == ["throughput_ops_s"]
    assert not ws.layout.stress_confirmation_path(CAND).exists()


def test_a_baseline_commit_that_is_not_in_the_repo_leaves_the_flag_undecided(
        tmp_path: Path) -> None:
    """The history's baseline commit cannot be measured again (a fake SHA here): the
    flag is neither confirmed nor silently kept: inconclusive, with the reason."""
    ws = _history(tmp_path)
    outcome = analyze_stress_commit(ws, CAND)
    row = {c.figure: c for c in outcome.comparisons}["throughput_ops_s"]
    assert row.verdict is Verdict.INCONCLUSIVE and not outcome.regressions
    assert "cannot be measured again" in outcome.markdown


def test_measuring_that_fails_midway_keeps_what_was_decided(tmp_path: Path) -> None:
    from perf_pipeline.errors import MeasurementError

    def failing():
        yield _figures(1000.0), _figures(400.0)
        raise MeasurementError("pair 1, base side: the suite timed out")

    ws = _history(tmp_path)
    outcome = analyze_stress_commit(ws, CAND, pairs=failing())
    row = {c.figure: c for c in outcome.comparisons}["throughput_ops_s"]
    assert row.verdict is Verdict.INCONCLUSIVE
    assert "Pairs ended early: measuring stopped: pair 1, base side" in outcome.markdown


def test_a_corrupt_confirmation_file_is_a_named_error(tmp_path: Path) -> None:
    ws = _history(tmp_path)
    analyze_stress_commit(ws, CAND, pairs=_pairs(400.0))
    path = ws.layout.stress_confirmation_path(CAND)
    path.write_text('{"schema_version": 1, "sha": ')
    with pytest.raises(InvalidInputError, match=r"\.stress\.json.*not a valid stress"):
        judge_stress(ws, CAND)


def test_the_commit_report_shows_both_stages(tmp_path: Path) -> None:
    """The commit's performance report renders judge_stress's rows and notes."""
    from perf_pipeline.model import ReportData
    from perf_pipeline.report import render_html, render_markdown

    ws = _history(tmp_path)
    analyze_stress_commit(ws, CAND, pairs=_pairs(400.0))
    judged = judge_stress(ws, CAND)
    assert judged is not None
    data = ReportData(title="t", generated_at="now", stress=judged.comparisons,
                      stress_baseline=judged.label, stress_note=judged.notes)
    markdown = render_markdown(data)
    assert "**1 stress regression(s)**" in markdown
    assert "confirmed: worse in 10 of 10 fresh pair(s)" in markdown
    assert "(screen: throughput x0.40" in markdown
    assert "fresh interleaved pair(s) of runs (at most 10)" in render_html(data, inline_js=False)


def test_a_stored_test_id_that_is_not_a_node_id_is_not_passed_to_pytest(
        tmp_path: Path) -> None:
    """Test ids come from stored figures: one that pytest would read as an option is
    refused, and the flag stays undecided with the reason."""
    s = Settings(results_dir=tmp_path / "results")
    def option_like(throughput: float) -> tuple[StressFigure, ...]:
        return (StressFigure(test="--rootdir=/", scenario="flood", kind="closed",
                             figure="throughput_ops_s", value=throughput,
                             count=int(throughput)),)

    record_stress_runs(s.db_path, [(BASE, option_like(1000.0)), (CAND, option_like(400.0))])
    ws = Workspace(s)
    from perf_pipeline.pipeline.stress_confirm import measure_stress_confirmation

    judged = judge_stress(ws, CAND)
    assert judged is not None
    # The baseline commit exists (this repo's HEAD): the test id alone is refused.
    head = resolve_commit(s.repo_path, "HEAD")
    record = measure_stress_confirmation(ws, CAND, run_id="run2", baseline_run_id="run1",
                                         baseline_sha=head, screen=judged.comparisons)
    assert record is not None and record.confirmation.pairs_used == 0
    assert {t.verdict for t in record.confirmation.tallies} == {Verdict.INCONCLUSIVE}
    assert "the flagged tests cannot be run again" in record.note
    assert "must not start with '-'" in record.note


def test_a_flag_awaiting_its_confirmation_is_shown_as_inconclusive(tmp_path: Path) -> None:
    """The commit's report can be written before stress_analysis confirms (no asset
    dependency between them): a flag shown as a "regression" there was the screen's
    false alarm two times in three on a shared machine."""
    ws = _history(tmp_path)
    judged = judge_stress(ws, CAND)
    assert judged is not None and judged.awaiting_confirmation
    assert [c.figure for c in judged.regressions] == ["throughput_ops_s"]  # to confirm
    row = {c.figure: c for c in judged.shown}["throughput_ops_s"]
    assert row.verdict is Verdict.INCONCLUSIVE
    assert row.detail.startswith("flagged by the screen, not confirmed yet: throughput x0.40")
    assert judged.notes is not None and "until then they are inconclusive" in judged.notes
    # Confirmed, the rows are the confirmation's; with confirm=off, the screen's.
    analyze_stress_commit(ws, CAND, pairs=_pairs(400.0))
    confirmed = judge_stress(ws, CAND)
    assert confirmed is not None and not confirmed.awaiting_confirmation
    assert confirmed.shown == confirmed.comparisons
    off = judge_stress(_history(tmp_path / "off", confirm="off"), CAND)
    assert off is not None and off.shown == off.comparisons and off.regressions


def _many(throughput: float, n: int) -> tuple[StressFigure, ...]:
    return tuple(StressFigure(test=f"tests/test_s.py::test_{i}", scenario=f"s{i}",
                              kind="closed", figure="throughput_ops_s", value=throughput,
                              count=int(throughput * 3))
                 for i in range(n))


def _many_history(tmp_path: Path, n: int) -> Workspace:
    """Commit b's stress run did 0.3 of a's work per second in ``n`` scenarios."""
    s = Settings(results_dir=tmp_path / "results")
    record_stress_runs(s.db_path, [(BASE, _many(1000.0, n)), (CAND, _many(300.0, n))])
    return Workspace(s)


def test_a_broad_regression_flagging_more_than_ten_figures_is_still_confirmed(
        tmp_path: Path) -> None:
    """11 flags share alpha 0.01: 10 pairs (smallest p 1/1024) could confirm none, so
    nothing was measured and the gate passed the broadest regressions. The pairs grow
    to what the level needs."""
    ws = _many_history(tmp_path, 11)
    pulled: list[int] = []

    def pairs():
        for i in range(100):
            pulled.append(i)
            yield _many(1000.0 + i, 11), _many(300.0 + i, 11)

    outcome = analyze_stress_commit(ws, CAND, pairs=pairs())
    assert outcome.screen_flagged == 11
    assert len(outcome.regressions) == 11 and outcome.confirmation_pairs == 11
    judged = judge_stress(ws, CAND)
    assert judged is not None and "11 pairs (not stress_confirm_pairs 10)" in str(judged.notes)


def test_confirm_off_ignores_an_earlier_confirmation(tmp_path: Path) -> None:
    """`stress --confirm off` after the nightly (auto) cleared the flag: the screen's
    regression decides, as documented, not the stored confirmation (it exited 0)."""
    analyze_stress_commit(_history(tmp_path), CAND, pairs=_pairs(1000.0))
    off = Workspace(Settings(results_dir=tmp_path / "results", confirm="off"))
    outcome = analyze_stress_commit(off, CAND, pairs=_pairs(1000.0))
    assert [c.figure for c in outcome.regressions] == ["throughput_ops_s"]
    assert "measured again" not in outcome.markdown


def test_flags_of_another_machines_runs_are_not_confirmed_by_pairs_measured_here(
        tmp_path: Path) -> None:
    """Machine bench-a judged a commit only bench-b had run the stress suite of (a shared
    history) and measured its own fresh pairs to confirm bench-b's flag: bench-b's real
    drop was cleared by bench-a's figures. The benchmark gate never confirms another
    machine's flags; neither does the stress gate."""
    from perf_pipeline.model import CommitInfo, RunStatus, SuiteRun
    from perf_pipeline.store import HistoryStore

    settings = Settings(results_dir=tmp_path / "results", machine_id="bench-a")
    with HistoryStore.open(settings.db_path) as store:
        for day, (sha, figures) in enumerate(
                [(BASE, _figures(1000.0)), (CAND, _figures(400.0))], start=1):
            stamp = f"2024-01-0{day}T00:00:00+00:00"
            store.ingest_run(SuiteRun(
                run_id=f"run{day}", suite="stress", status=RunStatus.SUCCESS,
                commit=CommitInfo(sha=sha, branch="main", committed_at=stamp),
                started_at=stamp, machine_id="bench-b"))
            store.record_stress(f"run{day}", figures)
    pulled: list[int] = []
    outcome = analyze_stress_commit(Workspace(settings), CAND, pairs=_pairs(1000.0, pulled))
    assert outcome.screen_flagged == 1 and not pulled  # nothing measured here
    row = {c.figure: c for c in outcome.comparisons}["throughput_ops_s"]
    assert row.verdict is not Verdict.UNCHANGED  # not cleared by another machine
    assert "measured on machine bench-b, this is machine bench-a" in outcome.markdown
