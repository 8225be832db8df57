"""``noise_profile(corpus)``: how noisy this machine is, from a recorded noise corpus.

Every process of the corpus ran the same commit, so all variation is noise. For
benchmark j, process k (the 2N processes of N pairs) and pair i:

- m[k, j] = ln(median of the process's samples). The process is the unit: samples inside
  one process share its factor and are not independent.
- unpaired spread: sd over k of m[k, j]. A single new run compared with a stored
  baseline faces this.
- paired spread: r[i, j] = m[b_i, j] - m[a_i, j], the log-ratio of a pair; sd over i.
- suite factor: f[i] = median over j of r[i, j], the part of a pair's ratio every
  benchmark shares (a busy spell, a CPU frequency step). Its sd over i is the suite
  spread; the median, not the mean, so one benchmark's outlier does not set it.
- paired residual spread: sd over i of r[i, j] - f[i]. An interleaved A/B that removes
  each round's suite factor faces this.

Standard deviations of natural logs (ddof 1) read as coefficients of variation for
small spreads. Too little data for a figure (one pair, one benchmark) gives NaN and a
note, not an exception. ``spread_change(new, old)`` compares two recordings of a machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import BenchmarkNoise, NoiseCorpus, NoiseProfile

__all__ = ["SpreadChange", "noise_profile", "spread_change"]


def _sd(values: np.ndarray) -> np.ndarray:
    """Per column, the sample sd over rows; NaN with fewer than two rows."""
    if values.shape[0] < 2:
        return np.full(values.shape[1], np.nan)
    return np.std(values, axis=0, ddof=1)


def noise_profile(corpus: NoiseCorpus) -> NoiseProfile:
    """The spreads of ``corpus`` per benchmark and of its suite factor (see module doc)."""
    if not isinstance(corpus, NoiseCorpus):
        raise InvalidInputError(f"`corpus` must be a NoiseCorpus, not {type(corpus).__name__}")
    medians_a = np.array([[np.median(s) for s in pair.a] for pair in corpus.pairs])
    medians_b = np.array([[np.median(s) for s in pair.b] for pair in corpus.pairs])
    log_a, log_b = np.log(medians_a), np.log(medians_b)
    processes = np.vstack([log_a, log_b])  # (2N, J)
    ratios = log_b - log_a  # (N, J)
    suite = np.median(ratios, axis=1)  # (N,)
    residuals = ratios - suite[:, None]
    notes = []
    residual_sd = _sd(residuals)
    if len(corpus.pairs) < 2:
        notes.append("one pair only: paired spreads need two pairs or more")
    if len(corpus.benchmarks) < 2:
        residual_sd = np.full(len(corpus.benchmarks), np.nan)
        notes.append("one benchmark only: the suite factor cannot be told apart from it")
    unpaired = _sd(processes)
    paired = _sd(ratios)
    level = np.exp(np.median(processes, axis=0))
    benchmarks = tuple(
        BenchmarkNoise(name=name, median_s=float(level[j]),
                       unpaired_log_sd=float(unpaired[j]), paired_log_sd=float(paired[j]),
                       paired_residual_log_sd=float(residual_sd[j]))
        for j, name in enumerate(corpus.benchmarks))
    suite_sd = (float(np.std(suite, ddof=1))
                if len(corpus.pairs) >= 2 and len(corpus.benchmarks) >= 2 else float("nan"))
    return NoiseProfile(suite=corpus.suite, commit=corpus.commit, machine=corpus.machine,
                        recorded_at=corpus.recorded_at, pairs=len(corpus.pairs),
                        suite_factor_log_sd=suite_sd, benchmarks=benchmarks,
                        notes=tuple(notes))


@dataclass(frozen=True, slots=True)
class SpreadChange:
    """How a recording's noise compares with an earlier one of the same machine:
    ``ratio`` is the median over the ``benchmarks`` both have of the new spread of a
    pair's ratio less its suite factor (``paired_residual_log_sd``, what an A/B faces)
    over the old one."""

    ratio: float
    benchmarks: int


def spread_change(new: NoiseProfile, old: NoiseProfile) -> SpreadChange | None:
    """Whether the machine got noisier or quieter between two recordings: the A/B's
    variance prior is the newest one, and a team should know when the machine it
    describes has changed. None when they share no benchmark with a usable spread."""
    before = {b.name: b.paired_residual_log_sd for b in old.benchmarks}
    ratios = [b.paired_residual_log_sd / before[b.name] for b in new.benchmarks
              if b.name in before and math.isfinite(b.paired_residual_log_sd)
              and math.isfinite(before[b.name]) and before[b.name] > 0]
    if not ratios:
        return None
    return SpreadChange(ratio=float(np.median(ratios)), benchmarks=len(ratios))
