"""Helpers of the history analyses (``analysis/series.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from perf_pipeline.analysis.series import local_residuals, median, midranks, serial_inflation


def test_a_coarse_timers_ties_are_not_taken_for_serial_correlation() -> None:
    # i.i.d. noise of 2 % rounded to 5 %: most residuals tie at 0. Ranked by position,
    # the ties looked like runs of alike neighbours (mean inflation x2.15, up to x4.6), and
    # change points and drifts lost power on every quantized series.
    rng = np.random.default_rng(11)
    inflation = []
    for _ in range(100):
        values = np.round(np.exp(rng.normal(0, 0.02, 100)) / 0.05) * 0.05
        inflation.append(serial_inflation(local_residuals(np.log(values))))
    assert np.mean(inflation) < 1.3
    # a real serial correlation is still seen (AR(1), rho 0.6)
    x = np.zeros(200)
    for i in range(1, 200):
        x[i] = 0.6 * x[i - 1] + rng.normal(0, 0.02)
    assert serial_inflation(x) > 2.0


@pytest.mark.parametrize("seed", range(4))
def test_midranks_and_median_are_scipys_and_numpys_exactly(seed: int) -> None:
    """The scans' own mid-ranks and median (numpy's generic machinery was most of their
    cost) must give the very numbers scipy.stats.rankdata and np.median give, ties and
    even lengths included, or the studies' figures would move."""
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 4, 9, 10, 57, 300):
        x = rng.normal(size=n)
        for values in (x, np.round(x, 1), np.ones(n)):
            ranks, ties = midranks(values)
            assert np.array_equal(ranks, rankdata(values))
            counts = np.unique(values, return_counts=True)[1].astype(float)
            assert ties == float(np.sum(counts ** 3 - counts))
            assert median(values) == float(np.median(values))
