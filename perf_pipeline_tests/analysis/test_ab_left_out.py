"""A benchmark with a round of 0.0 s is left out of an A/B, the rest judged
(``analysis.ab_left_out``, as ``compare_rounds``' callers and ``sequential_ab`` use it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perf_pipeline.analysis import (
    SUITE_SHIFT_NAME,
    compare_rounds,
    require_a_target,
    sequential_ab,
    usable_rounds,
)
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Verdict

NAMES = tuple(f"t.py::b{i}" for i in range(6))
SLOW, TICK = NAMES[0], NAMES[5]


def _suite(seed: int = 1, rounds: int = 10) -> tuple[dict[str, list[float]],
                                                     dict[str, list[float]]]:
    """Six benchmarks of 1 ms with 5 % noise and a process factor of 10 % a round; the
    first three times slower on the candidate side."""
    rng = np.random.default_rng(seed)
    sides = []
    for side in range(2):
        factor = np.exp(rng.normal(0, 0.10, rounds))
        sides.append({n: list(1e-3 * factor * np.exp(rng.normal(0, 0.05, rounds))
                              * (3.0 if side and n == SLOW else 1.0)) for n in NAMES})
    return sides[0], sides[1]


def _rounds(base: dict[str, list[float]], cand: dict[str, list[float]]
            ) -> list[dict[str, tuple[float, float]]]:
    return [{n: (base[n][k], cand[n][k]) for n in base} for k in range(len(base[NAMES[0]]))]


def _verdicts(results) -> dict[str, tuple[Verdict, float]]:  # type: ignore[no-untyped-def]
    return {r.name: (r.comparison.verdict, r.comparison.ratio) for r in results}


@pytest.mark.parametrize("at", [1, 4])
def test_a_zero_round_leaves_its_benchmark_out_of_a_fixed_ab_and_the_rest_is_judged(
        at: int) -> None:
    """One round of one of six benchmarks read 0.0 s: compare_rounds refused the whole
    A/B ("a zero time has no log-ratio"), the x3 slowdown with it. It is left out, named
    with its round and side, and the A/B is the one without it."""
    base, cand = _suite()
    cand[TICK][at - 1] = 0.0
    kept_base, kept_cand, left_out = usable_rounds(base, cand)
    assert [(lo.name, lo.round, lo.base, lo.candidate) for lo in left_out] == [
        (TICK, at, base[TICK][at - 1], 0.0)]
    assert f"round {at}'s candidate value is 0.0 s" in left_out[0].note
    assert TICK in left_out[0].note and "neither judged nor a control" in left_out[0].note
    result = compare_rounds(kept_base, kept_cand, threshold=1.5, alpha=0.05)
    without = compare_rounds({n: base[n] for n in NAMES[:5]}, {n: cand[n] for n in NAMES[:5]},
                             threshold=1.5, alpha=0.05)
    assert result == without
    assert [r.name for r in result.regressions] == [SLOW]
    assert TICK not in {r.name for r in result.results} | set(result.new) | set(
        result.missing)


def test_a_zero_round_leaves_its_benchmark_out_of_a_sequential_ab() -> None:
    """sequential_ab refused round 4 ("values must be finite and > 0, got (.., 0.0)").
    The benchmark leaves the A/B, not a control of any round (as if never measured),
    and the rest is judged."""
    base, cand = _suite()
    cand[TICK][3] = 0.0
    result = sequential_ab(_rounds(base, cand), threshold=1.5, alpha=0.05, max_rounds=10)
    assert [(lo.name, lo.round) for lo in result.left_out] == [(TICK, 4)]
    verdicts = _verdicts(result.comparison.results)
    assert set(verdicts) == {*NAMES[:5], SUITE_SHIFT_NAME}
    assert verdicts[SLOW][0] is Verdict.REGRESSION and 2.5 < verdicts[SLOW][1] < 3.5
    assert TICK not in result.comparison.missing and TICK not in result.decided_at
    assert result.stopped != "lost"
    # Every round of it is out of the factor: the estimates after round 4 are those of
    # the suite without it (the levels differ: it had a share of alpha).
    without = sequential_ab(_rounds({n: base[n] for n in NAMES[:5]},
                                    {n: cand[n] for n in NAMES[:5]}),
                            threshold=1.5, alpha=0.05, max_rounds=10)
    assert result.rounds_used == without.rounds_used > 4
    assert {n: pytest.approx(r) for n, (_, r) in verdicts.items()} == {
        n: r for n, (_, r) in _verdicts(without.comparison.results).items()}


def test_a_zero_control_is_no_control_and_a_zero_target_is_not_judged() -> None:
    base, cand = _suite(seed=2)
    controls = NAMES[2:]
    base[controls[1]][0] = 0.0  # a control, from round 1
    result = sequential_ab(_rounds(base, cand), threshold=1.5, alpha=0.05, max_rounds=10,
                           targets=NAMES[:2])
    assert [(lo.name, lo.round) for lo in result.left_out] == [(controls[1], 1)]
    assert "round 1's base value is 0.0 s" in result.left_out[0].why
    assert set(_verdicts(result.comparison.results)) == set(NAMES[:2])
    assert [r.name for r in result.comparison.regressions] == [SLOW]
    # The only target left out: nothing to judge, and no more rounds pulled for it.
    base, cand = _suite(seed=3)
    cand[SLOW][1] = 0.0
    pulled = []

    def feed():  # type: ignore[no-untyped-def]
        for rnd in _rounds(base, cand):
            pulled.append(rnd)
            yield rnd
    only = sequential_ab(feed(), threshold=1.5, alpha=0.05, max_rounds=10, targets=[SLOW])
    assert only.comparison.results == () and only.comparison.missing == ()
    assert [(lo.name, lo.round) for lo in only.left_out] == [(SLOW, 2)]
    assert len(pulled) == 2
    with pytest.raises(InvalidInputError, match=r"nothing left to judge.*b0.*round 2"):
        require_a_target(only.left_out, [r.name for r in only.comparison.results])
    require_a_target(result.left_out, [r.name for r in result.comparison.results])


@pytest.mark.parametrize("bad", [-1e-3, math.nan, math.inf])
def test_negative_nan_and_infinite_values_are_still_refused(bad: float) -> None:
    base, cand = _suite()
    cand[TICK][3] = bad
    with pytest.raises(InvalidInputError, match=repr(TICK)):
        compare_rounds(*usable_rounds(base, cand)[:2])
    with pytest.raises(InvalidInputError, match=repr(TICK)):
        sequential_ab(_rounds(base, cand), max_rounds=10)
    # A zero beside a value that is no time is refused, not left out.
    base[TICK][3] = 0.0
    assert usable_rounds(base, cand)[2] == ()
    with pytest.raises(InvalidInputError, match=repr(TICK)):
        sequential_ab(_rounds(base, cand), max_rounds=10)
