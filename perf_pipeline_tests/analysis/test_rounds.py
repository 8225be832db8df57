"""compare_rounds: paired per-round comparison with each round's suite factor removed."""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis import SUITE_SHIFT_NAME, compare_rounds, compare_suite
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Verdict


def _suite(rng: np.random.Generator, *, benchmarks: int = 8, rounds: int = 12,
           process_cv: float = 0.15, change: dict[int, float] | None = None,
           uniform: float = 1.0) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-round medians where each process has a large factor shared by its benchmarks."""
    level = rng.uniform(-7, -2, size=(benchmarks, 1))
    sides = []
    for side in range(2):
        log = (level + rng.normal(0, process_cv, size=(1, rounds))
               + rng.normal(0, 0.01, size=(benchmarks, rounds)))
        if side == 1:
            log = log + np.log(uniform)
            for i, factor in (change or {}).items():
                log[i] += np.log(factor)
        sides.append({f"b{i}": list(np.exp(log[i])) for i in range(benchmarks)})
    return sides[0], sides[1]


def test_one_slowed_benchmark_is_found_despite_large_process_factors() -> None:
    base, cand = _suite(np.random.default_rng(1), change={3: 1.10})
    result = compare_rounds(base, cand, threshold=1.05, alpha=0.01)
    assert [r.name for r in result.regressions] == ["b3"]
    (b3,) = (r for r in result.results if r.name == "b3")
    assert 1.07 < b3.comparison.ratio < 1.13
    assert "suite factor removed" in b3.comparison.method
    # The plain paired test sees the ±15 % process factor and cannot decide.
    plain = compare_suite(base, cand, threshold=1.05, alpha=0.01, paired=True)
    assert not plain.regressions


def test_a_uniform_slowdown_is_the_shift_and_each_benchmark_by_its_own_ratio() -> None:
    # Relative to the rounds' factor each benchmark reads ~x1.0, and only the shift was
    # reported; with the shift called each is judged by its own ratio (``own_change``).
    base, cand = _suite(np.random.default_rng(2), process_cv=0.02, uniform=1.30)
    result = compare_rounds(base, cand, threshold=1.1, alpha=0.01)
    (shift,) = (r for r in result.results if r.name == SUITE_SHIFT_NAME)
    assert shift.comparison.verdict is Verdict.REGRESSION
    assert 1.25 < shift.comparison.ratio < 1.35
    for r in result.results:
        assert r.comparison.verdict is Verdict.REGRESSION, (r.name, r.comparison.reason)
        assert 1.2 < r.comparison.ratio < 1.4
        if r.name != SUITE_SHIFT_NAME:
            assert "judged by its own ratio" in r.comparison.reason


def test_few_benchmarks_fall_back_to_the_plain_paired_comparison() -> None:
    base, cand = _suite(np.random.default_rng(3), benchmarks=3)
    assert compare_rounds(base, cand) == compare_suite(base, cand, paired=True)


def test_new_missing_and_bad_values_are_named() -> None:
    base, cand = _suite(np.random.default_rng(4))
    base["only_base"] = [1.0] * 12
    cand["only_cand"] = [1.0] * 12
    result = compare_rounds(base, cand)
    assert result.new == ("only_cand",) and result.missing == ("only_base",)
    cand["b2"] = [*cand["b2"][:-1], float("nan")]
    with pytest.raises(InvalidInputError, match="'b2'"):
        compare_rounds(base, cand)
    cand["b2"] = cand["b2"][:-1]
    with pytest.raises(InvalidInputError, match="same number of rounds"):
        compare_rounds(base, cand)
    with pytest.raises(InvalidInputError, match="correction"):
        compare_rounds(base, base, correction="bonferroni")


@pytest.mark.parametrize("width", [2, 5])
def test_a_zero_time_is_refused_whatever_the_suite_size(width: int) -> None:
    # With fewer than 5 benchmarks a zero once passed as "inconclusive".
    base = {f"b{i}": [1.0, 1.1, 1.0, 1.05, 1.0, 1.0] for i in range(width)}
    cand = {f"b{i}": [1.0, 1.1, 1.2, 1.0, 1.1, 1.0] for i in range(width)}
    base["b0"] = [1.0, 0.0, 1.1, 1.0, 1.0, 1.0]
    with pytest.raises(InvalidInputError, match="'b0': a zero time"):
        compare_rounds(base, cand)


def test_half_the_suite_slower_is_not_cleared_relative_to_the_rounds_factor() -> None:
    """Three of six benchmarks 30 % slower in every round: the per-round median factor
    took half of it, and each read x1.14, "unchanged" at threshold 1.2."""
    rng = np.random.default_rng(11)
    base = {f"b{j}": list((1 + j) * np.exp(rng.normal(0, 0.01, 20))) for j in range(6)}
    cand = {n: [v * (1.3 if int(n[1]) < 3 else 1.0) * np.exp(rng.normal(0, 0.01))
                for v in vals] for n, vals in base.items()}
    res = {r.name: r.comparison for r in compare_rounds(base, cand, threshold=1.2).results}
    for j in range(3):
        assert res[f"b{j}"].verdict is Verdict.INCONCLUSIVE, res[f"b{j}"].reason
    for j in range(3, 6):
        assert res[f"b{j}"].verdict is not Verdict.REGRESSION


def test_values_near_the_ends_of_a_float_are_judged_or_refused_by_name() -> None:
    """A ratio no float holds (1e-300 s against 1e300 s) came out as "inf" blamed on the
    suite-wide shift; ratios in range whose round factor (1e-304) overflowed once
    applied to a 1e300 value were blamed on that benchmark as an "inf" sample."""
    names = [f"b{i}" for i in range(6)]
    base = {n: [1e-300 * (1 + 0.01 * k) for k in range(8)] for n in names}
    cand = {n: [1e300 * (1 + 0.01 * k) for k in range(8)] for n in names}
    with pytest.raises(InvalidInputError, match=r"'b0', round 1: the ratio .* beyond the "
                                                r"range of a float"):
        compare_rounds(base, cand)
    base = {n: [1e300 * (1 + 0.01 * k) for k in range(8)] for n in names}
    cand = {n: [1e-4 * (1 + 0.013 * k) for k in range(8)] for n in names[:5]}
    cand["b5"] = [1e300 * (1 + 0.011 * k) for k in range(8)]
    result = compare_rounds(base, cand, alpha=0.1)
    rows = {r.name: r.comparison for r in result.results}
    assert 1e303 < rows["b5"].ratio < 1e305 and rows["b5"].verdict is Verdict.REGRESSION
    assert 1e-305 < rows[SUITE_SHIFT_NAME].ratio < 1e-303


def test_a_mostly_slowed_suite_names_the_slowed_not_the_unchanged() -> None:
    # 4 of 7 x3 slower: relative to the rounds' factor (their median) the other 3 read
    # x0.33, though their own ratio is ~1.0.
    for seed in range(5):
        base, cand = _suite(np.random.default_rng(50 + seed), benchmarks=7, rounds=10,
                            process_cv=0.05, change={i: 3.0 for i in range(4)})
        result = compare_rounds(base, cand, threshold=1.0, alpha=0.01)
        assert result.improvements == ()
        by_name = {r.name: r.comparison for r in result.results}
        for name in ("b4", "b5", "b6"):
            assert by_name[name].verdict is Verdict.UNCHANGED, by_name[name].reason
            assert "not faster itself" in by_name[name].reason
            assert by_name[name].raw_ratio == pytest.approx(1.0, abs=0.1)
        assert by_name[SUITE_SHIFT_NAME].verdict is Verdict.REGRESSION
        # The four that slowed read ~x1.0 relative to that factor (inconclusive, or a
        # "+4 % regression"), until they were judged by their own ratio.
        for name in ("b0", "b1", "b2", "b3"):
            assert by_name[name].verdict is Verdict.REGRESSION, by_name[name].reason
            assert by_name[name].ratio == pytest.approx(3.0, rel=0.1)


def test_a_real_improvement_among_unchanged_benchmarks_is_still_found() -> None:
    base, cand = _suite(np.random.default_rng(2), benchmarks=7, rounds=10,
                        change={3: 0.7})
    result = compare_rounds(base, cand, threshold=1.05, alpha=0.01)
    assert [r.name for r in result.improvements] == ["b3"]
    assert result.regressions == ()
