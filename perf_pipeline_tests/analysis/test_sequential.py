"""sequential_ab: looks, spending, stopping, targets, input validation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import pytest

from perf_pipeline.analysis import (
    SUITE_SHIFT_NAME,
    choose_controls,
    confirm_flagged,
    flagged_for_confirmation,
    level_plan,
    look_levels,
    round_value,
    sequential_ab,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import (
    BenchmarkComparison,
    Comparison,
    SuiteComparison,
    Verdict,
)

NAMES = [f"b{i}" for i in range(6)]


def _rounds(rng: np.random.Generator, *, slowed: dict[str, float] | None = None,
            noise: float = 0.03, factor: float = 0.10, names: list[str] = NAMES
            ) -> Iterator[dict[str, tuple[float, float]]]:
    """Endless rounds: each process has its own suite factor, each benchmark its noise."""
    slowed = slowed or {}
    while True:
        fa, fb = rng.normal(0.0, factor, size=2)
        yield {n: (math.exp(fa + rng.normal(0, noise)),
                   math.exp(fb + rng.normal(0, noise)) * slowed.get(n, 1.0)) for n in names}


class _Counting:
    def __init__(self, it: Iterator) -> None:
        self.it, self.pulled = it, 0

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> dict:
        self.pulled += 1
        return next(self.it)


def test_look_levels_spend_exactly_alpha() -> None:
    for gamma in (1.0, -2.0, 0.0):
        looks = look_levels(alpha=0.01, min_rounds=3, max_rounds=20, block=2, gamma=gamma)
        assert looks[0][0] == 3 and looks[-1][0] == 20
        assert math.isclose(sum(level for _, level in looks), 0.01, rel_tol=1e-12)
        assert all(level > 0 for _, level in looks)


def test_a_doubling_is_decided_in_a_few_rounds_and_pulls_no_more() -> None:
    rounds = _Counting(_rounds(np.random.default_rng(1), slowed={"b2": 2.0}))
    result = sequential_ab(rounds, threshold=1.0, alpha=0.01, targets=["b2"])
    verdict = result.comparison.results[0].comparison
    assert verdict.verdict is Verdict.REGRESSION
    assert 1.8 < verdict.ratio < 2.2
    assert result.rounds_used <= 6
    assert rounds.pulled == result.rounds_used
    assert result.stopped == "decided"
    assert result.decided_at == {"b2": result.rounds_used}


def test_unchanged_code_is_cleared_not_flagged() -> None:
    flagged = 0
    for seed in range(40):
        result = sequential_ab(_rounds(np.random.default_rng(100 + seed)), threshold=1.0,
                               alpha=0.01, max_rounds=20)
        flagged += bool(result.comparison.regressions)
    # At a family-wise level of 1 % per commit, 0.4 of 40 are expected (one here, a +3.4 %
    # at round 19 with p 4e-5, just under that look's level); several would be a bug.
    assert flagged <= 1


def test_a_cleared_benchmark_does_not_ask_for_more_rounds() -> None:
    result = sequential_ab(_rounds(np.random.default_rng(7)), threshold=1.2, alpha=0.01,
                           max_rounds=20)
    cleared = [r.comparison for r in result.comparison.results
               if r.comparison.verdict is Verdict.UNCHANGED]
    assert cleared and all(c.samples_needed is None for c in cleared)
    assert all("ruled out" in c.reason for c in cleared)


def test_controls_only_remove_the_factor_and_are_not_judged() -> None:
    result = sequential_ab(_rounds(np.random.default_rng(2), slowed={"b0": 1.3}),
                           threshold=1.0, alpha=0.01, targets=["b0"])
    assert [r.name for r in result.comparison.results] == ["b0"]
    assert result.comparison.results[0].comparison.verdict is Verdict.REGRESSION


def test_without_removing_the_process_factor_the_same_change_is_missed() -> None:
    # Two benchmarks only: no factor can be estimated, the per-process factor of 10 %
    # swamps a 10 % change that the six-benchmark rounds find.
    two = sequential_ab(_rounds(np.random.default_rng(3), slowed={"b0": 1.1},
                                names=["b0", "b1"]), threshold=1.0, alpha=0.01,
                        targets=["b0"])
    six = sequential_ab(_rounds(np.random.default_rng(3), slowed={"b0": 1.1}),
                        threshold=1.0, alpha=0.01, targets=["b0"])
    assert six.comparison.results[0].comparison.verdict is Verdict.REGRESSION
    assert two.comparison.results[0].comparison.verdict is not Verdict.REGRESSION


def test_one_sided_confirmation_never_reports_an_improvement() -> None:
    result = confirm_flagged(_rounds(np.random.default_rng(4), slowed={"b1": 0.5}), ["b1"],
                             threshold=1.0, alpha=0.01)
    assert result.comparison.results[0].comparison.verdict is not Verdict.IMPROVEMENT
    two_sided = sequential_ab(_rounds(np.random.default_rng(4), slowed={"b1": 0.5}),
                              threshold=1.0, alpha=0.01, targets=["b1"])
    assert two_sided.comparison.results[0].comparison.verdict is Verdict.IMPROVEMENT


def test_a_uniform_slowdown_is_the_suite_shift_and_each_benchmark_by_its_own_ratio() -> None:
    # Relative to the rounds' factor each benchmark reads ~x1.0; with the shift called,
    # each is judged by its own ratio (``own_change``): x1.5, as measured.
    slowed = dict.fromkeys(NAMES, 1.5)
    result = sequential_ab(_rounds(np.random.default_rng(5), slowed=slowed, factor=0.02),
                           threshold=1.0, alpha=0.01)
    by_name = {r.name: r.comparison for r in result.comparison.results}
    assert by_name[SUITE_SHIFT_NAME].verdict is Verdict.REGRESSION
    for name in NAMES:
        assert by_name[name].verdict is Verdict.REGRESSION, by_name[name].reason
        assert by_name[name].ratio == pytest.approx(1.5, rel=0.05)
        assert "judged by its own ratio" in by_name[name].reason


def test_undecided_at_the_budget_is_inconclusive_with_rounds_needed() -> None:
    result = sequential_ab(_rounds(np.random.default_rng(6), slowed={"b0": 1.04},
                                   noise=0.08), threshold=1.0, alpha=0.01, targets=["b0"],
                           max_rounds=6, min_effect=0.0)
    comparison = result.comparison.results[0].comparison
    if result.stopped == "max_rounds":
        assert comparison.verdict is Verdict.INCONCLUSIVE
        assert result.undecided == ("b0",)


def test_rounds_that_run_out_early_are_judged_on_what_there_is() -> None:
    rounds = itertools.islice(_rounds(np.random.default_rng(7), slowed={"b0": 1.5}), 5)
    result = sequential_ab(rounds, threshold=1.0, alpha=0.01, targets=["b0"], max_rounds=20)
    assert result.rounds_used <= 5
    assert result.stopped in ("exhausted", "decided")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"threshold": 0.9}, "`threshold`"), ({"alpha": 1.5}, "`alpha`"),
    ({"min_rounds": 1}, "`min_rounds`"), ({"min_rounds": 30, "max_rounds": 20}, "`min_rounds`"),
    # Two rounds were allowed, but a look needs three: every target came back NaN.
    ({"min_rounds": 2, "max_rounds": 2}, "`min_rounds` must be at least 3"),
    ({"block": 0}, "`block`"), ({"min_effect": -1.0}, "`min_effect`"),
    ({"targets": ["nope"]}, "`targets`"), ({"targets": []}, "`targets`"),
    ({"alternative": "less"}, "`alternative`"),
])
def test_sequential_ab_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        sequential_ab(_rounds(np.random.default_rng(0)), **kwargs)


def test_sequential_ab_rejects_bad_rounds() -> None:
    with pytest.raises(InvalidInputError, match="no round"):
        sequential_ab(iter(()))
    with pytest.raises(InvalidInputError, match="fewer than `min_rounds`"):
        sequential_ab(itertools.islice(_rounds(np.random.default_rng(0)), 2))
    with pytest.raises(InvalidInputError, match="finite and > 0"):
        sequential_ab(iter([{"a": (1.0, math.nan)}] * 5))
    with pytest.raises(InvalidInputError, match="pair"):
        sequential_ab(iter([{"a": 1.0}] * 5))  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="round 1 measured no benchmark"):
        sequential_ab(iter([{}] * 5))  # once a ZeroDivisionError


def test_a_benchmark_first_measured_after_round_1_is_listed_not_dropped() -> None:
    """Skipped on both sides of round 1 only: it is never judged (the rounds' names are
    round 1's), but it is listed as missing; a doubling once vanished without a word."""
    rounds = list(itertools.islice(_rounds(np.random.default_rng(3),
                                           slowed={NAMES[0]: 2.0}), 20))
    del rounds[0][NAMES[0]]
    result = sequential_ab(rounds, threshold=1.0)
    assert result.comparison.missing == (NAMES[0],)
    assert NAMES[0] not in {r.name for r in result.comparison.results}


def test_a_target_skipped_in_round_1_only_is_listed_and_the_other_targets_go_on() -> None:
    """A flagged benchmark skipped in round 1 only raised "not a benchmark of the
    rounds", and the whole confirmation failed; one first measured later is listed."""
    from perf_pipeline.analysis import confirm_flagged

    rounds = list(itertools.islice(_rounds(np.random.default_rng(3),
                                           slowed={NAMES[1]: 2.0}), 20))
    del rounds[0][NAMES[0]]
    result = sequential_ab(iter(rounds), threshold=1.0, targets=[NAMES[0], NAMES[1]])
    assert result.comparison.missing == (NAMES[0],)
    verdicts = {r.name: r.comparison.verdict for r in result.comparison.results}
    assert verdicts == {NAMES[1]: Verdict.REGRESSION}
    confirmed = confirm_flagged(iter(rounds), [NAMES[0], NAMES[1]], threshold=1.0, alpha=0.01)
    assert confirmed.comparison.missing == (NAMES[0],)
    # Not one target in round 1 is still refused: a typo, most likely.
    with pytest.raises(InvalidInputError, match="not a benchmark of the rounds"):
        sequential_ab(iter(rounds), threshold=1.0, targets=[NAMES[0]])


def _losing(rounds: Iterator[dict[str, tuple[float, float]]], name: str, from_round: int
            ) -> Iterator[dict[str, tuple[float, float]]]:
    """``rounds`` in which ``name`` is no longer measured on both sides from a round on
    (a flaky skip, a crash on one side)."""
    for k, rnd in enumerate(rounds, start=1):
        yield {n: v for n, v in rnd.items() if not (n == name and k >= from_round)}


def test_a_benchmark_lost_before_the_first_look_is_listed_not_compared() -> None:
    rounds = _losing(_rounds(np.random.default_rng(3), slowed={NAMES[0]: 1.5}),
                     NAMES[1], from_round=2)
    result = sequential_ab(rounds, threshold=1.1, max_rounds=20)
    assert result.comparison.missing == (NAMES[1],)
    verdicts = {r.name: r.comparison.verdict for r in result.comparison.results}
    assert NAMES[1] not in verdicts
    assert verdicts[NAMES[0]] is Verdict.REGRESSION  # the rest is judged as before


def test_a_benchmark_lost_after_a_look_is_inconclusive_and_the_rest_goes_on() -> None:
    slowed = {NAMES[0]: 1.04, NAMES[2]: 1.04}
    rounds = _losing(_rounds(np.random.default_rng(4), slowed=slowed, noise=0.02, factor=0.01),
                     NAMES[2], from_round=7)
    result = sequential_ab(rounds, threshold=1.0, max_rounds=40)
    lost = next(r for r in result.comparison.results if r.name == NAMES[2])
    assert NAMES[2] not in result.decided_at  # undecided at the looks of rounds 5 and 6
    assert lost.comparison.verdict is Verdict.INCONCLUSIVE
    assert "not measured on both sides from round 7" in lost.comparison.reason
    assert math.isfinite(lost.comparison.ratio)  # its evidence up to then is kept
    # The slowed one went on being measured and decided; the run then stopped, the
    # lost one being all that was open.
    assert result.rounds_used == result.decided_at[NAMES[0]] > 7
    assert result.stopped == "lost"


def test_when_every_open_benchmark_is_lost_the_run_stops() -> None:
    names = ["x", "y"]
    rounds = _losing(_losing(_rounds(np.random.default_rng(5), names=names, noise=0.3),
                             "x", 8), "y", 8)
    result = sequential_ab(rounds, threshold=1.0, max_rounds=30)
    assert result.rounds_used == 7 and result.stopped == "lost"
    assert all(r.comparison.verdict is Verdict.INCONCLUSIVE for r in result.comparison.results
               if r.name in names)


def _screen(rows: dict[str, tuple[Verdict, float, float]]) -> SuiteComparison:
    def comparison(verdict: Verdict, low: float, high: float) -> Comparison:
        return Comparison(verdict=verdict, ratio=(low + high) / 2, ci_low=low, ci_high=high,
                          p_value=0.5, significant=verdict is Verdict.REGRESSION,
                          threshold=1.0, alpha=0.2, n_baseline=10, n_current=1, method="m",
                          reason="r")
    return SuiteComparison(results=tuple(
        BenchmarkComparison(name=n, metric="time_s", comparison=comparison(*v))
        for n, v in rows.items()), correction="holm", alpha=0.2)


def test_controls_are_the_most_stable_unflagged_benchmarks() -> None:
    screen = _screen({
        "slow": (Verdict.REGRESSION, 1.1, 1.5), "quiet": (Verdict.INCONCLUSIVE, 0.99, 1.01),
        "noisy": (Verdict.INCONCLUSIVE, 0.5, 2.0), "calm": (Verdict.INCONCLUSIVE, 0.95, 1.05),
        "mid": (Verdict.INCONCLUSIVE, 0.9, 1.1), "wild": (Verdict.INCONCLUSIVE, 0.1, 9.0)})
    flagged = flagged_for_confirmation(screen)
    assert flagged == ("slow",)
    # Four controls (five benchmarks per round), the narrowest intervals, not "wild".
    assert choose_controls(screen, flagged) == ("calm", "mid", "noisy", "quiet")
    many = _screen({**{f"slow{i}": (Verdict.REGRESSION, 1.1, 1.5) for i in range(4)},
                    **{f"c{i}": (Verdict.INCONCLUSIVE, 0.9, 1.1 + i / 100) for i in range(7)}})
    # Four flagged: five controls, so the round's median is an unchanged benchmark's.
    assert choose_controls(many, flagged_for_confirmation(many)) == tuple(
        f"c{i}" for i in range(5))
    shift = _screen({"a": (Verdict.INCONCLUSIVE, 0.9, 1.1), "b": (Verdict.UNCHANGED, 0.99, 1.0),
                     SUITE_SHIFT_NAME: (Verdict.REGRESSION, 1.2, 1.4)})
    assert flagged_for_confirmation(shift) == (SUITE_SHIFT_NAME,)
    assert choose_controls(shift, (SUITE_SHIFT_NAME,)) == ("a", "b")


def test_round_value_is_the_fastest_sample() -> None:
    assert round_value([3.0, 1.0, 2.0]) == 1.0
    with pytest.raises(InvalidInputError):
        round_value([])


def test_screen_level_of_one_half_is_a_valid_alpha() -> None:
    # judge's "rounds needed" used to divide by z(0.5) = 0 at the screen's own level.
    from perf_pipeline.analysis.verdict import Estimate, judge

    est = Estimate(log_ratio=0.2, log_ci_low=-0.5, log_ci_high=0.9, p_value=0.6,
                   n_baseline=10, n_current=1, method="m", n_units=1, var_scalable=0.1)
    assert judge(est, threshold=1.0, alpha=0.5, adjusted_p=0.6).verdict is Verdict.INCONCLUSIVE


def test_weights_split_the_level_between_targets() -> None:
    equal = sequential_ab(_rounds(np.random.default_rng(5), slowed={"b0": 1.08}),
                          threshold=1.0, max_rounds=12, targets=["b0", "b1"],
                          alternative="greater")
    same = sequential_ab(_rounds(np.random.default_rng(5), slowed={"b0": 1.08}),
                         threshold=1.0, max_rounds=12, targets=["b0", "b1"],
                         alternative="greater", weights={"b0": 3.0, "b1": 3.0})
    assert equal == same  # only the ratios of the weights matter
    favoured = sequential_ab(_rounds(np.random.default_rng(5), slowed={"b0": 1.08}),
                             threshold=1.0, max_rounds=12, targets=["b0", "b1"],
                             alternative="greater", weights={"b0": 9.0, "b1": 1.0})

    # The favoured target gets a larger share of alpha at every look: its p-value is
    # scaled by the larger share, and it is never decided later (sooner on some seeds).
    assert {r.name for r in favoured.comparison.regressions} >= {"b0"}
    assert {r.name for r in equal.comparison.regressions} >= {"b0"}
    b0 = next(r for r in favoured.comparison.results if r.name == "b0").comparison
    n = favoured.decided_at["b0"]
    spent = next(t + sf for m, t, sf in level_plan(alpha=0.01, min_rounds=5, max_rounds=12,
                                                   block=1) if m == n)
    assert b0.adjusted_p_value < 0.01 and b0.adjusted_p_value == pytest.approx(
        min(1.0, b0.p_value * 10 / 9 / (spent / 0.01)), rel=1e-9)
    sooner = 0
    for seed in range(10):
        kwargs = dict(threshold=1.0, max_rounds=12, targets=["b0", "b1"], alternative="greater")
        one = sequential_ab(_rounds(np.random.default_rng(seed), slowed={"b0": 1.08}), **kwargs)
        other = sequential_ab(_rounds(np.random.default_rng(seed), slowed={"b0": 1.08}),
                              weights={"b0": 9.0, "b1": 1.0}, **kwargs)
        late, early = one.decided_at.get("b0", 99), other.decided_at.get("b0", 99)
        assert early <= late
        sooner += early < late
    assert sooner >= 2


@pytest.mark.parametrize("weights, match", [
    ({"b0": 1.0, "zz": 1.0}, "not a target"),
    ({"b0": 1.0}, "finite weight"),
    ({"b0": 1.0, "b1": 0.0}, "> 0"),
    ({"b0": 1.0, "b1": math.nan}, "finite weight"),
])
def test_weights_are_validated(weights: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        sequential_ab(_rounds(np.random.default_rng(1)), max_rounds=6,
                      targets=["b0", "b1"], weights=weights)


def test_screen_weights_follow_the_screen_evidence_and_are_capped() -> None:
    from dataclasses import replace

    from perf_pipeline.analysis import screen_weights

    base = _screen({"strong": (Verdict.REGRESSION, 1.2, 1.6),
                    "weak": (Verdict.REGRESSION, 1.0, 1.3),
                    "absurd": (Verdict.REGRESSION, 3.0, 4.0)})
    p = {"strong": 1e-4, "weak": 0.3, "absurd": 1e-300}
    screen = SuiteComparison(results=tuple(
        replace(r, comparison=replace(r.comparison, p_value=p[r.name]))
        for r in base.results), correction="none", alpha=0.5)
    w = screen_weights(screen, ("strong", "weak", "absurd"))
    assert w["weak"] < w["strong"] < w["absurd"]
    assert all(math.isfinite(v) and v > 0 for v in w.values())
    # Capped: one benchmark with overwhelming screen evidence cannot take all the level.
    assert w["absurd"] / sum(w.values()) < 0.99


def test_settings_defaults_are_the_analysis_defaults() -> None:
    from perf_pipeline.analysis import AB_PROCESSES, CONFIRM_MAX_ROUNDS, MAX_ROUNDS
    from perf_pipeline.config import Settings
    from perf_pipeline.errors import InvalidInputError

    assert Settings().confirm_max_rounds == CONFIRM_MAX_ROUNDS
    Settings(confirm_max_rounds=MAX_ROUNDS)  # the config's limit is the analysis' limit
    with pytest.raises(InvalidInputError, match="confirm_max_rounds"):
        Settings(confirm_max_rounds=MAX_ROUNDS + 1)
    assert Settings().ab_processes == AB_PROCESSES  # what the replay studies measured


@pytest.mark.parametrize("n", [1, 4, 7, 10])
def test_sign_flip_p_values_are_exact(n: int) -> None:
    """Against the enumeration of all 2^n sign patterns of the same integer scores."""
    from perf_pipeline.analysis.ab_huber import (
        HUBER_C,
        SCORE_GRID,
        median_abs_scale,
        sign_flip_p_values,
    )

    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.standard_t(2, size=n) * 0.05 + rng.normal(0, 0.03)
        s = median_abs_scale(x)
        q = np.rint(SCORE_GRID * np.minimum(np.abs(x) / s, HUBER_C))
        observed = float(np.sum(np.sign(x) * q))
        sums = np.array([np.dot(signs, q) for signs in itertools.product((-1, 1), repeat=n)])
        greater, two = sign_flip_p_values(x)
        assert greater == pytest.approx(np.mean(sums >= observed - 1e-9), abs=1e-12)
        expected_two = 1.0 if observed == 0 else np.mean(np.abs(sums) >= abs(observed) - 1e-9)
        assert two == pytest.approx(expected_two, abs=1e-12)


@pytest.mark.parametrize(("n", "ups"), [(70, 45), (130, 80), (200, 100)])
def test_sign_flip_counts_above_64_rounds_are_exact(n: int, ups: int) -> None:
    """Counts of sign patterns pass 2^64 after 64 rounds and take more than one word:
    with every |x| equal, every score is equal and the statistic is binomial."""
    from scipy import stats

    from perf_pipeline.analysis.ab_huber import sign_flip_p_values

    x = np.array([1.0] * ups + [-1.0] * (n - ups))
    greater, two = sign_flip_p_values(x)
    assert greater == pytest.approx(stats.binom.sf(ups - 1, n, 0.5), rel=1e-9)
    far = max(ups, n - ups)
    expected_two = 1.0 if 2 * ups == n else 2 * stats.binom.sf(far - 1, n, 0.5)
    assert two == pytest.approx(expected_two, rel=1e-9)


def test_sign_flip_test_holds_its_level_on_heavy_tailed_rounds() -> None:
    from perf_pipeline.analysis.ab_huber import sign_flip_p_values

    rng = np.random.default_rng(11)
    p = np.array([sign_flip_p_values(rng.standard_t(1.5, size=12))[0] for _ in range(4000)])
    for level in (0.01, 0.05, 0.2):
        assert np.mean(p <= level) <= level * 1.25 + 0.003


def _rounds_with_a_wild_one(rng: np.random.Generator, *, slowed: float, wild_at: set[int]
                            ) -> Iterator[dict[str, tuple[float, float]]]:
    """2 % noise per benchmark; in the rounds ``wild_at`` the target's candidate process
    was disturbed (-55 % or +55 %): the heavy tail real timings show."""
    k = 0
    while True:
        k += 1
        row = {n: (1.0, math.exp(rng.normal(0, 0.02))) for n in NAMES}
        wild = 0.55 * (-1) ** k if k in wild_at else 0.0
        row["b0"] = (1.0, math.exp(rng.normal(0, 0.02) + wild) * slowed)
        yield row


def test_a_disturbed_round_does_not_hide_a_small_change() -> None:
    """Four wild rounds inflate the t statistic's variance a hundredfold; the sign-flip
    test of clipped scores still confirms a 5 % slowdown (measured: 20 of 20 in a median
    30 rounds; the t alone: 0 of 20)."""
    found = 0
    for seed in range(20):
        result = sequential_ab(_rounds_with_a_wild_one(np.random.default_rng(seed),
                                                       slowed=1.05, wild_at={3, 8, 13, 18}),
                               threshold=1.0, alpha=0.01, targets=["b0"], max_rounds=40,
                               alternative="greater")
        found += result.comparison.results[0].comparison.verdict is Verdict.REGRESSION
    assert found >= 18


def test_the_factor_comes_from_the_controls_so_slowed_targets_do_not_mask_each_other() -> None:
    # Three of six slowed by 15 %: a median over all six would sit between the slowed
    # and the unchanged ones and halve every change; from the controls it does not.
    slowed = {"b0": 1.15, "b1": 1.15, "b2": 1.15}
    result = sequential_ab(_rounds(np.random.default_rng(5), slowed=slowed, noise=0.02),
                           threshold=1.0, alpha=0.01, targets=list(slowed),
                           alternative="greater")
    for r in result.comparison.results:
        assert r.comparison.verdict is Verdict.REGRESSION
        assert r.comparison.ratio == pytest.approx(1.15, rel=0.03)


def test_decided_targets_leave_the_rounds_and_the_source_is_told() -> None:
    told: list[tuple[str, ...]] = []

    def rounds() -> Iterator[dict[str, tuple[float, float]]]:
        rng = np.random.default_rng(9)
        for rnd in _rounds(rng, slowed={"b0": 2.0, "b1": 1.04}, noise=0.03):
            wanted = told[-1] if told else NAMES
            yield {n: v for n, v in rnd.items() if n in wanted}

    result = sequential_ab(rounds(), threshold=1.0, alpha=0.01, targets=["b0", "b1"],
                           max_rounds=60, alternative="greater", narrow=told.append)
    assert told and "b0" not in told[0] and "b1" in told[0]
    assert set(told[0]) >= {"b2", "b3", "b4", "b5"}  # the controls stay
    assert result.decided_at["b0"] < result.decided_at.get("b1", result.rounds_used)
    # Each target was measured only while open.
    assert result.target_rounds == sum(result.decided_at.get(t, result.rounds_used)
                                       for t in ("b0", "b1"))


def test_without_controls_nothing_is_dropped() -> None:
    told: list[tuple[str, ...]] = []
    result = sequential_ab(_rounds(np.random.default_rng(4), slowed={"b0": 2.0}),
                           threshold=1.0, alpha=0.01, max_rounds=20, narrow=told.append)
    assert told == []
    assert result.comparison.results[0].comparison.verdict is Verdict.REGRESSION


def _noisy_target_rounds(rng: np.random.Generator, *, slowed: float = 1.0, noise: float = 0.12
                         ) -> Iterator[dict[str, tuple[float, float]]]:
    while True:
        row = {n: (1.0, math.exp(rng.normal(0, 0.02))) for n in NAMES}
        row["b0"] = (1.0, math.exp(rng.normal(0, noise)) * slowed)
        yield row


def test_futility_projects_the_screens_estimate_when_it_is_larger() -> None:
    """A noisy benchmark the screen saw 10 % slower is not given up on because a 3 %
    change could not be confirmed by round 60: it is kept until a 10 % one could not be
    either (unchanged code here, so the rounds it costs are what is measured)."""
    plain, informed = [], []
    for seed in range(12):
        for expected, out in ((None, plain), ({"b0": 1.1}, informed)):
            result = sequential_ab(_noisy_target_rounds(np.random.default_rng(seed)),
                                   threshold=1.0, alpha=0.01, targets=["b0"], max_rounds=60,
                                   alternative="greater", expected=expected)
            assert result.comparison.results[0].comparison.verdict is not Verdict.REGRESSION
            out.append(result.decided_at.get("b0", result.rounds_used))
    assert all(i >= p for p, i in zip(plain, informed, strict=True))
    assert np.median(informed) > np.median(plain)  # measured 19.5 vs 10


@pytest.mark.parametrize("expected", [{"b0": 0.0}, {"b0": math.nan}, {"b0": -1.2}])
def test_expected_ratios_are_validated(expected: dict) -> None:
    with pytest.raises(InvalidInputError, match="`expected`"):
        sequential_ab(_rounds(np.random.default_rng(1)), threshold=1.0, targets=["b0"],
                      expected=expected)


def _scored(rows: dict[str, tuple[Verdict, float, float]]) -> SuiteComparison:
    """A screen whose results carry a ratio and a p-value each, one-sided in the direction
    of the change as the screen's are (at most 0.5)."""
    return SuiteComparison(results=tuple(
        BenchmarkComparison(name=n, metric="time_s", comparison=Comparison(
            verdict=v, ratio=ratio, ci_low=ratio * 0.9, ci_high=ratio * 1.1, p_value=p,
            significant=v is Verdict.REGRESSION, threshold=1.0, alpha=0.5, n_baseline=10,
            n_current=1, method="m", reason="r"))
        for n, (v, ratio, p) in rows.items()), correction="none", alpha=0.5)


def test_suspects_fill_a_small_confirmation_with_what_the_screen_could_not_clear() -> None:
    from perf_pipeline.analysis import screen_weights, suspects_for_confirmation

    screen = _scored({
        "flag": (Verdict.REGRESSION, 1.2, 0.01),
        "up": (Verdict.INCONCLUSIVE, 1.01, 0.45),  # z +0.13: the most suspicious
        "down": (Verdict.INCONCLUSIVE, 0.97, 0.35),  # z -0.39: not cleared
        "cleared": (Verdict.INCONCLUSIVE, 0.9, 0.005),  # z -2.6: the screen cleared it
        "edge": (Verdict.INCONCLUSIVE, 0.95, 0.3),  # z -0.52: just cleared
        SUITE_SHIFT_NAME: (Verdict.INCONCLUSIVE, 1.0, 1.0),
    })
    flagged = flagged_for_confirmation(screen)
    assert flagged == ("flag",)
    assert suspects_for_confirmation(screen, flagged) == ("down", "up")
    # At most enough for the minimum, the most suspicious first.
    assert suspects_for_confirmation(screen, flagged, minimum=2) == ("up",)
    assert suspects_for_confirmation(screen, flagged, minimum=1) == ()
    # Nothing flagged: no A/B runs, so no suspect either.
    quiet = _scored({"up": (Verdict.INCONCLUSIVE, 1.01, 0.45)})
    assert suspects_for_confirmation(quiet, flagged_for_confirmation(quiet)) == ()
    # A suspect the screen saw faster gets weight 1 (no evidence of a slowdown), never
    # more for looking faster; a flag's weight grows with its evidence.
    weights = screen_weights(screen, ("flag", "up", "down"))
    assert weights["down"] == 1.0
    assert 1.0 < weights["up"] < weights["flag"]


def test_the_screen_score_reads_its_one_sided_p_and_is_continuous_at_no_change() -> None:
    from perf_pipeline.analysis.confirmation import _slowdown_z

    def z(ratio: float, p: float) -> float:
        return _slowdown_z(_scored({"x": (Verdict.INCONCLUSIVE, ratio, p)}).results[0]
                           .comparison)

    # No evidence either way is 0 from both sides (read as two-sided it was -/+0.67).
    assert abs(z(0.9999, 0.5)) < 1e-9 and abs(z(1.0001, 0.5)) < 1e-9
    # One standard error each way: a one-sided p of 0.159.
    assert z(0.97, 0.1587) == pytest.approx(-1.0, abs=1e-3)
    assert z(1.03, 0.1587) == pytest.approx(1.0, abs=1e-3)


def test_a_noisy_benchmark_is_not_judged_on_the_quiet_ones_spread() -> None:
    """Rounds of one benchmark spread 12 %, of the others 2 %. The noisy one's t must use
    its own spread: a variance moderated across the targets, as before, pulled it toward
    the quiet ones' and "confirmed" such a benchmark with p 1e-6 on replayed real A/A
    commits. Here that code made 12 false confirmations in 1,000 unchanged commits (1.2 %,
    above the level of the whole family); a third of alpha 1 % allows 3.3."""
    names = ["noisy", *(f"q{i}" for i in range(6))]
    false = 0
    for seed in range(1000):
        rng = np.random.default_rng(9000 + seed)

        def rounds(rng: np.random.Generator = rng) -> Iterator[dict[str, tuple[float, float]]]:
            while True:
                f = rng.normal(0.0, 0.05)
                yield {n: (1.0, math.exp(f + rng.normal() * (0.12 if n == "noisy" else 0.02)))
                       for n in names}

        result = sequential_ab(rounds(), threshold=1.0, alpha=0.01, max_rounds=20,
                               targets=names[:3], alternative="greater")
        false += "noisy" in {r.name for r in result.comparison.regressions}
    assert false <= 4  # measured 2


def test_the_sign_flip_test_looks_late_and_the_two_budgets_spend_alpha() -> None:
    from perf_pipeline.analysis import sign_flip_looks

    assert sign_flip_looks(range(5, 21)) == (13, 20)
    assert sign_flip_looks(range(5, 101)) == (13, 20, 30, 44, 67, 100)
    assert sign_flip_looks([5, 10]) == (10,)  # too few rounds for a ladder: the last look
    assert sign_flip_looks([5, 8, 11, 14, 17, 20]) == (14, 20)  # snapped to a look
    for max_rounds, block in ((20, 1), (100, 1), (10, 3), (40, 4)):
        plan = level_plan(alpha=0.01, min_rounds=5, max_rounds=max_rounds, block=block)
        assert sum(t for _, t, _ in plan) + sum(sf for _, _, sf in plan) == pytest.approx(0.01)
        assert sum(sf for _, _, sf in plan) == pytest.approx(0.005)
        assert {n for n, _, sf in plan if sf > 0} == set(sign_flip_looks([n for n, *_ in plan]))
    with pytest.raises(InvalidInputError, match="empty"):
        sign_flip_looks([])


def test_the_method_says_when_no_suite_factor_was_removed() -> None:
    few = sequential_ab(_rounds(np.random.default_rng(6), names=["x", "y"]), max_rounds=5)
    many = sequential_ab(_rounds(np.random.default_rng(6)), max_rounds=5)
    assert all("no suite factor removed" in r.comparison.method
               for r in few.comparison.results)
    assert all("round's suite factor removed" in r.comparison.method
               for r in many.comparison.results)


def test_a_cleared_benchmark_shows_the_interval_that_cleared_it() -> None:
    """Unchanged beside an interval reaching past the threshold read as a contradiction:
    the look's level is spent over looks and split over targets, so its interval is far
    wider than the bound that cleared the benchmark."""
    result = sequential_ab(_rounds(np.random.default_rng(8), noise=0.02, factor=0.01),
                           threshold=1.2, max_rounds=20)
    cleared = [r for r in result.comparison.results
               if r.comparison.verdict is Verdict.UNCHANGED and r.name in NAMES]
    assert cleared
    for row in cleared:
        c = row.comparison
        assert c.ci_low <= c.ratio <= c.ci_high < 1.2
        assert "cleared after" in c.reason and "one that cleared it" in c.reason
        assert "cannot decide" not in c.reason


def test_controls_lost_with_too_few_benchmarks_left_decide_nothing() -> None:
    """Both controls stop being measured and three targets are too few for a factor of
    their own: the later rounds cannot be judged (neither raw nor against a median of
    the target itself), so the A/B stops at once instead of measuring 18 rounds it must
    throw away, and the targets, never looked at, are listed, not compared."""
    names = ["t0", "t1", "t2", "c0", "c1"]
    source = _Counting(_losing(_losing(_rounds(np.random.default_rng(9), names=names,
                                               slowed={"t0": 1.3}), "c0", 3), "c1", 3))
    result = sequential_ab(source, threshold=1.1, max_rounds=20, targets=["t0", "t1", "t2"])
    assert result.stopped == "unjudgeable" and result.decided_at == {}
    assert source.pulled == 3 and result.rounds_used == 2
    assert result.comparison.missing == ("t0", "t1", "t2")


def test_a_suite_too_small_after_a_loss_stops_instead_of_measuring_for_nothing() -> None:
    """Five benchmarks, no controls, one skipped from round 6: every later round has four,
    too few for a round's factor. The A/B once pulled all 60 rounds and judged the +15 %
    benchmark on its first five; it now stops and says why."""
    names = NAMES[:5]
    source = _Counting(_losing(_rounds(np.random.default_rng(4), names=names,
                                       slowed={names[0]: 1.15}), names[4], from_round=6))
    result = sequential_ab(source, threshold=1.0, max_rounds=60)
    assert result.stopped == "unjudgeable" and source.pulled == 6
    assert result.rounds_used == 5
    rows = {r.name: r.comparison for r in result.comparison.results}
    assert rows[names[0]].verdict is Verdict.INCONCLUSIVE
    assert "too few benchmarks were still measured" in rows[names[0]].reason


def test_controls_lost_leave_the_factor_to_the_others_when_enough_are_left() -> None:
    names = ["t0", "t1", "t2", "t3", "t4", "c0", "c1"]
    rounds = _losing(_losing(_rounds(np.random.default_rng(9), names=names,
                                     slowed={"t0": 1.3}), "c0", 3), "c1", 3)
    result = sequential_ab(rounds, threshold=1.1, max_rounds=20, targets=names[:5])
    rows = {r.name: r.comparison for r in result.comparison.results}
    assert rows["t0"].verdict is Verdict.REGRESSION
    assert all(math.isfinite(c.ratio) for c in rows.values())


def test_a_suite_wide_shift_never_leaks_into_targets_when_controls_are_lost() -> None:
    """Every benchmark 8 % slower (a suite-wide shift, no target's own change) and the
    controls lost from round 6: rounds without an estimable factor must not be judged
    raw (a factor of 0 there gave 26 of 120 false regressions)."""
    names = ["t0", "t1", "t2", "c0", "c1"]
    verdicts = []
    for seed in range(40):
        rounds = _losing(_losing(_rounds(np.random.default_rng(seed), names=names,
                                         slowed=dict.fromkeys(names, 1.08)), "c0", 6),
                         "c1", 6)
        result = sequential_ab(rounds, threshold=1.05, max_rounds=30,
                               targets=["t0", "t1", "t2"], alternative="greater")
        verdicts += [r.comparison.verdict for r in result.comparison.results]
    assert Verdict.REGRESSION not in verdicts


def test_everything_lost_before_the_first_look_is_listed_not_raised() -> None:
    names = ["x", "y", "z"]
    rounds = _rounds(np.random.default_rng(2), names=names)
    for name in names:
        rounds = _losing(rounds, name, 3)
    result = sequential_ab(rounds, max_rounds=20)
    assert result.stopped == "lost" and result.rounds_used == 2
    assert result.comparison.results == () and set(result.comparison.missing) == set(names)


def test_the_rounds_that_would_decide_are_projected_from_the_spread_per_round() -> None:
    """"~N more rounds would decide" (``verdict._units_needed``) scales the estimate's
    variance at n units by n / N: the estimate must give its variance (se^2), as every
    other estimate does. It gave se^2 * n, so the rounds projected were n times too many."""
    from perf_pipeline.analysis.ab_look import Look as _Look
    from perf_pipeline.analysis.ab_look import _estimate
    from perf_pipeline.analysis.verdict import judge

    one = np.ones(1)
    look = _Look(mean=np.array([0.02]), se=np.array([0.01]), df=np.array([9.0]), n=10,
                 rmean=one * math.nan, rse=one * math.nan, rp_greater=one, rp_two=one)
    est = _estimate(look, 0, 0.01, 0.06, 10, "two-sided")
    assert est.var_scalable == pytest.approx(0.01 ** 2)
    # Per round the spread is 0.01 * sqrt(10); to bring a 99 % half-width under the 2 %
    # distance to the threshold needs about (2.576 * 0.0316 / 0.02)^2 = 17 rounds in all.
    needed = judge(est, threshold=1.0, alpha=0.01).samples_needed
    assert needed is not None and 5 <= needed + 10 <= 30


def test_more_rounds_than_the_exact_sign_flip_test_keeps_are_refused() -> None:
    from perf_pipeline.analysis import MAX_ROUNDS, sequential_ab
    from perf_pipeline.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="max_rounds"):
        sequential_ab(iter(()), threshold=1.0, max_rounds=MAX_ROUNDS + 1)


_MIRROR = {Verdict.REGRESSION: Verdict.IMPROVEMENT, Verdict.IMPROVEMENT: Verdict.REGRESSION,
           Verdict.UNCHANGED: Verdict.UNCHANGED, Verdict.INCONCLUSIVE: Verdict.INCONCLUSIVE}


@pytest.mark.parametrize("effect", [1.0, 1.08, 1.3, 1.6])
def test_a_two_sided_ab_mirrors_when_base_and_candidate_swap(effect: float) -> None:
    """Swapping the sides must swap regression and improvement and invert each ratio.
    Clearing once looked only at the upper end, so a benchmark 40 % faster was closed as
    "unchanged" at its first look while the mirrored slowdown went on to "regression"."""
    for seed in range(12):
        rounds = list(itertools.islice(_rounds(np.random.default_rng(seed), noise=0.05,
                                               slowed={NAMES[0]: effect}), 20))
        swapped = [{n: (c, b) for n, (b, c) in rnd.items()} for rnd in rounds]
        one = sequential_ab(rounds, threshold=1.0, max_rounds=20)
        other = sequential_ab(swapped, threshold=1.0, max_rounds=20)
        assert one.decided_at == other.decided_at and one.rounds_used == other.rounds_used
        mirrored = {r.name: r.comparison for r in other.comparison.results}
        for row in one.comparison.results:
            c, m = row.comparison, mirrored[row.name]
            assert m.verdict is _MIRROR[c.verdict], (seed, row.name, c.reason, m.reason)
            assert m.ratio == pytest.approx(1 / c.ratio, rel=1e-9)
        if effect >= 1.3:  # found both ways, not cleared the one way
            assert _MIRROR[one.comparison.results[0].comparison.verdict] is (
                other.comparison.results[0].comparison.verdict) is Verdict.IMPROVEMENT


def test_one_of_five_lost_before_the_first_look_leaves_the_other_four_judged() -> None:
    """Five benchmarks, no controls, one skipped from round 2: the four left are too few
    for a round's factor, and the A/B once stopped at round 1 with all five listed as
    missing (a doubling among them unjudged). Nothing was tested yet, so the design
    starts again on the four, as a suite too small for a factor; the lost one is listed."""
    names = NAMES[:5]
    rounds = _losing(_rounds(np.random.default_rng(4), names=names, factor=0.01,
                             slowed={names[0]: 2.0}), names[4], from_round=2)
    result = sequential_ab(rounds, threshold=1.05, max_rounds=20)
    assert result.comparison.missing == (names[4],)
    rows = {r.name: r.comparison for r in result.comparison.results}
    assert set(rows) == set(names[:4])  # no suite shift: four cannot carry one
    assert rows[names[0]].verdict is Verdict.REGRESSION
    assert all("no suite factor removed" in c.method for c in rows.values())
    assert result.stopped != "unjudgeable"
    # With given targets and weights the same: the lost target's weight is dropped.
    rounds = _losing(_rounds(np.random.default_rng(4), names=names, factor=0.01,
                             slowed={names[0]: 2.0}), names[4], from_round=2)
    result = sequential_ab(rounds, threshold=1.05, max_rounds=20, targets=names,
                           weights=dict.fromkeys(names, 1.0))
    assert result.comparison.missing == (names[4],)
    assert {r.name: r.comparison.verdict for r in result.comparison.results}[names[0]] \
        is Verdict.REGRESSION


def test_rounds_measured_after_the_last_look_are_looked_at_when_the_rounds_run_out() -> None:
    """``block`` 4 (looks at 5, 9, 13, ...) and a source that ends after 8 rounds (a
    budget): rounds 6-8 were measured, counted in ``rounds_used``, and never looked at;
    every verdict came from 5 rounds. They now get a last look, at the level of the next
    planned look (unspent), so the family-wise level holds."""
    rounds = list(itertools.islice(_rounds(np.random.default_rng(2), slowed={"b0": 1.12},
                                           factor=0.05), 8))
    result = sequential_ab(iter(rounds), threshold=1.05, max_rounds=20, block=4)
    assert result.rounds_used == 8 and result.looks == (5, 8)
    undecided_at_5 = [r.comparison for r in result.comparison.results
                      if result.decided_at.get(r.name, 8) == 8]
    assert undecided_at_5 and all(c.n_baseline == 8 for c in undecided_at_5)
    assert not any("conditional power" in c.reason for c in undecided_at_5)
    alarms = 0
    for seed in range(40):  # unchanged code: a last look adds no false alarm
        rounds = itertools.islice(_rounds(np.random.default_rng(300 + seed)), 7 + seed % 5)
        alarms += bool(sequential_ab(rounds, threshold=1.0, max_rounds=20,
                                     block=4).comparison.has_regression)
    assert alarms == 0


def test_a_flagged_suite_shift_the_survivors_cannot_carry_is_listed() -> None:
    """A confirmation of a flagged shift among five benchmarks, one lost before the first
    look: the four left cannot test a shift, which is listed, not dropped silently."""
    names = NAMES[:5]
    rounds = _losing(_rounds(np.random.default_rng(4), names=names, factor=0.01),
                     names[4], from_round=2)
    result = confirm_flagged(rounds, [*names[:4], SUITE_SHIFT_NAME], threshold=1.05,
                             alpha=0.01, max_rounds=20)
    assert set(result.comparison.missing) == {SUITE_SHIFT_NAME}
    assert [r.name for r in result.comparison.results] == names[:4]
    # Every control lost before the first look, the shift flagged: listed with the rest.
    names = ["t0", "t1", "t2", "c0", "c1"]
    rounds = _losing(_losing(_rounds(np.random.default_rng(9), names=names), "c0", 3),
                     "c1", 3)
    result = confirm_flagged(rounds, ["t0", "t1", "t2", SUITE_SHIFT_NAME], threshold=1.1,
                             alpha=0.01, max_rounds=20)
    assert result.stopped == "unjudgeable"
    assert set(result.comparison.missing) == {"t0", "t1", "t2", SUITE_SHIFT_NAME}


SEVEN = [f"b{i}" for i in range(7)]


def test_a_mostly_slowed_suite_names_the_slowed_not_the_unchanged() -> None:
    # 4 of 7 benchmarks x3 slower: the rounds' factor (their median) is their change,
    # and relative to it the 3 untouched ones read x0.34; their own ratio is ~1.0.
    slowed = {n: 3.0 for n in SEVEN[:4]}
    for seed in range(5):
        result = sequential_ab(_rounds(np.random.default_rng(300 + seed), slowed=slowed,
                                       factor=0.05, names=SEVEN), threshold=1.0, alpha=0.01)
        by_name = {r.name: r.comparison for r in result.comparison.results}
        assert result.comparison.improvements == ()
        for name in SEVEN[4:]:
            comp = by_name[name]
            assert comp.verdict is Verdict.UNCHANGED, comp.reason
            assert "not faster itself" in comp.reason and "the suite moved" in comp.reason
            assert comp.raw_ratio == pytest.approx(1.0, abs=0.1)
        assert by_name[SUITE_SHIFT_NAME].verdict is Verdict.REGRESSION
        # The four that slowed read ~+4 % relative to that factor: "+4 % regressions"
        # (or cleared) beside the shift, until they were judged by their own ratio.
        for name in SEVEN[:4]:
            comp = by_name[name]
            assert comp.verdict is Verdict.REGRESSION, comp.reason
            assert comp.ratio == pytest.approx(3.0, rel=0.1), comp.reason


def test_a_real_improvement_among_unchanged_benchmarks_is_still_found() -> None:
    for seed in range(5):
        result = sequential_ab(_rounds(np.random.default_rng(400 + seed), slowed={"b3": 0.7},
                                       names=SEVEN), threshold=1.0, alpha=0.01)
        assert [r.name for r in result.comparison.improvements] == ["b3"]
        assert result.comparison.regressions == ()
