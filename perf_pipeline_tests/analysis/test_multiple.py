"""Holm / Benjamini–Hochberg adjustments and compare_suite."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from perf_pipeline.analysis import adjust_p_values, bh_adjust, compare_suite, holm_adjust
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import Verdict


def test_holm_reference_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> cummax
    assert holm_adjust(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_bh_matches_scipy_and_is_less_strict_than_holm() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    assert bh_adjust(p) == pytest.approx(stats.false_discovery_control(p))
    assert np.all(bh_adjust(p) <= holm_adjust(p) + 1e-15)


def test_holm_works_on_batches() -> None:
    p = np.array([[0.01, 0.04], [0.2, 0.001]])
    np.testing.assert_allclose(holm_adjust(p), [[0.02, 0.04], [0.2, 0.002]])


def test_adjust_rejects_unknown_correction() -> None:
    with pytest.raises(InvalidInputError, match="`correction` must be one of"):
        adjust_p_values([0.1], method="bonferonni")


def test_adjust_rejects_p_values_outside_unit_interval() -> None:
    with pytest.raises(InvalidInputError, match="`p_values` must all be in"):
        holm_adjust([0.5, 1.5])


def _suite(rng: np.random.Generator, n: int, slow: dict[str, float]
           ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    base, cur = {}, {}
    for i in range(n):
        name = f"test_{i}"
        base[name] = list(np.exp(rng.normal(0, 0.03, 30)))
        cur[name] = list(np.exp(np.log(slow.get(name, 1.0)) + rng.normal(0, 0.03, 30)))
    return base, cur


def test_compare_suite_records_adjusted_p_and_lists_new_missing_failed() -> None:
    rng = np.random.default_rng(7)
    base, cur = _suite(rng, 10, {"test_3": 1.5})
    base["gone"] = [1.0, 1.1]
    cur["fresh"] = [1.0, 1.1]
    cur["broken"] = [1.0]
    base["broken"] = [1.0]
    sc = compare_suite(base, cur, failed=["broken"])
    assert sc.new == ("fresh",)
    assert sc.missing == ("gone",)
    assert sc.failed == ("broken",)
    assert [r.name for r in sc.regressions] == ["test_3"]
    assert len(sc.results) == 10
    raw = np.array([r.comparison.p_value for r in sc.results])
    adjusted = [r.comparison.adjusted_p_value for r in sc.results]
    assert adjusted == pytest.approx(holm_adjust(raw))


def test_verdict_decided_on_adjusted_p() -> None:
    # One benchmark with raw p = 0.002 among twenty: significant alone, not after Holm.
    base = {f"b{i}": [1.0, 1.01, 1.02, 1.03, 1.04, 1.05] for i in range(20)}
    cur = dict(base, b0=[1.045, 1.055, 1.06, 1.07, 1.08, 1.09])
    alone = compare_suite(base, cur, threshold=1.0, alpha=0.01, correction="none")
    holm = compare_suite(base, cur, threshold=1.0, alpha=0.01, correction="holm")
    assert alone.results[0].comparison.p_value < 0.01
    assert [r.name for r in alone.regressions] == ["b0"]
    assert not holm.has_regression
    assert holm.results[0].comparison.verdict == Verdict.INCONCLUSIVE
    assert holm.results[0].comparison.adjusted_p_value > 0.01


def test_bh_finds_more_when_many_changed() -> None:
    rng = np.random.default_rng(8)
    slow = {f"test_{i}": 1.03 for i in range(20)}
    base, cur = _suite(rng, 40, slow)
    holm = compare_suite(base, cur, threshold=1.0, correction="holm")
    bh = compare_suite(base, cur, threshold=1.0, correction="bh")
    assert len(bh.regressions) >= len(holm.regressions)
    assert bh.correction == "bh"


def test_compare_suite_names_the_benchmark_with_nan() -> None:
    with pytest.raises(InvalidInputError, match="benchmark 'test_nan'"):
        compare_suite({"test_nan": [1.0, 2.0]}, {"test_nan": [1.0, float("nan")]})


def test_compare_suite_rejects_bad_options() -> None:
    with pytest.raises(InvalidInputError, match="`alpha` must be in"):
        compare_suite({}, {}, alpha=1.5)
    with pytest.raises(InvalidInputError, match="`correction` must be one of"):
        compare_suite({}, {}, correction="sidak")
