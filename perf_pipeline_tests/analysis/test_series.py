"""Helpers of the history analyses (``analysis/series.py``)."""

from __future__ import annotations

import numpy as np

from perf_pipeline.analysis.series import local_residuals, serial_inflation


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
