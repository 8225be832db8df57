"""Recorded noise of a machine (corpus of interleaved pairs) and its profile."""

from __future__ import annotations

import math
from dataclasses import dataclass

from perf_pipeline.errors import InvalidInputError

__all__ = ["NOISE_SIDES", "BenchmarkNoise", "NoiseCorpus", "NoisePair", "NoiseProfile",
           "is_noise_order"]


#: The two worktrees of a noise corpus (same commit, separate checkouts).
NOISE_SIDES = ("a", "b")


def is_noise_order(order: object) -> bool:
    """Whether ``order`` (as read from a file: anything) lists both sides once each."""
    return (isinstance(order, (list, tuple)) and all(isinstance(o, str) for o in order)
            and sorted(order) == list(NOISE_SIDES))


def _tuple_of_samples(data: object, what: str) -> tuple[tuple[float, ...], ...]:
    """``data`` as a tuple of sample tuples, every sample a positive finite float."""
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InvalidInputError(f"{what} is not a sequence of sample lists")
    out = []
    for i, samples in enumerate(data):  # type: ignore[union-attr]
        if isinstance(samples, (str, bytes)) or not hasattr(samples, "__iter__"):
            raise InvalidInputError(f"{what}[{i}] is not a list of samples")
        values = []
        for v in samples:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InvalidInputError(f"{what}[{i}]: sample {v!r} is not a number")
            try:
                value = float(v)
            except OverflowError:  # an integer beyond float range, e.g. from a corrupt file
                value = math.inf
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(
                    f"{what}[{i}]: sample {v!r} is not a positive finite time")
            values.append(value)
        if not values:
            raise InvalidInputError(f"{what}[{i}] has no samples")
        out.append(tuple(values))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class NoisePair:
    """One interleaved pair of a noise corpus: one process in worktree a, one in b.

    ``a[i]`` and ``b[i]`` are the samples (seconds per call) of the corpus's
    ``benchmarks[i]`` in that process. The process, not the sample, is the unit of
    noise, so the samples of one process are kept together and never pooled across.
    """

    order: tuple[str, str]
    started_at: str  # ISO-8601, UTC
    a: tuple[tuple[float, ...], ...]
    b: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        if not is_noise_order(self.order):
            raise InvalidInputError(f"noise pair order {self.order!r} is not ('a', 'b') "
                                    "or ('b', 'a')")
        object.__setattr__(self, "order", tuple(self.order))
        if not isinstance(self.started_at, str) or not self.started_at:
            raise InvalidInputError("noise pair started_at is empty")
        a = _tuple_of_samples(self.a, f"noise pair {self.started_at} side a")
        b = _tuple_of_samples(self.b, f"noise pair {self.started_at} side b")
        if len(a) != len(b):
            raise InvalidInputError(f"noise pair {self.started_at}: side a has {len(a)} "
                                    f"benchmarks, side b {len(b)}")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def side(self, name: str) -> tuple[tuple[float, ...], ...]:
        """The samples of side ``"a"`` or ``"b"``."""
        if name not in NOISE_SIDES:
            raise InvalidInputError(f"noise pair side must be 'a' or 'b', not {name!r}")
        return self.a if name == "a" else self.b


@dataclass(frozen=True, slots=True)
class NoiseCorpus:
    """Recorded real noise: interleaved pairs of processes of one commit on one machine.

    Both worktrees hold the same commit, so every difference between and within pairs
    is noise: the spread of single processes is what a stored-baseline comparison
    faces, the spread of a pair's ratio is what an interleaved A/B faces. ``machine``
    holds the hardware part of the environment fingerprint as sorted (key, value) pairs.
    """

    suite: str
    commit: str
    recorded_at: str  # ISO-8601, UTC
    machine: tuple[tuple[str, str], ...]
    note: str
    benchmarks: tuple[str, ...]
    pairs: tuple[NoisePair, ...]

    def __post_init__(self) -> None:
        if not self.suite:
            raise InvalidInputError("noise corpus suite is empty")
        if len(self.commit) not in (40, 64) or not all(
                c in "0123456789abcdef" for c in self.commit):
            raise InvalidInputError(f"noise corpus commit {self.commit!r} is not a full "
                                    "lowercase hex SHA")
        if not self.recorded_at:
            raise InvalidInputError("noise corpus recorded_at is empty")
        machine = tuple(sorted((str(k), str(v)) for k, v in dict(self.machine).items()))
        object.__setattr__(self, "machine", machine)
        benchmarks = tuple(self.benchmarks)
        if not benchmarks or not all(isinstance(n, str) and n for n in benchmarks):
            raise InvalidInputError("noise corpus needs at least one benchmark name, "
                                    "all non-empty strings")
        if list(benchmarks) != sorted(set(benchmarks)):
            raise InvalidInputError("noise corpus benchmark names must be unique and sorted")
        object.__setattr__(self, "benchmarks", benchmarks)
        pairs = tuple(self.pairs)
        if not pairs:
            raise InvalidInputError("noise corpus has no pairs")
        for i, pair in enumerate(pairs):
            if not isinstance(pair, NoisePair):
                raise InvalidInputError(f"noise corpus pair {i} is not a NoisePair")
            if len(pair.a) != len(benchmarks):
                raise InvalidInputError(
                    f"noise corpus pair {i} has samples of {len(pair.a)} benchmarks, "
                    f"the corpus names {len(benchmarks)}")
        object.__setattr__(self, "pairs", pairs)


def _check_spread(value: float, what: str) -> None:
    if not (math.isnan(value) or (math.isfinite(value) and value >= 0)):
        raise InvalidInputError(f"{what} = {value!r} is not a spread (>= 0, or NaN when "
                                "the data cannot show it)")


@dataclass(frozen=True, slots=True)
class BenchmarkNoise:
    """How noisy one benchmark is on one machine, as standard deviations of natural logs.

    A standard deviation of logs is close to the coefficient of variation for small
    spreads (0.05 ~ 5 %) and stays meaningful for large ones. ``unpaired_log_sd`` is the
    spread of single processes' medians (what a stored-baseline comparison faces);
    ``paired_log_sd`` that of a pair's log-ratio of medians; ``paired_residual_log_sd``
    the same after each pair's suite-wide factor is removed (what an interleaved A/B
    with suite-factor removal faces). NaN where the corpus is too small to show it.
    """

    name: str
    median_s: float
    unpaired_log_sd: float
    paired_log_sd: float
    paired_residual_log_sd: float

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("benchmark noise: name is empty")
        if not (math.isfinite(self.median_s) and self.median_s > 0):
            raise InvalidInputError(f"benchmark noise {self.name!r}: median_s "
                                    f"{self.median_s!r} is not a positive time")
        for field_name in ("unpaired_log_sd", "paired_log_sd", "paired_residual_log_sd"):
            _check_spread(getattr(self, field_name), f"{self.name!r} {field_name}")


@dataclass(frozen=True, slots=True)
class NoiseProfile:
    """The noise of one machine for one suite, computed from a ``NoiseCorpus``.

    ``suite_factor_log_sd`` is the spread over pairs of the suite-wide factor (the
    median over benchmarks of a pair's log-ratios): how much a whole process moves
    every benchmark together. ``notes`` say why a figure is NaN.
    """

    suite: str
    commit: str
    machine: tuple[tuple[str, str], ...]
    recorded_at: str
    pairs: int
    suite_factor_log_sd: float
    benchmarks: tuple[BenchmarkNoise, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.pairs, bool) or not isinstance(self.pairs, int) or self.pairs < 1:
            raise InvalidInputError(f"noise profile pairs {self.pairs!r} is not >= 1")
        _check_spread(self.suite_factor_log_sd, "noise profile suite_factor_log_sd")
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "machine", tuple(self.machine))

    def benchmark(self, name: str) -> BenchmarkNoise | None:
        for b in self.benchmarks:
            if b.name == name:
                return b
        return None
