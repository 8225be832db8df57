"""Seeded synthetic benchmark suites with the noise of a shared machine.

Used to validate every decision rule by its A/A false-alarm rate and its power. The
default ``NoiseModel`` is our reading of "a realistic noise level, per-run coefficient of
variation 3 %" on a shared CI runner:

* 50 benchmarks; 10 baseline runs (the rolling baseline), then 1 current run;
  20 samples (rounds) per benchmark and run;
* within-run noise: log-normal, CV 3 % around the run's level — the "per-run CV";
  plus outliers: 5 % of samples are slowed by a factor 1 + Exp(mean 0.5) (heavy tail);
* run-level noise, invisible to the samples of one run:
  - a machine factor common to all benchmarks of a run, CV 3 %;
  - a per-benchmark run effect, CV 1 % (cache layout, placement, interference that hits
    one benchmark and not another);
  - slow drift: the machine factor follows a random walk, step CV 0.3 % per run, and
    each benchmark its own random walk, step CV 0.2 % per run.
Under this model a run's median varies by about 3.3 % from run to run, of which only
~0.8 % is within-run noise of the median: within-run tests are far too confident.

An injected change multiplies the chosen benchmarks' times in the current run only.
``simulate_recording`` draws a stand-in for a recorded noise corpus from the same model
(interleaved pairs of processes that share the pair's machine factor but for their own
offset, ``pair_cv``), which ``replay`` judges exactly as it judges a real recording.
This model is kinder than a shared VM: every figure from it is labelled synthetic, and
the real recordings come first. Everything is a pure function of the ``rng`` argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perf_pipeline.analysis.noise_recording import NoiseRecording
from perf_pipeline.errors import InvalidInputError

__all__ = ["NoiseModel", "simulate_recording", "simulate_suites"]


@dataclass(frozen=True, slots=True)
class NoiseModel:
    """Parameters of the synthetic suite (CVs are standard deviations on the log scale)."""

    n_benchmarks: int = 50
    n_baseline_runs: int = 10
    samples_per_run: int = 20
    within_run_cv: float = 0.03
    machine_cv: float = 0.03
    run_cv: float = 0.01
    machine_drift_cv: float = 0.003
    benchmark_drift_cv: float = 0.002
    outlier_rate: float = 0.05
    outlier_mean: float = 0.5

    def __post_init__(self) -> None:
        if self.n_benchmarks < 1 or self.n_baseline_runs < 1 or self.samples_per_run < 1:
            raise InvalidInputError("NoiseModel: counts must be >= 1")
        if not 0.0 <= self.outlier_rate <= 1.0:
            raise InvalidInputError("NoiseModel: `outlier_rate` must be in [0, 1]")


def simulate_suites(rng: np.random.Generator, *, n_trials: int,
                    model: NoiseModel = NoiseModel(), slowdown: float = 1.0,
                    slowed: Sequence[int] = (0,)) -> np.ndarray:
    """Samples of ``n_trials`` independent suites, shape (trials, benchmarks, runs, samples).

    Runs 0 .. k-1 are the baseline runs (oldest first), run k is the current run, in which
    the benchmarks ``slowed`` are ``slowdown`` times slower. Times are seconds; each
    benchmark's true level is log-uniform between 1 ms and 1 s.
    """
    if n_trials < 1:
        raise InvalidInputError("`n_trials` must be >= 1")
    if slowdown <= 0:
        raise InvalidInputError("`slowdown` must be > 0")
    t, b, k, n = n_trials, model.n_benchmarks, model.n_baseline_runs + 1, model.samples_per_run
    level = rng.uniform(np.log(1e-3), np.log(1.0), size=(t, b, 1))
    machine = (rng.normal(0.0, model.machine_cv, size=(t, 1, k))
               + np.cumsum(rng.normal(0.0, model.machine_drift_cv, size=(t, 1, k)), axis=-1))
    per_bench = (rng.normal(0.0, model.run_cv, size=(t, b, k))
                 + np.cumsum(rng.normal(0.0, model.benchmark_drift_cv, size=(t, b, k)),
                             axis=-1))
    log_run = level + machine + per_bench
    if slowdown != 1.0:
        idx = np.asarray(slowed, dtype=int)
        log_run[:, idx, -1] += np.log(slowdown)
    log_samples = log_run[..., None] + rng.normal(0.0, model.within_run_cv, size=(t, b, k, n))
    outliers = rng.random(size=(t, b, k, n)) < model.outlier_rate
    bumps = np.log1p(rng.exponential(model.outlier_mean, size=(t, b, k, n)))
    return np.exp(log_samples + np.where(outliers, bumps, 0.0))


def _samples(rng: np.random.Generator, log_run: np.ndarray, model: NoiseModel) -> np.ndarray:
    """Within-run noise and outliers around each run's level; adds a samples axis."""
    shape = (*log_run.shape, model.samples_per_run)
    log_samples = log_run[..., None] + rng.normal(0.0, model.within_run_cv, size=shape)
    outliers = rng.random(size=shape) < model.outlier_rate
    bumps = np.log1p(rng.exponential(model.outlier_mean, size=shape))
    return np.exp(log_samples + np.where(outliers, bumps, 0.0))


def simulate_recording(rng: np.random.Generator, *, n_pairs: int,
                       model: NoiseModel = NoiseModel(), pair_cv: float = 0.01
                       ) -> NoiseRecording:
    """A synthetic stand-in for a recorded noise corpus, for ``analysis.replay``.

    ``n_pairs`` interleaved pairs of processes of one commit: each pair shares a machine
    factor (``model.machine_cv`` plus its random-walk drift); each process adds its own
    offset (``pair_cv``), the per-benchmark run effect and drift, and within-run noise with
    outliers. Returns a ``NoiseRecording`` of ``2 * n_pairs`` processes.
    """
    if n_pairs < 2:
        raise InvalidInputError("`n_pairs` must be >= 2")
    b, r = model.n_benchmarks, n_pairs
    level = rng.uniform(np.log(1e-3), np.log(1.0), size=(b, 1))
    machine = (rng.normal(0.0, model.machine_cv, size=(1, r))
               + np.cumsum(rng.normal(0.0, model.machine_drift_cv, size=(1, r)), axis=-1))
    drift = np.cumsum(rng.normal(0.0, model.benchmark_drift_cv, size=(b, r)), axis=-1)
    sides = []
    for _ in range(2):
        log_run = (level + machine + drift + rng.normal(0.0, pair_cv, size=(1, r))
                   + rng.normal(0.0, model.run_cv, size=(b, r)))
        sides.append(_samples(rng, log_run, model))  # (b, r, samples)
    names = [f"b{i:04d}" for i in range(b)]
    return NoiseRecording.from_pairs(names, [
        ([sides[0][i, j] for i in range(b)], [sides[1][i, j] for i in range(b)])
        for j in range(r)])
