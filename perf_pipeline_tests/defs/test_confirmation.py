"""What the gate's checks and the confirmation's metadata say, case by case.

The checks' verdicts are run end to end in ``test_end_to_end.py``; here each state a
confirmation can end in is given to the same functions the checks return, so that none
of them passes *silently* (an A/B out of budget, a memory-only flag, a run no baseline
of its machine could judge).
"""

from __future__ import annotations

import dagster as dg

from perf_pipeline.defs.analysis import screen_check_result
from perf_pipeline.defs.confirmation import gate_check_result
from perf_pipeline.defs.metadata import confirmation_metadata
from perf_pipeline.model import CommitAnalysis, SuiteComparison, Verdict
from perf_pipeline_tests.pipeline.test_confirm import (
    NAMES,
    FakeSource,
    _confirm,
    _row,
    _screen,
)

SHA = "c" * 40


def test_an_ab_out_of_budget_passes_the_gate_but_says_what_it_left_undecided() -> None:
    target = NAMES[2]
    c = _confirm(_screen({target: 1.3}), FakeSource({target: 1.02}, stop_after=2))
    result = gate_check_result(SHA, c)
    assert result.passed  # inconclusive is not a regression
    assert "inconclusive" in result.description and "test_c" in result.description
    assert "stopped: budget" in result.description and "2 round(s)" in result.description
    assert result.metadata["undecided"].value == 1
    assert result.metadata["stopped"].value == "budget"
    assert confirmation_metadata(c)["undecided"].value == 1


def test_a_confirmed_regression_fails_the_gate() -> None:
    target = NAMES[1]
    c = _confirm(_screen({target: 1.5}), FakeSource({target: 1.5}, factor=0.01))
    result = gate_check_result(SHA, c)
    assert not result.passed and result.severity is dg.AssetCheckSeverity.ERROR
    assert result.description.startswith("1 confirmed regression(s): test_b (time_s) x1.")
    assert "inconclusive" not in result.description


def test_no_confirmation_fails_the_gate() -> None:
    result = gate_check_result(SHA, None)
    assert not result.passed and "no confirmation" in result.description


def test_a_memory_only_flag_is_not_summarised_as_nothing() -> None:
    memory = _row(NAMES[0], Verdict.REGRESSION, 1.5, metric="peak_rss_bytes")
    screen = _screen({})
    timings = [r for r in screen.results if r.metric != "peak_rss_bytes"]
    screen = SuiteComparison(results=(*timings, memory), correction=screen.correction,
                             alpha=screen.alpha)
    c = _confirm(screen, FakeSource({}))
    assert c.status == "nothing_flagged" and c.regressions
    summary = confirmation_metadata(c)["summary"].value
    assert "flagged nothing" not in summary
    assert "no timing" in summary and "test_a (peak_rss_bytes)" in summary
    assert not gate_check_result(SHA, c).passed


def _analysis(*, baseline_run_ids: tuple[str, ...], notes: tuple[str, ...],
              **kw: object) -> CommitAnalysis:
    return CommitAnalysis(run_id="r1", sha=SHA, created_at="2024-01-01T00:00:00+00:00",
                          threshold=1.2, alpha=0.5, baseline_run_ids=baseline_run_ids,
                          notes=notes, **kw)  # type: ignore[arg-type]


def test_the_screen_check_says_when_nothing_was_screened() -> None:
    first = screen_check_result(SHA, _analysis(baseline_run_ids=(), notes=(
        "No baseline yet: nothing earlier to compare with.",)))
    assert first.passed and first.description.startswith("not screened: No baseline yet")
    elsewhere = screen_check_result(SHA, _analysis(baseline_run_ids=("b1", "b2"), notes=(
        "Not judged: the rolling baseline was measured on machine m1, this run on m2.",)))
    assert not elsewhere.passed and elsewhere.severity is dg.AssetCheckSeverity.WARN
    assert "machine m1" in elsewhere.description
    assert elsewhere.metadata["screened"].value is False


def test_the_first_run_on_new_hardware_passes_the_screen_check_a_stale_pin_warns() -> None:
    """A CPU swap under one machine_id: its first run starts the rolling baseline of the
    new hardware, as a machine's first run does, and warned "not screened" all the same;
    a baseline pinned on the old hardware judges nothing until a person re-pins it."""
    swap = screen_check_result(SHA, _analysis(
        baseline_run_ids=("b1", "b2"), notes=("Not judged: all on other hardware.",),
        not_judged="other_hardware", baseline_policy="rolling"))
    assert swap.passed and swap.description.startswith("not screened: Not judged")
    pinned = screen_check_result(SHA, _analysis(
        baseline_run_ids=("b1",), notes=("Not judged: the pinned baseline ...",),
        not_judged="other_hardware", baseline_policy="pinned"))
    assert not pinned.passed and pinned.severity is dg.AssetCheckSeverity.WARN


def test_a_failed_ab_is_not_reported_as_undecided_beside_its_verdict() -> None:
    from perf_pipeline_tests.pipeline.test_confirm import FailingSource

    target = NAMES[2]
    c = _confirm(_screen({target: 1.3}), FailingSource({target: 1.3}, fail_at=3),
                 standing=_screen({target: 1.3}, alpha=0.01))
    result = gate_check_result(SHA, c)
    assert not result.passed and "inconclusive" not in result.description
    assert c.undecided == () and result.metadata["undecided"].value == 0
