"""Change points by simulation: found where they are, rarely invented where none are.

Assumptions: 40 runs per series, run-to-run noise lognormal with CV 3 % plus 5 % of runs
hit by a heavy-tailed outlier (up to +40 %), seeded.
"""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis import change_points_of, detect_change_points, drift_ratio
from perf_pipeline.errors import InvalidInputError

N_RUNS, TRIALS = 40, 150


def _series(rng: np.random.Generator, step_at: int | None, ratio: float) -> np.ndarray:
    level = np.ones(N_RUNS)
    if step_at is not None:
        level[step_at:] *= ratio
    noise = np.exp(rng.normal(0, 0.03, N_RUNS))
    outliers = np.where(rng.random(N_RUNS) < 0.05, 1 + rng.uniform(0, 0.4, N_RUNS), 1.0)
    return level * noise * outliers


def test_flat_series_rarely_get_a_change_point() -> None:
    rng = np.random.default_rng(7)
    invented = sum(bool(detect_change_points(_series(rng, None, 1.0))) for _ in range(TRIALS))
    assert invented / TRIALS <= 0.03


@pytest.mark.parametrize("ratio", [1.2, 0.8])
def test_a_20_percent_step_is_found_within_two_runs(ratio: float) -> None:
    rng = np.random.default_rng(8)
    hits = 0
    for _ in range(TRIALS):
        at = int(rng.integers(8, N_RUNS - 8))
        found = detect_change_points(_series(rng, at, ratio))
        hits += any(abs(k - at) <= 2 for k in found)
    assert hits / TRIALS >= 0.90


def test_below_min_ratio_is_not_a_change_point() -> None:
    values = [1.0] * 10 + [1.05] * 10  # certain, but smaller than the 10 % that matter
    assert detect_change_points(values) == ()
    assert detect_change_points(values, min_ratio=1.02) == (10,)


def test_labelled_change_points_carry_run_and_ratio() -> None:
    values = [1.0, 1.01, 0.99, 1.0, 1.02, 1.0, 0.98, 1.01,
              2.0, 2.02, 1.98, 2.0, 2.01, 1.99, 2.03, 2.0]
    (cp,) = change_points_of("b", "time_s", [f"r{i}" for i in range(16)], values)
    assert cp.run_id == "r8" and cp.ratio == pytest.approx(2.0, rel=0.03)


def test_drift_ratio_sees_a_slow_climb() -> None:
    values = np.linspace(1.0, 1.3, 30) * np.exp(np.random.default_rng(1).normal(0, 0.01, 30))
    assert drift_ratio(values) == pytest.approx(1.3, rel=0.05)


def test_change_points_reject_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="`min_size`"):
        detect_change_points([1.0] * 10, min_size=1)
    with pytest.raises(InvalidInputError, match="finite positive"):
        detect_change_points([1.0, float("nan"), 2.0])
