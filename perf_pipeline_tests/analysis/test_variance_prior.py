"""variance_prior and the moderated t of sequential_ab: what the prior lends, and when not."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from perf_pipeline.analysis import (
    MIN_PRIOR_ROUNDS,
    PRIOR_DF,
    VariancePrior,
    confirm_flagged,
    sequential_ab,
    variance_prior,
)
from perf_pipeline.errors import InvalidInputError

from .test_sequential import NAMES, _rounds


def _prior(rng: np.random.Generator, rounds: int = 200, **kw: object) -> VariancePrior:
    return variance_prior(itertools.islice(_rounds(rng, **kw), rounds), source="test")  # type: ignore[arg-type]


def test_the_prior_is_the_residual_variance_the_ab_would_see() -> None:
    prior = _prior(np.random.default_rng(1), rounds=4000, noise=0.03)
    # Each side's noise 3 %: a log-ratio's 4.2 %; less the median of six such, a little less
    # (its own share of the median goes), more against the median of two others.
    all_six = math.sqrt(prior.log_variance("b0", NAMES))
    two_controls = math.sqrt(prior.log_variance("b0", ["b4", "b5"]))
    no_factor = math.sqrt(prior.log_variance("b0", []))
    assert 0.030 < all_six < 0.042 < two_controls < 0.060
    assert no_factor > 0.14  # the processes' 10 % factors are left in
    assert prior.rounds == 4000 and prior.df == PRIOR_DF and prior.source == "test"


@pytest.mark.parametrize("targets, lost", [
    (("b0", "b1", "b2"), ()),  # factor from the controls b3-b5
    (tuple(NAMES), ()),  # no controls: factor from every benchmark
    (("b0", "b1"), ("b5",)),  # a control lost: factor from the others
])
def test_the_prior_is_computed_exactly_as_the_ab_computes_its_rounds_variance(
        targets: tuple[str, ...], lost: tuple[str, ...]) -> None:
    """Recorded rounds replayed as the A/B's own: the prior's variance of each target is
    the A/B's second moment of that target's residual, factor for factor."""
    from perf_pipeline.analysis.ab_look import analyse_rounds as _analyse

    d = np.log([[c / b for b, c in (rnd[n] for n in NAMES)]
                for rnd in itertools.islice(_rounds(np.random.default_rng(9)), 300)])
    if lost:
        d[:, NAMES.index(lost[0])] = np.nan
    prior = VariancePrior(names=tuple(NAMES), log_ratios=np.nan_to_num(d))
    look = _analyse(d, tuple(NAMES), targets, lost, None)
    factor_from = [n for n in NAMES if n not in lost and (n not in targets or
                                                           len(targets) == len(NAMES))]
    for i, target in enumerate(targets):
        mean, var_ab = float(look.mean[i]), float(look.se[i]) ** 2 * look.n
        second_moment = var_ab * (look.n - 1) / look.n + mean * mean
        assert prior.log_variance(target, factor_from) == pytest.approx(second_moment)


def test_the_prior_lends_nothing_it_has_not_recorded() -> None:
    prior = _prior(np.random.default_rng(2), names=["b0", "b1", "b2"])
    assert prior.log_variance("b9", ["b0", "b1"]) is None  # target not recorded
    assert prior.log_variance("b0", ["b1", "b9", "b8"]) is None  # most of the factor unknown
    assert prior.log_variance("b0", ["b1", "b9"]) is None  # one benchmark is no median
    # One new benchmark among the factor's four: the median of the three recorded ones.
    assert prior.log_variance("b0", ["b1", "b2", "b9"]) == prior.log_variance(
        "b0", ["b1", "b2"])
    flat = variance_prior([{"a": (1.0, 1.0), "b": (1.0, 2.0)}] * MIN_PRIOR_ROUNDS)
    assert flat.log_variance("a", []) is None  # no spread: a zero prior would be certainty


@pytest.mark.parametrize("rounds, match", [
    ([{"a": (1.0, 1.1)}] * (MIN_PRIOR_ROUNDS - 1), "at least"),
    ([{"a": (1.0, 1.1)}] * 5 + [{"b": (1.0, 1.0)}] * 5, "round 6 has no"),
    ([{"a": (1.0, 1.1)}] * 5 + [{"a": (0.0, 1.0)}] * 5, "finite and > 0"),
    ([{"a": (1.0, 1.1)}] * 5 + [{"a": (math.nan, 1.0)}] * 5, "finite and > 0"),
    ([{"a": "x"}] * MIN_PRIOR_ROUNDS, "no \\(base, candidate\\) pair"),
])
def test_bad_recorded_rounds_are_refused_by_name(rounds: list, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        variance_prior(rounds)


def test_a_prior_is_validated_and_cannot_be_changed_behind_the_ab() -> None:
    with pytest.raises(InvalidInputError, match="df"):
        VariancePrior(names=("a",), log_ratios=np.zeros((MIN_PRIOR_ROUNDS, 1)), df=0.0)
    with pytest.raises(InvalidInputError, match="distinct"):
        VariancePrior(names=("a", "a"), log_ratios=np.zeros((MIN_PRIOR_ROUNDS, 2)))
    with pytest.raises(InvalidInputError, match="not finite"):
        VariancePrior(names=("a",), log_ratios=np.full((MIN_PRIOR_ROUNDS, 1), np.inf))
    data = np.random.default_rng(3).normal(size=(MIN_PRIOR_ROUNDS, 1))
    prior = VariancePrior(names=("a",), log_ratios=data)
    data[:] = 0.0  # the caller's array is copied
    assert prior.log_variance("a", []) is not None
    with pytest.raises(ValueError):
        prior.log_ratios[0, 0] = 1.0
    with pytest.raises(InvalidInputError, match="VariancePrior"):
        sequential_ab(_rounds(np.random.default_rng(4)), prior={"b0": 0.03})  # type: ignore[arg-type]


def test_the_prior_adds_its_degrees_of_freedom_to_every_recorded_target() -> None:
    rng = np.random.default_rng(5)
    prior = _prior(np.random.default_rng(6), names=NAMES[:5])  # b5 not recorded
    result = sequential_ab(_rounds(rng), threshold=1.0, alpha=0.01, max_rounds=5,
                           prior=prior)
    methods = {r.name: r.comparison.method for r in result.comparison.results}
    assert all("moderated" in methods[n] for n in NAMES[:5])
    assert "moderated" not in methods["b5"]
    assert all("moderated" not in m for n, m in methods.items() if n not in NAMES)  # shift


def test_a_doubling_the_rounds_alone_leave_open_is_decided_at_the_first_look() -> None:
    """Rounds spread like the recorded example suite's noisiest benchmark (11 % per round):
    at 5 rounds, 4 df, a doubling of one of six benchmarks at alpha 0.01 often waits for
    later looks; the same machine's recording, worth 4 more df, decides it at round 5."""
    first_look = {"none": 0, "prior": 0}
    for seed in range(40):
        for which, prior in (("none", None),
                             ("prior", _prior(np.random.default_rng(1000 + seed), noise=0.08))):
            result = sequential_ab(_rounds(np.random.default_rng(seed), noise=0.08,
                                           slowed={"b2": 2.0}),
                                   threshold=1.0, alpha=0.01, max_rounds=20, prior=prior)
            assert "b2" in {r.name for r in result.comparison.regressions}
            first_look[which] += result.decided_at["b2"] == 5
    assert first_look["prior"] == 40
    assert first_look["none"] <= 36  # measured: 29 of 40 (the slowest at round 8)


def test_unchanged_code_stays_unchanged_with_a_prior_from_a_quieter_day() -> None:
    """A stale profile recorded when the machine was four times as quiet (a sixteenth of
    the variance): the machine-wide scale (``_noise_over_prior``) lifts it before it can lend
    a spread the rounds do not have. Without the scale, 3 of these 300 A/As raised an
    alarm; with it, none."""
    alarms = 0
    for seed in range(300):
        prior = _prior(np.random.default_rng(2000 + seed), noise=0.0075, rounds=60)
        result = sequential_ab(_rounds(np.random.default_rng(3000 + seed), noise=0.03),
                               threshold=1.0, alpha=0.01, max_rounds=20, prior=prior)
        alarms += bool(result.comparison.regressions or result.comparison.improvements)
    assert alarms <= 1


def test_a_confirmation_passes_its_prior_on() -> None:
    rounds = _rounds(np.random.default_rng(7), noise=0.08, slowed={"b1": 2.0})
    prior = _prior(np.random.default_rng(8), noise=0.08)
    result = confirm_flagged(rounds, ["b1"], threshold=1.0, alpha=0.01, max_rounds=20,
                             prior=prior)
    row = result.comparison.results[0]
    assert row.name == "b1" and "moderated" in row.comparison.method
    # Its residual is taken against the median of the five controls, and so is the prior's.
    assert result.decided_at["b1"] == 5


def test_an_ab_says_when_the_machine_was_noisier_than_its_recording() -> None:
    """The scale-up keeps the verdicts right on a noisy day; the user still needs to know
    that small changes were harder to find than the recording promised, and that it may
    be out of date. A prior of the same noise says nothing (the note's bar is a variance
    ratio of 2, which three benchmarks' median at a first look passes by chance in about
    2 % of A/Bs; six are steadier)."""
    quiet = _prior(np.random.default_rng(2), noise=0.0075, rounds=60)
    result = sequential_ab(_rounds(np.random.default_rng(3), noise=0.03), threshold=1.0,
                           alpha=0.01, max_rounds=20, prior=quiet)
    assert result.noise_over_prior is not None and 8 < result.noise_over_prior < 32  # ~16
    note = result.stale_prior_note
    assert note is not None and "noisier" in note and "perf-pipeline calibrate" in note
    notes = 0
    for seed in range(40):
        same = _prior(np.random.default_rng(100 + seed), noise=0.03, rounds=60)
        result = sequential_ab(_rounds(np.random.default_rng(200 + seed), noise=0.03),
                               threshold=1.0, alpha=0.01, max_rounds=20, prior=same)
        assert result.noise_over_prior is not None
        notes += result.stale_prior_note is not None
    assert notes == 0
    plain = sequential_ab(_rounds(np.random.default_rng(3), noise=0.03), threshold=1.0,
                          alpha=0.01, max_rounds=20)
    assert plain.noise_over_prior is None and plain.stale_prior_note is None


def test_a_round_value_given_as_a_string_is_refused_not_read_as_two_digits() -> None:
    from perf_pipeline.analysis.variance_prior import variance_prior
    from perf_pipeline.errors import InvalidInputError

    rounds = [{"x": (1.0, 1.01)}] * 9 + [{"x": "12"}]  # was base 1, candidate 2: ln 2
    with pytest.raises(InvalidInputError, match="round 10 has no"):
        variance_prior(rounds)

