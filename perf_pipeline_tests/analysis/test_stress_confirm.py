"""The stress confirmation: fresh interleaved pairs judged by a signed-rank test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perf_pipeline.analysis.stress import compare_stress
from perf_pipeline.analysis.stress_confirm import (
    STRESS_CONFIRM_PAIRS,
    apply_stress_confirmation,
    confirm_stress,
    flagged_stress,
    pair_change,
    reachable_alpha,
    worse_p_value,
)
from perf_pipeline.config import Settings
from perf_pipeline.model import StressFigure, Verdict

TEST = "tests/test_stress.py::test_load"
THROUGHPUT = (TEST, "flood", "throughput_ops_s")
BREAKING = (TEST, "ramp", "breaking_point")


def run(throughput: float = 1000.0, breaking: float = 8.0) -> tuple[StressFigure, ...]:
    return (StressFigure(test=TEST, scenario="flood", kind="closed",
                         figure="throughput_ops_s", value=throughput,
                         count=int(throughput * 3)),
            StressFigure(test=TEST, scenario="ramp", kind="ramp", figure="breaking_point",
                         value=breaking))


def test_the_default_pairs_setting_is_the_analysis_default() -> None:
    assert Settings().stress_confirm_pairs == STRESS_CONFIRM_PAIRS


def test_worse_p_value_is_the_exact_one_sided_signed_rank_test() -> None:
    assert worse_p_value([1.0] * 10) == pytest.approx(2 ** -10)
    assert worse_p_value([]) == 1.0
    assert worse_p_value([0.0, 0.0]) == 1.0  # no sign to flip
    # Two of ten better, by the smallest changes: still 5/1024 <= 0.01.
    assert worse_p_value([1.0 + i for i in range(8)] + [-0.1, -0.2]) == pytest.approx(5 / 1024)
    # Symmetric changes are no evidence.
    assert worse_p_value([1.0, -1.0, 2.0, -2.0]) > 0.5


@pytest.mark.parametrize(("figure", "base", "current", "worse"), [
    ("throughput_ops_s", 100.0, 50.0, True), ("throughput_ops_s", 50.0, 100.0, False),
    ("p99_s", 0.01, 0.03, True), ("p99_s", 0.03, 0.01, False),
    ("breaking_point", 8.0, 4.0, True), ("breaking_point", 1.0, 0.0, True),
    ("breaking_point", 4.0, 8.0, False), ("exponent", 1.0, 2.0, True),
    ("leak", 0.0, 1.0, True), ("error_rate", 0.0, 0.2, True),
    ("error_rate", 0.2, 0.0, False)])
def test_pair_change_is_positive_when_worse(figure: str, base: float, current: float,
                                            worse: bool) -> None:
    d, margin = pair_change(figure, base, current)  # type: ignore[misc]
    assert (d > 0) is worse and margin > 0


def test_pair_change_cannot_say_without_values() -> None:
    assert pair_change("p99_s", None, 1.0) is None
    assert pair_change("p50_s", 1.0, 2.0) is None  # not a judged figure


def test_a_real_drop_is_confirmed_after_the_full_pairs() -> None:
    pairs = [(run(1000.0 + i), run(450.0 + 3 * i)) for i in range(20)]
    result = confirm_stress([THROUGHPUT], pairs)
    (tally,) = result.tallies
    assert tally.verdict is Verdict.REGRESSION
    assert result.pairs_used == STRESS_CONFIRM_PAIRS == len(tally.changes)
    assert tally.p_value == pytest.approx(2 ** -STRESS_CONFIRM_PAIRS)
    assert "confirmed: worse in 10 of 10" in tally.summary


def test_an_unchanged_figure_is_cleared_early() -> None:
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(20):
        a, b = 1000 * math.exp(rng.normal(0, 0.4)), 1000 * math.exp(rng.normal(0, 0.4))
        pairs.append((run(a), run(b)))
    result = confirm_stress([THROUGHPUT], pairs)
    assert result.tallies[0].verdict is Verdict.UNCHANGED
    assert result.pairs_used < STRESS_CONFIRM_PAIRS


def test_identical_pairs_clear_once_the_level_is_out_of_reach() -> None:
    result = confirm_stress([BREAKING], [(run(), run())] * 20)
    assert result.tallies[0].verdict is Verdict.UNCHANGED
    assert result.pairs_used == 4  # zeros carry no sign: 6 pairs left cannot reach 0.01


def test_a_drop_that_is_significant_but_smaller_than_the_rule_is_not_confirmed() -> None:
    pairs = [(run(1000.0), run(900.0 - i)) for i in range(20)]  # x0.9: the rule asks 1/1.3
    result = confirm_stress([THROUGHPUT], pairs)
    assert result.tallies[0].verdict is Verdict.UNCHANGED
    assert result.tallies[0].worse_by_margin == 0


def test_flagged_figures_share_alpha() -> None:
    pairs = [(run(1000.0), run(400.0, breaking=4.0))] * 20
    one = confirm_stress([THROUGHPUT], pairs, max_pairs=7)
    two = confirm_stress([THROUGHPUT, BREAKING], pairs, max_pairs=7)
    assert one.level == 0.01 and two.level == 0.005
    assert one.tallies[0].verdict is Verdict.REGRESSION  # 1/128 <= 0.01
    # 1/128 > 0.005: seven pairs cannot confirm two figures, so nothing is measured.
    assert two.pairs_used == 0
    assert {t.verdict for t in two.tallies} == {Verdict.INCONCLUSIVE}


def test_too_few_pairs_for_alpha_measure_nothing_and_stay_undecided() -> None:
    assert reachable_alpha(5) > 0.01
    pulled = []

    def pairs():
        pulled.append(1)
        yield run(), run(100.0)

    result = confirm_stress([THROUGHPUT], pairs(), max_pairs=5)
    assert not pulled and result.tallies[0].verdict is Verdict.INCONCLUSIVE


def test_pairs_running_out_leave_an_open_figure_inconclusive() -> None:
    result = confirm_stress([THROUGHPUT], [(run(1000.0), run(400.0))] * 3)
    assert result.pairs_used == 3 and result.tallies[0].verdict is Verdict.INCONCLUSIVE
    assert "undecided" in result.tallies[0].summary


def test_a_pair_that_did_not_measure_the_figure_counts_for_neither_side() -> None:
    other = (StressFigure(test=TEST, scenario="ramp", kind="ramp",
                          figure="breaking_point", value=8.0),)
    pairs = [(run(1000.0), other), *[(run(1000.0), run(400.0))] * 10]
    result = confirm_stress([THROUGHPUT], pairs)
    # The budget is pairs measured; the test is judged on the nine that measured it.
    assert result.pairs_used == 10 and len(result.tallies[0].changes) == 9
    assert result.tallies[0].verdict is Verdict.REGRESSION
    assert result.tallies[0].p_value == pytest.approx(2 ** -9)


def test_pairs_are_pulled_only_until_every_figure_is_decided() -> None:
    pulled = []

    def pairs():
        for i in range(100):
            pulled.append(i)
            yield run(1000.0), run(1000.0)

    confirm_stress([THROUGHPUT], pairs())
    assert len(pulled) == 4


def test_false_confirmations_stay_below_alpha_on_heavy_tailed_exchangeable_noise() -> None:
    """Cauchy-distributed run effects (a busy spell moves a run by any amount), the two
    runs of a pair exchangeable: the test is exact, so at most alpha confirm."""
    rng = np.random.default_rng(20261203)
    trials, confirmed = 3000, 0
    for _ in range(trials):
        effects = np.exp(0.3 * rng.standard_cauchy(size=(STRESS_CONFIRM_PAIRS, 2)).clip(-20, 20))
        pairs = [(run(1000.0 * a), run(1000.0 * b)) for a, b in effects]
        result = confirm_stress([THROUGHPUT], pairs)
        confirmed += result.tallies[0].verdict is Verdict.REGRESSION
    assert confirmed / trials <= 0.01


def test_the_confirmation_decides_and_the_detail_keeps_both_stages() -> None:
    screen = compare_stress(run(1000.0), run(400.0))
    flagged = flagged_stress(screen)
    assert flagged == (THROUGHPUT,)
    result = confirm_stress(flagged, [(run(1000.0), run(990.0))] * 10, screen=screen)
    final = {(c.scenario, c.figure): c for c in apply_stress_confirmation(screen, result)}
    row = final[("flood", "throughput_ops_s")]
    assert row.verdict is Verdict.UNCHANGED
    assert row.detail.startswith("cleared: ") and "(screen: throughput x0.40" in row.detail
    assert final[("ramp", "breaking_point")] == next(
        c for c in screen if c.figure == "breaking_point")  # not flagged: as screened


def test_a_throughput_that_falls_to_zero_is_worse_not_unknown() -> None:
    """A flood that completed nothing (every request failed) has throughput 0: such a
    pair once said nothing, the futility rule cleared the flag ("cleared: no fresh pair
    measured it"), and the commit read as unchanged."""
    d, margin = pair_change("throughput_ops_s", 1000.0, 0.0)  # type: ignore[misc]
    assert d >= margin and math.isfinite(d)
    assert pair_change("throughput_ops_s", 0.0, 10.0)[0] < 0  # type: ignore[index]
    assert pair_change("throughput_ops_s", 0.0, 0.0)[0] == 0  # type: ignore[index]
    pairs = [(run(1000.0 + i), run(0.0)) for i in range(20)]
    result = confirm_stress([THROUGHPUT], pairs)
    assert result.tally(THROUGHPUT).verdict is Verdict.REGRESSION  # type: ignore[union-attr]


def test_a_figure_no_fresh_pair_measured_is_undecided_not_cleared() -> None:
    """Nothing measured is no evidence of "unchanged"."""
    missing = tuple(f for f in run() if f.figure != "throughput_ops_s")
    result = confirm_stress([THROUGHPUT], [(run(), missing)] * 20)
    tally = result.tally(THROUGHPUT)
    assert tally is not None and tally.verdict is Verdict.INCONCLUSIVE
    assert result.pairs_used < 10  # still stops measuring what cannot be confirmed
