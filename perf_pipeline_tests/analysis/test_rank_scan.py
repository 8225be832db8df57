"""The rank scans (``analysis/rank_scan.py``): where the best split or pulse is, and a
p-value that errs on the side of fewer alarms, never more."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from perf_pipeline.analysis.rank_scan import (
    FINE_PAIRS,
    _best_grid_pair,
    _best_pair,
    _spread,
    best_pulse,
    pulse_scan_p,
)
from perf_pipeline.analysis.series import midranks


def _pulse_p(y: np.ndarray, min_size: int = 5) -> tuple[int, int, float] | None:
    return best_pulse(*midranks(y), min_size)


@pytest.mark.parametrize("n", [40, 100])
def test_on_independent_noise_the_pulse_scan_alarms_at_most_at_its_level(n: int) -> None:
    """Siegmund's approximation with the grid correction is conservative (module
    docstring: measured 0.5-0.8 of the nominal level at 0.05); so the rate is below the
    level, yet not so far below that the scan has lost its power."""
    rng = np.random.default_rng(9001 + n)
    trials = 2000
    ps = [_pulse_p(rng.standard_normal(n)) for _ in range(trials)]
    rate = float(np.mean([p is not None and p[2] < 0.05 for p in ps]))
    assert 0.01 <= rate <= 0.05


def test_the_p_value_falls_as_the_statistic_grows_and_is_one_without_room() -> None:
    ps = [pulse_scan_p(b, 60, 5) for b in (2.0, 3.0, 4.0, 5.0, 6.0)]
    assert all(a > b for a, b in itertools.pairwise(ps))
    assert ps[0] == 1.0 and ps[-1] < 1e-4
    assert pulse_scan_p(5.0, 10, 6) == 1.0  # no pulse of 6 fits with 6 commits outside


@pytest.mark.parametrize("seed", range(5))
def test_a_pulse_is_found_near_where_it_is_and_a_larger_one_is_never_less_certain(
        seed: int) -> None:
    """Near: the scan's argmax takes in a neighbour that is high by chance (ranks count
    commits, not distances); ``changepoints._refine`` places the ends exactly."""
    noise = np.random.default_rng(seed).normal(0.0, 0.02, 45)
    found = []
    for ratio in (1.02, 1.05, 1.1, 1.3, 3.0):
        y = noise.copy()
        y[15:30] += np.log(ratio)
        found.append(_pulse_p(y))
    ps = [f[2] for f in found if f is not None]
    assert len(ps) == 5 and all(a >= b for a, b in itertools.pairwise(ps))
    start, end, p = found[-1]
    assert abs(start - 15) <= 2 and abs(end - 30) <= 2 and p < 1e-4


def test_a_long_history_is_scanned_on_a_grid_and_the_pulse_still_placed() -> None:
    """1,000 commits: the pairs are first scanned on a grid (every 4th commit), then
    the best refined around its ends; a 12-commit pulse whose ends are off the grid is
    found as the scan of every pair finds it."""
    n = 1000
    assert n > FINE_PAIRS
    rng = np.random.default_rng(77)
    y = rng.normal(0.0, 0.01, n)
    y[603:615] += 0.1
    start, end, p = _pulse_p(y)
    assert abs(start - 603) <= 8 and abs(end - 615) <= 8
    assert p < 1e-3


@pytest.mark.parametrize("n", [12, 100, 255, 256, 257, 300, 1000, 1023])
def test_the_grid_pass_picks_the_pair_every_pair_scores(n: int) -> None:
    """The grid pass reads its weights as a strided Toeplitz view rather than gathering
    one per pair; pair, score and ties between scores must be the gathered ones'."""
    rng = np.random.default_rng(n)
    for values in (rng.normal(size=n), np.round(rng.normal(size=n))):
        for min_size in (2, 5, 8):
            ranks, ties = midranks(values)
            spread = _spread(ranks, ties)
            s = np.concatenate(([0.0], np.cumsum(ranks - (n + 1) / 2.0)))
            m = np.arange(n + 1, dtype=float)
            inside = (m >= min_size) & (n - m >= min_size)
            weight = np.zeros(n + 1)
            weight[inside] = 1.0 / np.sqrt(m[inside] * (n - m[inside]) * spread / 12.0)
            step = max(1, -(-n // FINE_PAIRS))
            grid = np.arange(1, n, step)
            if grid[-1] != n - 1:
                grid = np.append(grid, n - 1)
            assert _best_grid_pair(s, weight, grid, step) == _best_pair(s, weight, grid, grid)
