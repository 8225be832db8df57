"""Helpers of the history analyses (``analysis/series.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from perf_pipeline.analysis.series import (
    SliceOrder,
    local_residuals,
    median,
    midranks,
    row_medians,
    serial_inflation,
    windows,
)


def _bits(x: np.ndarray | float) -> np.ndarray:
    """The IEEE bit patterns of ``x``: +0.0 and -0.0 differ, as a float's sign would later."""
    return np.asarray(x, dtype=float).view(np.int64)


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


@pytest.mark.parametrize("seed", range(3))
def test_windows_and_row_medians_are_sliding_window_view_and_np_median_exactly(
        seed: int) -> None:
    """The scans' windows and medians skip numpy's argument checks (most of their cost on
    short histories); they must give the very arrays and floats numpy gives, signed zeros
    included (np.median of -0.0 reads +0.0)."""
    rng = np.random.default_rng(seed)
    zeros = np.array([-0.0, 0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 2.5])
    for width in range(1, 12):
        for n in (width, width + 1, 40):
            x = rng.normal(size=n) if n % 2 else rng.choice(zeros, size=n)
            view = windows(x[1:] if n > width else x, width)
            expected = np.lib.stride_tricks.sliding_window_view(
                x[1:] if n > width else x, width)
            assert np.array_equal(view, expected) and not view.flags.writeable
            assert np.array_equal(_bits(row_medians(view)), _bits(np.median(expected, axis=1)))
            for row in expected[:3]:
                assert _bits(median(row)) == _bits(float(np.median(row)))


@pytest.mark.parametrize("seed", range(3))
def test_a_slice_order_is_the_slices_own_stable_sort(seed: int) -> None:
    """Ranks of long segments come from one sort of the history: each slice's order must
    be the one a stable sort of the slice gives, ties (in index order) included."""
    rng = np.random.default_rng(seed)
    for n in (1, 7, 60, 400):
        x = rng.normal(size=n)
        for values in (x, np.round(x)):
            order = SliceOrder(values)
            for _ in range(30):
                lo = int(rng.integers(0, n))
                hi = int(rng.integers(lo, n + 1))
                want = values[lo:hi].argsort(kind="stable")
                assert np.array_equal(order(lo, hi), want)
                ranks, ties = midranks(values[lo:hi], order(lo, hi))
                assert np.array_equal(ranks, rankdata(values[lo:hi]))
                assert ties == midranks(values[lo:hi])[1]
