"""The synthetic noise model, and the gate replayed on it (the second source of noise).

Real recordings come first (``test_replay.py``); the synthetic ``NoiseModel`` is kinder
than a shared VM and is kept to check the rules where the truth is known exactly. Every
rate below comes from ``analysis.replay``, which runs the product's own functions.
"""

from __future__ import annotations

import numpy as np
import pytest

from perf_pipeline.analysis import (
    NoiseModel,
    replay_adaptive_ab,
    replay_gate,
    simulate_recording,
    simulate_suites,
)
from perf_pipeline.errors import InvalidInputError

QUIET = NoiseModel(within_run_cv=0.0, machine_cv=0.0, run_cv=0.0, machine_drift_cv=0.0,
                   benchmark_drift_cv=0.0, outlier_rate=0.0, n_benchmarks=3)


def _synthetic(seed: int, pair_cv: float = 0.10):
    return simulate_recording(np.random.default_rng(seed), n_pairs=120, pair_cv=pair_cv,
                              model=NoiseModel(n_benchmarks=20))


@pytest.mark.slow
def test_gate_is_calibrated_and_powerful_on_the_kind_model() -> None:
    """Both stages on one replay: the screen alone at alpha, and screen + confirmation."""
    rec = _synthetic(20240101)
    aa = replay_gate(rec, np.random.default_rng(20240102), trials=150)
    ten = replay_gate(rec, np.random.default_rng(20240103), trials=150, effect=1.10)
    # The old gate (screen alone at alpha 0.01, Holm): 0.3-1.3 % in detection.py, 3.3 %
    # on this seed since the confirmation draws more rounds from the same generator.
    assert aa.one_stage_any <= 0.05
    assert aa.confirmed_any <= 0.02
    assert ten.one_stage_hit >= 0.85
    assert ten.confirmed_hit >= 0.85
    assert ten.median_rounds <= 15


@pytest.mark.slow
def test_adaptive_ab_on_the_kind_model_finds_five_percent() -> None:
    rec = _synthetic(20240107)
    aa = replay_adaptive_ab(rec, np.random.default_rng(20240108), trials=60)
    five = replay_adaptive_ab(rec, np.random.default_rng(20240109), trials=60, effect=1.05)
    assert aa.any_regression <= 0.05
    assert five.hit >= 0.6


def test_recording_injects_nothing_and_keeps_pairs_together() -> None:
    rec = simulate_recording(np.random.default_rng(5), n_pairs=4, model=QUIET, pair_cv=0.0)
    assert rec.n_pairs == 4 and rec.n_processes == 8
    meds = np.exp(rec.log_medians())
    np.testing.assert_allclose(meds[0::2], meds[1::2])
    with pytest.raises(InvalidInputError, match="`n_pairs`"):
        simulate_recording(np.random.default_rng(0), n_pairs=1)


def test_simulation_is_deterministic_for_a_seed() -> None:
    a = simulate_suites(np.random.default_rng(3), n_trials=2)
    b = simulate_suites(np.random.default_rng(3), n_trials=2)
    assert a.shape == (2, 50, 11, 20)
    np.testing.assert_array_equal(a, b)


def test_injected_change_only_in_current_run_of_chosen_benchmarks() -> None:
    s = simulate_suites(np.random.default_rng(4), n_trials=1, model=QUIET, slowdown=1.25,
                        slowed=(1,))[0]
    ratio = s[:, -1, 0] / s[:, 0, 0]
    np.testing.assert_allclose(ratio, [1.0, 1.25, 1.0])


def test_simulation_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="`n_trials`"):
        simulate_suites(np.random.default_rng(0), n_trials=0)
    with pytest.raises(InvalidInputError, match="`outlier_rate`"):
        NoiseModel(outlier_rate=2.0)
