"""A recording of real noise, the unit the replay studies (``analysis.replay``) judge.

Fresh pytest processes of one commit, measured as interleaved pairs of two worktrees
(``perf-pipeline calibrate``), each process its own unit of noise. ``widen`` makes a
recording of a few benchmarks stand in for a suite of ``n`` by keeping each process's
real suite-wide factor and giving every further column the real residual of one of the
recorded benchmarks in another, randomly drawn process (its samples rescaled by the two
processes' factors). Columns stay real in their distribution (tails, modes) but their
residuals are independent across copies. ``recording_prior`` is the variance prior a
recording gives an A/B.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from perf_pipeline.analysis.confirmation import AB_PROCESSES, round_value
from perf_pipeline.analysis.variance_prior import PRIOR_DF, VariancePrior, variance_prior
from perf_pipeline.errors import InvalidInputError
from perf_pipeline.model import NoiseCorpus

__all__ = ["NoiseRecording", "recording_prior", "widen", "widened_blocks"]


@dataclass(frozen=True)
class NoiseRecording:
    """Processes in recorded order; processes ``2i`` and ``2i + 1`` form pair ``i``.

    ``samples[p][b]`` holds the samples (seconds) of benchmark ``names[b]`` in process
    ``p``.
    """

    names: tuple[str, ...]
    samples: tuple[tuple[np.ndarray, ...], ...]

    def __post_init__(self) -> None:
        if len(self.samples) < 4 or len(self.samples) % 2:
            raise InvalidInputError("a noise recording needs an even number (>= 4) of "
                                    f"processes, got {len(self.samples)}")
        for p, proc in enumerate(self.samples):
            if len(proc) != len(self.names):
                raise InvalidInputError(f"process {p}: {len(proc)} benchmarks, "
                                        f"expected {len(self.names)}")
            for b, s in enumerate(proc):
                if s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
                    raise InvalidInputError(f"process {p}, benchmark {self.names[b]!r}: "
                                            "samples must be finite and > 0")

    @classmethod
    def from_pairs(cls, names: Sequence[str],
                   pairs: Sequence[tuple[Sequence[Sequence[float]], Sequence[Sequence[float]]]]
                   ) -> NoiseRecording:
        """From ``(first process, second process)`` per pair, each a list per benchmark."""
        procs = []
        for first, second in pairs:
            procs.append(tuple(np.asarray(s, dtype=float) for s in first))
            procs.append(tuple(np.asarray(s, dtype=float) for s in second))
        return cls(names=tuple(names), samples=tuple(procs))

    @classmethod
    def from_corpus(cls, corpus: NoiseCorpus) -> NoiseRecording:
        """Processes in the order they ran (each pair's recorded order)."""
        return cls.from_pairs(corpus.benchmarks, [
            (pair.side(pair.order[0]), pair.side(pair.order[1])) for pair in corpus.pairs])

    @property
    def n_processes(self) -> int:
        return len(self.samples)

    @property
    def n_pairs(self) -> int:
        return len(self.samples) // 2

    def side_values(self, processes: int) -> np.ndarray:
        """(rounds, 2, benchmarks): what each side of a round of ``processes`` consecutive
        pairs gives (``round_value`` of the side's processes' samples together)."""
        if not 1 <= processes <= self.n_pairs:
            raise InvalidInputError(f"`processes` must be in 1..{self.n_pairs}, got "
                                    f"{processes!r}")
        cached = self._side_values.get(processes)
        if cached is None:
            cached = np.array([
                [[round_value(np.concatenate([self.samples[2 * (r + j) + side][b]
                                              for j in range(processes)]))
                  for b in range(len(self.names))] for side in (0, 1)]
                for r in range(0, self.n_pairs - processes + 1, processes)])
            self._side_values[processes] = cached
        return cached

    def factor_free_spreads(self, processes: int) -> tuple[np.ndarray, np.ndarray]:
        """(robust, plain) spread per benchmark of a round's log-ratio once the round's
        suite factor (median over benchmarks) is removed: what an A/B test of it faces.
        Robust: 1.4826 x the median absolute deviation; plain: the sd, tails and all."""
        sides = np.log(self.side_values(processes))
        ratios = sides[:, 1] - sides[:, 0]
        resid = ratios - np.median(ratios, axis=1)[:, None]
        centred = resid - np.median(resid, axis=0)
        return 1.4826 * np.median(np.abs(centred), axis=0), np.std(resid, axis=0, ddof=1)

    def drawn_from(self, column: int) -> str:
        """The recorded benchmark column ``column`` of a suite widened from this
        recording is drawn from (``widen``: column j from recorded j % count)."""
        return self.names[column % len(self.names)]

    @cached_property
    def _side_values(self) -> dict[int, np.ndarray]:
        return {}

    @cached_property
    def _log_medians(self) -> np.ndarray:
        return np.log(np.array([[np.median(s) for s in proc] for proc in self.samples]))

    def log_medians(self) -> np.ndarray:
        """(processes, benchmarks) log of each process's median."""
        return self._log_medians.copy()


def _factors(log_med: np.ndarray) -> np.ndarray:
    """Each process's suite-wide factor: median over benchmarks of its deviation."""
    return np.median(log_med - np.median(log_med, axis=0), axis=1)


def widen(recording: NoiseRecording, n_benchmarks: int, rng: np.random.Generator
          ) -> NoiseRecording:
    """A recording of ``n_benchmarks`` columns (module docstring); the first are real."""
    base = len(recording.names)
    if n_benchmarks <= base:
        keep = range(n_benchmarks)
        return NoiseRecording(names=tuple(recording.names[i] for i in keep),
                              samples=tuple(tuple(p[i] for i in keep)
                                            for p in recording.samples))
    factor = _factors(recording.log_medians())
    n_proc = recording.n_processes
    cols = [(i, None) for i in range(base)] + [
        (j % base, rng.integers(0, n_proc, size=n_proc)) for j in range(base, n_benchmarks)]
    names = tuple(recording.names[i] if donors is None else f"{recording.names[i]}~{j}"
                  for j, (i, donors) in enumerate(cols))
    procs = []
    for p in range(n_proc):
        row = []
        for i, donors in cols:
            if donors is None:
                row.append(recording.samples[p][i])
            else:
                q = int(donors[p])
                row.append(recording.samples[q][i] * math.exp(factor[p] - factor[q]))
        procs.append(tuple(row))
    return NoiseRecording(names=names, samples=tuple(procs))


def recording_prior(recording: NoiseRecording, *, processes: int = AB_PROCESSES,
                    df: float = PRIOR_DF, source: str = "") -> VariancePrior:
    """The variance prior (``analysis.variance_prior``) a recording gives an A/B of
    ``processes`` per side: its pairs grouped into rounds as ``replay_ab_rounds`` and
    the product's rounds group them. The product takes it from this machine's
    ``calibrate`` corpus; the studies from the *other* recording than the one judged."""
    sides = recording.side_values(processes)
    return variance_prior(
        ({name: (float(r[0, b]), float(r[1, b])) for b, name in enumerate(recording.names)}
         for r in sides), df=df, source=source)


def widened_blocks(recording: NoiseRecording, rng: np.random.Generator, n_benchmarks: int | None,
            trials: int, block: int = 25) -> Iterator[NoiseRecording]:
    """The recording, widened anew every ``block`` trials when more columns are asked."""
    for t in range(trials):
        if t % block == 0:
            current = (recording if n_benchmarks is None
                       else widen(recording, n_benchmarks, rng))
        yield current
